"""python manage.py bench_export [--rows 10000,100000,1000000] [--output /dev/null]"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from annotations.bench.export import (
    ANNOTATORS,
    SEGMENTS_PER_ARTICLE,
    build_scratch,
    mb_text,
    measure,
    remove_scratch,
    vacuum,
)
from annotations.export import cells
from annotations.export.columns import FORMATS


class Command(BaseCommand):
    help = (
        "Measure the export: for each row count, build a scratch project with that "
        "many generated annotations (import path, then bulk inserts, no real "
        "saves), render their "
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
            rendered = cells.refresh_export_cells(project)
            cells_seconds = time.perf_counter() - started
            if rendered != size:
                raise CommandError(f"rendered {rendered} export cells, expected {size}")
            try:
                for fmt in FORMATS:
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
                        f"{mb_text(measured['command_rss_mb']):>8} "
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
