"""Agreement of a project's annotators: their ratings loaded from the database
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

from . import agreement
from .models import Annotation, Project, Segment
from .scheme import SchemeIndex
from .snapshot import NO_STANCE, DimensionSpec

MOST_DISAGREED = 20


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
    specs = index.specs()
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
    digest = hashlib.sha256(repr(index.specs()).encode()).hexdigest()[:16]
    key = f"agreement:v1:{project.pk}:{digest}:{most}"
    entry = cache.get(key)
    if entry is not None and entry.version == agreement_version(project):
        return entry
    result = project_agreement(project, most=most, index=index)
    cache.set(key, result, AGREEMENT_CACHE_SECONDS)
    return result
