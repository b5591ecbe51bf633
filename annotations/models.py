"""The corpus (projects, articles, segments), label schemes, annotations, team work.

Model and field names of ``Project``, ``Article`` and ``Segment`` are a contract: other
tools read them. Reads that pages need live on the QuerySets as named methods that say
what they cost; writes that span models live in ``services.py``.
"""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Length
from django.urls import reverse
from simple_history.models import HistoricalRecords

from .segmentation import SEGMENT_KINDS

# Segments that an annotator labels; boilerplate is shown greyed and skipped.
ANNOTATABLE_KINDS = ("title", "byline", "heading", "sentence")


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    MANAGER = "manager", "Manager"


# ---------------------------------------------------------------------------
# Label scheme
# ---------------------------------------------------------------------------


class LabelScheme(models.Model):
    """A versioned set of dimensions and labels; every project uses one."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    version = models.CharField(max_length=20, default="1")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["slug", "version"], name="scheme_slug_version_unique"
            )
        ]
        ordering = ["slug", "version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def version_label(self) -> str:
        """The string the export writes into its ``scheme_version`` column."""
        return f"{self.slug}@{self.version}"


class DimensionRole(models.TextChoices):
    """What a dimension is for, so the screens know where to show it."""

    CLAIM = "claim", "Claim (per segment)"
    FRAMES = "frames", "Frames (per segment)"
    EXTRA = "extra", "Other per-segment dimension"
    SOURCE_TYPE = "source_type", "Source type (per attribution)"
    FORM = "form", "Form (per attribution)"
    STANCE = "stance", "Stance polarity (per target)"


# Dimensions labelled once per segment (the others: per attribution, per target).
PER_SEGMENT_ROLES = (DimensionRole.CLAIM, DimensionRole.FRAMES, DimensionRole.EXTRA)


class Dimension(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", "Single choice"
        MULTI = "multi", "Multiple choice"

    scheme = models.ForeignKey(
        LabelScheme, on_delete=models.CASCADE, related_name="dimensions"
    )
    code = models.SlugField(max_length=40)
    role = models.CharField(max_length=20, choices=DimensionRole.choices)
    name_de = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SINGLE)
    required = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    off_by_default = models.BooleanField(
        default=False,
        help_text="Optional dimension that a project must switch on to use it.",
    )
    allows_primary = models.BooleanField(
        default=False, help_text="Multi-choice: one label may be marked primary."
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "code"], name="dimension_code_unique_in_scheme"
            )
        ]
        ordering = ["scheme", "order", "id"]

    def __str__(self) -> str:
        return f"{self.name_en} ({self.scheme})"

    @property
    def is_multi(self) -> bool:
        return self.kind == self.Kind.MULTI

    def is_enabled(self, switched_on_ids: set[int]) -> bool:
        """Active, and either on by default or switched on for the project
        (``switched_on_ids``: the pks of ``Project.optional_dimensions``)."""
        return self.active and (not self.off_by_default or self.pk in switched_on_ids)


class LabelQuerySet(models.QuerySet):
    def of_scheme(self, scheme_id: int | None) -> LabelQuerySet:
        """Every label of a scheme with its dimension, in scheme order (dimension
        order, then label order): the one read of a scheme. One query."""
        return (
            self.filter(dimension__scheme_id=scheme_id)
            .select_related("dimension")
            .order_by("dimension__order", "dimension_id", "order", "id")
        )


class Label(models.Model):
    dimension = models.ForeignKey(
        Dimension, on_delete=models.CASCADE, related_name="labels"
    )
    code = models.SlugField(max_length=60)
    name_de = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120)
    definition = models.TextField(blank=True)
    example = models.TextField(blank=True)
    key = models.CharField(
        max_length=1, blank=True, help_text="Keyboard key on the annotate screen."
    )
    order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    # Published datasets' names for this label, e.g. {"claimbuster": "CFS",
    # "checkthat": "yes", "mfc": "1.0", "semeval2023": "Economic"}.
    mappings = models.JSONField(default=dict, blank=True)

    objects = LabelQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dimension", "code"], name="label_code_unique_in_dimension"
            ),
            models.UniqueConstraint(
                fields=["dimension", "key"],
                condition=~Q(key=""),
                name="label_key_unique_in_dimension",
            ),
        ]
        ordering = ["dimension", "order", "id"]

    def __str__(self) -> str:
        return f"{self.dimension.code}:{self.code}"


# ---------------------------------------------------------------------------
# Projects and people
# ---------------------------------------------------------------------------


def new_scheme_revision() -> str:
    """A value of ``Project.scheme_revision`` never used before."""
    return uuid.uuid4().hex


class ProjectQuerySet(models.QuerySet):
    def for_user(self, user) -> ProjectQuerySet:
        """Projects the user is a member of (superusers: all). One query."""
        if user.is_superuser:
            return self.all()
        return self.filter(memberships__user=user).distinct()


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    language = models.CharField(max_length=10, default="de")
    scheme = models.ForeignKey(
        LabelScheme,
        on_delete=models.PROTECT,
        related_name="projects",
        null=True,
        blank=True,
    )
    optional_dimensions = models.ManyToManyField(
        Dimension,
        blank=True,
        related_name="+",
        help_text="Optional dimensions (off by default) switched on for this project.",
    )
    overlap = models.PositiveSmallIntegerField(
        default=2, help_text="How many annotators label each article (assignment)."
    )
    suggestions_enabled = models.BooleanField(
        default=True,
        help_text="Offer attribution suggestions (cue, source, form) on the annotate "
        "screen. Switch off, e.g., for an agreement study without them.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Names the state of what ``scheme.SchemeIndex`` reads for this project (its
    # scheme's dimensions and labels, its switched-on optional dimensions, its
    # stance targets): a new value whenever one of them changes (``scheme.py``),
    # so every process can keep the index it loaded as long as the project row
    # it reads says the same. Random, not a counter: a change rolled back must
    # never bring back a value that named other contents.
    scheme_revision = models.CharField(
        max_length=32, default=new_scheme_revision, editable=False
    )

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("annotations:work_list") + f"?project={self.slug}"

    def labelled_progress(self, annotator) -> tuple[int, int]:
        """(segments ``annotator`` labelled, annotatable segments) in this project,
        for the annotate screen's project bar. One query.

        "Labelled" is the ``Membership.labelled_count`` counter: a COUNT of my
        annotations took 120-330 ms at 100,000 annotations, on every page and every
        save. Someone without a membership (a superuser) gets the COUNT: one query
        more."""
        counter = (
            Membership.objects.filter(project=self, user=annotator)
            .order_by()
            .values("labelled_count")
        )
        row = Article.objects.filter(project=self).aggregate(
            total=Sum("annotatable_count"),
            # An aggregate over a constant subquery: the counter rides along.
            done=Max(Subquery(counter)),
        )
        done = row["done"]
        if done is None:
            done = self.labelled_by(annotator)
        return done, row["total"] or 0

    def labelled_by(self, annotator) -> int:
        """COUNT of ``annotator``'s own annotations here (what the counter holds):
        one query, for someone without a membership."""
        return (
            Annotation.objects.own()
            .filter(article__project=self, annotator=annotator)
            .count()
        )


def _labelled_count_of(project_id) -> Coalesce:
    """The number of a member's own (non-gold) annotations in ``project_id``: the
    true value of ``Membership.labelled_count`` (member from ``OuterRef("user")``)."""
    mine = (
        Annotation.objects.own()
        .filter(article__project=project_id, annotator=models.OuterRef("user"))
        .order_by()
        .values("annotator")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(models.Subquery(mine, output_field=models.IntegerField()), 0)


def _count(queryset: QuerySet, group: str, expression) -> Coalesce:
    """One number per outer row from ``queryset`` (correlated on ``group``)."""
    return Coalesce(
        Subquery(
            queryset.order_by().values(group).annotate(n=expression).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


class MembershipQuerySet(models.QuerySet):
    def role_of(self, user, project) -> Subquery | Value:
        """An expression for the user's role in ``project`` (e.g.
        ``OuterRef("project")``), to read it in the query of the object itself:
        what ``permissions.role_in`` answers (superusers: manager; not a member:
        None)."""
        if not user.is_authenticated:
            return Value(None, output_field=models.CharField())
        if user.is_superuser:
            return Value(Role.MANAGER, output_field=models.CharField())
        return Subquery(
            self.filter(project=project, user=user).order_by().values("role")[:1]
        )

    def reviews_anywhere(self, user) -> Exists | Value:
        """An expression: is the user a reviewer or manager in some project (the
        navigation's Team link, ``context_processors.team_roles``)?"""
        if not user.is_authenticated:
            return Value(False)
        if user.is_superuser:
            return Value(True)
        return Exists(self.filter(user=user, role__in=[Role.REVIEWER, Role.MANAGER]))

    def with_progress(self, project: Project) -> MembershipQuerySet:
        """The project's members with their work (manager dashboard): ONE query
        (correlated subqueries).

        ``assigned_articles``, ``assigned_segments`` (annotatable segments of their
        assigned articles), ``labelled`` (their own annotations on those articles),
        ``time_spent_ms`` (all their annotations in the project), ``last_activity``.
        """
        user = OuterRef("user_id")
        assigned = Assignment.objects.filter(annotator=user, article__project=project)
        own = Annotation.objects.filter(
            is_gold=False, annotator=user, article__project=project
        )
        on_assigned = own.filter(
            article__assignments__annotator=user, segment__kind__in=ANNOTATABLE_KINDS
        )
        return (
            self.filter(project=project)
            .select_related("user")
            .annotate(
                assigned_articles=_count(assigned, "annotator", Count("pk")),
                assigned_segments=_count(
                    assigned, "annotator", Sum("article__annotatable_count")
                ),
                labelled=_count(on_assigned, "annotator", Count("pk")),
                time_spent_ms=_count(own, "annotator", Sum("time_spent_ms")),
                last_activity=Subquery(
                    own.order_by("-updated_at").values("updated_at")[:1]
                ),
            )
            .order_by("user__username")
        )

    def recount(self) -> int:
        """Recompute ``labelled_count`` of these memberships from the annotations
        (after annotations were deleted or written around ``save_annotation``).
        One UPDATE; returns the number of memberships."""
        return self.update(
            labelled_count=_labelled_count_of(models.OuterRef("project"))
        )


class Membership(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)
    # Denormalised: my own (non-gold) annotations in the project, for the annotate
    # screen's project bar (a COUNT over the project took 120-330 ms at 100,000
    # annotations). ``services._store_annotation`` adds one in the transaction that
    # creates an annotation; deleting annotations (admin) recounts
    # (``Membership.objects.recount()``, ``manage.py recount_progress``).
    labelled_count = models.PositiveIntegerField(default=0, editable=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user"], name="one_membership_per_project_and_user"
            )
        ]
        ordering = ["project", "role", "user"]

    def __str__(self) -> str:
        return f"{self.user} – {self.project} ({self.role})"

    def save(self, *args, **kwargs) -> None:
        # The counter follows the row: someone re-added to a project keeps the
        # annotations they made before, and a membership moved to another user or
        # project (admin) counts theirs. One UPDATE, also correcting a stale value
        # this instance carried in.
        super().save(*args, **kwargs)
        Membership.objects.filter(pk=self.pk).recount()


class StanceTarget(models.Model):
    """A target of stance (SemEval-2016 style), phrased as a yes/no question."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="stance_targets"
    )
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    question = models.CharField(max_length=300, blank=True)
    key = models.CharField(max_length=1, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "code"], name="stance_target_code_unique_in_project"
            )
        ]
        ordering = ["project", "order", "id"]

    def __str__(self) -> str:
        return self.name


class SourceQuerySet(models.QuerySet):
    def curated(self) -> SourceQuerySet:
        """The project source list everyone shares: entries reviewers and
        managers made (in the admin, or by adjudicating)."""
        return self.filter(owner__isnull=True)

    def visible_to(self, user) -> SourceQuerySet:
        """The curated list and ``user``'s own names: all a save of theirs may
        map a typed name to."""
        return self.filter(Q(owner__isnull=True) | Q(owner=user))

    def suggestable(self, *, project, user, sees_others: bool) -> SourceQuerySet:
        """The project's sources to suggest to ``user`` while annotating. One query.

        Blind annotation: an annotator is offered the curated list and their own
        names, never a name another annotator typed (whatever its spelling) nor
        the fact that someone did: names typed by annotators are their own
        entries (``owner``) until a reviewer or manager curates them.
        Reviewers and managers (``sees_others``) get the whole list.
        """
        sources = self.filter(project=project)
        if sees_others:
            return sources
        return sources.visible_to(user)


class Source(models.Model):
    """An entry of a project's source list; aliases map other spellings to it.

    ``owner`` empty: a curated entry, shared by everyone in the project (made in
    the admin, or by a reviewer's gold). Otherwise a name an annotator typed,
    theirs alone until a reviewer or manager curates it (merge, or "make
    curated"), so blind annotation holds: nobody's spelling reaches another
    annotator.
    """

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="sources"
    )
    name = models.CharField(max_length=200)
    aliases = models.JSONField(default=list, blank=True)
    source_type = models.ForeignKey(
        Label, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: curated, shared by the whole project. Otherwise the "
        "annotator whose own typed name this is (others never see it).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SourceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=Q(owner__isnull=True),
                name="curated_source_name_unique_in_project",
            ),
            models.UniqueConstraint(
                fields=["project", "owner", "name"],
                condition=Q(owner__isnull=False),
                name="own_source_name_unique_per_annotator",
            ),
        ]
        ordering = ["project", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_curated(self) -> bool:
        return self.owner_id is None


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------


def _per_article(annotations: QuerySet, aggregate) -> Subquery:
    """One value per article from its annotations, as a correlated subquery."""
    return Subquery(
        annotations.filter(article=OuterRef("pk"))
        .order_by()
        .values("article")
        .annotate(value=aggregate)
        .values("value")
    )


def _work_progress(user) -> dict:
    """``user``'s progress per article as correlated subqueries, no JOIN and no
    GROUP BY: joined Count/Max made PostgreSQL group 300,000 rows and evaluate
    the rest per joined row (61 s a page)."""
    mine = Annotation.objects.own().filter(annotator=user)
    return {
        "my_done": Coalesce(
            _per_article(mine, Count("pk")), 0, output_field=IntegerField()
        ),
        "last_activity": _per_article(mine, Max("updated_at")),
        "team_done": Coalesce(
            _per_article(Annotation.objects.own(), Count("segment", distinct=True)),
            0,
            output_field=IntegerField(),
        ),
    }


def _progress_of(user, project) -> dict:
    """``my_labelled`` (the user's ``Membership.labelled_count``; None without a
    membership) and ``project_total`` (annotatable segments in ``project``, e.g.
    ``OuterRef("project")``): what ``Project.labelled_progress`` reads, as
    annotations of another query."""
    counter = (
        Membership.objects.filter(project=project, user=user)
        .order_by()
        .values("labelled_count")
    )
    total = (
        Article.objects.filter(project=project)
        .order_by()
        .values("project")
        .annotate(total=Sum("annotatable_count"))
        .values("total")
    )
    return {
        "my_labelled": Subquery(counter[:1])
        if user.is_authenticated
        else Value(None, output_field=IntegerField()),
        "project_total": Coalesce(Subquery(total), 0),
    }


class ArticleQuerySet(models.QuerySet):
    def for_user(self, user) -> ArticleQuerySet:
        if user.is_superuser:
            return self.all()
        return self.filter(project__memberships__user=user)

    def for_work_list(self, user) -> ArticleQuerySet:
        """``work_list_rows`` with ``my_done``, ``team_done`` and ``last_activity``
        selected for every row (the global Continue, which filters on them). One
        query; its ``count()`` counts articles only."""
        return self.work_list_rows(user).annotate(**_work_progress(user))

    def work_list_rows(self, user) -> ArticleQuerySet:
        """My projects' articles with the columns the work list shows and
        ``queue_position`` (None unless assigned to me), queue first. One query.

        ``queue_position`` is a LEFT JOIN on my assignment (one per article at
        most). ``my_done``, ``team_done`` and ``last_activity`` are aliases:
        computed (as correlated subqueries) only where a sort or a filter uses
        them, never selected. The page's 25 rows get them from
        ``Annotation.objects.work_progress`` (one grouped query), so a page
        costs the same whichever it is: with them selected, PostgreSQL ran the
        subqueries for every row an OFFSET skipped (313 ms for the last of 80
        pages, 10 ms for the first)."""
        return (
            self.for_user(user)
            .select_related("project")
            .only("title", "byline", "outlet", "annotatable_count", "project__name")
            .alias(**_work_progress(user))
            .annotate(
                my_queue=FilteredRelation(
                    "assignments", condition=Q(assignments__annotator=user)
                ),
                queue_position=F("my_queue__position"),
            )
            .order_by(
                # Assigned articles first, in queue order; then by project and import.
                F("queue_position").asc(nulls_last=True),
                "project__name",
                "pk",
            )
        )

    def for_annotate_screen(self, user) -> ArticleQuerySet:
        """Articles with project and stored text aids (``ArticleTextAids``, None
        until computed), ``has_imported_suggestions`` and, for ``user``: ``role``
        in the project (None: not a member), ``team_role`` (reviewer or manager
        anywhere), ``my_labelled`` (the progress counter; None without a
        membership) and ``project_total`` (annotatable segments in the project).
        ONE query; the text is deferred (only computing the aids needs it)."""
        project = OuterRef("project")
        return (
            self.select_related("project", "text_aids")
            .defer("text")
            .annotate(
                has_imported_suggestions=Exists(
                    ImportedSuggestion.objects.filter(segment__article=OuterRef("pk"))
                ),
                role=Membership.objects.role_of(user, project),
                team_role=Membership.objects.reviews_anywhere(user),
                **_progress_of(user, project),
            )
        )

    def unfinished(self) -> ArticleQuerySet:
        """Of ``for_work_list``: articles with segments I have not all labelled."""
        return self.filter(annotatable_count__gt=0).exclude(
            my_done__gte=F("annotatable_count")
        )

    def with_team_progress(self, project: Project) -> ArticleQuerySet:
        """The project's articles with gold and annotation counts, assignments
        prefetched (manager dashboard). Two queries per page (the articles, their
        assignments with annotators), plus tables2's count. Per-annotator progress
        comes from ``Annotation.objects.done_per_assignment``."""
        gold = Annotation.objects.filter(article=OuterRef("pk"), is_gold=True)
        own = Annotation.objects.filter(article=OuterRef("pk"), is_gold=False)
        return (
            self.filter(project=project)
            .defer("text")  # the whole article text is never shown here
            .annotate(
                gold_count=_count(gold, "article", Count("pk")),
                annotation_count=_count(own, "article", Count("pk")),
            )
            .prefetch_related(
                Prefetch(
                    "assignments",
                    queryset=Assignment.objects.select_related("annotator").order_by(
                        "annotator__username"
                    ),
                )
            )
            .order_by("pk")
        )

    def for_review(self, project: Project) -> ArticleQuerySet:
        """Articles with any annotation, for the reviewers' list (2 queries +
        count)."""
        labelled = Annotation.objects.filter(article=OuterRef("pk"))
        return self.with_team_progress(project).filter(Exists(labelled))


class Article(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="articles"
    )
    title = models.CharField(max_length=500)
    byline = models.CharField(max_length=300, blank=True)
    outlet = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    published = models.DateField(null=True, blank=True)
    language = models.CharField(max_length=10, default="de")
    text = models.TextField(
        help_text="The article exactly as imported: decoded, BOM removed, "
        "line endings normalised to \\n, nothing else changed."
    )
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of text.")
    source_file = models.CharField(max_length=500, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Denormalised at import (same transaction): segments never change after import.
    segment_count = models.PositiveIntegerField(default=0)
    annotatable_count = models.PositiveIntegerField(default=0)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "content_hash"],
                name="article_text_unique_in_project",
            )
        ]
        indexes = [models.Index(fields=["project", "imported_at"])]
        ordering = ["project", "id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("annotations:annotate", args=[self.pk])


class SegmentQuerySet(models.QuerySet):
    def annotatable(self) -> SegmentQuerySet:
        return self.filter(kind__in=ANNOTATABLE_KINDS)

    def for_save(self, user) -> SegmentQuerySet:
        """Segments with article and project (article text deferred), ``role``
        (the user's role in the project; None: not a member), ``my_labelled`` and
        ``project_total`` (``_progress_of``). The save's one read before its
        transaction."""
        project = OuterRef("article__project")
        return (
            self.select_related("article__project")
            .defer("article__text")
            .annotate(
                role=Membership.objects.role_of(user, project),
                **_progress_of(user, project),
            )
        )

    def open_positions(self, *, article: Article, annotator) -> list[int]:
        """Positions of the article's annotatable segments ``annotator`` has not
        labelled, in order. One query."""
        mine = Annotation.objects.own().filter(
            segment=OuterRef("pk"), annotator=annotator
        )
        return list(
            self.filter(article=article, kind__in=ANNOTATABLE_KINDS)
            .exclude(Exists(mine))
            .order_by("position")
            .values_list("position", flat=True)
        )


class Segment(models.Model):
    KIND_CHOICES = [(kind, kind) for kind in SEGMENT_KINDS]

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="segments"
    )
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    paragraph = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    text = models.TextField(help_text="Always article.text[start:end].")

    objects = SegmentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "position"],
                name="segment_position_unique_in_article",
            ),
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="segment_end_after_start"
            ),
            # text == article.text[start:end] cannot be checked across tables; its
            # length can, which catches an offset that does not match the text.
            models.CheckConstraint(
                condition=Q(end=F("start") + Length("text")),
                name="segment_text_length_matches_offsets",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=SEGMENT_KINDS), name="segment_kind_valid"
            ),
        ]
        ordering = ["article", "position"]

    def __str__(self) -> str:
        return f"{self.article_id}#{self.position}: {self.text[:60]}"

    @property
    def is_annotatable(self) -> bool:
        return self.kind in ANNOTATABLE_KINDS


class ArticleTextAids(models.Model):
    """What the annotate screen offers from an article's text alone: cue
    candidates and the built-in suggester's attributions per segment, and the
    names in the article (``annotate_data.text_aids``). About 10 ms of Python per
    article, so computed once and kept: the text and its segments never change.

    A cache, never the source of truth: ``key`` names the code and suggester
    model that computed ``data`` (``annotate_data.text_aids_key()``); a row with
    another key, or none, is computed again when the article is shown, or ahead
    by ``manage.py prepare_text_aids`` (after a large import or a release that
    changed the suggester).
    """

    article = models.OneToOneField(
        Article, on_delete=models.CASCADE, primary_key=True, related_name="text_aids"
    )
    key = models.CharField(max_length=32)
    data = models.JSONField()

    class Meta:
        verbose_name_plural = "article text aids"

    def __str__(self) -> str:
        return f"text aids of article {self.article_id}"


# ---------------------------------------------------------------------------
# Annotations
# ---------------------------------------------------------------------------


class AnnotationQuerySet(models.QuerySet):
    def own(self) -> AnnotationQuerySet:
        """Annotators' own annotations (not the adjudicated gold)."""
        return self.filter(is_gold=False)

    def gold(self) -> AnnotationQuerySet:
        return self.filter(is_gold=True)

    def snapshots_of(self, *, article: Article, annotator) -> dict[int, dict]:
        """My annotations of one article (annotate screen): segment id -> revision,
        unsure and the ``values`` snapshot. One query; nobody else's."""
        rows = self.own().filter(article=article, annotator=annotator)
        return {
            row["segment_id"]: row
            for row in rows.values("segment_id", "revision", "unsure", "values")
        }

    def work_progress(self, *, article_ids, annotator) -> dict[int, dict]:
        """Article id -> ``my_done``, ``last_activity`` (``annotator``'s) and
        ``team_done`` (distinct segments labelled by anyone), as
        ``ArticleQuerySet.for_work_list`` computes them, for the given articles
        only (the rows of a work list page): one grouped query."""
        mine = Q(annotator=annotator)
        rows = (
            self.own()
            .filter(article_id__in=article_ids)
            .values("article_id")
            .annotate(
                my_done=Count("pk", filter=mine),
                last_activity=Max("updated_at", filter=mine),
                team_done=Count("segment", distinct=True),
            )
            .order_by()
        )
        return {row.pop("article_id"): row for row in rows}

    def done_per_assignment(self, project: Project) -> dict[tuple[int, int], int]:
        """(article id, annotator id) -> own annotations of annotatable segments:
        one grouped query (dashboard, reviewers' list)."""
        rows = (
            self.own()
            .filter(article__project=project, segment__kind__in=ANNOTATABLE_KINDS)
            .values("article_id", "annotator_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return {(row["article_id"], row["annotator_id"]): row["n"] for row in rows}


class Annotation(models.Model):
    """One annotator's labels for one segment, or (``is_gold``) the adjudicated gold.

    The normalised rows (labels, attributions, stances) are the source of truth and
    protect the scheme's labels with foreign keys; ``values`` is a snapshot of the
    same content written in the same transaction by ``services.save_annotation``, so
    history shows old and new values, and exports and conflict answers need no joins.
    """

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="annotations"
    )
    # Denormalised from segment for progress counts per (annotator, article).
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="annotations"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    is_gold = models.BooleanField(default=False)
    adjudicated_from = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="adjudications"
    )
    values = models.JSONField(default=dict)
    unsure = models.BooleanField(default=False)
    comment = models.TextField(blank=True, max_length=5000)
    time_spent_ms = models.PositiveIntegerField(default=0)
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = AnnotationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "annotator"],
                condition=Q(is_gold=False),
                name="one_annotation_per_segment_and_annotator",
            ),
            models.UniqueConstraint(
                fields=["segment"],
                condition=Q(is_gold=True),
                name="one_gold_per_segment",
            ),
            models.CheckConstraint(
                condition=Q(revision__gte=1), name="revision_positive"
            ),
        ]
        indexes = [
            models.Index(
                fields=["annotator", "article"], name="annotation_progress_idx"
            ),
            models.Index(fields=["article", "segment"], name="annotation_article_idx"),
        ]

    def __str__(self) -> str:
        who = "gold" if self.is_gold else str(self.annotator)
        return f"{who} on segment {self.segment_id}"


class AnnotationExportCells(models.Model):
    """One annotation's label cells as the export writes them, rendered when the
    annotation is saved (``export.LabelRenderer``), so an annotations-mode export
    only concatenates text instead of shaping ~40 cells from ``values`` per row.

    A cache, never the source of truth: the export uses these cells only while
    ``plan_key`` is the project's current label plan and ``source_updated_at``
    equals the annotation's ``updated_at`` (any save of the annotation changes
    it); otherwise it shapes the row from ``values`` as before. Rebuilt by
    ``manage.py refresh_export_cells``.
    """

    annotation = models.OneToOneField(
        Annotation,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="export_cells",
    )
    plan_key = models.CharField(max_length=32)
    source_updated_at = models.DateTimeField()
    csv = models.TextField()
    # The spreadsheet flavour (formula cells neutralised); empty: same as csv.
    csv_sheet = models.TextField(blank=True)
    # Everything after article_frames: optional dimensions, comment, unsure,
    # created, updated, time spent (all written by the same save).
    csv_tail = models.TextField()
    csv_tail_sheet = models.TextField(blank=True)
    json = models.TextField()
    json_tail = models.TextField()
    frames = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "annotation export cells"

    def __str__(self) -> str:
        return f"export cells of annotation {self.annotation_id}"


class AnnotationLabel(models.Model):
    """A label chosen in a per-segment dimension (claim, frames, optional ones)."""

    annotation = models.ForeignKey(
        Annotation, on_delete=models.CASCADE, related_name="labels"
    )
    dimension = models.ForeignKey(Dimension, on_delete=models.PROTECT, related_name="+")
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="uses")
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotation", "label"], name="label_once_per_annotation"
            ),
            models.UniqueConstraint(
                fields=["annotation", "dimension"],
                condition=Q(is_primary=True),
                name="one_primary_label_per_dimension",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label_id} on annotation {self.annotation_id}"


class SuggestionUse(models.TextChoices):
    ACCEPTED = "accepted", "Accepted as suggested"
    EDITED = "edited", "Accepted, then edited"


class AttributionQuerySet(models.QuerySet):
    def source_names_by_order(self, annotation_ids) -> dict[int, dict[int, str]]:
        """annotation id -> attribution order -> its canonical source's name now:
        one query."""
        names: dict[int, dict[int, str]] = {}
        rows = self.filter(annotation_id__in=list(annotation_ids)).values_list(
            "annotation_id", "order", "source__name"
        )
        for annotation_id, order, name in rows:
            names.setdefault(annotation_id, {})[order] = name or ""
        return names


def source_span_valid(name: str) -> models.CheckConstraint:
    """Both ends of the source span or neither, and the end after the start."""
    return models.CheckConstraint(
        condition=(
            Q(source_start__isnull=True, source_end__isnull=True)
            | Q(source_end__gt=F("source_start"))
        ),
        name=name,
    )


class Attribution(models.Model):
    """Who speaks in a segment (PARC 3.0 / SpkAtt-2023): source, cue, type, form."""

    annotation = models.ForeignKey(
        Annotation, on_delete=models.CASCADE, related_name="attributions"
    )
    order = models.PositiveSmallIntegerField(default=0)
    source_text = models.CharField(max_length=300)
    source = models.ForeignKey(
        Source,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attributions",
    )
    source_type = models.ForeignKey(
        Label, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    form = models.ForeignKey(
        Label, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cue_text = models.CharField(max_length=300, blank=True)
    # Character spans inside the segment text: [start, end) of the source name, and
    # a list of [start, end] pairs for a possibly discontinuous cue.
    source_start = models.PositiveIntegerField(null=True, blank=True)
    source_end = models.PositiveIntegerField(null=True, blank=True)
    cue_spans = models.JSONField(default=list, blank=True)
    # Where the attribution came from: a suggestion accepted as it was, one
    # accepted and then changed, or typed by hand (empty).
    suggestion = models.CharField(
        max_length=10, choices=SuggestionUse.choices, blank=True, default=""
    )

    objects = AttributionQuerySet.as_manager()

    class Meta:
        constraints = [source_span_valid("attribution_source_span_valid")]
        ordering = ["annotation", "order"]

    def __str__(self) -> str:
        return f"{self.source_text} (annotation {self.annotation_id})"


class StanceEntry(models.Model):
    """The stance of a holder (the author, or an attributed source) toward a target."""

    annotation = models.ForeignKey(
        Annotation, on_delete=models.CASCADE, related_name="stances"
    )
    target = models.ForeignKey(StanceTarget, on_delete=models.PROTECT, related_name="+")
    polarity = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")
    # Null means the author holds the stance.
    holder = models.ForeignKey(
        Attribution, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotation", "target"],
                condition=Q(holder__isnull=True),
                name="one_author_stance_per_target",
            ),
            models.UniqueConstraint(
                fields=["annotation", "target", "holder"],
                condition=Q(holder__isnull=False),
                name="one_source_stance_per_target",
            ),
        ]

    def __str__(self) -> str:
        holder = f"source {self.holder_id}" if self.holder_id else "author"
        return f"{holder} toward target {self.target_id}: {self.polarity_id}"


class ImportedSuggestion(models.Model):
    """An attribution suggestion for a segment from an external model or tool
    (``manage.py import_suggestions``, the admin upload). Shown and recorded on
    the annotate screen like the built-in suggester's, which are computed from
    the text and never stored. Spans are offsets into the segment's text."""

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="imported_suggestions"
    )
    origin = models.CharField(
        max_length=100, help_text="Which model or tool made it (shown to annotators)."
    )
    cue_spans = models.JSONField(default=list, blank=True)
    source_start = models.PositiveIntegerField(null=True, blank=True)
    source_end = models.PositiveIntegerField(null=True, blank=True)
    source_text = models.CharField(max_length=300, blank=True)
    form = models.CharField(max_length=60, blank=True)
    score = models.FloatField(null=True, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [source_span_valid("imported_suggestion_source_span_valid")]
        ordering = ["segment", "id"]

    def __str__(self) -> str:
        return f"{self.origin} suggestion for segment {self.segment_id}"


# ---------------------------------------------------------------------------
# Team work
# ---------------------------------------------------------------------------


class Assignment(models.Model):
    """An article in an annotator's queue; ``position`` orders the queue."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="assignments"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    position = models.PositiveIntegerField(default=0)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "annotator"],
                name="one_assignment_per_article_and_annotator",
            )
        ]
        indexes = [models.Index(fields=["annotator", "position"])]
        ordering = ["annotator", "position", "id"]

    def __str__(self) -> str:
        return f"{self.article} → {self.annotator}"


# ---------------------------------------------------------------------------
# Import jobs
# ---------------------------------------------------------------------------


def import_upload_path(instance: ImportJobFile, filename: str) -> str:
    """Where an uploaded file waits for its job (under MEDIA_ROOT); the name as
    uploaded stays in ``ImportJobFile.name``."""
    return f"imports/{instance.job_id}/{instance.position}{PurePath(filename).suffix}"


class ImportJobQuerySet(models.QuerySet):
    def unfinished(self) -> ImportJobQuerySet:
        """Jobs waiting for a worker or running (or whose worker died)."""
        return self.filter(state__in=[ImportJob.State.QUEUED, ImportJob.State.RUNNING])

    def for_page(self) -> ImportJobQuerySet:
        """A job with its project, creator and files, for the job page: 2 queries."""
        files = ImportJobFile.objects.order_by("position")
        return self.select_related("project", "created_by").prefetch_related(
            Prefetch("files", queryset=files)
        )


class ImportJob(models.Model):
    """One upload of files to import, run in the background by ``manage.py worker``.

    Each file lands whole or not at all, in its own transaction, which also
    records the file's outcome (``ImportJobFile``): a run that is interrupted
    (a worker restarted, the database went away) and started again goes on with
    the files not yet done. ``attempt`` counts the runs; a run is tied to its
    attempt, so a run that was given up on (and started again) cannot carry on.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="import_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempt = models.PositiveSmallIntegerField(
        default=1, help_text="Runs started so far (a run whose worker died counts)."
    )
    task_id = models.CharField(
        max_length=64, blank=True, help_text="The django.tasks result of this run."
    )
    bytes_total = models.PositiveBigIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(
        default=0, help_text="Bytes of the files read so far, for the progress bar."
    )
    step = models.CharField(
        max_length=300, blank=True, help_text="What the job is doing, in words."
    )
    message = models.TextField(blank=True, help_text="Why the job failed, in words.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["state"])]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import #{self.pk} into {self.project}"

    def get_absolute_url(self) -> str:
        return reverse("admin:annotations_importjob_change", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def seconds_taken(self) -> int | None:
        """From the first start to the end; None while it runs."""
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds())

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        if not self.bytes_total:
            return 0
        return min(99, self.bytes_done * 100 // self.bytes_total)


class ImportJobFile(models.Model):
    """One file of an import job and what became of it."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        IMPORTED = "imported", "Imported"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Not imported"

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=500, help_text="The file's name as uploaded.")
    upload = models.FileField(
        upload_to=import_upload_path,
        max_length=500,
        blank=True,
        help_text="The uploaded file, removed when its job has finished.",
    )
    size = models.PositiveBigIntegerField(default=0)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING
    )
    articles = models.PositiveIntegerField(default=0)
    segments = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "position"], name="import_file_position_unique_in_job"
            )
        ]
        ordering = ["job", "position"]

    def __str__(self) -> str:
        return self.name
