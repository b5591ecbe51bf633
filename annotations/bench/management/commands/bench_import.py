"""python manage.py bench_import [--rows 100000,1000000] [--how cli,job] [--json F]"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from annotations.bench.imports import measure, write_jsonl

HOW = ("cli", "job")


class Command(BaseCommand):
    help = (
        "Measure the import of a generated JSONL (short German news items, about "
        "97 bytes a row) on the configured database: on the command line "
        "(import_articles) and as a job (the admin's path, run by `worker`), each "
        "in a child process; wall time and the child's peak resident set. The "
        "scratch projects are removed afterwards."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rows", default="100000", help="comma-separated row counts"
        )
        parser.add_argument(
            "--how", default="cli,job", help="cli, job or both (comma-separated)"
        )
        parser.add_argument(
            "--json", type=Path, dest="json_path", help="also write the results here"
        )

    def handle(
        self, *args, rows: str, how: str, json_path: Path | None, **options
    ) -> None:
        try:
            sizes = [int(part) for part in rows.split(",") if part.strip()]
        except ValueError:
            raise CommandError(f"--rows takes whole numbers; got {rows!r}") from None
        ways = [part.strip() for part in how.split(",") if part.strip()]
        if not sizes or min(sizes) < 1 or not ways or set(ways) - set(HOW):
            raise CommandError("--rows: positive numbers; --how: cli and/or job")
        self.stdout.write(f"database: {connection.vendor}")
        self.stdout.write(
            f"{'rows':>9} {'file MB':>8} {'how':>4} {'seconds':>8} "
            f"{'articles/s':>10} {'peak RSS MB':>11} {'load':>5}"
        )
        results = []
        with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
            for size in sizes:
                path = Path(folder) / f"articles-{size}.jsonl"
                megabytes = write_jsonl(path, size) / 1e6
                for way in ways:
                    result = measure(str(path), size, way)
                    result["file_mb"] = round(megabytes, 1)
                    results.append(result)
                    self.stdout.write(
                        f"{size:>9} {megabytes:>8.1f} {way:>4} "
                        f"{result['seconds']:>8.1f} "
                        f"{result['articles_per_second']:>10,} "
                        f"{result['peak_rss_mb']:>11.1f} "
                        f"{result['load_average']:>5.1f}"
                    )
        if json_path:
            json_path.write_text(json.dumps(results, indent=2) + "\n")
        self.stdout.write(self.style.SUCCESS("done; scratch projects removed"))
