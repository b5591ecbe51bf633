"""python manage.py recount_progress [--project SLUG]... : recompute the counters of
the annotate screen's project bar (``Membership.labelled_count``).

``save_annotation`` and the admin keep them right; run this after annotations were
deleted or written some other way (raw SQL, a restored dump, a bulk load)."""

from django.core.management.base import BaseCommand

from annotations.management.projects import add_project_option, chosen_projects
from annotations.models import Membership


class Command(BaseCommand):
    help = (
        "Recompute every membership's count of its own annotations "
        "(the annotate screen's project progress), one UPDATE."
    )

    def add_arguments(self, parser) -> None:
        add_project_option(parser)

    def handle(self, *args, project: list[str], **options) -> None:
        memberships = Membership.objects.all()
        if project:
            memberships = memberships.filter(project__in=chosen_projects(project))
        changed = memberships.recount()
        self.stdout.write(f"recounted {changed} memberships")
