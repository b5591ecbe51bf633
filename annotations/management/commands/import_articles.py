"""python manage.py import_articles PATH... [--project SLUG] [--quiet]"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotations.models import Project
from annotations.services import (
    DEMO_PROJECT_SLUG,
    collect_import_paths,
    ensure_seed_project,
    import_path,
)


class Command(BaseCommand):
    help = (
        "Import articles from .txt/.md (one article per file) and .jsonl/.csv (one "
        "article per row) files or folders. Each file lands whole or not at all; "
        "texts already in the project are skipped. Exit status 1 if any file failed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="files or folders")
        parser.add_argument(
            "--project",
            default=DEMO_PROJECT_SLUG,
            help=f"project slug (default: {DEMO_PROJECT_SLUG}, created if missing)",
        )
        parser.add_argument("--quiet", action="store_true", help="only the summary")

    def handle(self, *args, paths: list[Path], project: str, quiet: bool, **options):
        target = self._project(project)
        missing = [str(path) for path in paths if not path.exists()]
        if missing:
            raise CommandError(f"no such file or folder: {', '.join(missing)}")
        files = collect_import_paths(paths)
        if not files:
            raise CommandError("no .txt, .md, .jsonl or .csv files found")
        # In a terminal a bar over the bytes of all files: a big file takes minutes.
        show_bar = not quiet and sys.stderr.isatty()
        sizes = [path.stat().st_size if path.is_file() else 0 for path in files]
        bar = tqdm(
            total=sum(sizes),
            unit="B",
            unit_scale=True,
            disable=not show_bar,
            file=sys.stderr,
        )
        articles = segments = duplicates = failed = 0
        for path, size in zip(files, sizes, strict=True):
            done_before = bar.n

            def progress(step: str, bytes_read: int, done_before=done_before) -> None:
                bar.set_description_str(step[:60])
                bar.update(done_before + bytes_read - bar.n)

            result = import_path(
                project=target, path=path, collect_ids=False, progress=progress
            )
            bar.update(done_before + size - bar.n)
            articles += result.articles
            segments += result.segments
            duplicates += result.duplicates
            if not result.ok:
                failed += 1
                self.stderr.write(self.style.ERROR(f"failed   {result.error}"))
            elif not quiet:
                line = (
                    f"skipped  {path} (already imported)"
                    if result.articles == 0
                    else f"imported {path}: {result.articles} article(s), "
                    f"{result.segments} segments"
                )
                self.stdout.write(line)
        bar.close()
        summary = (
            f"imported {articles} articles ({segments} segments), skipped "
            f"{duplicates} duplicates, failed {failed}"
        )
        self.stdout.write(
            self.style.ERROR(summary) if failed else self.style.SUCCESS(summary)
        )
        if failed:
            sys.exit(1)

    def _project(self, slug: str) -> Project:
        if slug == DEMO_PROJECT_SLUG:
            return ensure_seed_project()
        try:
            return Project.objects.get(slug=slug)
        except Project.DoesNotExist:
            raise CommandError(
                f"no project with slug {slug!r}; create it in the admin first"
            ) from None
