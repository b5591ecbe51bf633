"""python manage.py load_scheme : the default label scheme as data (idempotent)."""

from django.core.management.base import BaseCommand

from annotations.services import load_scheme


class Command(BaseCommand):
    help = "Create the default label scheme (shared/label-scheme.md) if it is missing."

    def handle(self, *args, **options) -> None:
        scheme, created = load_scheme()
        verb = "created" if created else "already present:"
        self.stdout.write(self.style.SUCCESS(f"{verb} {scheme.version_label}"))
