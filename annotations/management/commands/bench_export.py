"""python manage.py bench_export [--rows 10000,100000,1000000] [--output /dev/null]"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from annotations import default_scheme, export, exporting, services
from annotations.models import (
    Annotation,
    AnnotationExportCells,
    AnnotationLabel,
    Article,
    Attribution,
    Membership,
    Project,
    Segment,
    StanceEntry,
)

SEGMENTS_PER_ARTICLE = 50
ANNOTATORS = 2
SLUG_PREFIX = "bench-export-"
USER_PREFIX = "bench_export_"


class Command(BaseCommand):
    help = (
        "Measure the export: for each row count, build a scratch project with that "
        "many synthetic annotations (bulk inserts, no real saves), render their "
        "export cells as saves do (timed apart), export it as CSV "
        "and JSONL through the same code path as export_annotations, report rows/s "
        "and the tracemalloc peak of the export loop, then delete the scratch data."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rows",
            default="10000,100000,1000000",
            help="comma-separated annotation row counts",
        )
        parser.add_argument(
            "--output",
            default=os.devnull,
            help="where the export goes (default: /dev/null)",
        )
        parser.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="timed runs per format; the best is reported",
        )
        parser.add_argument(
            "--json", type=Path, dest="json_path", help="also write the results here"
        )
        parser.add_argument(
            "--keep",
            action="store_true",
            help="keep the scratch project (for inspection)",
        )

    def handle(
        self,
        *args,
        rows: str,
        output: str,
        repeat: int,
        json_path: Path | None,
        keep: bool,
        **options,
    ) -> None:
        try:
            sizes = [int(part) for part in rows.split(",") if part.strip()]
        except ValueError:
            raise CommandError(
                f"--rows takes whole numbers, e.g. 10000,100000; got {rows!r}"
            ) from None
        if not sizes or min(sizes) < ANNOTATORS * SEGMENTS_PER_ARTICLE:
            raise CommandError(
                f"each row count must be at least {ANNOTATORS * SEGMENTS_PER_ARTICLE}"
            )
        vendor = connection.vendor
        results = []
        self.stdout.write(f"database: {vendor}; output: {output}")
        self.stdout.write(
            f"{'rows':>9} {'format':>6} {'build s':>8} {'cells s':>8} {'export s':>9} "
            f"{'rows/s':>9} {'rows/cpu-s':>10} {'peak MB':>8} {'cmd RSS':>8} "
            f"{'load':>5}"
        )
        for size in sizes:
            started = time.perf_counter()
            project = build_scratch(size)
            build_seconds = time.perf_counter() - started
            # What the save path does per annotation, done here in bulk.
            started = time.perf_counter()
            rendered = exporting.refresh_export_cells(project)
            cells_seconds = time.perf_counter() - started
            if rendered != size:
                raise CommandError(f"rendered {rendered} export cells, expected {size}")
            try:
                for fmt in export.FORMATS:
                    measured = measure(project, fmt, output, repeat=repeat)
                    if measured["rows"] != size:
                        raise CommandError(
                            f"exported {measured['rows']} rows, expected {size}"
                        )
                    result = {
                        "database": vendor,
                        "rows": size,
                        "format": fmt,
                        "build_seconds": round(build_seconds, 2),
                        "cells_seconds": round(cells_seconds, 2),
                        **measured,
                    }
                    results.append(result)
                    self.stdout.write(
                        f"{size:>9} {fmt:>6} {build_seconds:>8.1f} "
                        f"{cells_seconds:>8.1f} "
                        f"{measured['seconds']:>9.2f} "
                        f"{measured['rows_per_second']:>9,.0f} "
                        f"{measured['rows_per_cpu_second']:>10,.0f} "
                        f"{measured['peak_mb']:>8.1f} "
                        f"{_mb(measured['command_rss_mb']):>8} "
                        f"{measured['load_average']:>5.1f}"
                    )
            finally:
                if not keep:
                    remove_scratch(project)
                    vacuum()
        if json_path:
            json_path.write_text(json.dumps(results, indent=2) + "\n")
        self.stdout.write(
            self.style.SUCCESS(
                "done; scratch data removed" if not keep else "done; scratch data kept"
            )
        )


def measure(project: Project, fmt: str, output: str, *, repeat: int = 1) -> dict:
    """Best-of-``repeat`` wall time without tracing, then one run under tracemalloc
    for the peak of the export loop (tracing slows Python down, so it is timed
    apart). Writes in chunks exactly as the command does. ``cpu_seconds`` is the
    process's CPU time of the best run: on a shared machine the wall time also
    measures the neighbours."""
    options = exporting.ExportOptions()
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


def _mb(value: float | None) -> str:
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
        sys.executable,
        "-c",
        _MEASURED_CHILD,
        str(Path(settings.BASE_DIR) / "manage.py"),
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
    database = connection.settings_dict
    if connection.in_atomic_block or not Path("/proc/self/status").exists():
        return None
    if connection.vendor == "sqlite":
        if connection.is_in_memory_db():
            return None
        url = f"sqlite:///{database['NAME']}"
    elif connection.vendor == "postgresql":
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
    else:
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
    peaks = [
        int(line.split()[1])
        for line in finished.stderr.splitlines()
        if line.startswith("VmHWM-kB ")
    ]
    if not peaks:
        raise CommandError("the export process did not report its peak memory")
    return round(peaks[-1] / 1024, 1)


def _run(
    project: Project, options: exporting.ExportOptions, fmt: str, output: str
) -> int:
    """One export exactly as ``export_annotations`` writes it."""
    stats = export.ExportStats()
    chunks = exporting.export_chunks(
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


# ---------------------------------------------------------------------------
# Scratch data: bulk inserts, exact segment offsets, varied labels
# ---------------------------------------------------------------------------

CLAIMS = [code for code, *_ in default_scheme.CLAIM_LABELS]
FRAMES = [code for code, *_ in default_scheme.FRAME_LABELS]
TARGETS = [code for code, *_ in default_scheme.SEED_STANCE_TARGETS]
WORDS = (
    "Kreml",
    "Kiew",
    "Waffenruhe",
    "Sicherheitsgarantien",
    "Verhandlungen",
    '"Frieden"',
    "Sanktionen,",
    "NATO",
    "Donezk",
    "Gespräche",
    "=Risiko",
    "-5 %",
)


def build_scratch(rows: int, *, seed: int = 7) -> Project:
    """A project with ``rows`` annotations: 50 segments per article, 2 annotators."""
    rng = random.Random(seed)
    slug = f"{SLUG_PREFIX}{uuid.uuid4().hex[:8]}"
    project = services.create_project(
        name=f"Export benchmark {slug}",
        slug=slug,
        stance_targets=default_scheme.SEED_STANCE_TARGETS,
    )
    users = []
    for number in range(ANNOTATORS):
        user, _ = get_user_model().objects.get_or_create(
            username=f"{USER_PREFIX}{number + 1}"
        )
        Membership.objects.get_or_create(project=project, user=user)
        users.append(user)
    per_article = SEGMENTS_PER_ARTICLE * ANNOTATORS
    n_articles = rows // per_article
    extra = rows - n_articles * per_article  # the remainder: one more short article
    with transaction.atomic():
        _insert(project, users, rng, n_articles, extra)
        # Written around save_annotation's counter (annotate screen's project bar).
        Membership.objects.filter(project=project).recount()
    if connection.vendor == "postgresql":
        # What autovacuum does soon after a bulk load; the plans depend on it.
        with connection.cursor() as cursor:
            for model in (Article, Segment, Annotation, AnnotationExportCells):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
    return project


def _insert(
    project: Project, users: list, rng: random.Random, n_articles: int, extra: int
) -> None:
    batch = 100  # articles per round trip
    plans = [SEGMENTS_PER_ARTICLE] * n_articles
    if extra:
        plans.append((extra + ANNOTATORS - 1) // ANNOTATORS)
    remaining = n_articles * SEGMENTS_PER_ARTICLE * ANNOTATORS + extra
    for first in range(0, len(plans), batch):
        articles, texts = [], []
        for number in range(first, min(first + batch, len(plans))):
            sentences = [
                f"Satz {i} von Artikel {number}: "
                + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18)))
                + "."
                for i in range(plans[number])
            ]
            text = " ".join(sentences)
            texts.append(sentences)
            articles.append(
                Article(
                    project=project,
                    title=f"Artikel {number}",
                    outlet="Bench",
                    text=text,
                    content_hash=hashlib.sha256(text.encode()).hexdigest(),
                    segment_count=len(sentences),
                    annotatable_count=len(sentences),
                )
            )
        Article.objects.bulk_create(articles)
        segments = []
        for article, sentences in zip(articles, texts, strict=True):
            start = 0
            for position, sentence in enumerate(sentences):
                segments.append(
                    Segment(
                        article=article,
                        position=position,
                        kind="sentence",
                        paragraph=0,
                        start=start,
                        end=start + len(sentence),
                        text=sentence,
                    )
                )
                start += len(sentence) + 1
        Segment.objects.bulk_create(segments, batch_size=5000)
        annotations = []
        for segment in segments:
            for user in users:
                if remaining == 0:
                    break
                remaining -= 1
                annotations.append(
                    Annotation(
                        segment=segment,
                        article_id=segment.article_id,
                        annotator=user,
                        values=_values(rng),
                        time_spent_ms=rng.randint(500, 60000),
                        unsure=rng.random() < 0.05,
                        comment="" if rng.random() < 0.8 else "=Prüfen, bitte",
                    )
                )
        Annotation.objects.bulk_create(annotations, batch_size=5000)


def _values(rng: random.Random) -> dict:
    frames = sorted(rng.sample(FRAMES, rng.randint(0, 3)))
    attributions = []
    if rng.random() < 0.4:
        attributions.append(
            {
                "source_text": "Kreml-Sprecher Dmitri Peskow",
                "source": "Dmitri Peskow",
                "source_type": "person",
                "form": rng.choice(["direct", "indirect"]),
                "cue_text": "sagte",
                "source_span": None,
                "cue_spans": [],
            }
        )
    stances = [
        {"target": target, "polarity": rng.choice(["favor", "against"]), "holder": None}
        for target in rng.sample(TARGETS, rng.randint(0, 2))
    ]
    if attributions and rng.random() < 0.5:
        stances.append({"target": "usa", "polarity": "against", "holder": 0})
    return {
        "labels": {
            "claim": [rng.choice(CLAIMS)],
            **({"frames": frames} if frames else {}),
        },
        "primary": {"frames": frames[0]} if frames else {},
        "attributions": attributions,
        "stances": stances,
        "unsure": False,
        "comment": "",
    }


def vacuum() -> None:
    """On PostgreSQL, what autovacuum would do after the scratch rows went: the
    next size is then measured on tables without a million dead rows in them.
    Outside a transaction only (``VACUUM`` refuses to run inside one)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in (Article, Segment, Annotation, AnnotationExportCells):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def remove_scratch(project: Project) -> None:
    """Delete the scratch rows with plain DELETEs, children first.

    ``QuerySet.delete()`` would load every annotation to run the cascade in Python
    and let django-simple-history write a history row for each deleted one.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        articles = f"SELECT id FROM {Article._meta.db_table} WHERE project_id = %s"
        annotations = (
            f"SELECT id FROM {Annotation._meta.db_table} "
            f"WHERE article_id IN ({articles})"
        )
        through = Annotation.adjudicated_from.through._meta.db_table
        for table, column, subquery in [
            (StanceEntry._meta.db_table, "annotation_id", annotations),
            (AnnotationExportCells._meta.db_table, "annotation_id", annotations),
            (Attribution._meta.db_table, "annotation_id", annotations),
            (AnnotationLabel._meta.db_table, "annotation_id", annotations),
            (through, "from_annotation_id", annotations),
            (through, "to_annotation_id", annotations),
            (Annotation._meta.db_table, "article_id", articles),
            (Segment._meta.db_table, "article_id", articles),
            (Article._meta.db_table, "project_id", "%s"),
        ]:
            params = [project.pk]
            cursor.execute(
                f"DELETE FROM {table} WHERE {column} IN ({subquery})",  # noqa: S608
                params,
            )
    project.delete()
    get_user_model().objects.filter(
        username__startswith=USER_PREFIX, annotations__isnull=True
    ).delete()
