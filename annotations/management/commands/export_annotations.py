"""python manage.py export_annotations --format csv|jsonl --output FILE [options]"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotations.export import codebook as codebook_writers
from annotations.export import queries
from annotations.export.columns import FORMATS, MODES
from annotations.export.writers import ExportStats
from annotations.management.projects import one_project
from annotations.models import Project


class Command(BaseCommand):
    help = (
        "Export a project's labelled corpus as CSV or JSONL, streamed in chunks "
        "(memory does not grow with the corpus). CSV is spreadsheet-safe by default "
        "(UTF-8 BOM, formula cells prefixed with '); --raw writes the stored values "
        "unaltered. JSONL is never altered. See the README, section Export."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--format", choices=FORMATS, required=True, dest="fmt")
        parser.add_argument(
            "--output", required=True, help="file to write, - for stdout"
        )
        parser.add_argument(
            "--project", help="project slug (needed when there are several)"
        )
        parser.add_argument(
            "--mode",
            choices=MODES,
            default="annotations",
            help="annotations: one row per annotation (default); "
            "segments: one row per segment, gold or majority label",
        )
        parser.add_argument(
            "--include-unlabelled",
            action="store_true",
            help="also segments nobody labelled (boilerplate included), "
            "so every article text can be rebuilt",
        )
        parser.add_argument(
            "--annotators", help="comma-separated usernames (default: all)"
        )
        parser.add_argument(
            "--pseudonymise",
            action="store_true",
            help="stable pseudonyms instead of usernames",
        )
        parser.add_argument(
            "--raw",
            action="store_true",
            help="CSV: no BOM, no formula neutralising (for pipelines)",
        )
        parser.add_argument(
            "--codebook",
            help="also write the codebook (Markdown; JSON when the name ends in .json)",
        )

    def handle(
        self,
        *args,
        fmt: str,
        output: str,
        project: str | None,
        mode: str,
        include_unlabelled: bool,
        annotators: str | None,
        pseudonymise: bool,
        raw: bool,
        codebook: str | None,
        **options,
    ) -> None:
        target = one_project(project, doing="export")
        usernames = self._annotators(target, annotators)
        if raw and fmt != "csv":
            raise CommandError("--raw applies to CSV only; JSONL is always raw")
        choice = queries.ExportOptions(
            mode=mode,
            annotators=usernames,
            include_unlabelled=include_unlabelled,
            pseudonymise=pseudonymise,
        )
        stats = ExportStats()
        chunks = queries.export_chunks(
            target, choice, fmt=fmt, spreadsheet=not raw, stats=stats
        )
        started = time.perf_counter()
        self._write(chunks, output)
        seconds = time.perf_counter() - started
        if codebook:
            # A pass of its own: the export above joins pre-rendered text and
            # does not look at labels one by one.
            data = queries.codebook(target, choice)
            text = (
                codebook_writers.codebook_json(data)
                if codebook.endswith(".json")
                else codebook_writers.codebook_markdown(data)
            )
            self._write_file(Path(codebook), [text])
        summary = (
            f"exported {stats.rows} rows of "
            f"{target.slug} ({mode}, {fmt}) to {output} in {seconds:.1f} s"
        )
        if mode == "annotations" and stats.shaped_on_the_fly:
            summary += (
                f"; {stats.shaped_on_the_fly} rows were shaped on the fly "
                "(export cells missing or out of date: run "
                "`python manage.py refresh_export_cells` to make the next export "
                "faster)"
            )
        # Status goes to stderr when the data goes to stdout.
        stream = self.stderr if output == "-" else self.stdout
        stream.write(self.style.SUCCESS(summary))

    def _annotators(self, project: Project, names: str | None) -> list[str] | None:
        if names is None:
            return None
        wanted = [name.strip() for name in names.split(",") if name.strip()]
        if not wanted:
            raise CommandError("--annotators needs at least one username")
        known = set(
            get_user_model()
            .objects.filter(username__in=wanted)
            .values_list("username", flat=True)
        )
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise CommandError(f"unknown annotator(s): {', '.join(unknown)}")
        return wanted

    def _write(self, chunks, output: str) -> None:
        if output == "-":
            stream = getattr(self.stdout, "_out", sys.stdout)
            for chunk in chunks:
                stream.write(chunk)
            stream.flush()
        else:
            self._write_file(Path(output), chunks)

    def _write_file(self, path: Path, chunks) -> None:
        """Chunk by chunk into FILE.partial, renamed at the end: a failed export
        never leaves a truncated file under the name asked for. A target that
        exists and is not a regular file (``/dev/null``, a named pipe, a terminal)
        is written in place: renaming over it would replace the device itself."""
        if path.parent and not path.parent.exists():
            raise CommandError(f"{path.parent} does not exist")
        in_place = path.exists() and not path.is_file() and not path.is_dir()
        target = path if in_place else path.with_name(path.name + ".partial")
        try:
            # newline="": the CSV writer already ends lines with CRLF (RFC 4180).
            with target.open("w", encoding="utf-8", newline="") as handle:
                for chunk in chunks:
                    handle.write(chunk)
            if not in_place:
                target.replace(path)
        except OSError as error:
            if not in_place:
                target.unlink(missing_ok=True)
            raise CommandError(f"cannot write {path}: {error.strerror}") from None
        except BaseException:
            if not in_place:
                target.unlink(missing_ok=True)
            raise
