"""python manage.py refresh_export_cells [--project SLUG]... : render the export's
pre-rendered label cells (``AnnotationExportCells``) that are missing or stale.

``save_annotation`` renders them with every save. They go stale when the label
plan changes (a stance target added, an optional dimension switched on, a claim
mapping edited, ...) or when annotations were written some other way (a restored
dump, a bulk load, the admin). An export is correct either way: it shapes stale
rows on the fly, only more slowly, and ``export_annotations`` says how many it
had to shape. Safe to run at any time, also while people annotate."""

import time

from django.core.management.base import BaseCommand

from annotations.export import cells
from annotations.management.projects import add_project_option, chosen_projects


class Command(BaseCommand):
    help = (
        "Render the missing and out-of-date export cells of every project (or the "
        "ones named), so exports only concatenate text."
    )

    def add_arguments(self, parser) -> None:
        add_project_option(parser)

    def handle(self, *args, project: list[str], **options) -> None:
        for each in chosen_projects(project):
            started = time.perf_counter()
            rendered = cells.refresh_export_cells(each)
            seconds = time.perf_counter() - started
            self.stdout.write(
                f"{each.slug}: rendered {rendered} export cells in {seconds:.1f} s"
            )
