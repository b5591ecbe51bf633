"""The review screen's data: every annotator's labels of an article side by side,
the gold, the differences and a pre-filled adjudication form per segment; and the
disagreement counts of the dashboard and the reviewers' list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import CharField, OuterRef, StringAgg, Subquery, Value
from django.db.models.functions import Cast

from .export.rows import vote_attribution
from .models import Annotation, Article, DimensionRole, Project, Segment
from .scheme import SchemeIndex
from .snapshot import (
    NO_STANCE,
    AttributionGroup,
    DimensionSpec,
    Identity,
    attribution_signature,
    canonical_source,
    group_attributions,
    value_of,
)


@dataclass
class Choice:
    code: str
    name: str
    key: str
    checked: bool
    votes: int


@dataclass
class ChoiceGroup:
    """One dimension's inputs on the review form, majority (or gold) pre-selected."""

    spec: DimensionSpec
    choices: list[Choice]
    disagree: bool

    @property
    def field_name(self) -> str:
        return (
            f"stance-{self.spec.target}" if self.spec.target else f"dim-{self.spec.key}"
        )


@dataclass
class ReviewRow:
    annotation: Annotation
    cells: list[tuple[str, bool]]  # (display text, differs from the others)


# ---------------------------------------------------------------------------
# Attributions: side by side per source, and the gold's attribution editor
# ---------------------------------------------------------------------------

# The columns of the attribution table: (snapshot key, heading, counts as a
# disagreement when the annotators who gave the source differ). A source some
# gave and others did not is a disagreement too (presence, or another source).
# Spelling and spans are highlighted, not counted.
ATTRIBUTION_FIELDS = (
    ("source_text", "As written", False),
    ("source", "Canonical", False),
    ("source_type", "Type", True),
    ("form", "Form", True),
    ("cue_text", "Cue", True),
    ("source_span", "Source span", False),
    ("cue_spans", "Cue spans", False),
)
# The editor's inputs per attribution (``forms.ReviewForm``: gattr-<i>-<name>).
GOLD_FIELDS = (
    "source",
    "source_type",
    "form",
    "cue",
    "source_start",
    "source_end",
    "cue_spans",
    "stances",
)
# What a key takes over from one version (review.js): the whole version, or one
# field: w(ritten) source, t(ype), f(orm), c(ue), s(pans).
TAKE_FIELDS = {
    "source": ("source",),
    "source_type": ("source_type",),
    "form": ("form",),
    "cue": ("cue",),
    "spans": ("source_start", "source_end", "cue_spans"),
}
MAX_NUMBERED = 9  # annotators 1-9 have a key


@dataclass
class AttributionCell:
    text: str
    css: str = ""  # differs | differs-minor | absent


@dataclass
class AttributionLine:
    """One annotator's (or the gold's) version of one attribution."""

    who: str
    key: str  # the key that takes this version in the editor: 1-9, g (gold)
    gold: bool
    cells: list[AttributionCell]
    held: str  # the stances this source holds in this version


@dataclass
class AttributionComparison:
    """One source (identity) of a segment across its annotators and the gold."""

    identity: Identity
    name: str
    votes: int  # annotators who gave it
    n: int  # annotators of the segment
    lines: list[AttributionLine]
    disagree: bool


@dataclass
class GoldOption:
    """A version the reviewer can take over into a gold attribution."""

    key: str
    who: str
    values: dict[str, str]  # GOLD_FIELDS -> input value


@dataclass
class GoldAttributionRow:
    """One attribution of the gold editor: pre-filled with the gold's version,
    else voted as segments mode votes (``export.rows.vote_attribution``);
    deleted (kept out of the gold unless restored) when at most half of the
    annotators gave it."""

    index: int
    group: int | None  # its AttributionComparison, None for a row the reviewer adds
    title: str
    votes: int
    n: int
    values: dict[str, str]
    deleted: bool = False
    options: list[GoldOption] = field(default_factory=list)
    alternatives: list[tuple[str, str, list[tuple[str, str]]]] = field(
        default_factory=list
    )  # (field, its key, [(option key, value shown)]) where the versions differ

    @property
    def blank(self) -> bool:
        return self.group is None and not self.values.get("source")


def _comparable(value: Any) -> Any:
    if value is None or value == "" or value == [] or value == ():
        return None
    if isinstance(value, list | tuple):
        return tuple(_comparable(part) for part in value)
    return value


def _span_text(span: Sequence[int] | None, text: str) -> str:
    if not span:
        return "–"
    start, end = span[0], span[1]
    marked = text[start:end] if 0 <= start < end <= len(text) else ""
    return f"„{marked}“ {start}–{end}" if marked else f"{start}–{end}"


def _attribution_text(
    key: str, attribution: dict, text: str, names: dict[str, dict[str, str]]
) -> str:
    value = attribution.get(key)
    if key in names:
        return names[key].get(value, value) if value else "–"
    if key == "source_span":
        return _span_text(value, text)
    if key == "cue_spans":
        return " + ".join(_span_text(part, text) for part in value or ()) or "–"
    return value or "–"


def _held(values: dict, position: int) -> list[tuple[str, str]]:
    """(target, polarity) of the stances the ``position``-th attribution holds."""
    return [
        (stance.get("target", ""), stance.get("polarity", ""))
        for stance in values.get("stances") or ()
        if stance.get("holder") == position
    ]


def _gold_values(attribution: dict, held: Iterable[tuple[str, str]]) -> dict[str, str]:
    """An attribution as the editor's inputs hold it."""
    span = attribution.get("source_span")
    return {
        "source": attribution.get("source_text") or "",
        "source_type": attribution.get("source_type") or "",
        "form": attribution.get("form") or "",
        "cue": attribution.get("cue_text") or "",
        "source_start": str(span[0]) if span else "",
        "source_end": str(span[1]) if span else "",
        "cue_spans": ", ".join(
            f"{start}-{end}" for start, end in attribution.get("cue_spans") or ()
        ),
        "stances": ";".join(f"{target}={polarity}" for target, polarity in held),
    }


@dataclass
class _Version:
    who: str
    key: str
    attribution: dict
    held: list[tuple[str, str]]


def _versions(
    own: Sequence[Annotation], gold: Annotation | None
) -> tuple[list[AttributionGroup], dict[int, dict[int, int]]]:
    """The segment's attributions grouped by identity (the gold is the last
    member when there is one) and, per member, each attribution's position in
    its own list (stance holders refer to it)."""
    lists = [(a.values or {}).get("attributions") or [] for a in own]
    if gold is not None:
        lists.append((gold.values or {}).get("attributions") or [])
    groups = group_attributions(lists)
    positions = {
        member: {
            id(attribution): position for position, attribution in enumerate(items)
        }
        for member, items in enumerate(lists)
    }
    return groups, positions


def _compare_attributions(
    item: ReviewSegment, names: dict[str, dict[str, str]], targets: dict[str, str]
) -> None:
    """Fill ``item.attributions`` (the table) from its annotations and gold."""
    own = item.own
    groups, positions = _versions(own, item.gold)
    item.attribution_groups = groups
    item.attribution_positions = positions
    n = len(own)
    text = item.segment.text
    comparisons = []
    for group in groups:
        givers = [i for i in group.members if i < n]
        differs = {
            key: len({_comparable(group.members[i].get(key)) for i in givers}) > 1
            for key, _heading, _counted in ATTRIBUTION_FIELDS
        }
        disagree = n > 1 and (
            0 < len(givers) < n
            or any(differs[key] for key, _h, counted in ATTRIBUTION_FIELDS if counted)
        )
        lines = []
        members = [(i, own[i].annotator.username, False) for i in range(n)]
        if item.gold is not None and n in group.members:
            members.append((n, "gold", True))
        for i, who, is_gold in members:
            key = "g" if is_gold else (str(i + 1) if i < MAX_NUMBERED else "")
            attribution = group.members.get(i)
            if attribution is None:
                absent = "absent differs" if givers else "absent"
                lines.append(
                    AttributionLine(
                        who, key, is_gold, [AttributionCell("not given", absent)], ""
                    )
                )
                continue
            values = (item.gold if is_gold else own[i]).values or {}
            held = _held(values, positions[i][id(attribution)])
            cells = [
                AttributionCell(
                    _attribution_text(key_, attribution, text, names),
                    ""
                    if is_gold or not differs[key_]
                    else ("differs" if counted else "differs-minor"),
                )
                for key_, _heading, counted in ATTRIBUTION_FIELDS
            ]
            lines.append(
                AttributionLine(
                    who,
                    key,
                    is_gold,
                    cells,
                    ", ".join(
                        f"{targets.get(target, target)}: {polarity}"
                        for target, polarity in held
                    ),
                )
            )
        first = group.members[min(group.members)]
        comparisons.append(
            AttributionComparison(
                group.identity,
                canonical_source(first),
                len(givers),
                n,
                lines,
                disagree,
            )
        )
    item.attributions = comparisons


@dataclass
class ReviewSegment:
    segment: Segment
    rows: list[ReviewRow] = field(default_factory=list)
    gold: Annotation | None = None
    gold_cells: list[str] = field(default_factory=list)
    columns: list[DimensionSpec] = field(default_factory=list)
    groups: list[ChoiceGroup] = field(default_factory=list)
    disagree: bool = False
    base_id: int | None = None  # whose sources (attributions) the gold takes over
    # Whether the page draws this segment's adjudication form. Every label of every
    # dimension and target for every segment was ~28,000 template nodes per article;
    # the form is drawn for the segment being adjudicated, the others load it on
    # demand (views.team.review_segment).
    editing: bool = False
    # Every source of the segment, each annotator's version side by side.
    attributions: list[AttributionComparison] = field(default_factory=list)
    attribution_groups: list[AttributionGroup] = field(default_factory=list)
    attribution_positions: dict[int, dict[int, int]] = field(default_factory=dict)
    # The annotations the gold was adjudicated from: (username, changed since).
    gold_from: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def annotatable(self) -> bool:
        return self.segment.is_annotatable

    @property
    def own(self) -> list[Annotation]:
        return [row.annotation for row in self.rows]

    @property
    def numbers(self) -> list[tuple[str, str]]:
        """(key, username) of the annotators whose versions a key takes over."""
        return [
            (str(i + 1), a.annotator.username)
            for i, a in enumerate(self.own[:MAX_NUMBERED])
        ]

    @cached_property
    def gold_rows(self) -> list[GoldAttributionRow]:
        """The gold editor's attributions, with one blank row to add one (the
        form's ``gattr-count`` counts it)."""
        own, gold, n = self.own, self.gold, len(self.rows)
        groups, positions = self.attribution_groups, self.attribution_positions
        rows: list[GoldAttributionRow] = []

        def options_of(group: AttributionGroup) -> list[GoldOption]:
            options = []
            for i, attribution in sorted(group.members.items()):
                is_gold = i == n
                values = (gold if is_gold else own[i]).values or {}
                if not is_gold and i >= MAX_NUMBERED:
                    continue
                options.append(
                    GoldOption(
                        "g" if is_gold else str(i + 1),
                        "gold" if is_gold else own[i].annotator.username,
                        _gold_values(
                            attribution, _held(values, positions[i][id(attribution)])
                        ),
                    )
                )
            return options

        def add(index: int, values: dict[str, str], deleted: bool) -> None:
            group = groups[index]
            votes = sum(1 for i in group.members if i < n)
            options = options_of(group)
            rows.append(
                GoldAttributionRow(
                    index=len(rows),
                    group=index,
                    title=canonical_source(group.members[min(group.members)]),
                    votes=votes,
                    n=n,
                    values=values,
                    deleted=deleted,
                    options=options,
                    alternatives=_alternatives(options),
                )
            )

        if gold is not None:
            # The gold's attributions in its order, then the sources it left out.
            order = sorted(
                (i for i, g in enumerate(groups) if n in g.members),
                key=lambda i: positions[n][id(groups[i].members[n])],
            )
            for index in order:
                group = groups[index]
                mine = group.members[n]
                held = _held(gold.values or {}, positions[n][id(mine)])
                add(index, _gold_values(mine, held), False)
            for index, group in enumerate(groups):
                if n not in group.members:
                    add(index, self._voted(group), True)
        else:
            for index, group in enumerate(groups):
                votes = len(group.members)
                add(index, self._voted(group), votes * 2 <= n)
        rows.append(
            GoldAttributionRow(
                index=len(rows), group=None, title="", votes=0, n=n, values={}
            )
        )
        return rows

    def _voted(self, group: AttributionGroup) -> dict[str, str]:
        """A source as segments mode would export it from the annotators who
        gave it, with the stances more than half of them let it hold."""
        n = len(self.rows)
        givers = [(i, a) for i, a in sorted(group.members.items()) if i < n]
        held: Counter[tuple[str, str]] = Counter()
        for i, attribution in givers:
            position = self.attribution_positions[i][id(attribution)]
            held.update(set(_held(self.own[i].values or {}, position)))
        kept = [pair for pair, votes in held.items() if votes * 2 > len(givers)]
        return _gold_values(vote_attribution([a for _i, a in givers]), kept)


def _shown(name: str, values: dict[str, str]) -> str:
    """One version's value of a field group, as the alternatives show it."""
    if name == "spans":
        parts = []
        if values["source_start"] or values["source_end"]:
            parts.append(f"{values['source_start']}-{values['source_end']}")
        if values["cue_spans"]:
            parts.append(f"cue {values['cue_spans']}")
        return ", ".join(parts) or "none"
    return values[name] or "–"


def _alternatives(
    options: list[GoldOption],
) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Per field group whose versions differ, each version's value (what the
    keys t / f / c / w / s then a number take over)."""
    keys = {"source": "w", "source_type": "t", "form": "f", "cue": "c", "spans": "s"}
    out = []
    for name, fields in TAKE_FIELDS.items():
        shown = [(option.key, _shown(name, option.values)) for option in options]
        if len({tuple(o.values[f] for f in fields) for o in options}) > 1:
            out.append((name, keys[name], shown))
    return out


def _display(value: Any, spec: DimensionSpec) -> str:
    names = {code: name for code, name, _key in spec.labels}
    if value is None:
        return "–"
    if isinstance(value, frozenset):
        ordered = [code for code, _n, _k in spec.labels if code in value]
        ordered += sorted(value - set(ordered))
        return ", ".join(names.get(code, code) for code in ordered) or "–"
    if spec.target and value == NO_STANCE:
        return "–"
    return names.get(value, value)


def _choice_group(
    spec: DimensionSpec, own: list[dict], gold: dict | None
) -> ChoiceGroup:
    values = [value_of(v, spec) for v in own]
    votes: Counter[str] = Counter()
    for value in values:
        if isinstance(value, frozenset):
            votes.update(value)
        elif value is not None:
            votes[value] += 1
    half = len(own) / 2
    if gold is not None:
        current = value_of(gold, spec)
        selected = set(current) if isinstance(current, frozenset) else {current}
    elif spec.multi:
        selected = {code for code, n in votes.items() if n > half}
    else:
        # A strict majority only: a tie is the reviewer's call, nothing is pre-chosen.
        top = votes.most_common(2)
        winner = top[0][0] if top and (len(top) == 1 or top[0][1] > top[1][1]) else None
        selected = {winner} if winner is not None and votes[winner] > half else set()
    if spec.target and not selected:
        selected = {NO_STANCE}
    choices = [
        Choice(code, name, key, code in selected, votes[code])
        for code, name, key in spec.labels
    ]
    comparable = [v for v in values if v is not None] if not spec.target else values
    disagree = len(own) > 1 and len(set(comparable)) > 1
    return ChoiceGroup(spec, choices, disagree)


def review_segments(
    article: Article, *, index: SchemeIndex, segment_ids: Iterable[int] | None = None
) -> list[ReviewSegment]:
    """Every segment with each annotator's labels and attributions, the gold and
    a pre-filled form.

    Two queries at any length and team size (segments; all annotations of the
    article with their annotators, each gold with the ids of the annotations it
    was adjudicated from in a subquery column), given the scheme index.
    """
    specs = index.specs()
    names = _attribution_label_names(index)
    targets = {code: target.name for code, target in index.targets.items()}
    segments = article.segments.order_by("position")
    through = Annotation.adjudicated_from.through
    adjudicated_from = (
        through.objects.filter(from_annotation=OuterRef("pk"))
        .values("from_annotation")
        .annotate(
            ids=StringAgg(Cast("to_annotation_id", CharField()), delimiter=Value(","))
        )
        .values("ids")
    )
    annotations = (
        Annotation.objects.filter(article=article)
        .select_related("annotator")
        .annotate(adjudicated_from_ids=Subquery(adjudicated_from))
    )
    if segment_ids is not None:
        segment_ids = list(segment_ids)
        segments = segments.filter(pk__in=segment_ids)
        annotations = annotations.filter(segment_id__in=segment_ids)
    by_segment: dict[int, list[Annotation]] = defaultdict(list)
    gold: dict[int, Annotation] = {}
    for annotation in annotations.order_by("annotator__username", "pk"):
        if annotation.is_gold:
            gold[annotation.segment_id] = annotation
        else:
            by_segment[annotation.segment_id].append(annotation)
    result = []
    for segment in segments:
        item = ReviewSegment(segment=segment, gold=gold.get(segment.pk))
        own = by_segment.get(segment.pk, [])
        if segment.is_annotatable:
            snapshots = [a.values or {} for a in own]
            item.groups = [
                _choice_group(spec, snapshots, item.gold.values if item.gold else None)
                for spec in specs
            ]
            differs = [group.disagree for group in item.groups]
            everyone = snapshots + ([item.gold.values] if item.gold else [])
            # Stance columns only where someone took a stance: six empty columns
            # per segment would bury the ones that matter.
            shown = [
                i
                for i, spec in enumerate(specs)
                if not spec.target
                or any(value_of(v, spec) != NO_STANCE for v in everyone)
            ]
            item.columns = [specs[i] for i in shown]
            item.rows = [
                ReviewRow(
                    a,
                    [
                        (
                            _display(value_of(a.values or {}, specs[i]), specs[i]),
                            differs[i],
                        )
                        for i in shown
                    ],
                )
                for a in own
            ]
            if item.gold:
                item.gold_cells = [
                    _display(value_of(item.gold.values, specs[i]), specs[i])
                    for i in shown
                ]
            _compare_attributions(item, names, targets)
            item.disagree = any(differs) or any(
                comparison.disagree for comparison in item.attributions
            )
            item.base_id = _base_annotation(own, item.groups)
            if item.gold is not None:
                item.gold_from = _gold_from(item.gold, own)
        result.append(item)
    return result


def _attribution_label_names(index: SchemeIndex) -> dict[str, dict[str, str]]:
    """Snapshot key -> code -> English name, for the type and form columns."""
    names: dict[str, dict[str, str]] = {}
    for key, role in (
        ("source_type", DimensionRole.SOURCE_TYPE),
        ("form", DimensionRole.FORM),
    ):
        dimension = index.by_role.get(role)
        names[key] = {
            code: label.name_en
            for (dimension_code, code), label in index.labels.items()
            if dimension is not None and dimension_code == dimension.code
        }
    return names


def attribution_choices(index: SchemeIndex) -> dict[str, list[tuple[str, str]]]:
    """The editor's choices for type and form: (code, name) in scheme order,
    inactive labels marked (saving one is refused, as on the annotate screen)."""
    choices: dict[str, list[tuple[str, str]]] = {}
    for key, role in (
        ("source_type", DimensionRole.SOURCE_TYPE),
        ("form", DimensionRole.FORM),
    ):
        dimension = index.by_role.get(role)
        choices[key] = [
            (code, label.name_en + ("" if label.active else " (inactive)"))
            for (dimension_code, code), label in index.labels.items()
            if dimension is not None and dimension_code == dimension.code
        ]
    return choices


def _gold_from(gold: Annotation, own: list[Annotation]) -> list[tuple[str, bool]]:
    """Whose annotations the gold was adjudicated from, each with whether it
    changed after the gold was saved."""
    ids = {
        int(pk)
        for pk in (getattr(gold, "adjudicated_from_ids", "") or "").split(",")
        if pk
    }
    return [
        (a.annotator.username, a.updated_at > gold.updated_at)
        for a in own
        if a.pk in ids
    ]


def _base_annotation(own: list[Annotation], groups: list[ChoiceGroup]) -> int | None:
    """The annotation whose attributions the gold takes over by default: the one that
    matches the pre-selected claim (first by username), else the first one."""
    if not own:
        return None
    for group in groups:
        if group.spec.key == "claim" or (
            group.spec.dimension and not group.spec.multi and not group.spec.target
        ):
            chosen = next((c.code for c in group.choices if c.checked), None)
            for annotation in own:
                if value_of(annotation.values or {}, group.spec) == chosen:
                    return annotation.pk
            break
    return own[0].pk


def disagreements_per_article(
    project: Project, *, index: SchemeIndex | None = None
) -> dict[int, int]:
    """Article id -> segments whose annotators disagree on any dimension or on
    their attributions (presence, canonical source, type, form or cue:
    ``snapshot.attribution_signature``).

    One streamed query over the snapshots (plus the scheme index unless given).
    """
    index = index or SchemeIndex.for_project(project)
    specs = index.specs()
    seen: dict[int, set[tuple]] = defaultdict(set)
    article_of: dict[int, int] = {}
    rows = (
        Annotation.objects.own()
        .filter(article__project=project)
        .values_list("article_id", "segment_id", "values")
        .iterator(chunk_size=2000)
    )
    for article_id, segment_id, values in rows:
        article_of[segment_id] = article_id
        values = values or {}
        seen[segment_id].add(
            (
                tuple(value_of(values, spec) for spec in specs),
                attribution_signature(values.get("attributions") or ()),
            )
        )
    result: Counter[int] = Counter()
    for segment_id, signatures in seen.items():
        if len(signatures) > 1:
            result[article_of[segment_id]] += 1
    return dict(result)
