"""The Django admin, for managers: projects, people, schemes, corpus, annotations.

Every changelist renders in a fixed number of queries: foreign keys in
``list_display`` are in ``list_select_related``, counts come from ``annotate``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from . import services
from .export.queries import ExportOptions
from .forms import ImportArticlesForm, ImportSuggestionsForm, SourceAdminForm
from .jobs import start_import
from .models import (
    Annotation,
    Article,
    Assignment,
    Dimension,
    ImportedSuggestion,
    ImportJob,
    Label,
    LabelScheme,
    Membership,
    Project,
    Role,
    Segment,
    Source,
    StanceTarget,
)
from .permissions import editable_scheme_ids, has_role, managed_project_ids
from .scheme import scheme_changed
from .snapshot import values_changes, values_summary
from .suggesting.external import SuggestionsRefused, parse_suggestions
from .views.export import export_response


def admin_link(obj, label: str | None = None) -> str:
    if obj is None:
        return "–"
    url = reverse(f"admin:annotations_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


# ---------------------------------------------------------------------------
# Scoping: managers run their own projects here; superusers run everything
# ---------------------------------------------------------------------------
#
# For superusers the admin is Django's own (model permissions). Any other staff user
# gets role-based access instead: they see and change only the rows of projects
# where their Membership role is manager, whatever model permissions they hold. A
# row outside that scope is left out of ``get_queryset``, so its change, delete and
# history pages answer "doesn't exist" exactly like a missing id, and the per-object
# checks below refuse it too (403 on the annotation version history): never data.


def managed_ids(request: HttpRequest) -> set[int]:
    """The projects the user manages; one query per request (the index page asks
    every ModelAdmin several times)."""
    if not hasattr(request, "_managed_project_ids"):
        request._managed_project_ids = managed_project_ids(request.user)
    return request._managed_project_ids


def editable_schemes(request: HttpRequest) -> set[int]:
    """The label schemes the user may change; one query per request."""
    if not hasattr(request, "_editable_scheme_ids"):
        request._editable_scheme_ids = editable_scheme_ids(managed_ids(request))
    return request._editable_scheme_ids


def is_manager(request: HttpRequest) -> bool:
    user = request.user
    return user.is_active and user.is_staff and bool(managed_ids(request))


def project_id_of(request: HttpRequest, obj) -> int | None:
    """The project of a Project, of a row with ``project``, ``article`` or
    ``segment``.

    Articles' projects are remembered per request: deleting an article checks
    every segment, annotation and assignment, with one query per article.
    """
    if isinstance(obj, Project):
        return obj.pk
    if hasattr(obj, "project_id"):
        return obj.project_id
    if not hasattr(obj, "article_id"):  # an imported suggestion: its segment's
        obj = obj.segment
    articles = request.__dict__.setdefault("_article_project_ids", {})
    if obj.article_id not in articles:
        articles[obj.article_id] = (
            Article.objects.filter(pk=obj.article_id)
            .values_list("project_id", flat=True)
            .first()
        )
    return articles[obj.article_id]


def scheme_id_of(obj) -> int:
    if isinstance(obj, LabelScheme):
        return obj.pk
    if isinstance(obj, Dimension):
        return obj.scheme_id
    return obj.dimension.scheme_id


class RoleScopedPermissions:
    """Django's admin permissions for managers, from two predicates the mixins below
    define: ``may_view`` and ``may_edit`` (object ``None``: the model as a whole).
    Superusers keep Django's own permission checks."""

    may_add_model: type | None = None  # a model only superusers may add

    def may_view(self, request: HttpRequest, obj) -> bool:
        return self.may_edit(request, obj)

    def may_edit(self, request: HttpRequest, obj) -> bool:
        raise NotImplementedError

    def has_module_permission(self, request: HttpRequest) -> bool:
        if request.user.is_superuser:
            return super().has_module_permission(request)
        return is_manager(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        return self.may_view(request, obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return super().has_change_permission(request, obj)
        return self.may_edit(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        return self.may_edit(request, obj)

    def has_add_permission(self, request: HttpRequest, *parent) -> bool:
        # ModelAdmins pass only the request; inlines also the parent object.
        if request.user.is_superuser:
            return super().has_add_permission(request, *parent)
        if self.model is self.may_add_model:
            return False
        return self.may_edit(request, parent[0] if parent else None)


class ProjectScopedAdmin(RoleScopedPermissions):
    """Mixin for the ModelAdmins and inlines of project data.

    ``project_path`` is the lookup from the model to its project ("pk" for Project).
    An inline's ``obj`` is its parent, whose page is already scoped.
    """

    project_path = "project"
    may_add_model = Project  # only superusers create projects

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.project_path}__in": managed_ids(request)})

    def may_edit(self, request: HttpRequest, obj) -> bool:
        if not is_manager(request):
            return False
        return obj is None or project_id_of(request, obj) in managed_ids(request)

    def get_autocomplete_fields(self, request: HttpRequest) -> list[str]:
        fields = super().get_autocomplete_fields(request)
        if request.user.is_superuser:
            return fields
        # The user admin (and its autocomplete endpoint) is the superusers': a
        # manager picks people from a plain select (see formfield_for_foreignkey).
        user_model = get_user_model()
        return [
            name
            for name in fields
            if self.model._meta.get_field(name).related_model is not user_model
        ]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if not request.user.is_superuser and "queryset" not in kwargs:
            choices = scoped_choices(db_field, request)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def scoped_choices(db_field, request: HttpRequest) -> QuerySet | None:
    """What a manager may pick in a foreign key: their projects and articles; new
    members from all active users; annotators from their projects' members."""
    managed = managed_ids(request)
    related = db_field.related_model
    if related is Project:
        return Project.objects.filter(pk__in=managed)
    if related is Article:
        return Article.objects.filter(project__in=managed)
    if related is get_user_model():
        users = related.objects.filter(is_active=True).order_by(related.USERNAME_FIELD)
        if db_field.model is Membership:
            return users
        return users.filter(memberships__project__in=managed).distinct()
    return None


class SchemeScopedAdmin(RoleScopedPermissions):
    """Mixin for label schemes, dimensions and labels, which projects share:
    managers view them all and change a scheme (with its dimensions and labels)
    only if every project using it is theirs. Only superusers add schemes."""

    may_add_model = LabelScheme

    def may_view(self, request: HttpRequest, obj) -> bool:
        return is_manager(request)

    def may_edit(self, request: HttpRequest, obj) -> bool:
        if not is_manager(request):
            return False
        editable = editable_schemes(request)
        return bool(editable) if obj is None else scheme_id_of(obj) in editable

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        # A dimension or label is added to (or moved into) a scheme they may change.
        if not request.user.is_superuser and "queryset" not in kwargs:
            editable = editable_schemes(request)
            if db_field.related_model is LabelScheme:
                kwargs["queryset"] = LabelScheme.objects.filter(pk__in=editable)
            elif db_field.related_model is Dimension:
                kwargs["queryset"] = Dimension.objects.filter(scheme__in=editable)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def editable_only(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """For bulk actions: the rows of schemes the user may change."""
        if request.user.is_superuser:
            return queryset
        path = {LabelScheme: "pk", Dimension: "scheme"}.get(
            self.model, "dimension__scheme"
        )
        return queryset.filter(**{f"{path}__in": editable_schemes(request)})


class RecountsProgress:
    """For the admins that delete (or, superusers only, add) annotations, also by
    cascade from articles and segments: ``Membership.labelled_count`` (the annotate
    screen's project bar) is recounted for the affected projects afterwards, in the
    same transaction. One UPDATE per delete; deleting is rare."""

    def _project_ids(self, queryset: QuerySet) -> set[int]:
        path = "id" if self.project_path == "pk" else f"{self.project_path}_id"
        return set(queryset.order_by().values_list(path, flat=True).distinct())

    def delete_model(self, request: HttpRequest, obj) -> None:
        with services.recounting_progress({project_id_of(request, obj)}):
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with services.recounting_progress(self._project_ids(queryset)):
            super().delete_queryset(request, queryset)

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        if change or not isinstance(obj, Annotation):
            super().save_model(request, obj, form, change)
            return
        with services.recounting_progress({project_id_of(request, obj)}):
            super().save_model(request, obj, form, change)


# ---------------------------------------------------------------------------
# Projects and people
# ---------------------------------------------------------------------------


class MembershipInline(ProjectScopedAdmin, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class StanceTargetInline(ProjectScopedAdmin, admin.TabularInline):
    model = StanceTarget
    extra = 0
    fields = ["order", "code", "name", "question", "key", "active"]


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    project_path = "pk"
    list_display = [
        "name",
        "slug",
        "language",
        "scheme",
        "suggestions_enabled",
        "article_count",
        "member_count",
    ]
    list_select_related = ["scheme"]
    # Explicit: Meta.ordering is dropped from the annotated (GROUP BY) queryset.
    ordering = ["name"]
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
class MembershipAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_select_related = ["user", "project"]
    list_filter = ["role", ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "project__name"]
    autocomplete_fields = ["user", "project"]


@admin.register(StanceTarget)
class StanceTargetAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "code", "project", "key", "order", "active"]
    list_select_related = ["project"]
    list_filter = [("project", admin.RelatedOnlyFieldListFilter), "active"]
    search_fields = ["name", "code"]


class NamedValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter by the values in use, with a name for the empty one (an
    empty link text is a link without a name, WCAG 2.4.4)."""

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["display"] == "":
                choice = {**choice, "display": "(none)"}
            yield choice


class CuratedFilter(admin.SimpleListFilter):
    title = "list"
    parameter_name = "curated"

    def lookups(self, request, model_admin):
        return [("yes", "curated"), ("no", "annotators' own names")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(owner__isnull=True)
        if self.value() == "no":
            return queryset.filter(owner__isnull=False)
        return queryset


@admin.register(Source)
class SourceAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    form = SourceAdminForm
    list_display = [
        "name",
        "project",
        "curated",
        "source_type",
        "aliases",
        "attribution_count",
    ]
    list_select_related = ["project", "source_type", "owner"]
    list_filter = [("project", admin.RelatedOnlyFieldListFilter), CuratedFilter]
    search_fields = ["name"]

    actions = ["merge_sources", "make_curated"]

    @admin.display(description="curated / typed by", ordering="owner")
    def curated(self, source: Source) -> str:
        return "curated" if source.is_curated else f"own name of {source.owner}"

    @admin.action(description="Make curated: share with every annotator")
    def make_curated(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            count = services.curate_sources(list(queryset), user=request.user)
        except services.SourceMergeRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
            return
        self.message_user(
            request,
            f"{count} source{'s' if count != 1 else ''} now in the curated list.",
            messages.SUCCESS,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(uses=Count("attributions"))

    @admin.display(description="uses", ordering="uses")
    def attribution_count(self, source: Source) -> int:
        return source.uses

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Attributions point to a source inside its project: it never moves.
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "project"] if obj is not None else readonly

    def save_model(self, request, obj: Source, form, change: bool) -> None:
        if not (change and "name" in form.changed_data):
            super().save_model(request, obj, form, change)
            return
        # Renaming: the annotations' snapshots and export cells follow (services).
        updated = services.rename_source(obj, obj.name, user=request.user)
        if updated:
            self.message_user(
                request,
                f"{updated} annotation{'s' if updated != 1 else ''} now name "
                f"the source “{obj.name}”; the old name is kept as an alias.",
            )

    @admin.action(description="Merge selected sources into one")
    def merge_sources(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        """A confirmation page to choose the name to keep, then the merge."""
        sources = list(queryset.order_by("-uses", "created_at", "pk"))
        if len(sources) < 2 or len({s.project_id for s in sources}) != 1:
            self.message_user(
                request,
                "Select two or more sources of one project to merge.",
                messages.ERROR,
            )
            return None
        chosen = request.POST.get("keep")
        keep = next((s for s in sources if str(s.pk) == chosen), None)
        if "apply" in request.POST and keep is not None:
            updated = services.merge_sources(
                keep, [s for s in sources if s is not keep], user=request.user
            )
            self.message_user(
                request,
                f"Merged {len(sources)} sources into “{keep.name}”; "
                f"{updated} annotation{'s' if updated != 1 else ''} updated.",
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge sources",
            "opts": self.model._meta,
            "sources": sources,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return render(request, "admin/annotations/source/merge.html", context)


# ---------------------------------------------------------------------------
# Label schemes
# ---------------------------------------------------------------------------


class DimensionInline(SchemeScopedAdmin, admin.TabularInline):
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
class LabelSchemeAdmin(SchemeScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "slug", "version", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [DimensionInline]


class LabelInline(SchemeScopedAdmin, admin.TabularInline):
    model = Label
    extra = 0
    fields = ["order", "code", "key", "name_en", "name_de", "definition", "active"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Labels in use are deactivated, never deleted (checked per label below).
        return False


@admin.register(Dimension)
class DimensionAdmin(SchemeScopedAdmin, admin.ModelAdmin):
    list_display = ["name_en", "code", "scheme", "role", "kind", "required", "active"]
    list_select_related = ["scheme"]
    list_filter = ["scheme", "role", "active"]
    inlines = [LabelInline]


@admin.register(Label)
class LabelAdmin(SchemeScopedAdmin, admin.ModelAdmin):
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

    @admin.action(
        description="Deactivate selected labels (keeps existing annotations)",
        permissions=["change"],
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        queryset = self.editable_only(request, queryset)
        changed = queryset.update(active=False)
        scheme_changed()  # QuerySet.update sends no signal
        self.message_user(request, f"Deactivated {changed} labels.")

    @admin.action(description="Activate selected labels", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        queryset = self.editable_only(request, queryset)
        changed = queryset.update(active=True)
        scheme_changed()
        self.message_user(request, f"Activated {changed} labels.")


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------


class SegmentInline(ProjectScopedAdmin, admin.TabularInline):
    project_path = "article__project"
    model = Segment
    extra = 0
    ordering = ["position"]
    fields = ["position", "kind", "paragraph", "start", "end", "text"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Article)
class ArticleAdmin(RecountsProgress, ProjectScopedAdmin, admin.ModelAdmin):
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
    list_filter = [
        ("project", admin.RelatedOnlyFieldListFilter),
        ("outlet", NamedValuesFilter),
        "language",
    ]
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
    actions = ["export_csv", "export_jsonl", "export_segments_csv"]

    @admin.action(description="Export selected articles: annotations (CSV)")
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        return self._export(request, queryset, mode="annotations", fmt="csv")

    @admin.action(description="Export selected articles: annotations (JSONL)")
    def export_jsonl(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        return self._export(request, queryset, mode="annotations", fmt="jsonl")

    @admin.action(
        description="Export selected articles: segments, gold or majority (CSV)"
    )
    def export_segments_csv(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        return self._export(request, queryset, mode="segments", fmt="csv")

    def _export(
        self, request: HttpRequest, queryset: QuerySet, *, mode: str, fmt: str
    ) -> HttpResponse | None:
        """The same streamed export as the Export page (CSV for spreadsheets, or
        JSONL), limited to the selected articles of one project."""
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
        return export_response(
            project, ExportOptions(mode=mode, articles=articles), fmt=fmt
        )

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
        """The upload: the files are stored and their import queued as a job; the
        answer is at once a redirect to the job's page, which shows its progress."""
        if not self.has_add_permission(request):
            return redirect("admin:annotations_article_changelist")
        form = ImportArticlesForm(
            request.POST or None,
            request.FILES or None,
            # Only the projects this user runs; another id is "not a valid choice".
            projects=Project.objects.filter(pk__in=managed_ids(request)),
        )
        if request.method == "POST" and form.is_valid():
            uploads = form.cleaned_data["files"]
            job = start_import(
                project=form.cleaned_data["project"],
                user=request.user,
                uploads=uploads,
            )
            # Names as uploaded, first (the admin used to capitalise them).
            names = ", ".join(upload.name for upload in uploads)
            self.message_user(
                request,
                f"{names}: import #{job.pk} started; this page shows how it goes.",
                messages.INFO,
            )
            return redirect("admin:annotations_importjob_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Import articles",
            "max_upload_bytes": settings.IMPORT_MAX_UPLOAD_BYTES,
        }
        return render(request, "admin/annotations/article/import.html", context)


@admin.register(ImportJob)
class ImportJobAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    """Import jobs: the list, and each job's page with its progress (polled by
    htmx while the job runs) and every file's outcome. Read-only: jobs are made
    by the upload and run by workers; a finished job may be deleted (its
    articles stay)."""

    list_display = [
        "__str__",
        "project",
        "created_by",
        "created_at",
        "state",
        "file_count",
        "percent_done",
    ]
    list_select_related = ["project", "created_by"]
    list_filter = [("project", admin.RelatedOnlyFieldListFilter), "state"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(file_total=Count("files"))

    @admin.display(description="files", ordering="file_total")
    def file_count(self, job: ImportJob) -> int:
        return job.file_total

    @admin.display(description="progress")
    def percent_done(self, job: ImportJob) -> str:
        return f"{job.percent} %"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and not obj.is_finished:
            return False  # a worker is (or will be) running it
        return super().has_delete_permission(request, obj)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="annotations_importjob_progress",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url="", extra_context=None
    ) -> HttpResponse:
        return self._job_page(request, object_id, partial=False)

    def progress_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._job_page(request, str(object_id), partial=True)

    def _job_page(
        self, request: HttpRequest, object_id: str, *, partial: bool
    ) -> HttpResponse:
        """The job, its files and its progress: 2 queries besides the scoping."""
        job = (
            self.get_queryset(request).for_page().filter(pk=object_id).first()
            if object_id.isdigit()
            else None
        )
        if job is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        template = "admin/annotations/importjob/job.html"
        context = {
            "job": job,
            "files": job.files.all(),
            "articles_url": reverse("admin:annotations_article_changelist")
            + f"?project__id__exact={job.project_id}",
        }
        if partial:
            return render(request, f"{template}#progress", context)
        context |= {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(job),
        }
        return render(request, template, context)


@admin.register(Segment)
class SegmentAdmin(RecountsProgress, ProjectScopedAdmin, admin.ModelAdmin):
    project_path = "article__project"
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
    list_filter = ["kind", ("article__project", admin.RelatedOnlyFieldListFilter)]
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
class AnnotationAdmin(RecountsProgress, ProjectScopedAdmin, SimpleHistoryAdmin):
    project_path = "article__project"
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
    list_filter = [
        "is_gold",
        "unsure",
        ("article__project", admin.RelatedOnlyFieldListFilter),
    ]
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Annotations are written by the annotate screen (services.save_annotation).
        return request.user.is_superuser and super().has_add_permission(request)

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        if not change:  # a superuser's insert (RecountsProgress counts it)
            super().save_model(request, obj, form, change)
            return
        # An edit (comment, unsure) or a revert from the history page: the
        # snapshot's source names and the export cells follow (services).
        services.store_admin_edit(annotation=obj, user=request.user)

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


@admin.register(ImportedSuggestion)
class ImportedSuggestionAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    """Suggestions loaded from other models or tools: listed, deleted, imported."""

    project_path = "segment__article__project"
    list_display = ["origin", "segment", "source_text", "form", "score", "imported_at"]
    list_select_related = ["segment"]
    list_filter = [
        "origin",
        ("segment__article__project", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["origin", "source_text", "segment__text"]
    readonly_fields = [
        "segment",
        "origin",
        "cue_spans",
        "source_start",
        "source_end",
        "source_text",
        "form",
        "score",
        "imported_at",
    ]
    change_list_template = "admin/annotations/importedsuggestion/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # imported, never typed in

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="annotations_importedsuggestion_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        projects = Project.objects.filter(pk__in=managed_ids(request))
        if not projects.exists():
            return redirect("admin:annotations_importedsuggestion_changelist")
        form = ImportSuggestionsForm(
            request.POST or None, request.FILES or None, projects=projects
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            upload = data["file"]
            try:
                stored = services.import_suggestions(
                    project=data["project"],
                    suggestions=parse_suggestions(upload.read(), name=upload.name),
                    origin=data["origin"],
                    replace=data["replace"],
                )
            except SuggestionsRefused as refusal:
                for error in refusal.errors[:20]:
                    self.message_user(request, error, messages.ERROR)
                self.message_user(
                    request, f"{upload.name}: nothing imported", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"{upload.name}: imported {stored} suggestions",
                    messages.SUCCESS,
                )
                return redirect("admin:annotations_importedsuggestion_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Import suggestions",
        }
        return render(
            request, "admin/annotations/importedsuggestion/import.html", context
        )


@admin.register(Assignment)
class AssignmentAdmin(ProjectScopedAdmin, admin.ModelAdmin):
    project_path = "article__project"
    list_display = ["article", "annotator", "position", "assigned_by", "assigned_at"]
    list_select_related = ["article", "annotator", "assigned_by"]
    list_filter = [
        ("article__project", admin.RelatedOnlyFieldListFilter),
        ("annotator", admin.RelatedOnlyFieldListFilter),
    ]
    autocomplete_fields = ["article", "annotator"]
    search_fields = ["article__title", "annotator__username"]
    # Who assigned is recorded, not chosen (a choice list would also have to offer
    # people outside the manager's projects to keep an existing value).
    readonly_fields = ["assigned_by"]

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        if not change:
            obj.assigned_by = request.user
        super().save_model(request, obj, form, change)
