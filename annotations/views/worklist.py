"""Work list: the articles of my projects with my and the team's progress.

Fixed number of queries at any page size: progress, team progress, last activity and
queue position are annotations on the one article query
(``ArticleQuerySet.for_work_list``, tested).
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
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
        return Article.objects.for_work_list(self.request.user)

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


work_list = WorkListView.as_view()


def continue_work(request: HttpRequest) -> HttpResponse:
    """The global "Continue": my next unlabelled segment, following my queue."""
    article = Article.objects.for_work_list(request.user).unfinished().first()
    if article is None:
        messages.success(request, "Nothing left to label: every article is done.")
        return redirect("annotations:work_list")
    return redirect("annotations:annotate", pk=article.pk)
