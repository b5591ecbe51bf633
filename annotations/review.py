"""The review screen's data: every annotator's labels of an article side by side,
the gold, the differences and a pre-filled adjudication form per segment; and the
disagreement counts of the dashboard and the reviewers' list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .models import Annotation, Article, Project, Segment
from .scheme import SchemeIndex
from .snapshot import NO_STANCE, DimensionSpec, value_of


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

    @property
    def annotatable(self) -> bool:
        return self.segment.is_annotatable

    @property
    def own(self) -> list[Annotation]:
        return [row.annotation for row in self.rows]


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
    """Every segment with each annotator's labels, the gold and a pre-filled form.

    Two queries at any length and team size (segments; all annotations of the
    article with their annotators), given the scheme index.
    """
    specs = index.specs()
    segments = article.segments.order_by("position")
    annotations = Annotation.objects.filter(article=article).select_related("annotator")
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
            item.disagree = any(differs)
            item.base_id = _base_annotation(own, item.groups)
        result.append(item)
    return result


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
    """Article id -> segments whose annotators disagree on any dimension.

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
        seen[segment_id].add(tuple(value_of(values or {}, spec) for spec in specs))
    result: Counter[int] = Counter()
    for segment_id, signatures in seen.items():
        if len(signatures) > 1:
            result[article_of[segment_id]] += 1
    return dict(result)
