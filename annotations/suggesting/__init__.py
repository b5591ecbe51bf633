"""German attribution suggester: who said what, per segment, plain Python.

``suggest_article(text, segments)`` returns for each segment zero or more
:class:`Suggestion` objects: cue spans (a verb and its separated particle are
two spans), the source span and text, the form, a score. Offsets are into
``text``. No Django, no download: a linear cue tagger and source ranker
(``data/model.json``, learned from SpkAtt-2023 by ``train.py``) over lexical
features and hand-written German grammar lists (``lexicon.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FORMS = ("direct", "indirect", "free_indirect", "reported", "mixed")


@dataclass(frozen=True)
class Suggestion:
    cue_spans: tuple[tuple[int, int], ...]  # ARTICLE offsets, [start, end)
    source_span: tuple[int, int] | None  # ARTICLE offsets, inside the segment
    source_text: str  # text[source_span], or an earlier segment's source
    form: str  # one of FORMS
    score: float  # 0..1


def suggest_article(
    text: str, segments: Sequence[tuple[int, int]], *, mentions: bool = False
) -> list[list[Suggestion]]:
    """One list of suggestions per segment, in the order of ``segments``.

    By default only attributions are suggested: a cue with a source in its
    segment or with reported content after it. ``mentions=True`` adds bare
    mentions of speech events ("die Debatte", "der Antrag") as SpkAtt-2023
    annotates them.

    A continuing quotation or a free-indirect sentence (no cue of its own)
    gets a suggestion with no cue span and ``source_span=None``; its
    ``source_text`` names the earlier attribution's source.
    """
    from .suggester import analyse_article

    found = analyse_article(
        text, [(int(a), int(b)) for a, b in segments], mentions=mentions
    )
    return [
        [
            Suggestion(f.cue_spans, f.source_span, f.source_text, f.form, f.score)
            for f in segment
        ]
        for segment in found
    ]


__all__ = ["FORMS", "Suggestion", "suggest_article"]
