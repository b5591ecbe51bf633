"""python manage.py prepare_text_aids [--project SLUG]... : compute the annotate
screen's text aids (``ArticleTextAids``: cue candidates, built-in suggestions and
names, from the text alone) of the articles that have none or stale ones.

The annotate page computes and stores the aids of an article the first time it
is shown (about 10 ms once per article); this command does it ahead, so no
annotator waits: after a large import, and after a release that changed the
suggester (its code or model), which makes every stored row stale. Safe to run
at any time, also while people annotate."""

import time

from django.core.management.base import BaseCommand

from annotations.annotate_data import prepare_text_aids
from annotations.management.projects import add_project_option, chosen_projects


class Command(BaseCommand):
    help = (
        "Compute the annotate screen's text aids of the articles of every project "
        "(or the ones named) that have none or out-of-date ones."
    )

    def add_arguments(self, parser) -> None:
        add_project_option(parser)

    def handle(self, *args, project: list[str], **options) -> None:
        for each in chosen_projects(project):
            started = time.perf_counter()
            prepared = prepare_text_aids(each.articles.all())
            seconds = time.perf_counter() - started
            self.stdout.write(
                f"{each.slug}: prepared the text aids of {prepared} articles "
                f"in {seconds:.1f} s"
            )
