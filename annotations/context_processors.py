"""Template context for the navigation: does the user review or manage anywhere?"""

from __future__ import annotations

from functools import cache

from django.http import HttpRequest

from .models import Membership, Role


def team_roles(request: HttpRequest) -> dict:
    """``team_role``: True if the user is a reviewer or manager in some project.

    Lazy (a callable the template calls on first use) and cached for the request:
    one query, and only on pages whose template asks.
    """
    user = getattr(request, "user", None)

    @cache
    def team_role() -> bool:
        if user is None or not user.is_authenticated:
            return False
        if user.is_superuser:
            return True
        return Membership.objects.filter(
            user=user, role__in=[Role.REVIEWER, Role.MANAGER]
        ).exists()

    return {"team_role": team_role}
