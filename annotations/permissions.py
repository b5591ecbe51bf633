"""Who may see and do what in a project. Every view goes through these functions.

Roles: an annotator labels and sees only their own work; a reviewer also sees
everyone's labels and adjudicates; a manager also assigns, configures and exports.
Superusers may do everything. Objects of projects the user is not a member of answer
404 (their existence is not revealed); a member whose role is too low gets 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Article, LabelScheme, Membership, Project, Role

ROLE_RANK = {Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.MANAGER: 3}


def role_in(user, project: Project) -> str | None:
    """The user's role in the project (superusers count as managers). One query."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.MANAGER
    return (
        Membership.objects.filter(project=project, user=user)
        .values_list("role", flat=True)
        .first()
    )


def has_role(user, project: Project, minimum: str) -> bool:
    role = role_in(user, project)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


def require_role(user, project: Project, minimum: str = Role.ANNOTATOR) -> str:
    """Return the user's role, or 404 for non-members and 403 for a too-low role."""
    return check_role(role_in(user, project), project, minimum)


def check_role(
    role: str | None, project: Project, minimum: str = Role.ANNOTATOR
) -> str:
    """``require_role`` for a role read with the object itself
    (``Membership.objects.role_of`` in the same query): no query."""
    if role is None:
        raise Http404("No such project.")
    if ROLE_RANK[role] < ROLE_RANK[minimum]:
        raise PermissionDenied(f"This needs the {minimum} role in {project.name}.")
    return role


def project_for(user, slug: str, minimum: str = Role.ANNOTATOR) -> tuple[Project, str]:
    """The project by slug with the user's role; 404 unless a member."""
    project = Project.objects.select_related("scheme").filter(slug=slug).first()
    if project is None:
        raise Http404("No such project.")
    return project, require_role(user, project, minimum)


def article_for(user, pk: int, minimum: str = Role.ANNOTATOR) -> tuple[Article, str]:
    """The article (with project and scheme) and the user's role; 404 for others."""
    article = Article.objects.select_related("project__scheme").filter(pk=pk).first()
    if article is None:
        raise Http404("No such article.")
    return article, require_role(user, article.project, minimum)


def may_see_others(role: str | None) -> bool:
    """Blind annotation: only reviewers and managers see other people's labels."""
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[Role.REVIEWER]


def managed_project_ids(user) -> set[int]:
    """Ids of the projects the user manages (superusers: every project). One query.

    The admin scopes every page of project data by this set.
    """
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(Project.objects.values_list("pk", flat=True))
    managed = Membership.objects.filter(user=user, role=Role.MANAGER)
    return set(managed.values_list("project_id", flat=True))


def editable_scheme_ids(managed_projects: set[int]) -> set[int]:
    """Ids of the label schemes that the manager of ``managed_projects`` may change.

    Schemes are shared between projects: a manager may change one only if every
    project using it is one they manage (an unused scheme has no such project).
    Pass ``managed_project_ids(user)``; managing nothing allows nothing. One query.
    """
    if not managed_projects:
        return set()
    foreign = Project.objects.exclude(pk__in=managed_projects).exclude(scheme=None)
    schemes = LabelScheme.objects.exclude(pk__in=foreign.values("scheme_id"))
    return set(schemes.values_list("pk", flat=True))
