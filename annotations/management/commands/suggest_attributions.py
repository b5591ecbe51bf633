"""python manage.py suggest_attributions FILE... : attribution suggestions as
JSON lines, no database."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotations.importing import ImportRefused, parse_file
from annotations.suggesting import suggest_article


class Command(BaseCommand):
    help = (
        "Print who-said-what suggestions for each segment of each file, as JSON "
        'lines {"file", "position", "cue_spans", "source_span", "source_text", '
        '"form", "score"} (plus "article" for JSONL/CSV files), with offsets '
        "into the stored article text, without touching the database."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--language", default="de")
        parser.add_argument(
            "--mentions",
            action="store_true",
            help="also suggest bare mentions of speech events ('die Debatte')",
        )

    def handle(
        self, *args, files: list[Path], language: str, mentions: bool, **options
    ) -> None:
        for path in files:
            try:
                drafts = parse_file(
                    path.read_bytes(),
                    name=str(path),
                    max_bytes=settings.IMPORT_MAX_UPLOAD_BYTES,
                    max_chars=settings.IMPORT_MAX_ARTICLE_CHARS,
                    language=language,
                )
            except OSError as error:
                raise CommandError(f"{path}: cannot read ({error.strerror})") from None
            except ImportRefused as refusal:
                raise CommandError(str(refusal)) from None
            several = path.suffix.lower() in (".jsonl", ".csv")
            for index, draft in enumerate(drafts):
                spans = [(segment.start, segment.end) for segment in draft.segments]
                suggestions = suggest_article(draft.text, spans, mentions=mentions)
                for segment, found in zip(draft.segments, suggestions, strict=True):
                    for suggestion in found:
                        row = {"file": str(path)}
                        if several:
                            row["article"] = index
                        row |= {
                            "position": segment.position,
                            "cue_spans": [list(span) for span in suggestion.cue_spans],
                            "source_span": (
                                list(suggestion.source_span)
                                if suggestion.source_span
                                else None
                            ),
                            "source_text": suggestion.source_text,
                            "form": suggestion.form,
                            "score": suggestion.score,
                        }
                        self.stdout.write(json.dumps(row, ensure_ascii=False))
