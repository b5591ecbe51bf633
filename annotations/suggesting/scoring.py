"""The per-suggestion measure, as an annotator sees the suggestions.

A suggested cue is right when it overlaps a gold cue (Cue or PTC tokens of one
event); each gold event is matched at most once. Its source is right when the
suggested source overlaps that event's gold source. Cue precision is over all
suggestions with a cue, recall over all gold events; source precision is over
all suggestions that name a source, recall over gold events whose source is
written down (an implicit speaker has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Span = tuple[int, int]


def overlaps(a: tuple[Span, ...], b: tuple[Span, ...]) -> bool:
    return any(x0 < y1 and y0 < x1 for x0, x1 in a for y0, y1 in b)


@dataclass
class Counts:
    cue_predicted: int = 0
    cue_gold: int = 0
    cue_right: int = 0
    source_predicted: int = 0
    source_gold: int = 0
    source_right: int = 0
    cueless: int = 0  # continuation suggestions (no cue): not scored
    examples: list = field(default_factory=list, repr=False)

    def add(self, other: Counts) -> None:
        for name in (
            "cue_predicted",
            "cue_gold",
            "cue_right",
            "source_predicted",
            "source_gold",
            "source_right",
            "cueless",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @staticmethod
    def _prf(right: int, predicted: int, gold: int) -> tuple[float, float, float]:
        p = right / predicted if predicted else 0.0
        r = right / gold if gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    def cue(self) -> tuple[float, float, float]:
        return self._prf(self.cue_right, self.cue_predicted, self.cue_gold)

    def source(self) -> tuple[float, float, float]:
        return self._prf(self.source_right, self.source_predicted, self.source_gold)


def score_speech(
    predicted: list[tuple[tuple[Span, ...], Span | None]],
    gold: list,
    ignored: list | None = None,
) -> Counts:
    """``predicted``: (cue spans, source span or None) per suggestion;
    ``gold``: the speech's GoldEvent list. A suggestion that matches no gold
    event but overlaps one of ``ignored`` (events left out of this measure)
    counts neither way."""
    counts = Counts()
    counts.cue_gold = len(gold)
    counts.source_gold = sum(1 for event in gold if event.source)
    used: set[int] = set()
    for cue, source in predicted:
        if not cue:
            counts.cueless += 1
            continue
        counts.cue_predicted += 1
        if source is not None:
            counts.source_predicted += 1
        matches = [
            k
            for k, event in enumerate(gold)
            if k not in used and overlaps(cue, event.cue)
        ]
        if not matches:
            if ignored and any(overlaps(cue, event.cue) for event in ignored):
                counts.cue_predicted -= 1
                if source is not None:
                    counts.source_predicted -= 1
            continue
        # Of several overlapping gold events, take one whose source also fits.
        best = next(
            (
                k
                for k in matches
                if source is not None and overlaps((source,), gold[k].source)
            ),
            matches[0],
        )
        used.add(best)
        counts.cue_right += 1
        if source is not None and overlaps((source,), gold[best].source):
            counts.source_right += 1
    return counts
