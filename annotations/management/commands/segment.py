"""python manage.py segment FILE... : the segmentation as JSON lines, no database."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.importing import ImportRefused, decode_bytes
from annotations.segmentation import segment_article


class Command(BaseCommand):
    help = (
        "Print how each file would be segmented, as JSON lines "
        '{"file", "position", "kind", "paragraph", "start", "end", "text"}, '
        "without touching the database."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--language", default="de")

    def handle(self, *args, files: list[Path], language: str, **options) -> None:
        for path in files:
            try:
                text = decode_bytes(path.read_bytes(), name=str(path))
            except OSError as error:
                raise CommandError(f"{path}: cannot read ({error.strerror})") from None
            except ImportRefused as refusal:
                raise CommandError(str(refusal)) from None
            for span in segment_article(text, language=language):
                row = {
                    "file": str(path),
                    "position": span.position,
                    "kind": span.kind,
                    "paragraph": span.paragraph,
                    "start": span.start,
                    "end": span.end,
                    "text": span.text,
                }
                self.stdout.write(json.dumps(row, ensure_ascii=False))
