"""Team pages: manager dashboard and assignment, agreement, review and adjudication.

Every view checks the role first (``permissions``): non-members get 404, members
with a too-low role 403. Reads come from the models' named QuerySets, ``review``
and ``ratings`` with a fixed number of queries; writes from ``services``.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from annotations import ratings, services
from annotations import review as review_data
from annotations.forms import AssignForm, ReviewForm
from annotations.models import Annotation, Article, Membership, Project, Role, Segment
from annotations.permissions import ROLE_RANK, article_for, project_for
from annotations.scheme import SchemeIndex
from annotations.services import AnnotationRefused, StaleRevision
from annotations.tables import AnnotatorProgressTable, ArticleProgressTable

# ---------------------------------------------------------------------------
# Index, dashboard, assignment (managers)
# ---------------------------------------------------------------------------


def team_index(request: HttpRequest) -> HttpResponse:
    """The projects in which the user reviews or manages (superusers: all)."""
    if request.user.is_superuser:
        rows = [(p, Role.MANAGER) for p in Project.objects.all()]
    else:
        rows = [
            (m.project, m.role)
            for m in Membership.objects.filter(
                user=request.user, role__in=[Role.REVIEWER, Role.MANAGER]
            ).select_related("project")
        ]
    return render(request, "annotations/team_index.html", {"rows": rows})


def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for(request.user, slug, Role.MANAGER)
    people = AnnotatorProgressTable(
        Membership.objects.with_progress(project), prefix="p-"
    )
    articles = ArticleProgressTable(
        Article.objects.with_team_progress(project),
        done=Annotation.objects.done_per_assignment(project),
        disagreements=review_data.disagreements_per_article(project),
        prefix="a-",
    )
    config = RequestConfig(request, paginate={"per_page": 50})
    config.configure(people)
    config.configure(articles)
    return render(
        request,
        "annotations/team_dashboard.html",
        {"project": project, "role": role, "people": people, "articles": articles},
    )


def assign(request: HttpRequest, slug: str) -> HttpResponse:
    project, _role = project_for(request.user, slug, Role.MANAGER)
    form = AssignForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        articles = list(
            Article.objects.filter(project=project)
            if data["all_articles"]
            else data["articles"].order_by("pk")
        )
        try:
            created = services.assign_articles(
                project=project,
                articles=articles,
                annotators=[m.user for m in data["annotators"]],
                overlap=data["overlap"],
                assigned_by=request.user,
            )
        except services.AssignmentRefused as refusal:
            for error in refusal.errors:
                form.add_error(None, error)
        else:
            messages.success(request, f"{len(created)} new assignment(s).")
            return redirect("annotations:team_dashboard", slug=project.slug)
    status = 422 if form.errors else 200
    return render(
        request,
        "annotations/team_assign.html",
        {"project": project, "form": form},
        status=status,
    )


# ---------------------------------------------------------------------------
# Agreement (reviewers and managers)
# ---------------------------------------------------------------------------


def agreement_page(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for(request.user, slug, Role.REVIEWER)
    result = ratings.cached_project_agreement(project)
    dimensions = [
        (
            item,
            *result.pairwise_matrix(item),
            item.confusion_rows() if item.has_confusion else [],
        )
        for item in result.dimensions
    ]
    spans = [(figure, figure.pair_rows(result.coders)) for figure in result.spans]
    return render(
        request,
        "annotations/team_agreement.html",
        {
            "project": project,
            "role": role,
            "result": result,
            "dimensions": dimensions,
            "spans": spans,
        },
    )


# ---------------------------------------------------------------------------
# Review and adjudication (reviewers and managers)
# ---------------------------------------------------------------------------


def review_list(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for(request.user, slug, Role.REVIEWER)
    articles = ArticleProgressTable(
        Article.objects.for_review(project),
        done=Annotation.objects.done_per_assignment(project),
        disagreements=review_data.disagreements_per_article(project),
    )
    RequestConfig(request, paginate={"per_page": 50}).configure(articles)
    return render(
        request,
        "annotations/team_review_list.html",
        {"project": project, "role": role, "articles": articles},
    )


def _review_context(article: Article, role: str, items, index: SchemeIndex) -> dict:
    specs = index.specs()
    return {
        "article": article,
        "project": article.project,
        "role": role,
        "items": items,
        "specs": specs,
        "choices": review_data.attribution_choices(index),
        "is_manager": ROLE_RANK[role] >= ROLE_RANK[Role.MANAGER],
    }


def _editing(items: list[review_data.ReviewSegment], wanted: int | None) -> None:
    """Mark the one segment whose form the page draws: ``?segment=<pk>`` if it is
    annotatable, else the first disagreement without gold (where Enter starts)."""
    candidates = [item for item in items if item.annotatable]
    chosen = next((i for i in candidates if i.segment.pk == wanted), None) or next(
        (i for i in candidates if i.disagree and i.gold is None), None
    )
    if chosen is not None:
        chosen.editing = True


def review(request: HttpRequest, pk: int) -> HttpResponse:
    """Every segment's comparison; the adjudication form of one segment only (see
    ``_editing``): the others load theirs from ``review_segment`` when focused, or,
    without JavaScript, through their "Adjudicate" link (``?segment=<pk>``)."""
    article, role = article_for(request.user, pk, Role.REVIEWER)
    index = SchemeIndex.for_project(article.project)
    items = review_data.review_segments(article, index=index)
    _editing(items, _int(request.GET.get("segment")))
    context = _review_context(article, role, items, index)
    context["n_disagree"] = sum(item.disagree and item.gold is None for item in items)
    context["n_gold"] = sum(item.gold is not None for item in items)
    return render(request, "annotations/team_review.html", context)


@require_GET
def review_segment(request: HttpRequest, pk: int, segment_pk: int) -> HttpResponse:
    """One segment with its adjudication form (the page's ``segment`` partial), for
    review.js when the reviewer moves to a segment. Reviewer role; 404 for a
    segment of another article or one that is not annotatable. Same queries as the
    review page at any article length."""
    article, role = article_for(request.user, pk, Role.REVIEWER)
    index = SchemeIndex.for_project(article.project)
    items = review_data.review_segments(article, index=index, segment_ids=[segment_pk])
    if not items or not items[0].annotatable:
        raise Http404("no such segment to adjudicate")
    (item,) = items
    item.editing = True
    context = _review_context(article, role, items, index)
    context["item"] = item
    return render(request, "annotations/team_review.html#segment", context)


@require_POST
def review_save(request: HttpRequest, pk: int, segment_pk: int) -> HttpResponse:
    """Save one segment's gold; htmx gets the segment back, a plain post a redirect."""
    article, role = article_for(request.user, pk, Role.REVIEWER)
    segment = get_object_or_404(
        Segment.objects.annotatable(), pk=segment_pk, article=article
    )
    segment.article = article  # the project and scheme are loaded already
    index = SchemeIndex.for_project(article.project)
    (item,) = review_data.review_segments(
        article, index=index, segment_ids=[segment.pk]
    )
    item.editing = True
    error, status = "", 200
    form = ReviewForm(request.POST, item=item)
    form.is_valid()  # every field takes any text: the service judges the codes
    try:
        services.adjudicate_segment(
            segment=segment,
            reviewer=request.user,
            payload=form.payload(),
            expected_revision=form.cleaned_data["revision"],
            index=index,
        )
    except AnnotationRefused as refusal:
        error, status = "; ".join(refusal.errors), 422
        form.keep_choices()
    except StaleRevision:
        error, status = (
            (
                "Another reviewer saved this segment meanwhile; their gold is "
                "shown now. Check it and save again."
            ),
            409,
        )
    if not request.htmx and not error:
        return redirect(
            reverse("annotations:review", args=[article.pk]) + f"#seg-{segment.pk}"
        )
    if not error or status == 409:
        (item,) = review_data.review_segments(
            article, index=index, segment_ids=[segment.pk]
        )
        item.editing = True
    context = _review_context(article, role, [item], index)
    context.update(item=item, error=error, saved=not error)
    template = "annotations/team_review.html"
    if request.htmx:
        template += "#segment"
    else:
        context["items"] = [
            item if other.segment.pk == segment.pk else other
            for other in review_data.review_segments(article, index=index)
        ]
        context["error_segment"] = segment.pk
    return render(request, template, context, status=status)


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None
