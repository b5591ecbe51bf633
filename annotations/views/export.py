"""The Export page: choose what to export, download it at once, get the codebook.

Reviewers and managers export everything of their project. Annotators may export
only their OWN annotations (annotations mode, no agreement figures in the
codebook): blind annotation means they never see other people's labels, and the
majority or gold labels of segments mode are derived from them. Anything else
asked for by an annotator answers 403; non-members get 404 (permissions.py).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotations import exporting
from annotations.models import Article, Membership, Project
from annotations.permissions import may_see_others, project_for

MODE_CHOICES = [
    ("annotations", "Annotations: one row per segment and annotator"),
    ("segments", "Segments: one row per segment, gold or majority label"),
]
FORMAT_CHOICES = [
    ("csv", "CSV for spreadsheets (UTF-8 with BOM, formulas neutralised)"),
    ("csv-raw", "CSV, raw values (for scripts and pandas)"),
    ("jsonl", "JSONL (one JSON object per line, raw values)"),
]


class ExportForm(forms.Form):
    # Radio buttons, not selects: every choice and what it means is visible at once.
    mode = forms.ChoiceField(
        choices=MODE_CHOICES, initial="annotations", widget=forms.RadioSelect
    )
    format = forms.ChoiceField(
        choices=FORMAT_CHOICES, initial="csv", widget=forms.RadioSelect
    )
    annotators = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: everyone.",
    )
    outlet = forms.ChoiceField(required=False)
    title = forms.CharField(required=False, max_length=200, label="Title contains")
    published_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    published_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    include_unlabelled = forms.BooleanField(
        required=False,
        label_suffix="",
        label="Include unlabelled segments (boilerplate too: the "
        "article text can be rebuilt from the rows)",
    )
    pseudonymise = forms.BooleanField(
        required=False,
        label_suffix="",
        label="Pseudonymise annotators (stable ann_… names)",
    )

    def __init__(
        self,
        *args,
        project: Project,
        members: list[tuple[str, int]],
        outlets: list[str],
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.members = members
        self.fields["annotators"].choices = [
            (name, f"{name} · {count:,} annotation{'' if count == 1 else 's'}")
            for name, count in members
        ]
        self.fields["outlet"].choices = [("", "All outlets")] + [
            (outlet, outlet) for outlet in outlets
        ]

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("published_from"), data.get("published_to")
        if start and end and start > end:
            raise forms.ValidationError("“Published from” is after “published to”.")
        return data

    def articles(self):
        """The articles chosen by the filters; None when no filter is set (all)."""
        data = self.cleaned_data
        filters = {}
        if data.get("outlet"):
            filters["outlet"] = data["outlet"]
        if data.get("title"):
            filters["title__icontains"] = data["title"]
        if data.get("published_from"):
            filters["published__gte"] = data["published_from"]
        if data.get("published_to"):
            filters["published__lte"] = data["published_to"]
        return (
            Article.objects.filter(project=self.project, **filters) if filters else None
        )


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


def _options(
    request: HttpRequest, form: ExportForm, role: str
) -> exporting.ExportOptions:
    data = form.cleaned_data
    annotators = data["annotators"] or None
    if not may_see_others(role):
        # Annotators: their own annotations only, never others' or derived labels.
        own = request.user.get_username()
        if data["mode"] != "annotations" or (annotators and annotators != [own]):
            raise PermissionDenied("Annotators can export only their own annotations.")
        annotators = [own]
    return exporting.ExportOptions(
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
        (
            count
            for name, count in form.members
            if name == request.user.get_username()
        ),
        0,
    )
    return {
        "project": project,
        "role": role,
        "form": form,
        "sees_others": sees_others,
        "scope": exporting.export_scope(project),
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
    return exporting.export_response(
        project, options, fmt=fmt, spreadsheet=choice == "csv"
    )


def export_codebook(request: HttpRequest, slug: str) -> HttpResponse:
    project, role = project_for(request.user, slug)
    form = _form(request, project, request.GET)
    if not form.is_valid():
        return _invalid_form(request, project, role, form)
    options = _options(request, form, role)
    fmt = "json" if request.GET.get("codebook") == "json" else "md"
    return exporting.codebook_response(
        project, options, fmt=fmt, with_agreement=may_see_others(role)
    )
