"""The Django admin, for managers: projects, people, schemes, corpus, annotations.

Every changelist renders in a fixed number of queries: foreign keys in
``list_display`` are in ``list_select_related``, counts come from ``annotate``.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from .exporting import ExportOptions, export_response
from .models import (
    Annotation,
    Article,
    Assignment,
    Dimension,
    Label,
    LabelScheme,
    Membership,
    Project,
    Role,
    Segment,
    Source,
    StanceTarget,
)
from .permissions import has_role
from .services import import_file
from .team import values_changes, values_summary


def admin_link(obj, label: str | None = None) -> str:
    if obj is None:
        return "–"
    url = reverse(f"admin:annotations_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


# ---------------------------------------------------------------------------
# Projects and people
# ---------------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class StanceTargetInline(admin.TabularInline):
    model = StanceTarget
    extra = 0
    fields = ["order", "code", "name", "question", "key", "active"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "language",
        "scheme",
        "article_count",
        "member_count",
    ]
    list_select_related = ["scheme"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, StanceTargetInline]
    filter_horizontal = ["optional_dimensions"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                article_total=Count("articles", distinct=True),
                member_total=Count("memberships", distinct=True),
            )
        )

    @admin.display(description="articles", ordering="article_total")
    def article_count(self, project: Project) -> int:
        return project.article_total

    @admin.display(description="members", ordering="member_total")
    def member_count(self, project: Project) -> int:
        return project.member_total


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_select_related = ["user", "project"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__name"]
    autocomplete_fields = ["user", "project"]


@admin.register(StanceTarget)
class StanceTargetAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "project", "key", "order", "active"]
    list_select_related = ["project"]
    list_filter = ["project", "active"]
    search_fields = ["name", "code"]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "source_type", "aliases", "attribution_count"]
    list_select_related = ["project", "source_type"]
    list_filter = ["project"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(uses=Count("attributions"))

    @admin.display(description="uses", ordering="uses")
    def attribution_count(self, source: Source) -> int:
        return source.uses


# ---------------------------------------------------------------------------
# Label schemes
# ---------------------------------------------------------------------------


class DimensionInline(admin.TabularInline):
    model = Dimension
    extra = 0
    fields = [
        "order",
        "code",
        "role",
        "name_en",
        "name_de",
        "kind",
        "required",
        "active",
        "off_by_default",
        "allows_primary",
    ]
    show_change_link = True


@admin.register(LabelScheme)
class LabelSchemeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "version", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [DimensionInline]


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0
    fields = ["order", "code", "key", "name_en", "name_de", "definition", "active"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Labels in use are deactivated, never deleted (checked per label below).
        return False


@admin.register(Dimension)
class DimensionAdmin(admin.ModelAdmin):
    list_display = ["name_en", "code", "scheme", "role", "kind", "required", "active"]
    list_select_related = ["scheme"]
    list_filter = ["scheme", "role", "active"]
    inlines = [LabelInline]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name_en",
        "name_de",
        "dimension",
        "key",
        "order",
        "active",
        "use_count",
    ]
    list_select_related = ["dimension__scheme"]
    list_filter = ["dimension__scheme", "dimension", "active"]
    search_fields = ["code", "name_en", "name_de"]
    actions = ["deactivate", "activate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(use_total=Count("uses"))

    @admin.display(description="uses", ordering="use_total")
    def use_count(self, label: Label) -> int:
        return label.use_total

    def has_delete_permission(
        self, request: HttpRequest, obj: Label | None = None
    ) -> bool:
        if obj is not None and obj.uses.exists():
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        in_use = queryset.filter(uses__isnull=False).distinct()
        if in_use.exists():
            self.message_user(
                request,
                "Labels in use cannot be deleted; deactivate them instead: "
                + ", ".join(str(label) for label in in_use),
                messages.ERROR,
            )
            return
        super().delete_queryset(request, queryset)

    @admin.action(description="Deactivate selected labels (keeps existing annotations)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.message_user(
            request, f"Deactivated {queryset.update(active=False)} labels."
        )

    @admin.action(description="Activate selected labels")
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.message_user(request, f"Activated {queryset.update(active=True)} labels.")


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------


class SegmentInline(admin.TabularInline):
    model = Segment
    extra = 0
    ordering = ["position"]
    fields = ["position", "kind", "paragraph", "start", "end", "text"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class ImportArticlesForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    files = MultipleFileField(
        help_text=".txt/.md (one article per file), .jsonl/.csv (one article per row)"
    )


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "project",
        "outlet",
        "published",
        "segment_count",
        "annotation_count",
        "imported_at",
        "source_file",
    ]
    list_select_related = ["project"]
    list_filter = ["project", "outlet", "language"]
    search_fields = ["title", "byline", "outlet", "source_file"]
    date_hierarchy = "imported_at"
    readonly_fields = [
        "text",
        "content_hash",
        "source_file",
        "imported_at",
        "imported_by",
        "segment_count",
        "annotatable_count",
    ]
    inlines = [SegmentInline]
    change_list_template = "admin/annotations/article/change_list.html"
    actions = ["export_csv"]

    @admin.action(description="Export selected articles (CSV)")
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        """The same streamed export as the Export page (annotations mode, CSV for
        spreadsheets), limited to the selected articles of one project."""
        project_ids = set(queryset.order_by().values_list("project_id", flat=True))
        if len(project_ids) != 1:
            self.message_user(
                request,
                "Select articles of one project to export "
                "(the columns depend on the project's scheme).",
                messages.ERROR,
            )
            return None
        project = Project.objects.select_related("scheme").get(pk=project_ids.pop())
        if not has_role(request.user, project, Role.REVIEWER):
            self.message_user(
                request,
                f"Exporting {project.name} needs the reviewer or manager role in it.",
                messages.ERROR,
            )
            return None
        articles = Article.objects.filter(pk__in=queryset.order_by().values("pk"))
        return export_response(project, ExportOptions(articles=articles), fmt="csv")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                annotation_total=Count(
                    "annotations", filter=Q(annotations__is_gold=False)
                )
            )
        )

    @admin.display(description="annotations", ordering="annotation_total")
    def annotation_count(self, article: Article) -> int:
        return article.annotation_total

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="annotations_article_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return redirect("admin:annotations_article_changelist")
        form = ImportArticlesForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            project = form.cleaned_data["project"]
            limit = settings.IMPORT_MAX_FILE_BYTES
            for upload in form.cleaned_data["files"]:
                if upload.size > limit:
                    # Refused before read(): an oversized upload never enters memory.
                    self.message_user(
                        request,
                        f"{upload.name}: the file has {upload.size:,} bytes; "
                        f"the limit is {limit:,}",
                        messages.ERROR,
                    )
                    continue
                result = import_file(
                    project=project,
                    name=upload.name,
                    data=upload.read(),
                    user=request.user,
                )
                if not result.ok:
                    self.message_user(request, result.error, messages.ERROR)
                elif result.articles == 0:
                    self.message_user(
                        request,
                        f"{upload.name}: already imported, skipped",
                        messages.WARNING,
                    )
                else:
                    self.message_user(
                        request,
                        f"{upload.name}: imported {result.articles} article(s), "
                        f"{result.segments} segments",
                        messages.SUCCESS,
                    )
            return redirect("admin:annotations_article_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Import articles",
        }
        return render(request, "admin/annotations/article/import.html", context)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "article",
        "position",
        "kind",
        "paragraph",
        "start",
        "end",
    ]
    list_select_related = ["article"]
    list_filter = ["kind", "article__project"]
    search_fields = ["text"]
    readonly_fields = [
        "article",
        "position",
        "kind",
        "paragraph",
        "start",
        "end",
        "text",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# ---------------------------------------------------------------------------
# Annotations and team work
# ---------------------------------------------------------------------------


@admin.register(Annotation)
class AnnotationAdmin(SimpleHistoryAdmin):
    list_display = [
        "id",
        "segment_link",
        "annotator",
        "is_gold",
        "unsure",
        "revision",
        "updated_at",
    ]
    list_select_related = ["segment", "annotator"]
    list_filter = ["is_gold", "unsure", "article__project"]
    search_fields = ["annotator__username", "segment__text", "comment"]
    readonly_fields = [
        "segment",
        "article",
        "annotator",
        "is_gold",
        "values",
        "revision",
        "created_at",
        "updated_at",
        "time_spent_ms",
        "adjudicated_sources",
        "change_history",
    ]
    exclude = ["adjudicated_from"]
    # The history view lists every version with its labels and, from
    # django-simple-history, the field changes (values old -> new) and who saved it.
    history_list_display = ["revision", "label_summary"]

    @admin.display(description="segment")
    def segment_link(self, annotation: Annotation) -> str:
        return admin_link(annotation.segment)

    @admin.display(description="labels in this version")
    def label_summary(self, record) -> str:
        return values_summary(record.values)

    @admin.display(description="adjudicated from")
    def adjudicated_sources(self, annotation: Annotation) -> str:
        """Gold only: the annotators' annotations it was adjudicated from. One query."""
        sources = annotation.adjudicated_from.select_related("annotator")
        return (
            format_html_join(
                ", ",
                "{}",
                ((admin_link(a, f"{a.annotator} (#{a.pk})"),) for a in sources),
            )
            or "–"
        )

    @admin.display(description="changes, newest first")
    def change_history(self, annotation: Annotation) -> str:
        """Who changed which label when, from the history table. One query."""
        records = list(
            annotation.history.select_related("history_user").order_by("history_id")
        )
        lines = []
        previous = None
        for record in records:
            changes = values_changes(previous, record.values) or ["(no label change)"]
            lines.append(
                (
                    record.history_date.strftime("%Y-%m-%d %H:%M:%S"),
                    record.history_user or "?",
                    record.revision,
                    "; ".join(changes),
                )
            )
            previous = record.values
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{} · {} · rev. {}: {}</li>", reversed(lines)),
        )


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["article", "annotator", "position", "assigned_by", "assigned_at"]
    list_select_related = ["article", "annotator", "assigned_by"]
    list_filter = ["article__project", "annotator"]
    autocomplete_fields = ["article", "annotator"]
    search_fields = ["article__title", "annotator__username"]
