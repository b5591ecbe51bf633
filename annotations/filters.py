"""Filters of the work list (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import F, QuerySet

from .models import Article, Project

STATUS_CHOICES = [
    ("not_started", "Not started"),
    ("in_progress", "In progress"),
    ("done", "Done"),
]


class WorkListFilter(django_filters.FilterSet):
    """Filters over ``ArticleQuerySet.work_list_rows`` (``my_done``: an alias there)."""

    title = django_filters.CharFilter(
        field_name="title", lookup_expr="icontains", label="Title"
    )
    project = django_filters.ModelChoiceFilter(
        queryset=Project.objects.none(),
        to_field_name="slug",
        label="Project",
        empty_label="All projects",
    )
    outlet = django_filters.ChoiceFilter(
        choices=[], label="Outlet", empty_label="All outlets"
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES,
        method="filter_status",
        label="My status",
        empty_label="Any status",
    )

    class Meta:
        model = Article
        fields = ["title", "project", "outlet", "status"]

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only the user's own projects are offered (two small queries).
        projects = Project.objects.for_user(user).order_by("name")
        self.filters["project"].queryset = projects
        outlets = (
            Article.objects.for_user(user)
            .exclude(outlet="")
            .order_by("outlet")
            .values_list("outlet", flat=True)
            .distinct()
        )
        self.filters["outlet"].extra["choices"] = [(o, o) for o in outlets]

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "not_started":
            return queryset.filter(my_done=0)
        if value == "in_progress":
            return queryset.filter(my_done__gt=0, my_done__lt=F("annotatable_count"))
        if value == "done":
            return queryset.filter(my_done__gte=F("annotatable_count"))
        return queryset
