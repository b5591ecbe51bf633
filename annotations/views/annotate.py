"""The annotate screen: one segment in context, the label panel, save and autocomplete.

Blind annotation: every read here filters ``Annotation`` by ``annotator=request.user``
and ``is_gold=False``; nothing on this screen shows another person's labels.
Each view runs a fixed number of queries whatever the article's length (tested).
"""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from annotations.annotate_data import Mine, outline_texts, screen_payload
from annotations.forms import AnnotationForm
from annotations.models import Article, Segment, Source
from annotations.permissions import article_for, check_role, may_see_others
from annotations.scheme import SchemeIndex
from annotations.services import (
    MAX_SOURCE_CHARS,
    MAX_SOURCE_NAME_CHARS,
    AnnotationRefused,
    StaleRevision,
    save_annotation,
)
from annotations.snapshot import values_from_input
from annotations.views.annotate_html import outline_html, panel_html, scheme_html

SUGGESTION_LIMIT = 15


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def annotate_url(article_id: int, position: int) -> str:
    return reverse("annotations:annotate_segment", args=[article_id, position])


def next_open_position(*, article: Article, annotator, after: int) -> int | None:
    """The next annotatable segment I have not labelled, wrapping round. One query."""
    open_positions = Segment.objects.open_positions(
        article=article, annotator=annotator
    )
    return _next_of(open_positions, after)


def _next_of(open_positions: list[int], after: int) -> int | None:
    later = [position for position in open_positions if position > after]
    return (later or open_positions or [None])[0]


def _article_for_screen(user, pk: int) -> tuple[Article, str]:
    """``article_for`` with all the screen reads beside the segments and my
    labels (``Article.objects.for_annotate_screen``): one query."""
    article = Article.objects.for_annotate_screen(user).filter(pk=pk).order_by().first()
    if article is None:
        raise Http404("No such article.")
    return article, check_role(article.role, article.project)


def _progress(article: Article, user) -> tuple[int, int]:
    """(my labelled segments, annotatable segments) in the article's project: read
    with the article by ``for_annotate_screen``, else one query (the save's
    refusal and conflict pages). A superuser without a membership: a COUNT."""
    if not hasattr(article, "project_total"):
        return article.project.labelled_progress(user)
    done = article.my_labelled
    if done is None:
        done = article.project.labelled_by(user)
    return done, article.project_total


def _progress_after_save(segment: Segment, annotation, user) -> tuple[int, int]:
    """The project progress after a save: read before it with the segment
    (``for_save``), plus one for an annotation the save created (the counter it
    incremented). A superuser without a membership: a COUNT."""
    if segment.my_labelled is None:
        return segment.article.project.labelled_by(user), segment.project_total
    created = annotation.revision == 1
    return segment.my_labelled + created, segment.project_total


def _context(
    request: HttpRequest,
    article: Article,
    position: int | None,
    *,
    role: str,
    posted: dict | None = None,
    errors: list[str] | None = None,
    conflict: dict | None = None,
) -> dict:
    """Everything the page shows, the whole article's payload for annotate.js
    included. Fixed: 4 queries at any article length after
    ``_article_for_screen`` (segments, my annotations, imported suggestions
    when the project offers suggestions, the page's sources); the scheme index
    comes from this process's cache while the project's scheme revision holds."""
    segments = list(article.segments.all())
    if not segments:
        raise Http404("This article has no segments.")
    mine = Mine.load(article=article, annotator=request.user)
    annotatable = [s for s in segments if s.is_annotatable]
    if position is None:
        done = mine.by_segment
        position = next(
            (s.position for s in annotatable if s.pk not in done),
            (annotatable or segments)[0].position,
        )
    current = next((s for s in segments if s.position == position), None)
    if current is None:
        raise Http404("No such segment.")
    index = SchemeIndex.for_project(article.project)
    stored = mine.by_segment.get(current.pk)
    values = posted if posted is not None else (stored["values"] if stored else {})
    revision = stored["revision"] if stored else None
    if conflict is not None:
        # "Keep mine" resubmits against the stored revision.
        revision = conflict["stored_revision"]
    paragraphs: dict[int, list[Segment]] = {}
    # One reverse() and string formatting instead of a {% url %} per segment.
    url_pattern = annotate_url(article.pk, 0)[: -len("0/")]
    for segment in segments:
        segment.state = mine.state(segment)
        segment.url = f"{url_pattern}{segment.position}/"
        outline_texts(segment)
        paragraphs.setdefault(segment.paragraph, []).append(segment)
    order = list(paragraphs)
    at = order.index(current.paragraph)
    before = [s for s in annotatable if s.position < position]
    after = [s for s in annotatable if s.position > position]
    still_open = [s.position for s in annotatable if s.pk not in mine.by_segment]
    next_open = next((p for p in still_open if p > position), None)
    if next_open is None:
        next_open = next((p for p in still_open if p != position), None)
    project_done, project_total = _progress(article, request.user)
    article_done = sum(1 for s in annotatable if s.pk in mine.by_segment)
    extra = {}
    if hasattr(article, "team_role"):
        # Read with the article: the navigation's context processor need not ask.
        extra["team_role"] = article.team_role
    return {
        **extra,
        "article": article,
        "project": article.project,
        "segments": segments,
        "segment": current,
        "context_before": paragraphs[order[at - 1]] if at > 0 else [],
        "paragraph": paragraphs[current.paragraph],
        "context_after": paragraphs[order[at + 1]] if at + 1 < len(order) else [],
        "previous": before[-1] if before else None,
        "next": after[0] if after else None,
        "panel": panel_html(index, values),
        "scheme_html": scheme_html(index),
        "outline": outline_html(segments, position),
        "save_url": reverse(
            "annotations:save_annotation", args=[article.pk, current.position]
        ),
        # The whole article for annotate.js, as JSON in a data attribute (no
        # inline script: CSP).
        "payload_json": json.dumps(
            screen_payload(
                article=article,
                segments=segments,
                mine=mine,
                user=request.user,
                sees_others=may_see_others(role),
                progress=(project_done, project_total),
            ),
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        "revision": revision,
        "errors": errors or [],
        "conflict": conflict,
        "article_done": article_done,
        "article_total": len(annotatable),
        "article_percent": _percent(article_done, len(annotatable)),
        "project_done": project_done,
        "project_total": project_total,
        "project_percent": _percent(project_done, project_total),
        "state": mine.state(current),
        "next_open_url": annotate_url(article.pk, next_open)
        if next_open is not None
        else reverse("annotations:continue"),
        "max_source_name": MAX_SOURCE_NAME_CHARS,
        "max_cue": MAX_SOURCE_CHARS,
    }


def _percent(done: int, total: int) -> int:
    return round(100 * done / total) if total else 0


def _position(request: HttpRequest, position: int | None) -> int | None:
    if position is not None:
        return position
    raw = request.GET.get("segment", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404("No such segment.")
    return int(raw)


@require_GET
@never_cache
def annotate(
    request: HttpRequest, pk: int, position: int | None = None
) -> HttpResponse:
    """The page, or (htmx / annotate.js navigation) only its ``annotate-root`` part.

    Never cached, so Back or a reload shows what the database holds."""
    article, role = _article_for_screen(request.user, pk)
    context = _context(request, article, _position(request, position), role=role)
    template = "annotations/annotate.html"
    if request.htmx:
        template += "#annotate-root"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
def save(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    """Store my labels for one segment: JSON for annotate.js, else a redirect (or
    the page again with the errors) for a plain form post.

    One read before the save's transaction (the segment with its article,
    project and my role); the save itself (``save_annotation``) and, for the
    answer, my open segments of the article and the project progress."""
    segment = (
        Segment.objects.for_save(request.user)
        .filter(article_id=pk, position=position)
        .order_by()
        .first()
    )
    if segment is None:
        raise Http404("No such segment.")
    article = segment.article
    role = check_role(segment.role, article.project)
    form = AnnotationForm(request.POST)
    if not form.is_valid():
        return _refused(request, article, segment, form, _form_errors(form), role)
    payload = form.cleaned_data["payload"]
    try:
        annotation = save_annotation(
            segment=segment,
            annotator=request.user,
            payload=payload,
            expected_revision=form.cleaned_data["revision"],
            member=True,  # check_role above
        )
    except AnnotationRefused as refusal:
        return _refused(request, article, segment, form, refusal.errors, role)
    except StaleRevision as stale:
        return _conflict(request, article, segment, payload, stale.current, role)
    return _saved(request, article, segment, annotation)


def _form_errors(form: AnnotationForm) -> list[str]:
    return [
        f"{name}: {message}" if name != "__all__" else message
        for name, messages in form.errors.items()
        for message in messages
    ]


def _refused(request, article, segment, form, errors: list[str], role) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"status": "refused", "errors": errors}, status=422)
    payload = (
        form.cleaned_data.get("payload") if hasattr(form, "cleaned_data") else None
    )
    posted = values_from_input(payload) if payload else None
    context = _context(
        request, article, segment.position, role=role, posted=posted, errors=errors
    )
    return render(request, "annotations/annotate.html", context, status=422)


def _conflict(request, article, segment, payload, current, role) -> HttpResponse:
    mine = values_from_input(payload)
    conflict = {
        "message": "This segment was changed elsewhere (another tab or window) since "
        "you opened it. Nothing was overwritten.",
        "mine": mine,
        "stored": current.values if current else None,
        "stored_revision": current.revision if current else None,
    }
    if _wants_json(request):
        return JsonResponse({"status": "conflict", **conflict}, status=409)
    context = _context(
        request, article, segment.position, role=role, posted=mine, conflict=conflict
    )
    return render(request, "annotations/annotate.html", context, status=409)


def _saved(request, article, segment, annotation) -> HttpResponse:
    if request.POST.get("go") == "queue" and _wants_json(request):
        return _queued_save_answer(request, article, segment, annotation)
    go_next = request.POST.get("go", "next") == "next"
    open_positions = Segment.objects.open_positions(
        article=article, annotator=request.user
    )
    after = _next_of(open_positions, segment.position)
    if go_next:
        next_url = (
            annotate_url(article.pk, after)
            if after is not None
            else reverse("annotations:continue")
        )
    else:
        next_url = annotate_url(article.pk, segment.position)
    if not _wants_json(request):
        return redirect(next_url, permanent=False)
    project_done, project_total = _progress_after_save(
        segment, annotation, request.user
    )
    # Annotations exist of annotatable segments only (save_annotation refuses
    # the others): the labelled ones are those not open.
    article_done = article.annotatable_count - len(open_positions)
    return JsonResponse(
        {
            "status": "saved",
            "revision": annotation.revision,
            "position": segment.position,
            "state": "unsure" if annotation.unsure else "labelled",
            "next_url": next_url,
            "article_complete": after is None,
            "article_done": article_done,
            "article_total": article.annotatable_count,
            "project_done": project_done,
            "project_total": project_total,
        }
    )


def _queued_save_answer(request, article, segment, annotation) -> JsonResponse:
    """The answer to annotate.js's background queue: the page already knows the
    article (where to go next, its progress), so only the new revision and the
    project bar. No query after the save."""
    project_done, project_total = _progress_after_save(
        segment, annotation, request.user
    )
    return JsonResponse(
        {
            "status": "saved",
            "revision": annotation.revision,
            "position": segment.position,
            "state": "unsure" if annotation.unsure else "labelled",
            "project_done": project_done,
            "project_total": project_total,
        }
    )


@require_GET
def source_suggestions(request: HttpRequest, pk: int) -> JsonResponse:
    """Names and aliases of the project's sources matching ``q`` that this user may
    see (``Source.objects.suggestable``: never a name only other annotators typed).
    One query after the permission check; a project's list is small."""
    article, role = article_for(request.user, pk)
    query = request.GET.get("q", "").strip().casefold()[:100]
    sources = Source.objects.suggestable(
        project=article.project, user=request.user, sees_others=may_see_others(role)
    ).only("name", "aliases")
    names = {
        spelling
        for source in sources
        for spelling in [source.name, *source.aliases]
        if isinstance(spelling, str) and query in spelling.casefold()
    }
    return JsonResponse({"names": sorted(names)[:SUGGESTION_LIMIT]})
