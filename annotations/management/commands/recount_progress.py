"""python manage.py recount_progress [--project SLUG]... : recompute the counters of
the annotate screen's project bar (``Membership.labelled_count``).

``save_annotation`` and the admin keep them right; run this after annotations were
deleted or written some other way (raw SQL, a restored dump, a bulk load)."""

from django.core.management.base import BaseCommand, CommandError

from annotations.models import Membership, Project


class Command(BaseCommand):
    help = (
        "Recompute every membership's count of its own annotations "
        "(the annotate screen's project progress), one UPDATE."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            metavar="SLUG",
            help="only this project (repeatable); default: all projects",
        )

    def handle(self, *args, project: list[str], **options) -> None:
        memberships = Membership.objects.all()
        if project:
            found = set(
                Project.objects.filter(slug__in=project).values_list("slug", flat=True)
            )
            missing = sorted(set(project) - found)
            if missing:
                raise CommandError(f"no such project: {', '.join(missing)}")
            memberships = memberships.filter(project__slug__in=project)
        changed = memberships.recount()
        self.stdout.write(f"recounted {changed} memberships")
