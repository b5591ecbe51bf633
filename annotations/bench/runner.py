"""The performance bench behind ``python manage.py bench`` (``make bench``).

It builds a synthetic corpus in a scratch project on the configured database,
through the code paths the application uses, measures every figure of issue 6
together with the best the same machine and database can do for the same work
(the "limit"), prints one table and removes the scratch project again, also when
a step fails.

The corpus comes from ``corpus.py`` (the one builder of both benchmarks): the
real import path (timed), ``save_sample`` real saves (timed) and a bulk path for
the rest. Pages are requested through Django's test client with ``force_login``
as the users the bench made, with the production middleware stack, timed around
each request (client overhead included, which the limit view pays as well).

The limit beside each figure is measured in the same run:
- pages and save: ``urls.limit_view``, which does only as many primary-key
  SELECTs as the page ran queries beyond the session and user lookups (and, for
  the save, one INSERT into the annotation table);
- export: the export's own SELECT run raw through a server-side cursor.
Agreement and import have no limit beside them (nothing simpler does the same work).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import django
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.storage import storages
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import NoReverseMatch, reverse

from .. import ratings
from ..annotate_data import prepare_text_aids
from ..export import cells, queries
from ..export.writers import ExportStats
from ..models import Annotation, Article, Project, Segment
from ..views.worklist import WorkListView
from .corpus import (
    SCRATCH_PREFIX,
    CorpusSpec,
    LabelPicker,
    Scratch,
    analyze_tables,
    assign_all,
    bulk_fill,
    create_scratch,
    import_corpus,
    load_scratch,
    remove_leftovers,
    remove_scratch,
    sample_saves,
    segments_by_article,
)

__all__ = ["SCRATCH_PREFIX", "create_scratch", "remove_leftovers"]

# Wall-clock cap on the timed requests of one page, and the fewest samples kept.
PAGE_SECONDS = 90.0
MIN_SAMPLES = 5
BENCH_URLCONF = "annotations.bench.urls"

# ---------------------------------------------------------------------------
# Configuration and results
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchConfig(CorpusSpec):
    """The corpus to build (``corpus.CorpusSpec``) and how to measure it."""

    requests: int = 200
    warmup: int = 10
    keep: bool = False
    # Build the corpus, keep it and stop (``--build-only``); measure a kept one
    # again (``--reuse SLUG``): a 1,000,000-segment corpus takes half an hour to
    # build, the measurements a few minutes.
    build_only: bool = False
    reuse: str | None = None


@dataclass
class Figure:
    """One row of the table; ``ratio`` is value / limit (or limit / value for rates)."""

    key: str
    title: str
    unit: str
    value: float | None = None
    limit: float | None = None
    ratio: float | None = None
    budget: str = ""
    met: bool | None = None
    queries: int | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    limit_p50: float | None = None
    limit_p95: float | None = None
    limit_p99: float | None = None
    peak_memory_mb: float | None = None
    samples: int | None = None
    note: str = ""


@dataclass
class BenchResult:
    config: dict
    environment: dict
    corpus: dict = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "config": self.config,
            "environment": self.environment,
            "corpus": self.corpus,
            "figures": {figure.key: asdict(figure) for figure in self.figures},
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


def percentile(samples: list[float], share: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * share
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ms_percentiles(samples: list[float]) -> tuple[float, float, float]:
    return tuple(round(percentile(samples, q) * 1000, 2) for q in (0.5, 0.95, 0.99))


# ---------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    data: dict | None = None
    headers: dict = field(default_factory=dict)
    expect: tuple[int, ...] = (200,)
    # Called with the response (outside the timing), e.g. to note a new revision.
    after: Callable[[object], None] | None = None


@dataclass
class PageSpec:
    key: str
    title: str
    budget_p95_ms: float | None
    user: Callable[[Scratch, random.Random], object]
    call: Callable[[BenchContext, object, random.Random], Call | None]
    writes: bool = False
    # Pages that compute over the whole project take seconds: fewer samples.
    max_samples: int | None = None


@dataclass
class BenchContext:
    scratch: Scratch
    by_article: dict[int, list[int]]
    picker: LabelPicker
    all_segment_ids: list[int] = field(default_factory=list)
    article_ids: list[int] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)
    revisions: dict[tuple[int, int], int] = field(default_factory=dict)


def _url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _annotator(scratch: Scratch, rng: random.Random):
    return rng.choice(scratch.annotators)


def _random_segment(ctx: BenchContext, rng: random.Random) -> tuple[int, int, int]:
    """(article id, segment id, position) of a random annotatable segment."""
    article_id = rng.choice(ctx.article_ids)
    segment_id = rng.choice(ctx.by_article[article_id])
    return article_id, segment_id, ctx.positions[segment_id]


def _annotate_page(ctx: BenchContext, user, rng: random.Random) -> Call | None:
    """The annotate screen opened on a random segment of a random article."""
    article_id, _, position = _random_segment(ctx, rng)
    path = _url("annotations:annotate_segment", article_id, position)
    return Call("GET", path) if path else None


def _save(ctx: BenchContext, user, rng: random.Random) -> Call | None:
    """What annotate.js posts: the form fields, JSON answer, expected revision."""
    article_id, segment_id, position = _random_segment(ctx, rng)
    path = _url("annotations:save_annotation", article_id, position)
    if path is None:
        return None
    number = ctx.scratch.annotators.index(user)
    payload = ctx.picker.pick(rng, segment_id, number).payload
    key = (user.pk, segment_id)
    data = {f"dim-{code}": list(codes) for code, codes in payload.labels.items()}
    data.update({f"primary-{code}": label for code, label in payload.primary.items()})
    data.update(
        revision=str(ctx.revisions.get(key, 1)),
        time_spent_ms=str(payload.time_spent_ms),
        go="next",
    )

    def note_revision(response) -> None:
        ctx.revisions[key] = response.json()["revision"]

    return Call(
        "POST", path, data, headers={"Accept": "application/json"}, after=note_revision
    )


def _reviewer(scratch: Scratch, rng: random.Random):
    return scratch.reviewer


def _review(ctx: BenchContext, user, rng: random.Random) -> Call | None:
    """The review screen of a random article: every annotator's labels side by side."""
    path = _url("annotations:review", rng.choice(ctx.article_ids))
    return Call("GET", path) if path else None


def _agreement_page(ctx: BenchContext, user, rng: random.Random) -> Call | None:
    path = _url("annotations:team_agreement", ctx.scratch.project.slug)
    return Call("GET", path) if path else None


def _work_list(ctx: BenchContext, user, rng: random.Random) -> Call | None:
    path = _url("annotations:work_list")
    return Call("GET", path) if path else None


def _work_list_last(ctx: BenchContext, user, rng: random.Random) -> Call | None:
    """The last page: an OFFSET must not make it cost more than the first."""
    call = _work_list(ctx, user, rng)
    if call is not None:
        pages = -(-Article.objects.for_user(user).count() // WorkListView.paginate_by)
        call.path += f"?page={max(pages, 1)}"
    return call


PAGES: list[PageSpec] = [
    PageSpec("annotate_page", "Annotate page", 25, _annotator, _annotate_page),
    PageSpec("save", "Annotation save (POST)", 20, _annotator, _save, writes=True),
    PageSpec("work_list", "Work list page (first)", 50, _annotator, _work_list),
    PageSpec(
        "work_list_last", "Work list page (last)", 50, _annotator, _work_list_last
    ),
    PageSpec("review", "Review screen", 50, _reviewer, _review),
    PageSpec(
        "agreement_page",
        "Agreement page",
        None,
        _reviewer,
        _agreement_page,
        max_samples=10,
    ),
]


class Clients:
    """One logged-in test client per user; session keys are kept for cleanup."""

    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self.by_user: dict[int, Client] = {}

    def __call__(self, user) -> Client:
        client = self.by_user.get(user.pk)
        if client is None:
            client = Client()
            client.force_login(user)
            self.scratch.session_keys.append(client.session.session_key)
            self.by_user[user.pk] = client
        return client


def _send(client: Client, call: Call):
    if call.method == "GET":
        response = client.get(call.path, secure=True, headers=call.headers)
    else:
        response = client.post(
            call.path, call.data or {}, secure=True, headers=call.headers
        )
    if response.status_code not in call.expect:
        raise RuntimeError(
            f"{call.method} {call.path} answered {response.status_code}, "
            f"expected {call.expect}: {response.content[:300]!r}"
        )
    return response


def _finish(call: Call, response) -> None:
    if call.after is not None:
        call.after(response)


def time_calls(
    clients: Clients,
    make: Callable[[random.Random], tuple[object, Call]],
    *,
    samples: int,
    warmup: int,
    seed: int,
    max_seconds: float = PAGE_SECONDS,
) -> tuple[list[float], int]:
    """Send warm-up calls under query capture (the count), then timed ones.

    Stops early (with at least ``MIN_SAMPLES``) when a page is so slow that the
    samples would take longer than ``max_seconds``; the figure says how many.
    """
    rng = random.Random(seed)
    warm_until = time.perf_counter() + max_seconds / 3
    queries = 0
    for number in range(warmup):
        if number and time.perf_counter() > warm_until:
            break
        user, call = make(rng)
        client = clients(user)  # a new client logs in: outside the count
        with CaptureQueriesContext(connection) as captured:
            response = _send(client, call)
        _finish(call, response)
        queries = max(queries, len(captured))
    deadline = time.perf_counter() + max_seconds
    timings = []
    for _ in range(samples):
        user, call = make(rng)
        client = clients(user)
        start = time.perf_counter()
        response = _send(client, call)
        timings.append(time.perf_counter() - start)
        _finish(call, response)
        if len(timings) >= MIN_SAMPLES and time.perf_counter() > deadline:
            break
    return timings, queries


def limit_call(
    ctx: BenchContext,
    *,
    reads: int,
    insert: bool,
    rng: random.Random,
    fresh: Iterator[tuple[int, int]],
) -> tuple[object, Call]:
    ids = (
        rng.sample(ctx.all_segment_ids, min(reads, 50, len(ctx.all_segment_ids)))
        if reads
        else []
    )
    data: dict = {"reads": str(reads), "id": [str(i) for i in ids]}
    call = Call("POST", reverse("bench_limit"), data)
    if insert:
        segment_id, article_id = next(fresh)
        data.update(insert="1", segment=str(segment_id), article=str(article_id))
        user_id = ctx.scratch.limit_user.pk
        table = connection.ops.quote_name(Annotation._meta.db_table)

        def forget(response) -> None:
            # Untimed: the row goes again, so the segment can be reused and the
            # export sees only the corpus.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {table} WHERE segment_id = %s "  # noqa: S608
                    "AND annotator_id = %s",
                    [segment_id, user_id],
                )

        call.after = forget
    return ctx.scratch.limit_user, call


def measure_page(
    spec: PageSpec,
    ctx: BenchContext,
    clients: Clients,
    config: BenchConfig,
    baseline_queries: int,
    fresh: Iterator[tuple[int, int]],
    log: Callable[[str], None],
) -> Figure:
    figure = Figure(key=spec.key, title=spec.title, unit="ms")
    if spec.budget_p95_ms is not None:
        figure.budget = f"p95 <= {spec.budget_p95_ms:g} ms"
    probe = spec.call(ctx, spec.user(ctx.scratch, random.Random(0)), random.Random(0))
    if probe is None:
        figure.note = "page not available (URL not in annotations/urls.py yet)"
        log(f"{spec.title}: skipped, {figure.note}")
        return figure

    def make(rng: random.Random):
        user = spec.user(ctx.scratch, rng)
        return user, spec.call(ctx, user, rng)

    seed = sum(map(ord, spec.key))
    samples = min(config.requests, spec.max_samples or config.requests)
    warmup = min(config.warmup, max(samples // 5, 1))
    timings, queries = time_calls(
        clients, make, samples=samples, warmup=warmup, seed=seed
    )
    figure.queries = queries
    figure.samples = len(timings)
    figure.p50, figure.p95, figure.p99 = _ms_percentiles(timings)
    figure.value = figure.p95
    reads = max(queries - baseline_queries - (1 if spec.writes else 0), 0)
    limit_timings, _ = time_calls(
        clients,
        lambda rng: limit_call(
            ctx, reads=reads, insert=spec.writes, rng=rng, fresh=fresh
        ),
        samples=config.requests,
        warmup=config.warmup,
        seed=seed,
    )
    figure.limit_p50, figure.limit_p95, figure.limit_p99 = _ms_percentiles(
        limit_timings
    )
    figure.limit = figure.limit_p95
    figure.ratio = round(figure.p95 / figure.limit_p95, 2) if figure.limit_p95 else None
    if spec.budget_p95_ms is not None:
        figure.met = figure.p95 <= spec.budget_p95_ms
    figure.note = (
        f"{len(timings)} samples; limit: {reads} PK reads"
        + (" + 1 INSERT" if spec.writes else "")
        + f" (+{baseline_queries} session/user queries)"
    )
    log(
        f"{spec.title}: p50/p95/p99 {figure.p50}/{figure.p95}/{figure.p99} ms, "
        f"{queries} queries; limit p95 {figure.limit_p95} ms"
    )
    return figure


def fresh_segments(ctx: BenchContext) -> Iterator[tuple[int, int]]:
    """Segments for the limit view's INSERT, round and round (each row is deleted
    again after its request)."""
    pairs = [
        (segment_id, article_id)
        for article_id, segment_ids in ctx.by_article.items()
        for segment_id in segment_ids
    ]
    return itertools.cycle(pairs)


# ---------------------------------------------------------------------------
# Export and agreement
# ---------------------------------------------------------------------------


def export_once(project: Project, fmt: str) -> tuple[int, int, float]:
    """One whole export through ``queries.export_chunks`` as the download view
    streams it.

    Returns (rows, bytes, seconds); the chunks are counted and dropped, as a
    socket would take them.
    """
    options = queries.ExportOptions()
    start = time.perf_counter()
    stats = ExportStats()
    size = 0
    for chunk in queries.export_chunks(project, options, fmt=fmt, stats=stats):
        size += len(chunk)
    return stats.rows, size, time.perf_counter() - start


def export_limit(project: Project) -> tuple[int, float]:
    """Rows/s of the export's own SELECT run raw: the same SQL through a server-side
    cursor, rows fetched and dropped; no concatenating, no writing."""
    options = queries.ExportOptions()
    plan = queries.build_plan(project, options)
    queryset = queries.prerendered_records(
        project, options, plan=plan, fmt="csv", spreadsheet=True
    )
    sql, params = queryset.query.sql_with_params()
    rows = 0
    start = time.perf_counter()
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(queries.FETCH_CHUNK):
            rows += len(batch)
    return rows, time.perf_counter() - start


def measure_exports(project: Project, log: Callable[[str], None]) -> list[Figure]:
    """CSV and JSONL throughput next to the raw SELECT; peak memory in a second run
    under tracemalloc (which slows Python down, so it is not timed)."""
    # The corpus was bulk-written (no save path): render the export cells as
    # saves would, timed apart.
    started = time.perf_counter()
    rendered = cells.refresh_export_cells(project)
    log(
        f"rendered {rendered:,} export cells in "
        f"{time.perf_counter() - started:.1f} s (what the saves would have done)"
    )
    limit_rows, limit_seconds = export_limit(project)
    limit_rate = limit_rows / limit_seconds
    log(f"raw SELECT of {limit_rows:,} export rows: {limit_rate:,.0f} rows/s")
    figures = []
    for fmt in ("csv", "jsonl"):
        rows, size, seconds = export_once(project, fmt)
        with peak_memory() as memory:
            export_once(project, fmt)
        rate = rows / seconds
        ratio = round(limit_rate / rate, 2)
        figure = Figure(
            key=f"export_{fmt}",
            title=f"Export {fmt.upper()} (annotations)",
            unit="rows/s",
            value=round(rate),
            limit=round(limit_rate),
            ratio=ratio,
            budget=">= 100,000 rows/s, within 3x",
            met=rate >= 100_000 and ratio <= 3,
            peak_memory_mb=memory["peak_mb"],
            note=f"{rows:,} rows, {size / 2**20:,.1f} MiB in {seconds:.1f} s",
        )
        figures.append(figure)
        log(
            f"export {fmt}: {rate:,.0f} rows/s ({rows:,} rows), "
            f"peak {memory['peak_mb']} MiB"
        )
    return figures


def measure_agreement(project: Project) -> tuple[float, int]:
    """``ratings.project_agreement``, what the agreement page computes: load every
    rating (one streamed query) and compute every dimension's report."""
    start = time.perf_counter()
    result = ratings.project_agreement(project)
    return time.perf_counter() - start, result.n_annotations


@contextlib.contextmanager
def peak_memory() -> Iterator[dict]:
    """Peak Python heap allocated inside the block (tracemalloc), in MiB."""
    box: dict = {}
    tracemalloc.start()
    try:
        yield box
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        box["peak_mb"] = round(peak / 2**20, 2)


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def environment() -> dict:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        version = cursor.fetchone()[0]
    return {
        "database": f"{connection.vendor} {version}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "debug": settings.DEBUG,
        # Other processes on the machine inflate every figure: the load average
        # at the start (and, in "notes", at the end) says how busy it was.
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def run(config: BenchConfig, *, log: Callable[[str], None]) -> BenchResult:
    result = BenchResult(config=asdict(config), environment=environment())
    scratch = load_scratch(config.reuse) if config.reuse else create_scratch(config)
    keep = config.keep or config.build_only or bool(config.reuse)
    log(f"scratch project {scratch.project.slug} on {result.environment['database']}")
    overrides = {"ROOT_URLCONF": BENCH_URLCONF, "ALLOWED_HOSTS": ["testserver"]}
    if _manifest_missing():
        # DEBUG off without collectstatic: every {% static %} would raise. Plain
        # storage renders the same pages; `make bench` runs collectstatic first.
        overrides["STORAGES"] = {
            **settings.STORAGES,
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            },
        }
        result.notes.append("no collectstatic manifest: pages used plain static URLs")
    try:
        with override_settings(**overrides):
            _measure_all(config, scratch, result, log)
    finally:
        result.environment["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        if keep:
            log(f"kept scratch project {scratch.project.slug} (--keep)")
            result.notes.append(f"scratch project {scratch.project.slug} kept")
        else:
            start = time.perf_counter()
            remove_scratch(scratch)
            log(f"removed scratch project in {time.perf_counter() - start:.1f} s")
    return result


def _manifest_missing() -> bool:
    storage = storages["staticfiles"]
    if not isinstance(storage, ManifestFilesMixin):
        return False
    return not storage.exists(storage.manifest_name)


def _measure_all(
    config: BenchConfig,
    scratch: Scratch,
    result: BenchResult,
    log: Callable[[str], None],
) -> None:
    if config.reuse:
        by_article = segments_by_article(scratch.project)
        picker = LabelPicker.for_project(scratch.project)
        result.corpus = kept_corpus(scratch, by_article)
        result.notes.append(
            f"measured the kept scratch project {config.reuse} (--reuse): import, "
            "save throughput and the bulk path are the figures of the run that built it"
        )
    else:
        by_article, picker = _build(config, scratch, result, log)
        if config.build_only:
            return
    _measure(config, scratch, result, log, by_article, picker)


def saved_revisions(project: Project) -> dict[tuple[int, int], int]:
    """(annotator, segment) -> revision of the annotations saved more than once: a
    kept corpus measured again (``--reuse``) must send the revision the earlier
    run's saves left, or its saves meet a 409. Empty on a fresh corpus."""
    rows = (
        Annotation.objects.own()
        .filter(article__project=project, revision__gt=1)
        .values_list("annotator_id", "segment_id", "revision")
    )
    return {(user, segment): revision for user, segment, revision in rows}


def kept_corpus(scratch: Scratch, by_article: dict[int, list[int]]) -> dict:
    annotations = Annotation.objects.filter(segment__article__project=scratch.project)
    return {
        "articles": len(by_article),
        "segments": Segment.objects.filter(article__project=scratch.project).count(),
        "annotatable_segments": sum(map(len, by_article.values())),
        "annotators": len(scratch.annotators),
        "annotations": annotations.count(),
    }


def _build(
    config: BenchConfig,
    scratch: Scratch,
    result: BenchResult,
    log: Callable[[str], None],
) -> tuple[dict[int, list[int]], LabelPicker]:
    """Import (timed), real saves (timed), the bulk path, assignments, ANALYZE."""
    imported = import_corpus(config, scratch.project, log)
    figures = result.figures
    rate = imported["segments"] / imported["seconds"]
    figures.append(
        Figure(
            key="import",
            title="Import (parse + segment + store)",
            unit="segments/s",
            value=round(rate),
            budget=">= 5,000 segments/s",
            met=rate >= 5000,
            note=f"{imported['files']} JSONL files, "
            f"{config.articles_per_file} articles each",
        )
    )
    # Apart from the import, as `manage.py prepare_text_aids` after it: the pages
    # are timed as annotators meet them, not on the first view of each article.
    start = time.perf_counter()
    prepared = prepare_text_aids(scratch.project.articles.all())
    log(
        f"prepared the annotate screen's text aids of {prepared:,} articles in "
        f"{time.perf_counter() - start:.1f} s (manage.py prepare_text_aids)"
    )
    by_article = segments_by_article(scratch.project)
    picker = LabelPicker.for_project(scratch.project)
    timings, done = sample_saves(config, scratch, by_article, picker)
    save_rate = len(timings) / sum(timings)
    p50, p95, p99 = _ms_percentiles(timings)
    figures.append(
        Figure(
            key="save_throughput",
            title="Annotation save (services.save_annotation)",
            unit="saves/s",
            value=round(save_rate),
            p50=p50,
            p95=p95,
            p99=p99,
            note=f"{len(timings)} real calls, one at a time",
        )
    )
    log(f"save_annotation: {save_rate:.0f} saves/s over {len(timings)} calls")
    start = time.perf_counter()
    bulk = bulk_fill(config, scratch, by_article, picker, done)
    bulk_seconds = time.perf_counter() - start
    log(f"bulk path: {bulk:,} annotations in {bulk_seconds:.1f} s")
    assignments = assign_all(scratch)
    analyze_tables()
    total_segments = sum(map(len, by_article.values()))
    result.corpus = {
        "articles": imported["articles"],
        "segments": imported["segments"],
        "annotatable_segments": total_segments,
        "annotators": config.annotators,
        "annotations": len(done) + bulk,
        "annotations_by_save_annotation": len(done),
        "annotations_by_bulk_path": bulk,
        "bulk_path_seconds": round(bulk_seconds, 1),
        "assignments": assignments,
    }
    result.notes.append(
        f"{len(done):,} annotations were written by services.save_annotation, "
        f"{bulk:,} by the bulk path (same rows: Annotation + values snapshot, "
        "historical row, AnnotationLabel, Attribution and StanceEntry rows)"
    )
    return by_article, picker


def _measure(
    config: BenchConfig,
    scratch: Scratch,
    result: BenchResult,
    log: Callable[[str], None],
    by_article: dict[int, list[int]],
    picker: LabelPicker,
) -> None:
    """Pages next to their limits, exports, agreement."""
    figures = result.figures

    ctx = BenchContext(
        scratch=scratch,
        by_article=by_article,
        picker=picker,
        all_segment_ids=[sid for ids in by_article.values() for sid in ids],
        article_ids=list(by_article),
        positions=dict(
            Segment.objects.filter(article__project=scratch.project).values_list(
                "id", "position"
            )
        ),
        revisions=saved_revisions(scratch.project),
    )
    clients = Clients(scratch)
    fresh = fresh_segments(ctx)
    baseline = _baseline_queries(ctx, clients, fresh)
    for spec in PAGES:
        figures.append(measure_page(spec, ctx, clients, config, baseline, fresh, log))

    figures.extend(measure_exports(scratch.project, log))

    seconds, count = measure_agreement(scratch.project)
    figures.append(
        Figure(
            key="agreement",
            title="Agreement computation, whole project",
            unit="s",
            value=round(seconds, 2),
            budget="<= 5 s",
            met=seconds <= 5,
            note=f"ratings.project_agreement over {count:,} annotations",
        )
    )
    log(f"agreement: {seconds:.2f} s")


def _baseline_queries(ctx: BenchContext, clients: Clients, fresh) -> int:
    user, call = limit_call(
        ctx, reads=0, insert=False, rng=random.Random(0), fresh=fresh
    )
    client = clients(user)  # logs in: not part of the count
    _send(client, call)  # the first request of a session may write to it
    with CaptureQueriesContext(connection) as captured:
        _send(client, call)
    return len(captured)


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = (
        f"{value:,.0f}"
        if abs(value) >= 100
        else f"{value:,.2f}".rstrip("0").rstrip(".")
    )
    return f"{text} {unit}".strip()


def _origin(corpus: dict) -> str:
    if "annotations_by_bulk_path" not in corpus:
        return " (a kept corpus, --reuse)"
    return (
        f" ({corpus['annotations_by_save_annotation']:,} via save_annotation, "
        f"{corpus['annotations_by_bulk_path']:,} via the bulk path)"
    )


def table(result: BenchResult) -> str:
    header = ("Figure", "Value", "Limit", "Ratio", "Budget", "Met", "Queries")
    rows = [header]
    for figure in result.figures:
        if figure.unit == "ms" and figure.p95 is not None:
            value = f"{figure.p50:g} / {figure.p95:g} / {figure.p99:g} ms"
            limit = (
                f"{figure.limit_p50:g} / {figure.limit_p95:g} / {figure.limit_p99:g} ms"
            )
        else:
            value = _fmt(figure.value, figure.unit)
            limit = _fmt(figure.limit, figure.unit)
            if figure.peak_memory_mb is not None:
                value += f", peak {figure.peak_memory_mb:g} MiB"
        rows.append(
            (
                figure.title,
                value if figure.value is not None else "n/a",
                limit,
                "-" if figure.ratio is None else f"{figure.ratio:g}x",
                figure.budget or "-",
                {True: "yes", False: "NO", None: "-"}[figure.met],
                "-" if figure.queries is None else str(figure.queries),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for number, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            )
        )
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    corpus = result.corpus
    if corpus:
        lines.insert(
            0,
            f"Corpus: {corpus['articles']:,} articles, "
            f"{corpus['segments']:,} segments, {corpus['annotations']:,} annotations "
            f"by {corpus['annotators']} annotators{_origin(corpus)}; "
            f"{result.environment['database']}, {result.environment['cpus']} CPUs, "
            f"load average {result.environment['load_average_start'][0]} at the "
            f"start, {result.environment.get('load_average_end', ['?'])[0]} at the "
            "end. Latency: p50 / p95 / p99; limit = minimal view with the same DB "
            "reads.",
        )
    return "\n".join(lines)
