"""The database side of the export: the plan, the reads that feed ``rows.py``
and ``writers.py``, and the export as text chunks.

Cost of one export, whatever its size: 3 queries for the plan (the scheme index:
switched-on optional dimensions, the scheme's labels with their dimensions,
stance targets) and one or two streamed queries for the rows (annotations mode:
one joined query with the pre-rendered cells; segments mode or
``include_unlabelled``: segments and annotations, both ordered by (article,
position) and merged in Python). Rows are read through a chunked cursor
(server-side on PostgreSQL), so memory does not grow with the corpus.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    FilteredRelation,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from ..models import (
    Annotation,
    AnnotationExportCells,
    Article,
    Label,
    Project,
    Segment,
    StanceTarget,
)
from ..scheme import SchemeIndex
from . import codebook as codebook_module
from .columns import (
    ANNOTATION_FIELDS,
    META_COLUMNS,
    SEGMENT_COLUMNS,
    SEGMENT_FIELDS,
    DimensionInfo,
    ExportPlan,
    LabelInfo,
    TargetInfo,
    label_plan_key,
)
from .rows import Counts, annotation_records_by_segment, shape_rows, split_joined
from .sql import rendered_part
from .writers import ExportStats, prerendered_chunks, write_chunks

# Rows per fetch. Small chunks measured faster than 2,000 (bench_export, 100k
# rows: SQLite ~+5 %, PostgreSQL JSONL ~120-135k -> ~150-160k rows/s): with a
# fetching thread the database starts on the next chunk sooner, and the first and
# last chunk, which overlap with nothing, are short; peak memory is lower too.
FETCH_CHUNK = 500
# SEGMENT_FIELDS, reached from an annotation (one joined query).
JOINED_SEGMENT_FIELDS = tuple(
    "article_id"
    if name == "article_id"
    else name
    if name.startswith("article__")
    else f"segment__{name}"
    for name in SEGMENT_FIELDS
)


@dataclass(frozen=True)
class ExportOptions:
    """What to export; ``articles`` None means every article of the project."""

    mode: str = "annotations"
    articles: QuerySet[Article] | None = None
    annotators: Sequence[str] | None = None  # usernames; None: everyone
    include_unlabelled: bool = False
    pseudonymise: bool = False


def build_plan(
    project: Project, options: ExportOptions, *, index: SchemeIndex | None = None
) -> ExportPlan:
    """The project's scheme and targets as plain data: 3 queries (the scheme
    index), none when the caller has it.

    Inactive labels stay in the plan (old annotations may use them and are
    exported as they were); optional dimensions the project has not switched on
    are listed in the codebook but get no column.
    """
    index = index or SchemeIndex.for_project(project)
    scheme = project.scheme
    return _plan(
        project,
        index.plan_labels,
        index.enabled_optional,
        index.plan_targets,
        options,
        scheme_name=scheme.name if scheme else "",
        scheme_version=scheme.version_label if scheme else "",
    )


def label_plan(project: Project, index: SchemeIndex) -> ExportPlan:
    """The plan of the export's label cells from what a save already loaded (no
    query): the same :func:`columns.label_plan_key` as :func:`build_plan` gives."""
    return _plan(
        project,
        index.plan_labels,
        index.enabled_optional,
        index.plan_targets,
        ExportOptions(),
        scheme_name="",
        scheme_version="",
    )


def _plan(
    project: Project,
    labels: Iterable[Label],
    enabled: set[int],
    targets: Iterable[StanceTarget],
    options: ExportOptions,
    *,
    scheme_name: str,
    scheme_version: str,
) -> ExportPlan:
    dimensions: dict[int, dict[str, Any]] = {}
    for label in labels:
        dimension = label.dimension
        entry = dimensions.setdefault(
            dimension.pk, {"dimension": dimension, "labels": []}
        )
        entry["labels"].append(
            LabelInfo(
                code=label.code,
                name_en=label.name_en,
                name_de=label.name_de,
                definition=label.definition,
                mappings=dict(label.mappings or {}),
                active=label.active,
            )
        )
    infos = []
    for entry in dimensions.values():
        dimension = entry["dimension"]
        infos.append(
            DimensionInfo(
                code=dimension.code,
                role=dimension.role,
                name_en=dimension.name_en,
                name_de=dimension.name_de,
                multi=dimension.is_multi,
                description=dimension.description,
                labels=tuple(entry["labels"]),
                exported=dimension.is_enabled(enabled),
            )
        )
    return ExportPlan(
        project=project.slug,
        scheme_name=scheme_name,
        scheme_version=scheme_version,
        dimensions=tuple(infos),
        targets=tuple(
            TargetInfo(code=t.code, name=t.name, question=t.question) for t in targets
        ),
        mode=options.mode,
        include_unlabelled=options.include_unlabelled,
        pseudonym_key=pseudonym_key() if options.pseudonymise else None,
    )


def pseudonym_key() -> bytes:
    """Stable across exports of one installation, secret to whoever lacks SECRET_KEY."""
    return f"workbench-export-pseudonym:{settings.SECRET_KEY}".encode()


def segments_for_export(project: Project, options: ExportOptions) -> QuerySet:
    """Segments with their article's fields, ordered by (article, position).

    With ``include_unlabelled`` every segment (boilerplate too, so the article text
    can be rebuilt); otherwise only segments someone exported labelled. One query.
    """
    segments = Segment.objects.filter(article__project=project)
    if options.articles is not None:
        segments = segments.filter(article__in=options.articles.values("pk"))
    return segments.order_by("article_id", "position").values_list(*SEGMENT_FIELDS)


def annotations_for_export(
    project: Project, options: ExportOptions, *, with_segment: bool
) -> QuerySet:
    """Annotations ordered by (article, position, annotator): one query.

    Annotations mode reads annotators' own annotations only; segments mode reads
    the gold too (the adjudicated label wins). ``with_segment`` prefixes each
    record with the segment fields (one joined query instead of a merge).
    """
    annotations = Annotation.objects.filter(article__project=project)
    if options.mode == "annotations":
        annotations = annotations.filter(is_gold=False)
    if options.articles is not None:
        annotations = annotations.filter(article__in=options.articles.values("pk"))
    if options.annotators is not None:
        # The gold is the adjudicated label, not an annotator's: kept in segments mode.
        own = Q(annotator__username__in=list(options.annotators))
        annotations = annotations.filter(
            own if options.mode == "annotations" else own | Q(is_gold=True)
        )
    fields = ANNOTATION_FIELDS
    if with_segment:
        fields = JOINED_SEGMENT_FIELDS + fields
    return annotations.order_by(
        "article_id", "segment__position", "annotator__username"
    ).values_list(*fields)


def export_rows(
    project: Project,
    options: ExportOptions,
    *,
    plan: ExportPlan | None = None,
    counts: Counts | None = None,
) -> Iterator[list[Any]]:
    """Shaped rows of the export, streamed; see the module docstring for the cost."""
    plan = plan or build_plan(project, options)
    if options.mode == "annotations" and not options.include_unlabelled:
        records = annotations_for_export(project, options, with_segment=True)
        grouped = split_joined(stream(records))
    else:
        segments = segments_for_export(project, options)
        records = annotations_for_export(project, options, with_segment=False)
        grouped = annotation_records_by_segment(stream(records), stream(segments))
    return shape_rows(plan, grouped, counts=counts)


def stream(queryset: QuerySet, *, chunk_size: int = FETCH_CHUNK) -> Iterator[tuple]:
    """The rows of a ``values_list`` queryset as the database driver returns them.

    Like ``.iterator(chunk_size=...)`` (one query; a server-side cursor on
    PostgreSQL, chunked fetches on SQLite) but without Django's per-row
    converters: ``rows.py`` accepts the raw JSON text and the raw SQLite date
    strings, and converting them twice was most of the export's time. The cursor
    is closed when the consumer stops early (e.g. the client went away).
    """
    connection = connections[queryset.db]
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def prefetched(queryset: QuerySet, *, chunk_size: int = FETCH_CHUNK) -> Iterator[tuple]:
    """:func:`stream`, with the next chunk fetched while this one is used.

    A helper thread runs the fetches. Both drivers let go of the interpreter
    while the database works (PostgreSQL in its own process, SQLite in C), so the
    database produces chunk n+1 while Python writes chunk n: on two cores the
    export takes about the longer of the two instead of their sum. At most two
    chunks wait in the queue, so memory stays bounded. An error in the thread is
    raised here; when the consumer stops early, the thread is told to stop and
    joined before the cursor is closed.
    """
    connection = connections[queryset.db]
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    done = object()

    def fetch(cursor) -> None:
        try:
            while not stop.is_set():
                rows = cursor.fetchmany(chunk_size)
                _put(rows or done)
                if not rows:
                    return
        except BaseException as error:  # handed to the consumer, raised there
            _put(error)

    def _put(item) -> None:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    # In a transaction, PostgreSQL's server-side cursor produces rows as they are
    # fetched; outside one (autocommit) Django declares it WITH HOLD, which runs
    # the whole query before the first row and leaves nothing to overlap. (Not on
    # SQLite: its transactions here take the write lock.)
    in_transaction = (
        transaction.atomic(using=queryset.db)
        if connection.vendor == "postgresql"
        else contextlib.nullcontext()
    )
    with in_transaction, connection.chunked_cursor() as cursor:
        if connection.vendor == "postgresql":
            # Compiling the rendering expressions took 15-20 ms per export and
            # made each row slower, not faster (bench_export: 100k rows ~95-115k
            # rows/s with JIT, ~135-145k without).
            with connection.cursor() as settings_cursor:
                settings_cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        worker = threading.Thread(target=fetch, args=(cursor,), daemon=True)
        worker.start()
        try:
            while (item := chunks.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield from item
        finally:
            stop.set()
            worker.join()


def export_chunks(
    project: Project,
    options: ExportOptions,
    *,
    fmt: str,
    spreadsheet: bool = True,
    stats: ExportStats | None = None,
) -> Iterator[str]:
    """The export file as text chunks (CSV or JSONL), for a response or a file.

    Annotations mode joins the pre-rendered label cells in the database
    (:func:`prerendered_records`); segments mode (gold and majority labels are
    computed across annotators) shapes every row in Python, as the codebook's
    counting pass does (:func:`codebook`).
    """
    plan = build_plan(project, options)
    if options.mode == "annotations":
        # SQLite runs in this process: a fetching thread measured no faster there.
        vendor = connections[Segment.objects.db].vendor
        fetch = prefetched if vendor == "postgresql" else stream
        records = fetch(
            prerendered_records(
                project, options, plan=plan, fmt=fmt, spreadsheet=spreadsheet
            )
        )
        return prerendered_chunks(
            plan, records, fmt=fmt, spreadsheet=spreadsheet, stats=stats
        )
    rows = export_rows(project, options, plan=plan)
    if stats is not None:
        rows = _counted(rows, stats)
    return write_chunks(plan, rows, fmt=fmt, spreadsheet=spreadsheet)


def _counted(rows: Iterator[list[Any]], stats: ExportStats):
    for row in rows:
        stats.rows += 1
        stats.shaped_on_the_fly += 1
        yield row


def with_export_freshness(
    annotations: QuerySet[Annotation], key: str
) -> QuerySet[Annotation]:
    """Annotates ``has_fresh_export_cells``: stored cells rendered for the plan
    ``key`` from the annotation as it is now (its ``updated_at``)."""
    fresh = AnnotationExportCells.objects.filter(
        annotation=OuterRef("pk"),
        plan_key=key,
        source_updated_at=OuterRef("updated_at"),
    )
    return annotations.annotate(has_fresh_export_cells=Exists(fresh))


def prerendered_records(
    project: Project,
    options: ExportOptions,
    *,
    plan: ExportPlan,
    fmt: str,
    spreadsheet: bool,
) -> QuerySet:
    """Annotations mode as the records ``prerendered_chunks`` takes: one
    query, segments left-joined to the selected annotators' own annotations and
    their export cells, the segment and meta parts rendered as text by the
    database (``sql.py``), ordered by (article, position, annotator)."""
    own = Q(annotations__is_gold=False)
    if options.annotators is not None:
        # A FilteredRelation condition takes values, not a subquery: one query.
        chosen = get_user_model().objects.filter(username__in=list(options.annotators))
        ids = list(chosen.values_list("pk", flat=True))
        # None of them exists: a condition no annotation meets (the column is never
        # NULL), since Django cannot build the join from an empty IN.
        own &= (
            Q(annotations__annotator_id__in=ids)
            if ids
            else Q(annotations__annotator_id__isnull=True)
        )
    articles = Article.objects.filter(project=project)
    if options.articles is not None:
        articles = articles.filter(pk__in=options.articles.values("pk"))
    # "article_id IN (...)" rather than a join on the project: the databases then
    # read segments along the (article, position) index, already in export order,
    # and sort only each segment's few annotators instead of every wide row.
    segments = Segment.objects.filter(article_id__in=articles.values("pk")).annotate(
        own=FilteredRelation("annotations", condition=own)
    )
    if not options.include_unlabelled:
        segments = segments.filter(own__isnull=False)
    # The username by subquery, not a join: with a condition on the annotator,
    # Django puts the user join before "own", which SQLite refuses. (Added after
    # the filter above, which would otherwise join the annotations a second time.)
    segments = segments.annotate(
        annotator_name=Subquery(
            get_user_model()
            .objects.filter(pk=OuterRef("own__annotator_id"))
            .values("username")
        )
    )
    cells = "own__export_cells__"
    fresh = Q(
        **{f"{cells}plan_key": label_plan_key(plan)},
        **{f"{cells}source_updated_at": F("own__updated_at")},
    )
    # The segment part and (for rows shaped on the fly) the meta part as text,
    # rendered by the database from the column definitions.
    head = rendered_part(SEGMENT_COLUMNS, fmt=fmt, spreadsheet=spreadsheet)
    meta = rendered_part(
        META_COLUMNS, fmt=fmt, spreadsheet=spreadsheet, prefix="own__", leading=True
    )
    if fmt == "csv":
        labels, tail = F(f"{cells}csv"), F(f"{cells}csv_tail")
        if spreadsheet:
            # An empty sheet flavour means "the same as the raw one".
            empty = Value("", output_field=TextField())
            labels = Coalesce(NullIf(F(f"{cells}csv_sheet"), empty), labels)
            tail = Coalesce(NullIf(F(f"{cells}csv_tail_sheet"), empty), tail)
    else:
        labels, tail = F(f"{cells}json"), F(f"{cells}json_tail")
    return segments.order_by("article_id", "position", "annotator_name").values_list(
        "article_id",
        "annotator_name",
        head,
        Case(
            When(fresh, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
        labels,
        tail,
        F(f"{cells}frames"),
        # Only shaped rows need the meta part: the stored tail has it.
        Case(When(fresh, then=Value(None)), default=meta, output_field=TextField()),
        Case(
            When(fresh, then=Value(None)),
            default=F("own__values"),
            output_field=JSONField(),
        ),
    )


# ---------------------------------------------------------------------------
# What the Export page says about a project before anything is exported
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportScope:
    articles: int
    segments: int
    annotatable: int
    annotations: int  # annotators' own, whoever made them (members or not)
    gold: int


def export_scope(project: Project) -> ExportScope:
    """How big the project's corpus is, how much is labelled and how much
    adjudicated: two queries (the per-article segment counts are kept at import)."""
    corpus = Article.objects.filter(project=project).aggregate(
        articles=Count("pk"),
        segments=Coalesce(Sum("segment_count"), 0),
        annotatable=Coalesce(Sum("annotatable_count"), 0),
    )
    labels = Annotation.objects.filter(article__project=project).aggregate(
        annotations=Count("pk", filter=Q(is_gold=False)),
        gold=Count("pk", filter=Q(is_gold=True)),
    )
    return ExportScope(**corpus, **labels)


def codebook(
    project: Project,
    options: ExportOptions,
    *,
    counts: Counts | None = None,
    with_agreement: bool = True,
    generated: datetime | None = None,
) -> dict[str, Any]:
    """The codebook data for this export. Without ``counts`` from an export pass
    already made, runs one counting pass over the same rows (nothing written)."""
    plan = build_plan(project, options)
    if counts is None:
        counts = Counts(plan, ratings=with_agreement)
        for _ in export_rows(project, options, plan=plan, counts=counts):
            pass
    return codebook_module.codebook_data(
        plan,
        counts,
        generated=generated or timezone.now(),
        agreement=codebook_module.agreement_figures if with_agreement else None,
    )
