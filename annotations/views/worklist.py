"""Work list: the articles of my projects with my and the team's progress.

Fixed number of queries at any page size and on any page: one COUNT, the page's
articles with their queue position (``ArticleQuerySet.work_list_rows``), then my and
the team's progress and my last activity for those 25 articles only
(``Annotation.objects.work_progress``, through ``WorkListTable.page_records``); tested.
"""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from annotations.filters import WorkListFilter
from annotations.models import Article, Assignment
from annotations.tables import WorkListTable


class WorkListView(SingleTableMixin, FilterView):
    table_class = WorkListTable
    filterset_class = WorkListFilter
    template_name = "annotations/work_list.html"
    paginate_by = 25

    def get_queryset(self) -> QuerySet[Article]:
        return Article.objects.work_list_rows(self.request.user)

    def get_table_kwargs(self) -> dict:
        return {"user": self.request.user}

    def get_paginator(self, *args, **kwargs) -> Paginator:
        # ListView's paginator answers 404 for a page out of range; it counts the
        # rows, and the table's paginator takes that count instead of a second COUNT.
        self.list_paginator = super().get_paginator(*args, **kwargs)
        return self.list_paginator

    def get_table_pagination(self, table) -> dict:
        return {
            **super().get_table_pagination(table),
            "paginator_class": partial(
                CountedPaginator, count=lambda: self.list_paginator.count
            ),
        }

    def get_filterset_kwargs(self, filterset_class) -> dict:
        return {
            **super().get_filterset_kwargs(filterset_class),
            "user": self.request.user,
        }

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["has_queue"] = Assignment.objects.filter(
            annotator=self.request.user
        ).exists()
        return context


class CountedPaginator(Paginator):
    """A paginator whose row count comes from ``count()`` (a count made already)."""

    def __init__(self, object_list, per_page, *args, count, **kwargs) -> None:
        super().__init__(object_list, per_page, *args, **kwargs)
        self._count = count

    @cached_property
    def count(self) -> int:
        return self._count()


work_list = WorkListView.as_view()


def continue_work(request: HttpRequest) -> HttpResponse:
    """The global "Continue": my next unlabelled segment, following my queue."""
    article = Article.objects.for_work_list(request.user).unfinished().first()
    if article is None:
        messages.success(request, "Nothing left to label: every article is done.")
        return redirect("annotations:work_list")
    return redirect("annotations:annotate", pk=article.pk)
