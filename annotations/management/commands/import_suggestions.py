"""python manage.py import_suggestions FILE --origin NAME [--project] [--replace]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.management.projects import one_project
from annotations.services import import_suggestions
from annotations.suggesting.external import SuggestionsRefused, parse_suggestions


class Command(BaseCommand):
    help = (
        "Load attribution suggestions for a project's segments from an external "
        "model or tool: JSON lines as suggest_attributions prints them (keyed by "
        "article id and segment position, offsets into the article text), or a "
        "Label Studio predictions export. All or nothing: a bad row refuses the "
        "file with its line number. Annotators see them like the built-in ones."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--origin",
            required=True,
            help="the model's or tool's name, shown beside each suggestion",
        )
        parser.add_argument(
            "--project", help="project slug (needed when there are several)"
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="first remove this origin's earlier suggestions for these segments",
        )

    def handle(self, *args, file: Path, origin: str, project, replace, **options):
        target = one_project(project, doing="import suggestions into")
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"{file}: cannot read ({error.strerror})") from None
        try:
            suggestions = parse_suggestions(data, name=file.name)
            stored = import_suggestions(
                project=target, suggestions=suggestions, origin=origin, replace=replace
            )
        except SuggestionsRefused as refusal:
            shown = "\n".join(refusal.errors[:20])
            more = len(refusal.errors) - 20
            if more > 0:
                shown += f"\n... and {more} more"
            raise CommandError(f"nothing imported:\n{shown}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"imported {stored} suggestion{'s' if stored != 1 else ''} "
                f"from {origin} into {target.slug}"
            )
        )
