"""manage.py setup_demo: default scheme, seed project, demo accounts (DEBUG only)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotations.services import create_demo_accounts, ensure_seed_project, load_scheme


class Command(BaseCommand):
    help = (
        "Load the default label scheme, create the seed project and, with DEBUG on, "
        "the demo accounts admin, annotator1, annotator2 and reviewer "
        "(password from WORKBENCH_DEMO_PASSWORD). Idempotent."
    )

    def handle(self, *args, **options) -> None:
        scheme, created = load_scheme()
        if created:
            self.stdout.write(f"loaded label scheme {scheme.version_label}")
        project = ensure_seed_project()
        if not settings.DEBUG:
            raise CommandError(
                "demo accounts are only created with DEBUG on; create real users "
                "with 'manage.py createsuperuser' and the admin"
            )
        created_users = create_demo_accounts(
            password=settings.DEMO_PASSWORD, project=project
        )
        if created_users:
            self.stdout.write(
                self.style.SUCCESS(f"created demo accounts: {', '.join(created_users)}")
            )
