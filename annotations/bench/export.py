"""``manage.py bench_export``: export throughput and memory at given row counts.

For each size, a scratch project from the benchmarks' one corpus builder
(``corpus.build_bulk``: the real import path, then every annotation by the bulk
path), its export cells rendered as saves do (timed apart), then the export
through the same code path as ``export_annotations``: rows/s, the tracemalloc
peak of the export loop and the peak resident set of a real export process.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection

from ..export import queries
from ..export.writers import ExportStats
from ..models import Annotation, AnnotationExportCells, Article, Project, Segment
from .corpus import CorpusSpec, build_bulk, remove_project

SEGMENTS_PER_ARTICLE = 50
ANNOTATORS = 2


def build_scratch(rows: int, *, seed: int = 7) -> Project:
    """A project with exactly ``rows`` annotations (2 annotators, 50 segments per
    article) and no export cells."""
    per_article = SEGMENTS_PER_ARTICLE * ANNOTATORS
    spec = CorpusSpec(
        articles=max(1, math.ceil(rows / per_article)),
        segments_per_article=SEGMENTS_PER_ARTICLE,
        annotators=ANNOTATORS,
        save_sample=0,
        seed=seed,
        annotations=rows,
    )
    scratch = build_bulk(spec, log=lambda line: None)
    return scratch.project


def remove_scratch(project: Project) -> None:
    remove_project(project, user_prefix=project.slug + "-")


def measure(project: Project, fmt: str, output: str, *, repeat: int = 1) -> dict:
    """Best-of-``repeat`` wall time without tracing, then one run under tracemalloc
    for the peak of the export loop (tracing slows Python down, so it is timed
    apart). Writes in chunks exactly as the command does. ``cpu_seconds`` is the
    process's CPU time of the best run: on a shared machine the wall time also
    measures the neighbours."""
    options = queries.ExportOptions()
    best = best_cpu = None
    rows = 0
    for _ in range(max(repeat, 1)):
        started, started_cpu = time.perf_counter(), time.process_time()
        rows = _run(project, options, fmt, output)
        seconds = time.perf_counter() - started
        if best is None or seconds < best:
            best, best_cpu = seconds, time.process_time() - started_cpu
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _run(project, options, fmt, output)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "rows": rows,
        "seconds": round(best, 3),
        "rows_per_second": round(rows / best) if best else 0,
        "cpu_seconds": round(best_cpu, 3),
        "rows_per_cpu_second": round(rows / best_cpu) if best_cpu else 0,
        "peak_mb": round(peak / 2**20, 1),
        "command_rss_mb": command_peak_rss_mb(project, fmt, output),
        "load_average": round(os.getloadavg()[0], 2),
    }


def mb_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


# Runs manage.py in the child and, as it exits, reports the child's own peak
# resident set. Not wait4's ru_maxrss: Linux carries the high-water mark of the
# image a child was forked from (this benchmark, hundreds of MB after building
# the scratch data) across exec into it; VmHWM belongs to the new image only.
_MEASURED_CHILD = """
import atexit, runpy, sys

def report():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                sys.stderr.write("VmHWM-kB " + line.split()[1] + "\\n")

atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def measured_export_command(project: Project, fmt: str, output: str) -> list[str]:
    """The child's command line: ``export_annotations`` under the VmHWM report."""
    return [
        *measured_command(),
        "export_annotations",
        "--project",
        project.slug,
        "--format",
        fmt,
        "--output",
        # Into the child's stdout, which goes nowhere, rather than naming the
        # device: the command writes named files through a rename.
        "-" if output == os.devnull else output,
    ]


def command_peak_rss_mb(project: Project, fmt: str, output: str) -> float | None:
    """Peak resident set (MB) of a fresh ``manage.py export_annotations`` process
    exporting the project: the whole process as the operating system sees it,
    interpreter, Django and the drivers' C buffers included (tracemalloc sees only
    Python's allocations).

    None where another process cannot see the scratch data (inside an uncommitted
    transaction, as in the tests; an in-memory SQLite database) or without Linux's
    /proc.
    """
    url = child_database_url()
    if url is None:
        return None
    finished = subprocess.run(
        measured_export_command(project, fmt, output),
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        raise CommandError(f"export_annotations failed: {finished.stderr.strip()}")
    return reported_peak_mb(finished.stderr, "export_annotations")


def measured_command(*args: str) -> list[str]:
    """``manage.py ARGS`` in a child that reports its own peak resident set."""
    return [
        sys.executable,
        "-c",
        _MEASURED_CHILD,
        str(Path(settings.BASE_DIR) / "manage.py"),
        *args,
    ]


def reported_peak_mb(stderr: str, what: str) -> float:
    peaks = [
        int(line.split()[1])
        for line in stderr.splitlines()
        if line.startswith("VmHWM-kB ")
    ]
    if not peaks:
        raise CommandError(f"the {what} process did not report its peak memory")
    return round(peaks[-1] / 1024, 1)


def child_database_url() -> str | None:
    """The configured database as a ``DATABASE_URL`` for a child process, or None
    where a child cannot see this process's data (inside an uncommitted
    transaction, as in the tests; an in-memory SQLite database) or without
    Linux's /proc (the children report their memory from it)."""
    database = connection.settings_dict
    if connection.in_atomic_block or not Path("/proc/self/status").exists():
        return None
    if connection.vendor == "sqlite":
        if connection.is_in_memory_db():
            return None
        return f"sqlite:///{database['NAME']}"
    if connection.vendor != "postgresql":
        return None
    auth = quote(database["USER"] or "", safe="")
    if database["PASSWORD"]:
        auth += ":" + quote(database["PASSWORD"], safe="")
    # A socket directory as host is percent-encoded (dj-database-url's form);
    # connection options such as sslmode go into the query string.
    host = quote(database["HOST"] or "localhost", safe="")
    url = f"postgres://{auth}@{host}:{database['PORT'] or 5432}/"
    url += quote(database["NAME"], safe="")
    options = {
        key: value
        for key, value in (database.get("OPTIONS") or {}).items()
        if isinstance(value, str | int) and not isinstance(value, bool)
    }
    if options:
        url += "?" + urlencode(options)
    return url


def _run(
    project: Project, options: queries.ExportOptions, fmt: str, output: str
) -> int:
    """One export exactly as ``export_annotations`` writes it."""
    stats = ExportStats()
    chunks = queries.export_chunks(
        project, options, fmt=fmt, spreadsheet=True, stats=stats
    )
    with open(output, "w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)
    if stats.shaped_on_the_fly:
        raise CommandError(
            f"{stats.shaped_on_the_fly} rows had no fresh pre-rendered cells"
        )
    return stats.rows


def vacuum() -> None:
    """On PostgreSQL, what autovacuum would do after the scratch rows went: the
    next size is then measured on tables without a million dead rows in them.
    Outside a transaction only (``VACUUM`` refuses to run inside one)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in (Article, Segment, Annotation, AnnotationExportCells):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
