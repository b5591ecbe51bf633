"""The Export page: choose what to export, download it at once, get the codebook.

Reviewers and managers export everything of their project. Annotators may export
only their OWN annotations (annotations mode, no agreement figures in the
codebook): blind annotation means they never see other people's labels, and the
majority or gold labels of segments mode are derived from them. Anything else
asked for by an annotator answers 403; non-members get 404 (permissions.py).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from annotations.export import codebook as codebook_writers
from annotations.export import queries, writers
from annotations.export.queries import ExportOptions
from annotations.forms import ExportForm
from annotations.models import Article, Membership, Project
from annotations.permissions import may_see_others, project_for


def _form(request: HttpRequest, project: Project, data=None) -> ExportForm:
    """Two queries: the project's members (with their kept annotation counts) and
    its outlets."""
    members = list(
        Membership.objects.filter(project=project)
        .order_by("user__username")
        .values_list("user__username", "labelled_count")
    )
    outlets = list(
        Article.objects.filter(project=project)
        .exclude(outlet="")
        .order_by("outlet")
        .values_list("outlet", flat=True)
        .distinct()
    )
    return ExportForm(data, project=project, members=members, outlets=outlets)


def _options(request: HttpRequest, form: ExportForm, role: str) -> ExportOptions:
    data = form.cleaned_data
    annotators = data["annotators"] or None
    if not may_see_others(role):
        # Annotators: their own annotations only, never others' or derived labels.
        own = request.user.get_username()
        if data["mode"] != "annotations" or (annotators and annotators != [own]):
            raise PermissionDenied("Annotators can export only their own annotations.")
        annotators = [own]
    return ExportOptions(
        mode=data["mode"],
        articles=form.articles(),
        annotators=annotators,
        include_unlabelled=data["include_unlabelled"],
        pseudonymise=data["pseudonymise"],
    )


def export_page(request: HttpRequest) -> HttpResponse:
    projects = list(Project.objects.for_user(request.user).order_by("name"))
    slug = request.GET.get("project") or (
        projects[0].slug if len(projects) == 1 else ""
    )
    context: dict = {"projects": projects, "project": None}
    if slug:
        project, role = project_for(request.user, slug)
        context.update(_page_context(request, project, role, _form(request, project)))
    return render(request, "annotations/export.html", context)


def _page_context(
    request: HttpRequest, project: Project, role: str, form: ExportForm
) -> dict:
    sees_others = may_see_others(role)
    own = next(
        (count for name, count in form.members if name == request.user.get_username()),
        0,
    )
    return {
        "project": project,
        "role": role,
        "form": form,
        "sees_others": sees_others,
        "scope": queries.export_scope(project),
        "own_annotations": own,
    }


def _invalid_form(
    request: HttpRequest, project: Project, role: str, form: ExportForm
) -> HttpResponse:
    """The export page again with the form's errors (400), never a broken download."""
    context = {"projects": [project], **_page_context(request, project, role, form)}
    return render(request, "annotations/export.html", context, status=400)


def export_download(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for(request.user, slug)
    form = _form(request, project, request.GET)
    if not form.is_valid():
        return _invalid_form(request, project, role, form)
    options = _options(request, form, role)
    choice = form.cleaned_data["format"]
    fmt = "jsonl" if choice == "jsonl" else "csv"
    return export_response(project, options, fmt=fmt, spreadsheet=choice == "csv")


def export_codebook(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for(request.user, slug)
    form = _form(request, project, request.GET)
    if not form.is_valid():
        return _invalid_form(request, project, role, form)
    options = _options(request, form, role)
    fmt = "json" if request.GET.get("codebook") == "json" else "md"
    return codebook_response(
        project, options, fmt=fmt, with_agreement=may_see_others(role)
    )


# ---------------------------------------------------------------------------
# The streamed responses (the page and the admin action share them)
# ---------------------------------------------------------------------------

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}


def export_response(
    project: Project, options: ExportOptions, *, fmt: str, spreadsheet: bool = True
) -> StreamingHttpResponse:
    """A download that starts at once: chunks are produced while the client reads."""
    chunks = queries.export_chunks(project, options, fmt=fmt, spreadsheet=spreadsheet)
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[fmt])
    name = writers.file_name(project.slug, options.mode, fmt, timezone.localdate())
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # Labelled data is private to the project: no shared caches.
    response["Cache-Control"] = "private, no-store"
    return response


def codebook_response(
    project: Project, options: ExportOptions, *, fmt: str = "md", with_agreement: bool
) -> HttpResponse:
    data = queries.codebook(project, options, with_agreement=with_agreement)
    day = timezone.localdate().isoformat()
    if fmt == "json":
        response = HttpResponse(
            codebook_writers.codebook_json(data),
            content_type="application/json; charset=utf-8",
        )
    else:
        response = HttpResponse(
            codebook_writers.codebook_markdown(data),
            content_type="text/markdown; charset=utf-8",
        )
    name = f"{project.slug}_codebook_{day}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
