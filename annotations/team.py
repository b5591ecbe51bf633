"""Team work on the Django side: assigning articles, adjudicating into gold, loading
agreement data, and the reads behind the dashboard, agreement and review pages.

The statistics themselves live in ``agreement.py`` and the assignment algorithm in
``assignment.py`` (both plain Python); this module feeds them from the database with
a fixed number of queries and writes their results in one transaction.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from . import agreement
from .assignment import AssignmentError, plan_assignments
from .models import (
    ANNOTATABLE_KINDS,
    Annotation,
    Article,
    Assignment,
    DimensionRole,
    Membership,
    Project,
    Role,
    Segment,
)
from .permissions import has_role
from .services import (
    PER_SEGMENT_ROLES,
    AnnotationInput,
    AnnotationRefused,
    SchemeIndex,
    save_annotation,
)

NO_STANCE = "none"  # an untouched target counts as "none" (label-scheme.md, section 3)
MOST_DISAGREED = 20


class AssignmentRefused(Exception):
    """The assignment request is invalid; nothing was stored."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# ---------------------------------------------------------------------------
# Assignment
# ---------------------------------------------------------------------------


def assign_articles(
    *,
    project: Project,
    articles: Sequence[Article],
    annotators: Sequence,
    overlap: int,
    assigned_by,
) -> list[Assignment]:
    """Give each article ``overlap`` of ``annotators``, balanced; returns the new rows.

    Existing assignments stay and count toward both the article's overlap and the
    annotator's load; new ones go to the end of each annotator's queue in article
    order (see ``assignment.plan_assignments``). By hand = overlap equal to the
    number of annotators chosen. Cost: 4 queries whatever the sizes.
    """
    errors = [
        f"{a.title!r} is not in {project.name}"
        for a in articles
        if a.project_id != project.pk
    ]
    user_ids = [user.pk for user in annotators]
    members = set(
        Membership.objects.filter(project=project, user_id__in=user_ids).values_list(
            "user_id", flat=True
        )
    )
    errors += [
        f"{u.username} is not a member of {project.name}"
        for u in annotators
        if u.pk not in members
    ]
    if not articles:
        errors.append("choose at least one article")
    if errors:
        raise AssignmentRefused(errors)
    try:
        with transaction.atomic():
            existing = Assignment.objects.select_for_update().filter(
                article__project=project, annotator_id__in=user_ids
            )
            pairs = list(existing.values_list("article_id", "annotator_id"))
            last = dict(
                Assignment.objects.filter(annotator_id__in=user_ids)
                .values("annotator_id")
                .annotate(last=Max("position"))
                .values_list("annotator_id", "last")
            )
            plan = plan_assignments(
                articles=[a.pk for a in articles],
                annotators=user_ids,
                overlap=overlap,
                existing=pairs,
                last_positions=last,
            )
            return Assignment.objects.bulk_create(
                Assignment(
                    article_id=item.article,
                    annotator_id=item.annotator,
                    position=item.position,
                    assigned_by=assigned_by,
                )
                for item in plan
            )
    except AssignmentError as error:
        raise AssignmentRefused([str(error)]) from None
    except IntegrityError:
        raise AssignmentRefused(
            ["someone else assigned the same articles at the same moment; try again"]
        ) from None


# ---------------------------------------------------------------------------
# Adjudication
# ---------------------------------------------------------------------------


def adjudicate_segment(
    *,
    segment: Segment,
    reviewer,
    payload: AnnotationInput,
    expected_revision: int | None,
    index: SchemeIndex | None = None,
) -> Annotation:
    """Store the reviewer's gold for ``segment``, adjudicated from everyone's own.

    The gold is a separate ``Annotation`` (``is_gold``) whose ``annotator`` is the
    reviewer who saved it last, ``updated_at`` says when, ``adjudicated_from`` from
    which annotations; its history keeps every earlier version. Raises
    ``AnnotationRefused`` (bad input or role) or ``StaleRevision`` (another reviewer
    saved first), storing nothing.
    """
    if not has_role(reviewer, segment.article.project, Role.REVIEWER):
        raise AnnotationRefused(["adjudication needs the reviewer role"])
    sources = list(Annotation.objects.own().filter(segment=segment))
    return save_annotation(
        segment=segment,
        annotator=reviewer,
        payload=payload,
        expected_revision=expected_revision,
        is_gold=True,
        adjudicated_from=sources,
        index=index,
    )


# ---------------------------------------------------------------------------
# What an annotation says, dimension by dimension
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


def dimension_specs(index: SchemeIndex) -> list[DimensionSpec]:
    """Per-segment dimensions in scheme order, then stance per target (nominal)."""
    by_dimension: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for (dimension_code, code), label in index.labels.items():
        if label.active:
            by_dimension[dimension_code].append((code, label.name_en, label.key))
    specs = [
        DimensionSpec(
            key=d.code,
            name=d.name_en,
            multi=d.is_multi,
            labels=tuple(by_dimension[d.code]),
            dimension=d.code,
        )
        for d in index.dimensions.values()
        if d.role in PER_SEGMENT_ROLES
    ]
    stance = index.by_role.get(DimensionRole.STANCE)
    if stance is not None:
        polarities = tuple(by_dimension[stance.code])
        specs += [
            DimensionSpec(
                key=f"stance:{t.code}",
                name=f"Stance: {t.name}",
                multi=False,
                labels=polarities,
                target=t.code,
                target_key=t.key,
            )
            for t in sorted(index.targets.values(), key=lambda t: (t.order, t.pk))
        ]
    return specs


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
# Agreement
# ---------------------------------------------------------------------------


@dataclass
class DimensionAgreement:
    spec: DimensionSpec
    report: agreement.DimensionReport
    scores: dict[int, float]  # segment id -> mean pairwise disagreement

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

    def label_names(self) -> list[str]:
        return [name for name, _cells in self.confusion_rows()]


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
class ProjectAgreement:
    dimensions: list[DimensionAgreement]
    coders: dict[int, str]  # user id -> username
    n_annotations: int
    disagreed: list[DisagreedSegment] = field(default_factory=list)
    version: tuple = (0, None)  # AgreementVersion of the ratings it was computed from

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


def load_ratings(
    project: Project, *, index: SchemeIndex | None = None
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
    these rows (count, latest ``updated_at``). Cost: the scheme index (3 queries)
    unless given, plus 1.
    """
    index = index or SchemeIndex.for_project(project)
    specs = dimension_specs(index)
    ratings: dict[str, list[agreement.Rating]] = {spec.key: [] for spec in specs}
    label_lists, stance_lists = _rating_lists(specs, ratings)
    coders: dict[int, str] = {}
    rows = (
        Annotation.objects.own()
        .filter(article__project=project)
        .values_list(
            "segment_id",
            "annotator_id",
            "annotator__username",
            "values__labels",
            "values__stances",
            "updated_at",
        )
        .iterator(chunk_size=2000)
    )
    rating = agreement.Rating
    no_codes: tuple[str, ...] = ()
    # Equal frozensets are shared: 300,000 copies of frozenset({"economic"})
    # would cost memory and hashing for nothing.
    sets: dict[tuple[str, ...], frozenset[str]] = {}
    count = 0
    last: datetime | None = None
    for segment_id, annotator_id, username, labels, stances, updated_at in rows:
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
    specs, ratings, coders, version = load_ratings(project, index=index)
    reports = []
    totals: Counter[int] = Counter()
    where: dict[int, list[str]] = defaultdict(list)
    for spec in specs:
        report = agreement.dimension_report(
            ratings.pop(spec.key), multi=spec.multi, item_scores=True
        )
        reports.append((spec, report))
        for segment_id, score in report.item_scores.items():
            if score > 0:
                totals[segment_id] += score
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
    return ProjectAgreement(dimensions, coders, version[0], disagreed, version)


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
    digest = hashlib.sha256(repr(dimension_specs(index)).encode()).hexdigest()[:16]
    key = f"agreement:v1:{project.pk}:{digest}:{most}"
    entry = cache.get(key)
    if entry is not None and entry.version == agreement_version(project):
        return entry
    result = project_agreement(project, most=most, index=index)
    cache.set(key, result, AGREEMENT_CACHE_SECONDS)
    return result


def _number(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def agreement_summary(project: Project, *, pseudonymise: bool = False) -> dict:
    """The agreement figures as plain JSON-ready data, for the export codebook.

    Shape::

        {"project": slug, "n_annotations": int, "n_coders": int,
         "coders": [name, ...],
         "dimensions": [{"key": "claim" | "frames" | "stance:<target>" | <extra>,
                         "name": str, "multi": bool, "distance": "nominal" | "masi",
                         "alpha", "fleiss", "percent": float | None (4 decimals),
                         "interpretation": "reliable" | "tentative"
                                           | "unreliable" | None,
                         "n_items", "n_coders", "n_ratings": int,
                         "prevalence": {label code: share},
                         "pairwise": [{"a": name, "b": name, "kappa": float | None,
                                       "percent": float, "n_items": int}],
                         "confusion": [[label a, label b, count], ...]}]}

    ``None`` means undefined (e.g. no item rated twice). With ``pseudonymise``
    coders are named ``coder1``... in username order, so a published codebook
    names nobody. Cost: as ``project_agreement``.
    """
    result = project_agreement(project, most=0)
    ordered = sorted(result.coders, key=lambda i: result.coders[i])
    names = (
        {pk: f"coder{n}" for n, pk in enumerate(ordered, start=1)}
        if pseudonymise
        else result.coders
    )
    dimensions = []
    for item in result.dimensions:
        report = item.report
        dimensions.append(
            {
                "key": item.spec.key,
                "name": item.spec.name,
                "multi": item.spec.multi,
                "distance": report.distance,
                "alpha": _number(report.alpha),
                "fleiss": _number(report.fleiss),
                "percent": _number(report.percent),
                "interpretation": report.interpretation,
                "n_items": report.n_items,
                "n_coders": report.n_coders,
                "n_ratings": report.n_ratings,
                "prevalence": {k: round(v, 4) for k, v in report.prevalence.items()},
                "pairwise": [
                    {
                        "a": names[a],
                        "b": names[b],
                        "kappa": _number(pair.kappa),
                        "percent": _number(pair.percent),
                        "n_items": pair.n_items,
                    }
                    for (a, b), pair in report.pairwise.items()
                ],
                "confusion": [[a, b, n] for (a, b), n in report.confusion.items()],
            }
        )
    return {
        "project": project.slug,
        "n_annotations": result.n_annotations,
        "n_coders": len(result.coders),
        "coders": [names[pk] for pk in ordered],
        "dimensions": dimensions,
    }


# ---------------------------------------------------------------------------
# Dashboard reads
# ---------------------------------------------------------------------------


def _count(queryset: QuerySet, group: str, expression) -> Coalesce:
    return Coalesce(
        Subquery(
            queryset.order_by().values(group).annotate(n=expression).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def annotator_progress(project: Project) -> QuerySet[Membership]:
    """The project's members with their work: ONE query (correlated subqueries).

    ``assigned_articles``, ``assigned_segments`` (annotatable segments of their
    assigned articles), ``labelled`` (their own annotations on those articles),
    ``time_spent_ms`` (all their annotations in the project), ``last_activity``.
    """
    user = OuterRef("user_id")
    assigned = Assignment.objects.filter(annotator=user, article__project=project)
    own = Annotation.objects.filter(
        is_gold=False, annotator=user, article__project=project
    )
    on_assigned = own.filter(
        article__assignments__annotator=user, segment__kind__in=ANNOTATABLE_KINDS
    )
    return (
        Membership.objects.filter(project=project)
        .select_related("user")
        .annotate(
            assigned_articles=_count(assigned, "annotator", Count("pk")),
            assigned_segments=_count(
                assigned, "annotator", Sum("article__annotatable_count")
            ),
            labelled=_count(on_assigned, "annotator", Count("pk")),
            time_spent_ms=_count(own, "annotator", Sum("time_spent_ms")),
            last_activity=Subquery(
                own.order_by("-updated_at").values("updated_at")[:1]
            ),
        )
        .order_by("user__username")
    )


def article_progress(project: Project) -> QuerySet[Article]:
    """The project's articles with gold and annotation counts, assignments prefetched.

    Two queries per page (the articles, their assignments with annotators), plus
    tables2's count. Per-annotator progress comes from ``done_per_assignment``.
    """
    gold = Annotation.objects.filter(article=OuterRef("pk"), is_gold=True)
    own = Annotation.objects.filter(article=OuterRef("pk"), is_gold=False)
    return (
        Article.objects.filter(project=project)
        .defer("text")  # the whole article text is never shown here
        .annotate(
            gold_count=_count(gold, "article", Count("pk")),
            annotation_count=_count(own, "article", Count("pk")),
        )
        .prefetch_related(
            Prefetch(
                "assignments",
                queryset=Assignment.objects.select_related("annotator").order_by(
                    "annotator__username"
                ),
            )
        )
        .order_by("pk")
    )


def done_per_assignment(project: Project) -> dict[tuple[int, int], int]:
    """(article id, annotator id) -> own annotations: one grouped query."""
    rows = (
        Annotation.objects.own()
        .filter(article__project=project, segment__kind__in=ANNOTATABLE_KINDS)
        .values("article_id", "annotator_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["article_id"], row["annotator_id"]): row["n"] for row in rows}


def disagreements_per_article(
    project: Project, *, index: SchemeIndex | None = None
) -> dict[int, int]:
    """Article id -> segments whose annotators disagree on any dimension.

    One streamed query over the snapshots (plus the scheme index unless given).
    """
    index = index or SchemeIndex.for_project(project)
    specs = dimension_specs(index)
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


# ---------------------------------------------------------------------------
# Review screen
# ---------------------------------------------------------------------------


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
    specs = dimension_specs(index)
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


def review_articles(project: Project) -> QuerySet[Article]:
    """Articles with any annotation, for the reviewers' list (2 queries + count)."""
    labelled = Annotation.objects.filter(article=OuterRef("pk"))
    return article_progress(project).filter(Exists(labelled))


# ---------------------------------------------------------------------------
# History: what changed between two versions of an annotation
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
