"""The ``--project SLUG`` options the commands share."""

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


def one_project(slug: str | None, *, doing: str) -> Project:
    """The project ``--project SLUG`` names, or the only one there is when none
    is named; several projects and no slug stops the command with their slugs
    (``doing`` says for what: "export", "import suggestions into")."""
    projects = Project.objects.select_related("scheme").order_by("slug")
    if slug:
        project = projects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"no project with slug {slug!r}")
        return project
    found = list(projects[:2])
    if len(found) == 1:
        return found[0]
    if not found:
        raise CommandError(f"there is no project to {doing}")
    slugs = ", ".join(projects.values_list("slug", flat=True))
    raise CommandError(f"several projects exist; choose one with --project ({slugs})")
