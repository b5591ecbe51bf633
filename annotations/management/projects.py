"""The ``--project SLUG`` option that maintenance commands share."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db.models import QuerySet

from annotations.models import Project


def add_project_option(parser) -> None:
    parser.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="SLUG",
        help="only this project (repeatable); default: all projects",
    )


def chosen_projects(slugs: list[str]) -> QuerySet[Project]:
    """The projects named by ``--project`` (every project when none is named);
    an unknown slug stops the command before it changes anything."""
    projects = Project.objects.select_related("scheme").order_by("slug")
    if not slugs:
        return projects
    projects = projects.filter(slug__in=slugs)
    missing = sorted(set(slugs) - {project.slug for project in projects})
    if missing:
        raise CommandError(f"no such project: {', '.join(missing)}")
    return projects
