"""The one owner of the shape of ``Annotation.values``: what an annotator submits,
the snapshot built from it, how a snapshot is read per dimension, and how two
snapshots compare. Plain Python, no Django.

A snapshot holds codes, never display names::

    {"labels": {"claim": ["opinion"], "frames": ["political", "economic"]},
     "primary": {"frames": "political"},
     "attributions": [{"source_text": "Peskow", "source": "Dmitri Peskow",
                       "source_type": "person", "form": "indirect",
                       "cue_text": "bestätigte", "source_span": [0, 6],
                       "cue_spans": [[7, 17]]}],
     "stances": [{"target": "russia", "polarity": "favor", "holder": 0}],
     "unsure": false, "comment": ""}

``services.save_annotation`` writes it in the transaction that writes the
normalised rows; the export, the review screen, agreement and the history read it.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

NO_STANCE = "none"  # an untouched target counts as "none" (label-scheme.md, section 3)


# ---------------------------------------------------------------------------
# What an annotator submits (label codes), the input of save_annotation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributionInput:
    source_text: str
    source_type: str = ""
    form: str = ""
    cue_text: str = ""
    source_span: tuple[int, int] | None = None
    cue_spans: tuple[tuple[int, int], ...] = ()
    # From a suggestion: "accepted" (as suggested), "edited" (accepted, then
    # changed) or "" (typed by hand).
    suggestion: str = ""


@dataclass(frozen=True)
class StanceInput:
    target: str
    polarity: str
    # Index into the annotation's attributions; None: the author holds the stance.
    holder: int | None = None


@dataclass(frozen=True)
class AnnotationInput:
    """What an annotator submits for one segment, in label codes."""

    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    primary: dict[str, str] = field(default_factory=dict)
    attributions: tuple[AttributionInput, ...] = ()
    stances: tuple[StanceInput, ...] = ()
    unsure: bool = False
    comment: str = ""
    time_spent_ms: int = 0
    # How many attribution suggestions the screen offered for the segment (the
    # agreement page compares annotators with and without them).
    suggestions_shown: int = 0


# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------


def annotation_values(
    annotation_input: AnnotationInput,
    chosen: Iterable[tuple[Any, Any, bool]],
    attributions: Iterable[dict],
    stances: Iterable[dict],
    sources: dict[str, Any],
) -> dict:
    """The snapshot of a validated save: ``chosen`` (dimension, label, is
    primary), ``attributions`` and ``stances`` as ``services`` validated them,
    ``sources`` the canonical source of each source name (by ``source_key``)."""
    labels: dict[str, list[str]] = {}
    primary: dict[str, str] = {}
    for dimension, label, is_primary in chosen:
        labels.setdefault(dimension.code, []).append(label.code)
        if is_primary:
            primary[dimension.code] = label.code
    return {
        "labels": labels,
        "primary": primary,
        "attributions": [
            {
                "source_text": item["source_text"],
                "source": sources[source_key(item["source_text"])].name
                if item["source_text"]
                else "",
                "source_type": item["source_type"].code if item["source_type"] else "",
                "form": item["form"].code if item["form"] else "",
                "cue_text": item["cue_text"],
                "source_span": item["source_span"],
                "cue_spans": item["cue_spans"],
                # Only when it came from a suggestion (older snapshots lack it).
                **(
                    {"suggestion": item["suggestion"]} if item.get("suggestion") else {}
                ),
            }
            for item in attributions
        ],
        "stances": [
            {
                "target": item["target"].code,
                "polarity": item["polarity"].code if item["polarity"] else "",
                "holder": item["holder"],
            }
            for item in stances
        ],
        "unsure": annotation_input.unsure,
        "comment": annotation_input.comment,
        **(
            {"suggestions_shown": annotation_input.suggestions_shown}
            if annotation_input.suggestions_shown
            else {}
        ),
    }


def _suggestion_of(use: str) -> dict:
    return {"suggestion": use} if use else {}


def values_from_input(payload: AnnotationInput) -> dict:
    """An unsaved submission in the same shape (conflicts, refused forms)."""
    return {
        "labels": {dim: list(codes) for dim, codes in payload.labels.items()},
        "primary": dict(payload.primary),
        "attributions": [
            {
                "source_text": item.source_text,
                "source_type": item.source_type,
                "form": item.form,
                "cue_text": item.cue_text,
                "source_span": list(item.source_span) if item.source_span else None,
                "cue_spans": [list(span) for span in item.cue_spans],
                **_suggestion_of(item.suggestion),
            }
            for item in payload.attributions
        ],
        "stances": [
            {"target": s.target, "polarity": s.polarity, "holder": s.holder}
            for s in payload.stances
        ],
        "unsure": payload.unsure,
        "comment": payload.comment,
    }


def with_source_names(values: dict, names: dict[int, str]) -> dict:
    """``values`` with each attribution's ``source`` set to ``names[order]``; the
    same object when nothing changes."""
    attributions = values.get("attributions") or []
    renamed = [
        {**item, "source": names.get(order, item.get("source", ""))}
        for order, item in enumerate(attributions)
    ]
    if renamed == attributions:
        return values
    return {**values, "attributions": renamed}


def source_key(name: str) -> str:
    """The identity of a source name whatever its spelling of case, spacing or
    Unicode form: NFKC, casefolded, runs of whitespace as one space, trimmed.
    Two attributions name the same source when their canonical names have the
    same key (segments-mode majority, agreement, the review screen), and a typed
    name matches a source list entry (name or alias) by it."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def canonical_source(attribution: dict) -> str:
    """The canonical source of a snapshot attribution (its source list entry's
    name), or the name as written when it has none."""
    return attribution.get("source") or attribution.get("source_text") or ""


# ---------------------------------------------------------------------------
# Attributions across the annotators of one segment
# ---------------------------------------------------------------------------

# An attribution's identity: the source key of its canonical source and which
# occurrence of that key it is in its annotator's list (0 for the first).
type Identity = tuple[str, int]

# Agreement on attributions (ratings.py, the export's codebook): the keys of
# their figures beside the dimensions' keys ("claim", "stance:russia").
ATTRIBUTION_PRESENCE = "attribution:presence"
ATTRIBUTION_SOURCE = "attribution:source"
ATTRIBUTION_TYPE = "attribution:source_type"
ATTRIBUTION_FORM = "attribution:form"
SOURCE_SPANS = "spans:source"
CUE_SPANS = "spans:cue"
GIVEN, NOT_GIVEN = "yes", "no"


def attribution_identities(attributions: Sequence[dict]) -> list[Identity]:
    """Each attribution's identity across the annotators of a segment.

    Two annotators' attributions with equal identities are the same attribution,
    whatever their type, form, cue or spans: the same canonical source
    (:func:`source_key`). An annotator who gives one source twice (rare) has
    the first matched with the other annotator's first, the second with the
    second: greedy, in the order given.
    """
    seen: Counter[str] = Counter()
    identities = []
    for attribution in attributions:
        key = source_key(canonical_source(attribution))
        identities.append((key, seen[key]))
        seen[key] += 1
    return identities


@dataclass
class AttributionGroup:
    """One attribution as several annotators gave it: ``members`` maps the
    annotator's index (in the list given to :func:`group_attributions`) to
    their attribution."""

    identity: Identity
    members: dict[int, dict] = field(default_factory=dict)

    @property
    def givers(self) -> list[dict]:
        """The members' attributions in annotator order."""
        return [self.members[i] for i in sorted(self.members)]


def group_attributions(
    per_annotator: Sequence[Sequence[dict]],
) -> list[AttributionGroup]:
    """The attributions of a segment's annotators matched by identity, in the
    order they first appear (annotator by annotator, each in its own order)."""
    groups: dict[Identity, AttributionGroup] = {}
    for index, attributions in enumerate(per_annotator):
        for identity, attribution in zip(
            attribution_identities(attributions), attributions, strict=True
        ):
            group = groups.get(identity)
            if group is None:
                group = groups[identity] = AttributionGroup(identity)
            group.members[index] = attribution
    return list(groups.values())


def attribution_signature(attributions: Sequence[dict]) -> tuple:
    """What two annotators must share to agree on a segment's attributions:
    the same sources (presence and canonical source), each with the same type,
    form and cue. Spans and the spelling as written are not compared."""
    return tuple(
        sorted(
            (
                identity,
                attribution.get("source_type") or "",
                attribution.get("form") or "",
                attribution.get("cue_text") or "",
            )
            for identity, attribution in zip(
                attribution_identities(attributions), attributions, strict=True
            )
        )
    )


@dataclass(frozen=True)
class AttributionReadings:
    """One annotator's attributions of one segment as agreement reads them.

    ``presence``: ``yes`` if the annotator gave any attribution, else ``no``
    (nominal, every annotator of the segment rates it). ``sources``: the set of
    source keys, ``None`` without attributions (the canonical source is compared
    only between annotators who both gave one). ``types`` / ``forms``: per
    identity the code given (attributions without one are missing ratings).
    """

    presence: str
    sources: frozenset[str] | None
    types: dict[Identity, str]
    forms: dict[Identity, str]


def attribution_readings(attributions: Sequence[dict]) -> AttributionReadings:
    identities = attribution_identities(attributions)
    return AttributionReadings(
        presence=GIVEN if attributions else NOT_GIVEN,
        sources=frozenset(key for key, _n in identities) if attributions else None,
        types={
            identity: a["source_type"]
            for identity, a in zip(identities, attributions, strict=True)
            if a.get("source_type")
        },
        forms={
            identity: a["form"]
            for identity, a in zip(identities, attributions, strict=True)
            if a.get("form")
        },
    )


# ---------------------------------------------------------------------------
# Read, dimension by dimension
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionSpec:
    """One column of agreement: a per-segment dimension or stance toward one target."""

    key: str  # "claim", "frames", "stance:russia"
    name: str
    multi: bool
    labels: tuple[tuple[str, str, str], ...]  # (code, name, key) in scheme order
    dimension: str = ""  # dimension code; "" for stance targets
    target: str = ""  # stance target code
    target_key: str = ""


def value_of(values: dict, spec: DimensionSpec) -> Any:
    """The comparable value of one annotation snapshot on one dimension.

    Single choice: the label code, or None when not given (a missing rating).
    Multi choice: a frozenset of codes (an empty set is an answer: "none of these").
    Stance: the author's polarity toward the target, ``none`` when untouched.
    """
    if spec.target:
        for stance in values.get("stances", ()):
            if stance.get("target") == spec.target and stance.get("holder") is None:
                return stance.get("polarity") or NO_STANCE
        return NO_STANCE
    codes = values.get("labels", {}).get(spec.dimension, ())
    if spec.multi:
        return frozenset(codes)
    return codes[0] if codes else None


# ---------------------------------------------------------------------------
# Compare: what changed between two versions (history, admin)
# ---------------------------------------------------------------------------


def _flat(values: dict | None) -> dict[str, str]:
    """A snapshot as readable "field -> value" pairs (codes, as the export has them)."""
    values = values or {}
    flat = {
        dimension: ", ".join(codes)
        for dimension, codes in sorted(values.get("labels", {}).items())
    }
    for dimension, code in sorted(values.get("primary", {}).items()):
        flat[f"{dimension} (primary)"] = code
    for stance in values.get("stances", ()):
        holder = stance.get("holder")
        who = "author" if holder is None else f"source {holder + 1}"
        flat[f"stance {stance.get('target')} ({who})"] = stance.get("polarity", "")
    for number, item in enumerate(values.get("attributions", ()), start=1):
        parts = [
            item.get("source") or item.get("source_text", ""),
            item.get("source_type", ""),
            item.get("form", ""),
            item.get("cue_text", ""),
        ]
        flat[f"source {number}"] = " / ".join(p for p in parts if p)
    if values.get("unsure"):
        flat["unsure"] = "yes"
    if values.get("comment"):
        flat["comment"] = values["comment"]
    return flat


def values_summary(values: dict | None) -> str:
    """One line per version in the admin's history list."""
    return "; ".join(f"{key}: {value}" for key, value in _flat(values).items()) or "–"


def values_changes(old: dict | None, new: dict | None) -> list[str]:
    """ "claim: factual → opinion" lines between two snapshots (None: created)."""
    before, after = _flat(old), _flat(new)
    lines = []
    for key in list(before) + [k for k in after if k not in before]:
        a, b = before.get(key, "–"), after.get(key, "–")
        if a != b:
            lines.append(f"{key}: {a} → {b}")
    return lines
