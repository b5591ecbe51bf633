"""REFERENCE COPY (frozen): ``annotations/ratings.py`` before the columnar
rewrite, fed by the frozen ``agreement_v1``; the tests compare the new code
with it on random data. Not used by the application.

Agreement of a project's annotators: their ratings loaded from the database
(one query) and the figures of the agreement page, cached per project.

The statistics themselves live in ``agreement.py`` (plain Python); this module
feeds them from the snapshots (``snapshot.value_of``) with a fixed number of
queries.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Max

from annotations.models import Annotation, DimensionRole, Project, Segment
from annotations.scheme import SchemeIndex
from annotations.snapshot import (
    ATTRIBUTION_FORM,
    ATTRIBUTION_PRESENCE,
    ATTRIBUTION_SOURCE,
    ATTRIBUTION_TYPE,
    CUE_SPANS,
    GIVEN,
    NO_STANCE,
    NOT_GIVEN,
    SOURCE_SPANS,
    DimensionSpec,
    attribution_readings,
)

from . import agreement_v1 as agreement

MOST_DISAGREED = 20
# Prevalence lists longer than this (the canonical sources) show their top only.
PREVALENCE_SHOWN = 12


@dataclass
class DimensionAgreement:
    spec: DimensionSpec
    report: agreement.DimensionReport
    scores: dict[int, float]  # segment id -> mean pairwise disagreement

    @property
    def has_confusion(self) -> bool:
        """A confusion table for every dimension but the canonical sources (a
        project's source list has hundreds of names: a table of their squares
        would bury the page; the review screen shows each one)."""
        return self.spec.key != ATTRIBUTION_SOURCE

    @property
    def prevalence(self) -> list[tuple[str, float]]:
        """The most used labels first, at most ``PREVALENCE_SHOWN``."""
        return list(self.report.prevalence.items())[:PREVALENCE_SHOWN]

    def confusion_rows(self) -> list[tuple[str, list[tuple[int, str]]]]:
        """The confusion table as rows of (count, heat class), labels in scheme order.

        Heat classes heat-0 ... heat-9 scale with the largest off-diagonal cell so the
        confusions stand out; the diagonal (agreement) uses its own class family.
        """
        codes = [code for code, _name, _key in self.spec.labels]
        used = {a for a, _ in self.report.confusion} | {
            b for _, b in self.report.confusion
        }
        codes = [c for c in codes if c in used] + sorted(
            c for c in used if c not in codes and c is not None
        )
        if None in used:
            codes.append(None)
        off = [n for (a, b), n in self.report.confusion.items() if a != b] or [0]
        top = max(max(off), 1)
        diagonal_top = max(
            [n for (a, b), n in self.report.confusion.items() if a == b] or [1]
        )
        names = {code: name for code, name, _key in self.spec.labels}
        rows = []
        for a in codes:
            cells = []
            for b in codes:
                n = self.report.confusion.get((a, b), 0)
                if a == b:
                    cells.append(
                        (n, f"agree heat-{min(9, round(9 * n / diagonal_top))}")
                    )
                else:
                    cells.append((n, f"heat-{min(9, round(9 * n / top))}"))
            rows.append((names.get(a, a or "(nothing)"), cells))
        return rows


@dataclass
class DisagreedSegment:
    segment_id: int
    article_id: int
    article_title: str
    position: int
    text: str
    score: float
    dimensions: list[str]


@dataclass
class SpanAgreement:
    """Span agreement of one kind of span (source spans, cue spans)."""

    key: str
    name: str
    report: agreement.SpanReport

    def pair_rows(
        self, coders: dict[int, str]
    ) -> list[tuple[str, str, agreement.SpanPairAgreement]]:
        """(annotator A, annotator B, figures) per pair, by name."""
        rows = [
            (coders.get(a, str(a)), coders.get(b, str(b)), pair)
            for (a, b), pair in self.report.pairwise.items()
        ]
        return sorted(rows, key=lambda row: (row[0], row[1]))


@dataclass
class SuggestionFigures:
    """How annotators used attribution suggestions, and whether their agreement
    differs with and without them (an automation bias check): attribution
    presence and canonical sources on the segments where everyone who labelled
    them was offered suggestions, against those where nobody was."""

    annotations_offered: int  # annotations saved while suggestions were offered
    offered: int  # suggestions offered in all
    accepted: int  # attributions taken as suggested
    edited: int  # attributions taken from a suggestion, then changed
    with_suggestions: list[tuple[str, agreement.DimensionReport]]
    without_suggestions: list[tuple[str, agreement.DimensionReport]]

    @property
    def taken_share(self) -> float | None:
        return (self.accepted + self.edited) / self.offered if self.offered else None

    @property
    def comparison(
        self,
    ) -> list[tuple[str, agreement.DimensionReport, agreement.DimensionReport]]:
        return [
            (name, with_report, without)
            for (name, with_report), (_, without) in zip(
                self.with_suggestions, self.without_suggestions, strict=True
            )
        ]


@dataclass
class ProjectAgreement:
    dimensions: list[DimensionAgreement]
    coders: dict[int, str]  # user id -> username
    n_annotations: int
    disagreed: list[DisagreedSegment] = field(default_factory=list)
    version: tuple = (0, None)  # AgreementVersion of the ratings it was computed from
    spans: list[SpanAgreement] = field(default_factory=list)
    suggestions: SuggestionFigures | None = None

    def pairwise_matrix(self, dimension: DimensionAgreement):
        """Rows of (coder, [PairAgreement or None]) over all coders in name order."""
        ids = sorted(self.coders, key=lambda i: self.coders[i])
        pairs = dimension.report.pairwise
        rows = []
        for a in ids:
            cells = []
            for b in ids:
                cells.append(None if a == b else pairs.get((min(a, b), max(a, b))))
            rows.append((self.coders[a], cells))
        return [self.coders[i] for i in ids], rows


def _rating_lists(
    specs: list[DimensionSpec], ratings: dict[str, list[agreement.Rating]]
) -> tuple[list[tuple[list, str, bool]], list[tuple[list, str]]]:
    """Per spec, the list its ratings go to: label dimensions, then stance targets."""
    labels = [
        (ratings[spec.key], spec.dimension, spec.multi)
        for spec in specs
        if not spec.target
    ]
    stances = [(ratings[spec.key], spec.target) for spec in specs if spec.target]
    return labels, stances


type AgreementVersion = tuple[int, datetime | None]

SPAN_NAMES = {SOURCE_SPANS: "Source spans", CUE_SPANS: "Cue spans"}


def attribution_specs(index: SchemeIndex) -> list[DimensionSpec]:
    """The agreement figures of attributions, as dimensions (README, Team work):
    presence per segment (nominal), the canonical sources per segment where two
    or more annotators gave one (a set, MASI), and type and form on matched
    attributions (nominal; items are (segment, source key, occurrence))."""

    def labels_of(role: str) -> tuple[tuple[str, str, str], ...]:
        dimension = index.by_role.get(role)
        return tuple(
            (code, label.name_en, "")
            for (dimension_code, code), label in index.labels.items()
            if dimension is not None and dimension_code == dimension.code
        )

    return [
        DimensionSpec(
            key=ATTRIBUTION_PRESENCE,
            name="Attribution: presence",
            multi=False,
            labels=((GIVEN, "attribution", ""), (NOT_GIVEN, "none", "")),
        ),
        DimensionSpec(
            key=ATTRIBUTION_SOURCE,
            name="Attribution: canonical sources",
            multi=True,
            labels=(),
        ),
        DimensionSpec(
            key=ATTRIBUTION_TYPE,
            name="Attribution: source type",
            multi=False,
            labels=labels_of(DimensionRole.SOURCE_TYPE),
        ),
        DimensionSpec(
            key=ATTRIBUTION_FORM,
            name="Attribution: form",
            multi=False,
            labels=labels_of(DimensionRole.FORM),
        ),
    ]


@dataclass
class AttributionRatings:
    """What ``load_ratings`` collects from the attributions when asked: ratings
    per ``attribution_specs`` key and each annotator's marked spans per segment
    (``SPAN_NAMES`` keys; units of ``(start, end)`` parts)."""

    ratings: dict[str, list[agreement.Rating]] = field(
        default_factory=lambda: {
            key: []
            for key in (
                ATTRIBUTION_PRESENCE,
                ATTRIBUTION_SOURCE,
                ATTRIBUTION_TYPE,
                ATTRIBUTION_FORM,
            )
        }
    )
    spans: dict[str, list[agreement.Rating]] = field(
        default_factory=lambda: {key: [] for key in SPAN_NAMES}
    )
    # (segment, coder) -> whether suggestions were offered when it was saved.
    offered_to: dict[tuple[int, int], bool] = field(default_factory=dict)
    uses: Counter = field(default_factory=Counter)

    def add(
        self, segment_id: int, coder: int, attributions: list[dict], shown: int = 0
    ) -> None:
        rating = agreement.Rating
        ratings = self.ratings
        self.offered_to[(segment_id, coder)] = shown > 0
        if shown:
            self.uses["annotations"] += 1
            self.uses["offered"] += shown
        for item in attributions:
            if item.get("suggestion"):
                self.uses[item["suggestion"]] += 1
        read = attribution_readings(attributions)
        ratings[ATTRIBUTION_PRESENCE].append(rating(segment_id, coder, read.presence))
        if read.sources is not None:
            ratings[ATTRIBUTION_SOURCE].append(rating(segment_id, coder, read.sources))
        for key, codes in (
            (ATTRIBUTION_TYPE, read.types),
            (ATTRIBUTION_FORM, read.forms),
        ):
            target = ratings[key]
            for identity, code in codes.items():
                target.append(rating((segment_id, *identity), coder, code))
        self.spans[SOURCE_SPANS].append(
            rating(
                segment_id,
                coder,
                tuple(
                    (tuple(a["source_span"]),)
                    for a in attributions
                    if a.get("source_span")
                ),
            )
        )
        self.spans[CUE_SPANS].append(
            rating(
                segment_id,
                coder,
                tuple(
                    tuple(tuple(part) for part in a["cue_spans"])
                    for a in attributions
                    if a.get("cue_spans")
                ),
            )
        )


def load_ratings(
    project: Project,
    *,
    index: SchemeIndex | None = None,
    attributions: AttributionRatings | None = None,
) -> tuple[
    list[DimensionSpec],
    dict[str, list[agreement.Rating]],
    dict[int, str],
    AgreementVersion,
]:
    """Every annotator's own ratings per dimension (gold excluded), from ONE query.

    Items are segment ids, coders user ids. Only the snapshot's ``labels`` and
    ``stances`` keys are fetched (attributions and comments are most of a snapshot
    and agreement never reads them), streamed with ``.iterator()`` so memory holds
    the ratings, never model instances, and each row is taken apart once for all
    dimensions (the same values as ``value_of``, without a scan of the stances per
    target). The version is what ``agreement_version`` would answer for exactly
    these rows (count, latest ``updated_at``). With ``attributions`` the same
    query also fetches the snapshots' attributions and fills it
    (``AttributionRatings.add``). Cost: the scheme index (3 queries) unless
    given, plus 1.
    """
    index = index or SchemeIndex.for_project(project)
    specs = index.specs()
    ratings: dict[str, list[agreement.Rating]] = {spec.key: [] for spec in specs}
    label_lists, stance_lists = _rating_lists(specs, ratings)
    coders: dict[int, str] = {}
    fields = [
        "segment_id",
        "annotator_id",
        "annotator__username",
        "values__labels",
        "values__stances",
        "updated_at",
    ]
    if attributions is not None:
        fields += ["values__attributions", "values__suggestions_shown"]
    rows = (
        Annotation.objects.own()
        .filter(article__project=project)
        .values_list(*fields)
        .iterator(chunk_size=2000)
    )
    rating = agreement.Rating
    no_codes: tuple[str, ...] = ()
    # Equal frozensets are shared: 300,000 copies of frozenset({"economic"})
    # would cost memory and hashing for nothing.
    sets: dict[tuple[str, ...], frozenset[str]] = {}
    count = 0
    last: datetime | None = None
    for row in rows:
        segment_id, annotator_id, username, labels, stances, updated_at = row[:6]
        if attributions is not None:
            given, shown = row[6], row[7]
            attributions.add(
                segment_id,
                annotator_id,
                given if isinstance(given, list) else [],
                shown if isinstance(shown, int) else 0,
            )
        count += 1
        if last is None or updated_at > last:
            last = updated_at
        coders[annotator_id] = username
        labels = labels if isinstance(labels, dict) else {}
        for target_list, dimension, multi in label_lists:
            codes = labels.get(dimension) or no_codes
            if multi:
                key = tuple(codes)
                value = sets.get(key)
                if value is None:
                    value = sets[key] = frozenset(codes)
                target_list.append(rating(segment_id, annotator_id, value))
            elif codes:
                target_list.append(rating(segment_id, annotator_id, codes[0]))
        # The author's polarity per target; the first one counts, as in value_of.
        author: dict[str, str] = {}
        for stance in stances if isinstance(stances, list) else ():
            target = stance.get("target")
            if stance.get("holder") is None and target not in author:
                author[target] = stance.get("polarity") or NO_STANCE
        for target_list, target in stance_lists:
            target_list.append(
                rating(segment_id, annotator_id, author.get(target, NO_STANCE))
            )
    return specs, ratings, coders, (count, last)


def project_agreement(
    project: Project, *, most: int = MOST_DISAGREED, index: SchemeIndex | None = None
) -> ProjectAgreement:
    """All figures of the agreement page. Cost: 5 queries at any corpus size (2
    with ``index`` given).

    One tally per dimension gives both the report and the per-segment scores
    (``dimension_report(..., item_scores=True)``); the scores are summed into the
    most disagreed segments and then dropped, so ``DimensionAgreement.scores``
    holds only the segments listed (the result stays small enough to cache).
    """
    index = index or SchemeIndex.for_project(project)
    collected = AttributionRatings()
    specs, ratings, coders, version = load_ratings(
        project, index=index, attributions=collected
    )
    suggestions = suggestion_figures(collected)
    ratings.update(collected.ratings)
    reports = []
    totals: Counter[int] = Counter()
    where: dict[int, list[str]] = defaultdict(list)
    for spec in specs + attribution_specs(index):
        report = agreement.dimension_report(
            ratings.pop(spec.key), multi=spec.multi, item_scores=True
        )
        reports.append((spec, report))
        for item, score in report.item_scores.items():
            # Type and form items are (segment, source key, occurrence).
            segment_id = item[0] if isinstance(item, tuple) else item
            if score > 0:
                totals[segment_id] += score
                if spec.name not in where[segment_id]:
                    where[segment_id].append(spec.name)
    top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:most]
    wanted = {pk for pk, _ in top}
    dimensions = [
        DimensionAgreement(
            spec=spec,
            report=replace(report, item_scores={}),
            scores={pk: s for pk, s in report.item_scores.items() if pk in wanted},
        )
        for spec, report in reports
    ]
    segments = {
        s.pk: s
        for s in Segment.objects.filter(pk__in=wanted)
        .select_related("article")
        .defer("article__text")
    }
    disagreed = [
        DisagreedSegment(
            segment_id=pk,
            article_id=segments[pk].article_id,
            article_title=segments[pk].article.title,
            position=segments[pk].position,
            text=segments[pk].text,
            score=score,
            dimensions=where[pk],
        )
        for pk, score in top
        if pk in segments
    ]
    spans = [
        SpanAgreement(key, name, agreement.span_agreement(collected.spans.pop(key)))
        for key, name in SPAN_NAMES.items()
    ]
    return ProjectAgreement(
        dimensions, coders, version[0], disagreed, version, spans, suggestions
    )


def suggestion_figures(collected: AttributionRatings) -> SuggestionFigures:
    """The suggestions' use, and attribution agreement with and without them:
    a segment counts as "with" when every annotator who labelled it was offered
    suggestions, "without" when none was; mixed segments count in neither."""
    offered: dict[int, set[bool]] = defaultdict(set)
    for (segment_id, _coder), shown in collected.offered_to.items():
        offered[segment_id].add(shown)
    with_them = {s for s, kinds in offered.items() if kinds == {True}}
    without = {s for s, kinds in offered.items() if kinds == {False}}

    def reports(segments: set[int]) -> list[tuple[str, agreement.DimensionReport]]:
        return [
            (
                name,
                agreement.dimension_report(
                    [r for r in collected.ratings[key] if r.item in segments],
                    multi=multi,
                ),
            )
            for key, name, multi in (
                (ATTRIBUTION_PRESENCE, "Attribution: presence", False),
                (ATTRIBUTION_SOURCE, "Attribution: canonical sources", True),
            )
        ]

    uses = collected.uses
    return SuggestionFigures(
        annotations_offered=uses["annotations"],
        offered=uses["offered"],
        accepted=uses["accepted"],
        edited=uses["edited"],
        with_suggestions=reports(with_them),
        without_suggestions=reports(without),
    )


AGREEMENT_CACHE_SECONDS = 24 * 3600


def agreement_version(project: Project) -> AgreementVersion:
    """(own annotations, latest ``updated_at``) of the project: ONE aggregate query.

    Any save, edit or deletion of an own annotation changes one of the two (the
    bulk paths set ``updated_at`` too), so an equal version means equal ratings.
    """
    row = (
        Annotation.objects.own()
        .filter(article__project=project)
        .aggregate(n=Count("pk"), last=Max("updated_at"))
    )
    return row["n"], row["last"]


def cached_project_agreement(
    project: Project, *, most: int = MOST_DISAGREED
) -> ProjectAgreement:
    """``project_agreement`` through Django's cache (per process with the default
    LocMemCache; a shared cache works the same), checked against the database.

    The entry is keyed by project, scheme digest (dimensions, labels, targets: a
    scheme change is a new key) and ``most``, and stores the version it was
    computed from. A stored entry is served only if ``agreement_version`` still
    answers the same, so a result is never stale, in any process. Queries: the
    scheme index (3) plus the aggregate (1) when an entry exists, then the
    computation (2: ratings, listed segments) if it is missing or out of date;
    a cold cache skips the aggregate, the ratings query gives the version.
    """
    index = SchemeIndex.for_project(project)
    specs = index.specs() + attribution_specs(index)
    digest = hashlib.sha256(repr(specs).encode()).hexdigest()[:16]
    # v2: attribution figures and span agreement in the cached result.
    key = f"agreement:v3:{project.pk}:{digest}:{most}"
    entry = cache.get(key)
    if entry is not None and entry.version == agreement_version(project):
        return entry
    result = project_agreement(project, most=most, index=index)
    cache.set(key, result, AGREEMENT_CACHE_SECONDS)
    return result
