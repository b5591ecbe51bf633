"""Work list: the articles of my projects with my and the team's progress.

Fixed number of queries at any page size: progress, team progress, last activity and
queue position are annotations on the one article query (tested).
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import (
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from annotations.filters import WorkListFilter
from annotations.models import Annotation, Article, Assignment
from annotations.tables import WorkListTable


def _per_article(annotations: QuerySet[Annotation], aggregate) -> Subquery:
    """One value per article from its annotations, as a correlated subquery."""
    return Subquery(
        annotations.filter(article=OuterRef("pk"))
        .order_by()
        .values("article")
        .annotate(value=aggregate)
        .values("value")
    )


def articles_for(user) -> QuerySet[Article]:
    """My projects' articles with ``my_done``, ``team_done``, ``last_activity`` and
    ``queue_position`` (None unless assigned to me), queue first. One query.

    Every column is a correlated subquery, none a join: joined annotations with
    Count/Max made PostgreSQL group 300,000 rows, evaluate the subqueries per row
    and do it all again for the paginator's COUNT (61 s). Now the page costs one
    index lookup per shown article and the COUNT is a plain count of articles."""
    mine = Annotation.objects.own().filter(annotator=user)
    queue = Assignment.objects.filter(article=OuterRef("pk"), annotator=user).values(
        "position"
    )[:1]
    return (
        Article.objects.for_user(user)
        .select_related("project")
        .annotate(
            my_done=Coalesce(
                _per_article(mine, Count("pk")), 0, output_field=IntegerField()
            ),
            last_activity=_per_article(mine, Max("updated_at")),
            team_done=Coalesce(
                _per_article(Annotation.objects.own(), Count("segment", distinct=True)),
                0,
                output_field=IntegerField(),
            ),
            queue_position=Subquery(queue, output_field=IntegerField()),
        )
        .order_by(
            # Assigned articles first, in queue order; then by project and import.
            F("queue_position").asc(nulls_last=True),
            "project__name",
            "pk",
        )
    )


class WorkListView(SingleTableMixin, FilterView):
    table_class = WorkListTable
    filterset_class = WorkListFilter
    template_name = "annotations/work_list.html"
    paginate_by = 25

    def get_queryset(self) -> QuerySet[Article]:
        return articles_for(self.request.user)

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


def next_article(user) -> Article | None:
    """The first article (queue order) I have not finished. One query."""
    return (
        articles_for(user)
        .filter(annotatable_count__gt=0)
        .exclude(my_done__gte=F("annotatable_count"))
        .first()
    )


def continue_work(request: HttpRequest) -> HttpResponse:
    """The global "Continue": my next unlabelled segment, following my queue."""
    article = next_article(request.user)
    if article is None:
        messages.success(request, "Nothing left to label: every article is done.")
        return redirect("annotations:work_list")
    return redirect("annotations:annotate", pk=article.pk)
