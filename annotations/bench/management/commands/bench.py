"""python manage.py bench [--articles N] [--segments-per-article N] [--annotators N]
[--requests N] [--json FILE] [--keep] [--build-only] [--reuse SLUG]"""

import json
import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.bench import runner
from annotations.models import Project


class Command(BaseCommand):
    help = (
        "Build a synthetic corpus in a scratch project on the configured database, "
        "measure import, save, page latencies, export and agreement next to the "
        "limit of this machine, print one table and remove the scratch project."
    )

    def add_arguments(self, parser) -> None:
        defaults = runner.BenchConfig()
        parser.add_argument("--articles", type=int, default=defaults.articles)
        parser.add_argument(
            "--segments-per-article",
            type=int,
            default=defaults.segments_per_article,
            help="segments per generated article, title and byline included",
        )
        parser.add_argument(
            "--annotators",
            type=int,
            default=defaults.annotators,
            help="annotators, each labelling every segment",
        )
        parser.add_argument(
            "--requests",
            type=int,
            default=defaults.requests,
            help="timed requests per page (latency samples)",
        )
        parser.add_argument(
            "--save-sample",
            type=int,
            default=defaults.save_sample,
            help="annotations written by real save_annotation calls",
        )
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument("--json", type=Path, help="also write the results here")
        parser.add_argument(
            "--keep",
            action="store_true",
            help="keep the scratch project (to inspect it)",
        )
        parser.add_argument(
            "--build-only",
            action="store_true",
            help="build the corpus (import and saves timed), keep it and stop",
        )
        parser.add_argument(
            "--reuse",
            metavar="SLUG",
            help="measure pages, exports and agreement of a kept scratch project",
        )
        parser.add_argument(
            "--remove-leftovers",
            action="store_true",
            help="only remove scratch projects of earlier runs that were killed",
        )

    def handle(self, *args, json: Path | None, remove_leftovers: bool, **options):
        if remove_leftovers:
            removed = runner.remove_leftovers()
            self.stdout.write(f"removed {len(removed)} scratch project(s) {removed}")
            return
        config = self._config(options)
        if config.reuse:
            try:
                runner.load_scratch(config.reuse)
            except (ValueError, Project.DoesNotExist, KeyError) as error:
                raise CommandError(f"--reuse {config.reuse}: {error}") from error
        if json is not None and not json.parent.exists():
            raise CommandError(f"--json: folder {json.parent} does not exist")
        # `kill` (SIGTERM) unwinds like Ctrl-C, so the scratch project is removed.
        previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            result = runner.run(config, log=lambda line: self.stderr.write(line))
        finally:
            signal.signal(signal.SIGTERM, previous)
        self.stdout.write(runner.table(result))
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        if json is not None:
            json.write_text(_dumps(result.as_json()) + "\n", encoding="utf-8")
            self.stdout.write(self.style.SUCCESS(f"wrote {json}"))

    def _config(self, options: dict) -> runner.BenchConfig:
        minimums = {
            "articles": 1,
            "segments_per_article": 3,
            "annotators": 2,
            "requests": 1,
            "save_sample": 1,
        }
        for name, minimum in minimums.items():
            if options[name] < minimum:
                flag = "--" + name.replace("_", "-")
                raise CommandError(f"{flag} must be at least {minimum}")
        return runner.BenchConfig(
            articles=options["articles"],
            segments_per_article=options["segments_per_article"],
            annotators=options["annotators"],
            requests=options["requests"],
            save_sample=options["save_sample"],
            seed=options["seed"],
            keep=options["keep"],
            build_only=options["build_only"],
            reuse=options["reuse"],
        )


def _terminate(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def _dumps(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
