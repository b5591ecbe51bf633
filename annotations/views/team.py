"""Team pages: manager dashboard and assignment, agreement, review and adjudication.

Every view checks the role first (``permissions``): non-members get 404, members
with a too-low role 403. Reads come from ``team`` with a fixed number of queries.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from annotations import team
from annotations.models import Annotation, Article, Membership, Project, Role, Segment
from annotations.permissions import ROLE_RANK, article_for, project_for
from annotations.services import (
    AnnotationInput,
    AnnotationRefused,
    AttributionInput,
    SchemeIndex,
    StaleRevision,
    StanceInput,
)
from annotations.team_tables import AnnotatorProgressTable, ArticleProgressTable

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
    people = AnnotatorProgressTable(team.annotator_progress(project), prefix="p-")
    articles = ArticleProgressTable(
        team.article_progress(project),
        done=team.done_per_assignment(project),
        disagreements=team.disagreements_per_article(project),
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


class AssignForm(forms.Form):
    MODE_CHOICES = [
        ("auto", "Automatically: each article by k of the chosen annotators, balanced"),
        ("hand", "By hand: every chosen annotator gets every chosen article"),
    ]
    mode = forms.ChoiceField(
        choices=MODE_CHOICES, initial="auto", widget=forms.RadioSelect
    )
    overlap = forms.IntegerField(
        min_value=1,
        max_value=50,
        initial=2,
        required=False,
        help_text="k: how many annotators label each article.",
    )
    annotators = forms.ModelMultipleChoiceField(
        queryset=Membership.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    all_articles = forms.BooleanField(
        required=False, label="All articles of the project (ignores the selection)"
    )
    articles = forms.ModelMultipleChoiceField(
        queryset=Article.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["annotators"].queryset = (
            Membership.objects.filter(project=project)
            .select_related("user")
            .order_by("user__username")
        )
        self.fields["annotators"].label_from_instance = lambda m: (
            f"{m.user.username} ({m.role})"
        )
        self.fields["articles"].queryset = Article.objects.filter(project=project)
        if not kwargs.get("data"):
            self.fields["overlap"].initial = project.overlap

    def clean(self) -> dict:
        data = super().clean()
        chosen = data.get("annotators") or []
        if data.get("mode") == "auto":
            overlap = data.get("overlap")
            if overlap is None:
                self.add_error("overlap", "Give k, the annotators per article.")
            elif chosen and overlap > len(chosen):
                self.add_error(
                    "overlap", f"k can be at most the {len(chosen)} annotators chosen."
                )
        else:
            data["overlap"] = len(chosen)
        if not data.get("all_articles") and not data.get("articles"):
            self.add_error("articles", "Choose articles, or tick 'All articles'.")
        return data


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
            created = team.assign_articles(
                project=project,
                articles=articles,
                annotators=[m.user for m in data["annotators"]],
                overlap=data["overlap"],
                assigned_by=request.user,
            )
        except team.AssignmentRefused as refusal:
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
    result = team.cached_project_agreement(project)
    dimensions = [
        (item, *result.pairwise_matrix(item), item.confusion_rows())
        for item in result.dimensions
    ]
    return render(
        request,
        "annotations/team_agreement.html",
        {"project": project, "role": role, "result": result, "dimensions": dimensions},
    )


# ---------------------------------------------------------------------------
# Review and adjudication (reviewers and managers)
# ---------------------------------------------------------------------------


def review_list(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for(request.user, slug, Role.REVIEWER)
    articles = ArticleProgressTable(
        team.review_articles(project),
        done=team.done_per_assignment(project),
        disagreements=team.disagreements_per_article(project),
    )
    RequestConfig(request, paginate={"per_page": 50}).configure(articles)
    return render(
        request,
        "annotations/team_review_list.html",
        {"project": project, "role": role, "articles": articles},
    )


def _review_context(article: Article, role: str, items, index: SchemeIndex) -> dict:
    specs = team.dimension_specs(index)
    return {
        "article": article,
        "project": article.project,
        "role": role,
        "items": items,
        "specs": specs,
        "is_manager": ROLE_RANK[role] >= ROLE_RANK[Role.MANAGER],
    }


def _editing(items: list[team.ReviewSegment], wanted: int | None) -> None:
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
    items = team.review_segments(article, index=index)
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
    items = team.review_segments(article, index=index, segment_ids=[segment_pk])
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
    (item,) = team.review_segments(article, index=index, segment_ids=[segment.pk])
    item.editing = True
    error, status = "", 200
    try:
        team.adjudicate_segment(
            segment=segment,
            reviewer=request.user,
            payload=gold_input(request.POST, item),
            expected_revision=_int(request.POST.get("revision")),
            index=index,
        )
    except AnnotationRefused as refusal:
        error, status = "; ".join(refusal.errors), 422
        keep_choices(item, request.POST)
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
        (item,) = team.review_segments(article, index=index, segment_ids=[segment.pk])
        item.editing = True
    context = _review_context(article, role, [item], index)
    context.update(item=item, error=error, saved=not error)
    template = "annotations/team_review.html"
    if request.htmx:
        template += "#segment"
    else:
        context["items"] = [
            item if other.segment.pk == segment.pk else other
            for other in team.review_segments(article, index=index)
        ]
        context["error_segment"] = segment.pk
    return render(request, template, context, status=status)


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def gold_input(post, item: team.ReviewSegment) -> AnnotationInput:
    """The reviewer's choices as an ``AnnotationInput``; unknown codes are left to
    ``save_annotation`` to refuse. Sources (attributions, and stances held by them)
    are taken over from the annotation the reviewer picked under "Sources from"."""
    labels: dict[str, tuple[str, ...]] = {}
    stances: list[StanceInput] = []
    for group in item.groups:
        spec = group.spec
        if spec.target:
            polarity = post.get(group.field_name, team.NO_STANCE)
            if polarity and polarity != team.NO_STANCE:
                stances.append(StanceInput(target=spec.target, polarity=polarity))
        elif spec.multi:
            codes = tuple(post.getlist(group.field_name))
            if codes:
                labels[spec.dimension] = codes
        elif post.get(group.field_name):
            labels[spec.dimension] = (post[group.field_name],)
    base = _sources_from(post.get("sources", ""), item)
    values = base.values if base is not None else {}
    attributions = tuple(
        AttributionInput(
            source_text=a.get("source_text", ""),
            source_type=a.get("source_type", ""),
            form=a.get("form", ""),
            cue_text=a.get("cue_text", ""),
            source_span=tuple(a["source_span"]) if a.get("source_span") else None,
            cue_spans=tuple(tuple(span) for span in a.get("cue_spans", ())),
        )
        for a in values.get("attributions", ())
    )
    stances += [
        StanceInput(target=s["target"], polarity=s["polarity"], holder=s["holder"])
        for s in values.get("stances", ())
        if s.get("holder") is not None
    ]
    primary = {
        dimension: code
        for dimension, code in values.get("primary", {}).items()
        if code in labels.get(dimension, ())
    }
    return AnnotationInput(
        labels=labels,
        primary=primary,
        attributions=attributions,
        stances=tuple(stances),
        unsure=bool(post.get("unsure")),
        comment=post.get("comment", "").strip(),
    )


def _sources_from(choice: str, item: team.ReviewSegment) -> Annotation | None:
    if choice == "gold":
        return item.gold
    if choice == "none":
        return None
    wanted = _int(choice) or item.base_id
    return next((a for a in item.own if a.pk == wanted), None)


def keep_choices(item: team.ReviewSegment, post) -> None:
    """After a refused save, show what the reviewer had chosen, not the majority."""
    for group in item.groups:
        chosen = set(post.getlist(group.field_name))
        for choice in group.choices:
            choice.checked = choice.code in chosen
