"""Agreement of a project's annotators: their ratings loaded from the database
(one query) and the figures of the agreement page, cached per project.

The statistics themselves live in ``agreement.py`` (no Django); this module
feeds them from the snapshots (the values of ``snapshot.value_of`` and
``snapshot.attribution_readings``) with a fixed number of queries, as numbered
columns (``agreement.Columns``): no Python object per rating.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import batched
from typing import Any, NamedTuple

import numpy as np
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Func, Max, TextField

from . import agreement
from .models import Annotation, DimensionRole, Project, Segment
from .scheme import SchemeIndex
from .snapshot import (
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


# ---------------------------------------------------------------------------
# Loading: one query, each distinct JSON text decoded once
# ---------------------------------------------------------------------------

#: Rows taken apart per batch (columns of this many rows at a time).
LOAD_BATCH = 10_000


class _UpdatedAt(Func):
    """``updated_at`` as UTC text on PostgreSQL (``2026-12-04 19:40:00.5``:
    fixed-width up to the seconds, fractions without trailing zeros, so text
    order is time order): the latest of 300,000 rows is found among strings and
    only it becomes a datetime (``_latest``) instead of every row going through
    the driver's time zone-aware loader. Elsewhere the column itself."""

    output_field = TextField()

    def __init__(self) -> None:
        super().__init__(F("updated_at"))

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql}) AT TIME ZONE 'UTC')::text", params


def _latest(values: Sequence[Any]) -> datetime:
    """The latest of ``_UpdatedAt`` values, as the datetime Django would give."""
    latest = max(values)
    if isinstance(latest, str):
        return datetime.fromisoformat(latest).replace(tzinfo=UTC)
    return latest


class _SnapshotPart(Func):
    """``values -> 'key'`` as JSON text: the snapshot's part as the database
    stores it, for ``_Patterns`` to decode once per distinct text (Django's
    ``KeyTransform`` would decode it again for every row)."""

    output_field = TextField()

    def __init__(self, key: str) -> None:
        super().__init__(F("values"))
        self.key = key

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql}) -> %s)::text", (*params, self.key)

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql}) -> %s)", (*params, f"$.{json.dumps(self.key)}")

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError(f"{connection.vendor}: PostgreSQL or SQLite only")


def _rows(queryset: Any) -> Iterator[tuple]:
    """The rows of a ``values_list`` queryset, streamed in ``LOAD_BATCH`` chunks.

    On PostgreSQL with libpq 17 or later the query runs once through psycopg's
    chunked streaming (``Cursor.stream(size=...)``): the server makes the next
    rows while these are taken apart, one statement, nothing kept server-side.
    Django's ``iterator()`` would instead DECLARE a cursor and FETCH each chunk
    in turn (under autocommit a ``WITH HOLD`` cursor, which first writes every
    row to a temporary file: 71 MB at the default size). The query is logged
    like any other (query counts, ``CaptureQueriesContext``). Otherwise, and
    for columns that need Django's converters, ``iterator()`` (in a transaction
    on PostgreSQL, so without ``WITH HOLD``)."""
    if connection.vendor != "postgresql":
        yield from queryset.iterator(chunk_size=LOAD_BATCH)
        return
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    converters = compiler.get_converters([col for col, *_ in compiler.select])
    if converters or not _can_stream():
        with transaction.atomic(savepoint=False):
            yield from queryset.iterator(chunk_size=LOAD_BATCH)
        return
    start = time.monotonic()
    with connection.cursor() as cursor:
        yield from cursor.cursor.stream(sql, params, size=LOAD_BATCH)
    if connection.queries_logged:
        connection.queries_log.append(
            {
                "sql": f"{sql} -- streamed, params {params!r}",
                "time": f"{time.monotonic() - start:.3f}",
            }
        )


def _can_stream() -> bool:
    """psycopg 3 on libpq 17 or later (chunked rows)."""
    try:
        import psycopg
    except ImportError:
        return False
    return psycopg.pq.version() >= 170000


class _Patterns(dict):
    """JSON text -> pattern number; ``rows[number]`` is what ``decode`` made of
    the text, computed the first time the text is seen. A project's snapshots
    repeat a few hundred label and stance combinations, so 300,000 rows cost
    300,000 dictionary look-ups and a few hundred decodes."""

    def __init__(self, decode: Callable[[Any], Any]) -> None:
        super().__init__()
        self.decode = decode
        self.rows: list[Any] = []

    def __missing__(self, text: str | None) -> int:
        number = self[text] = len(self.rows)
        self.rows.append(self.decode(None if text is None else json.loads(text)))
        return number

    def numbers(self, texts: Sequence[str | None]) -> np.ndarray:
        return np.fromiter(map(self.__getitem__, texts), np.int64, len(texts))


class _Numbering(dict):
    """Value -> its number in ``values`` (first come, first numbered)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[Any] = []

    def __missing__(self, value: Any) -> int:
        number = self[value] = len(self.values)
        self.values.append(value)
        return number


class _Attributions(NamedTuple):
    """One distinct ``attributions`` list as agreement reads it (numbers are
    ``_Numbering`` numbers; -1: no rating)."""

    presence: int
    sources: int
    types: tuple[tuple[tuple, int], ...]  # (identity, type number)
    forms: tuple[tuple[tuple, int], ...]
    source_units: int
    cue_units: int
    suggestions: tuple[str, ...]  # suggestion uses ("accepted", "edited")


@dataclass
class ProjectRatings:
    """Every annotator's own ratings of a project (gold excluded), numbered once:
    ``columns`` per spec key (``specs``: the scheme's dimensions and targets,
    then, when loaded, ``attribution_specs``), ``spans`` per ``SPAN_NAMES`` key.
    Items are segment numbers (``segments[number]`` is the segment id, numbered
    in the order the rows came) except for attribution type and form, whose items
    are ``(segment id, source key, occurrence)`` with ``segment_of[key]`` giving
    each item's segment number. Coders are user ids, ascending."""

    specs: list[DimensionSpec]
    columns: dict[str, agreement.Columns]
    segments: list[int]
    coders: dict[int, str]
    version: AgreementVersion
    segment_of: dict[str, np.ndarray] = field(default_factory=dict)
    spans: dict[str, agreement.Columns] = field(default_factory=dict)
    # Per segment number: every annotator / no annotator was offered suggestions.
    all_offered: np.ndarray | None = None
    none_offered: np.ndarray | None = None
    uses: Counter = field(default_factory=Counter)
    # Per-segment dimensions that some rows do not rate: their items in the
    # order the rows came (the others are rated on every row: segment order).
    rated_in_order: dict[str, np.ndarray] = field(default_factory=dict)


def load_project_ratings(
    project: Project,
    *,
    index: SchemeIndex | None = None,
    attributions: bool = True,
) -> ProjectRatings:
    """Every own annotation's ratings on every dimension from ONE query.

    The query returns, per annotation, the ids, the username, ``updated_at``
    and the snapshot's ``labels`` and ``stances`` (with ``attributions`` also
    its ``attributions`` and ``suggestions_shown``) as JSON text, never the
    whole snapshot (comments, cues) and never decoded per row: each distinct
    text is decoded once (``_Patterns``) into the numbers of its values per
    dimension, and the rows become numpy columns (``LOAD_BATCH`` rows at a
    time), so no Python object is made per rating. The values are those of
    ``snapshot.value_of`` and ``snapshot.attribution_readings``. The version
    is what ``agreement_version`` would answer for exactly these rows (count,
    latest ``updated_at``). Cost: the scheme index (3 queries) unless given,
    plus 1.
    """
    index = index or SchemeIndex.for_project(project)
    specs = index.specs()
    label_specs = [spec for spec in specs if not spec.target]
    stance_specs = [spec for spec in specs if spec.target]
    numbering = {spec.key: _Numbering() for spec in specs}
    label_numbers = [numbering[spec.key] for spec in label_specs]
    stance_numbers = [numbering[spec.key] for spec in stance_specs]
    no_codes: tuple[str, ...] = ()
    missing = -1

    def decode_labels(labels: Any) -> tuple[int, ...]:
        labels = labels if isinstance(labels, dict) else {}
        row = []
        for spec, numbers in zip(label_specs, label_numbers, strict=True):
            codes = labels.get(spec.dimension) or no_codes
            if spec.multi:
                row.append(numbers[frozenset(codes)])
            else:
                row.append(numbers[codes[0]] if codes else missing)
        return tuple(row)

    def decode_stances(stances: Any) -> tuple[int, ...]:
        # The author's polarity per target; the first one counts, as in value_of.
        author: dict[str, str] = {}
        for stance in stances if isinstance(stances, list) else ():
            target = stance.get("target")
            if stance.get("holder") is None and target not in author:
                author[target] = stance.get("polarity") or NO_STANCE
        return tuple(
            numbers[author.get(spec.target, NO_STANCE)]
            for spec, numbers in zip(stance_specs, stance_numbers, strict=True)
        )

    label_patterns = _Patterns(decode_labels)
    stance_patterns = _Patterns(decode_stances)
    expressions: list[Any] = [
        "segment_id",
        "annotator_id",
        "annotator__username",
        _UpdatedAt() if connection.vendor == "postgresql" else "updated_at",
        _SnapshotPart("labels"),
        _SnapshotPart("stances"),
    ]
    if attributions:
        for spec in attribution_specs(index):
            specs.append(spec)
            numbering[spec.key] = _Numbering()
        for key in SPAN_NAMES:
            numbering[key] = _Numbering()

        def decode_attributions(given: Any) -> _Attributions:
            given = given if isinstance(given, list) else []
            read = attribution_readings(given)
            types, forms = numbering[ATTRIBUTION_TYPE], numbering[ATTRIBUTION_FORM]
            return _Attributions(
                presence=numbering[ATTRIBUTION_PRESENCE][read.presence],
                sources=missing
                if read.sources is None
                else numbering[ATTRIBUTION_SOURCE][read.sources],
                types=tuple((i, types[code]) for i, code in read.types.items()),
                forms=tuple((i, forms[code]) for i, code in read.forms.items()),
                source_units=numbering[SOURCE_SPANS][
                    tuple(
                        (tuple(a["source_span"]),)
                        for a in given
                        if a.get("source_span")
                    )
                ],
                cue_units=numbering[CUE_SPANS][
                    tuple(
                        tuple(tuple(part) for part in a["cue_spans"])
                        for a in given
                        if a.get("cue_spans")
                    )
                ],
                suggestions=tuple(
                    item["suggestion"] for item in given if item.get("suggestion")
                ),
            )

        attribution_patterns = _Patterns(decode_attributions)
        shown_patterns = _Patterns(lambda shown: shown if isinstance(shown, int) else 0)
        expressions += [
            _SnapshotPart("attributions"),
            _SnapshotPart("suggestions_shown"),
        ]
    rows = _rows(
        Annotation.objects.own()
        .filter(article__project=project)
        .values_list(*expressions)
    )
    coders: dict[int, str] = {}
    last: datetime | None = None
    parts: list[tuple[np.ndarray, ...]] = []
    for batch in batched(rows, LOAD_BATCH):
        columns = list(zip(*batch, strict=True))
        segment_ids, annotator_ids, usernames, updated = columns[:4]
        coders.update(zip(annotator_ids, usernames, strict=True))
        latest = _latest(updated)
        if last is None or latest > last:
            last = latest
        part = [
            np.fromiter(segment_ids, np.int64, len(batch)),
            np.fromiter(annotator_ids, np.int64, len(batch)),
            label_patterns.numbers(columns[4]),
            stance_patterns.numbers(columns[5]),
        ]
        if attributions:
            part += [
                attribution_patterns.numbers(columns[6]),
                shown_patterns.numbers(columns[7]),
            ]
        parts.append(tuple(part))
    width = 6 if attributions else 4
    if parts:
        stacked = [np.concatenate(column) for column in zip(*parts, strict=True)]
    else:
        stacked = [np.zeros(0, dtype=np.int64) for _ in range(width)]
    segment_id, annotator, label_rows, stance_rows = stacked[:4]
    # Segments numbered by first appearance (the order items had before).
    unique, first, inverse = np.unique(
        segment_id, return_index=True, return_inverse=True
    )
    by_first = np.argsort(first, kind="stable")
    rank = np.empty(len(unique), dtype=np.int64)
    rank[by_first] = np.arange(len(unique), dtype=np.int64)
    segment = rank[inverse.ravel()]
    segments = unique[by_first].tolist()
    coder_ids, coder = np.unique(annotator, return_inverse=True)
    coder = coder.ravel()
    coder_list = coder_ids.tolist()
    # Every dimension's columns in (segment, coder) order: sorted once here, so
    # the tallies find them sorted instead of sorting 300,000 rows each.
    order = np.argsort(segment * max(len(coder_list), 1) + coder, kind="stable")
    sorted_segment, sorted_coder = segment[order], coder[order]
    rated_in_order: dict[str, np.ndarray] = {}

    def columns_of(key: str, values: np.ndarray) -> agreement.Columns:
        """``values`` per row (in the rows' order; -1: no rating)."""
        given = values >= 0
        if given.all():
            return agreement.Columns(
                sorted_segment,
                sorted_coder,
                values[order],
                segments,
                coder_list,
                numbering[key].values,
            )
        rated_in_order[key] = segment[given]
        keep = given[order]
        return agreement.Columns(
            sorted_segment[keep],
            sorted_coder[keep],
            values[order][keep],
            segments,
            coder_list,
            numbering[key].values,
        )

    result: dict[str, agreement.Columns] = {}
    for patterns, pattern_rows, kind in (
        (label_patterns, label_rows, label_specs),
        (stance_patterns, stance_rows, stance_specs),
    ):
        table = np.asarray(patterns.rows, dtype=np.int64).reshape(
            len(patterns.rows), len(kind)
        )
        for k, spec in enumerate(kind):
            result[spec.key] = columns_of(spec.key, table[pattern_rows, k])
    data = ProjectRatings(
        specs=specs,
        columns={spec.key: result[spec.key] for spec in specs if spec.key in result},
        segments=segments,
        coders=coders,
        version=(len(segment_id), last),
        rated_in_order=rated_in_order,
    )
    if attributions:
        _attribution_columns(
            data,
            attribution_patterns.rows,
            stacked[4],
            stacked[5],
            shown_patterns.rows,
            segment,
            coder,
            numbering,
            columns_of,
        )
    return data


def _attribution_columns(
    data: ProjectRatings,
    patterns: list[_Attributions],
    pattern_rows: np.ndarray,
    shown_rows: np.ndarray,
    shown_values: list[int],
    segment: np.ndarray,
    coder: np.ndarray,
    numbering: dict[str, _Numbering],
    columns_of: Callable[[str, np.ndarray], agreement.Columns],
) -> None:
    """The attribution figures' columns of ``load_project_ratings`` (presence,
    sources, spans by table look-up; type and form per attribution given), the
    suggestions' use and who was offered them."""

    def per_row(attribute: str) -> np.ndarray:
        table = np.fromiter(
            (getattr(p, attribute) for p in patterns), np.int64, len(patterns)
        )
        return table[pattern_rows]

    data.columns[ATTRIBUTION_PRESENCE] = columns_of(
        ATTRIBUTION_PRESENCE, per_row("presence")
    )
    data.columns[ATTRIBUTION_SOURCE] = columns_of(
        ATTRIBUTION_SOURCE, per_row("sources")
    )
    for key, attribute in ((SOURCE_SPANS, "source_units"), (CUE_SPANS, "cue_units")):
        data.spans[key] = columns_of(key, per_row(attribute))
    # Type and form: items are (segment id, source key, occurrence), numbered in
    # the order they come (rows in order, attributions in each row's order).
    identities = _Numbering()
    flat = {}
    for attribute in ("types", "forms"):
        entries = [getattr(p, attribute) for p in patterns]
        flat[attribute] = (
            np.fromiter(map(len, entries), np.int64, len(entries)),
            np.fromiter((identities[i] for e in entries for i, _v in e), np.int64),
            np.fromiter((v for e in entries for _i, v in e), np.int64),
        )
    n_identities = max(len(identities.values), 1)
    for key, attribute in ((ATTRIBUTION_TYPE, "types"), (ATTRIBUTION_FORM, "forms")):
        count, identity_of, value_of_entry = flat[attribute]
        per_row = count[pattern_rows]
        row = np.repeat(np.arange(len(pattern_rows)), per_row)
        first_entry = np.cumsum(count) - count
        within = np.arange(len(row)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        entry = first_entry[pattern_rows[row]] + within
        keys = segment[row] * n_identities + identity_of[entry]
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        by_first = np.argsort(first, kind="stable")
        rank = np.empty(len(unique), dtype=np.int64)
        rank[by_first] = np.arange(len(unique), dtype=np.int64)
        ordered = unique[by_first]
        data.columns[key] = agreement.Columns(
            rank[inverse.ravel()],
            coder[row],
            value_of_entry[entry],
            [
                (data.segments[s], *identities.values[i])
                for s, i in zip(
                    (ordered // n_identities).tolist(),
                    (ordered % n_identities).tolist(),
                    strict=True,
                )
            ],
            data.columns[ATTRIBUTION_PRESENCE].coders,
            numbering[key].values,
        )
        data.segment_of[key] = ordered // n_identities
    # Suggestions: used as offered, per row; offered to all / none per segment.
    shown = np.asarray(shown_values, dtype=np.int64)[shown_rows]
    uses: Counter = Counter()
    per_pattern = np.bincount(pattern_rows, minlength=len(patterns)).tolist()
    for p, times in zip(patterns, per_pattern, strict=True):
        for use in p.suggestions:
            uses[use] += times
    uses["annotations"] += int(np.count_nonzero(shown))
    uses["offered"] += int(shown.sum())
    data.uses = uses
    n_segments = len(data.segments)
    offered = shown > 0
    any_offered = np.zeros(n_segments, dtype=bool)
    any_not = np.zeros(n_segments, dtype=bool)
    any_offered[segment[offered]] = True
    any_not[segment[~offered]] = True
    data.all_offered = any_offered & ~any_not
    data.none_offered = any_not & ~any_offered


def load_ratings(
    project: Project, *, index: SchemeIndex | None = None
) -> tuple[
    list[DimensionSpec],
    dict[str, list[agreement.Rating]],
    dict[int, str],
    AgreementVersion,
]:
    """The scheme's dimensions and targets as :class:`agreement.Rating` lists
    (``load_project_ratings`` without attributions; tests, small projects):
    specs, ratings per spec key, coders (user id -> username) and version."""
    data = load_project_ratings(project, index=index, attributions=False)
    ratings = {spec.key: data.columns[spec.key].ratings() for spec in data.specs}
    return data.specs, ratings, data.coders, data.version


def project_agreement(
    project: Project, *, most: int = MOST_DISAGREED, index: SchemeIndex | None = None
) -> ProjectAgreement:
    """All figures of the agreement page. Cost: 5 queries at any corpus size (2
    with ``index`` given).

    One tally per dimension gives both the report and the per-segment scores
    (``agreement.report_and_scores``); the scores are summed per segment with
    numpy (in dimension order, then item order, as before) into the most
    disagreed segments, and ``DimensionAgreement.scores`` holds only the
    segments listed (the result stays small enough to cache).
    """
    index = index or SchemeIndex.for_project(project)
    data = load_project_ratings(project, index=index)
    suggestions = suggestion_figures(data)
    n_segments = len(data.segments)
    totals = np.zeros(n_segments, dtype=np.float64)
    computed = []
    for spec in data.specs:
        columns = data.columns.pop(spec.key)
        report, numbers, scores = agreement.report_and_scores(columns, multi=spec.multi)
        per_segment = spec.key not in data.segment_of
        segment = numbers if per_segment else data.segment_of[spec.key][numbers]
        hit = scores > 0
        # Sequential per index: a segment's several type/form items add in order.
        np.add.at(totals, segment[hit], scores[hit])
        positive = np.zeros(n_segments, dtype=bool)
        positive[segment[hit]] = True
        rated = None
        if per_segment:
            rated = data.rated_in_order.get(spec.key, numbers)
        computed.append((spec, report, numbers, scores, rated, positive))
    candidates = np.flatnonzero(totals > 0)
    segment_ids = np.asarray(data.segments, dtype=np.int64)[candidates]
    order = np.lexsort((segment_ids, -totals[candidates]))[:most]
    top = [(int(segment_ids[k]), float(totals[candidates[k]])) for k in order.tolist()]
    wanted = {pk for pk, _ in top}
    wanted_numbers = candidates[order]
    where: dict[int, list[str]] = {}
    for (pk, _score), number in zip(top, wanted_numbers.tolist(), strict=True):
        names: list[str] = []
        for spec, _report, _numbers, _scores, _rated, positive in computed:
            if positive[number] and spec.name not in names:
                names.append(spec.name)
        where[pk] = names
    dimensions = []
    for spec, report, numbers, scores, rated, _positive in computed:
        listed: dict[int, float] = {}
        if rated is not None:
            keep = np.isin(numbers, wanted_numbers)
            kept, kept_scores = numbers[keep], scores[keep]
            # In the order of their first rating in this dimension, as before.
            _kept, first = np.unique(rated[np.isin(rated, kept)], return_index=True)
            by_first = np.argsort(first, kind="stable")
            listed = {
                data.segments[k]: s
                for k, s in zip(
                    kept[by_first].tolist(),
                    kept_scores[by_first].tolist(),
                    strict=True,
                )
            }
        dimensions.append(DimensionAgreement(spec=spec, report=report, scores=listed))
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
        SpanAgreement(key, name, agreement.span_agreement(data.spans.pop(key)))
        for key, name in SPAN_NAMES.items()
    ]
    return ProjectAgreement(
        dimensions,
        data.coders,
        data.version[0],
        disagreed,
        data.version,
        spans,
        suggestions,
    )


def suggestion_figures(data: ProjectRatings) -> SuggestionFigures:
    """The suggestions' use, and attribution agreement with and without them:
    a segment counts as "with" when every annotator who labelled it was offered
    suggestions, "without" when none was; mixed segments count in neither."""

    def reports(
        segments: np.ndarray,
    ) -> list[tuple[str, agreement.DimensionReport]]:
        out = []
        for key, name, multi in (
            (ATTRIBUTION_PRESENCE, "Attribution: presence", False),
            (ATTRIBUTION_SOURCE, "Attribution: canonical sources", True),
        ):
            columns = data.columns[key]
            report, _numbers, _scores = agreement.report_and_scores(
                columns.take(segments[columns.item]), multi=multi, item_scores=False
            )
            out.append((name, report))
        return out

    uses = data.uses
    return SuggestionFigures(
        annotations_offered=uses["annotations"],
        offered=uses["offered"],
        accepted=uses["accepted"],
        edited=uses["edited"],
        with_suggestions=reports(data.all_offered),
        without_suggestions=reports(data.none_offered),
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
