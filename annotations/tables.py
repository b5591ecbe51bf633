"""The tables of the pages (django-tables2): the work list, the manager dashboard
and the reviewers' article list.

Every column reads values the page's queryset annotated or prefetched
(``ArticleQuerySet.work_list_rows``, ``MembershipQuerySet.with_progress``,
``ArticleQuerySet.with_team_progress``); the work list's progress
(``AnnotationQuerySet.work_progress``), per-annotator progress and disagreements
come from dicts computed once per page, never from a query per row.
"""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from .models import Annotation, Article, Membership

# What django-tables2 shows for an empty value (its Column ``default``).
EMPTY = "—"


def _percent(done: int, total: int) -> int:
    return min(100, round(100 * done / total)) if total else 0


class WorkListTable(tables.Table):
    """Columns, sorting and paging are django-tables2's; the rows of the page are
    drawn in one pass (``rows_html``) by the same ``render_*`` methods, called
    directly. Through tables2's per-cell path (a ``BoundRow`` per row, a signature
    inspection per cell, a template per progress bar and per date) the 25 rows
    were 85 % of the page."""

    queue_position = tables.Column(
        verbose_name="Queue", empty_values=(), attrs={"td": {"class": "num"}}
    )
    title = tables.Column(verbose_name="Article", attrs={"td": {"class": "title-cell"}})
    project = tables.Column(
        accessor="project__name",
        verbose_name="Project",
        attrs={"td": {"class": "project-cell"}},
    )
    outlet = tables.Column(verbose_name="Outlet")
    annotatable_count = tables.Column(
        verbose_name="Segments", attrs={"td": {"class": "num"}}
    )
    my_done = tables.Column(verbose_name="My progress")
    team_done = tables.Column(verbose_name="Team progress")
    last_activity = tables.DateTimeColumn(verbose_name="Last activity", default="–")
    action = tables.Column(verbose_name="", empty_values=(), orderable=False)

    class Meta:
        model = Article
        fields = ()
        sequence = (
            "queue_position",
            "title",
            "project",
            "outlet",
            "annotatable_count",
            "my_done",
            "team_done",
            "last_activity",
            "action",
        )
        template_name = "annotations/_worklist_table.html"
        attrs = {"class": "worklist"}
        orderable = True

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self._filled: tuple | None = None  # (the page's rows, their records)

    def page_records(self) -> list[Article]:
        """The articles of the page shown, with ``my_done``, ``team_done`` and
        ``last_activity`` from one grouped query over these articles only (the
        table's queryset has them as aliases, for sorting and filtering)."""
        rows = self.paginated_rows
        if self._filled is not None and self._filled[0] is rows:
            return self._filled[1]
        records = list(rows.data)
        progress = Annotation.objects.work_progress(
            article_ids=[record.pk for record in records], annotator=self.user
        )
        for record in records:
            done = progress.get(record.pk, {})
            record.my_done = done.get("my_done", 0)
            record.team_done = done.get("team_done", 0)
            record.last_activity = done.get("last_activity")
        self._filled = (rows, records)
        return records

    def paginate(self, *args, **kwargs) -> WorkListTable:
        super().paginate(*args, **kwargs)
        self.page_records()
        return self

    def rows_html(self) -> str:
        """The ``<tr>`` of every article of the page, as tables2's template draws
        them (its ``even``/``odd`` classes and the columns' ``td`` attributes)."""
        columns = [column for column in self.columns if column.visible]
        tds = [
            format_html("<td {}>", column.attrs["td"].as_html()) for column in columns
        ]
        cells = [getattr(self, f"_cell_{column.name}") for column in columns]
        rows = []
        for number, record in enumerate(self.page_records()):
            url = record.get_absolute_url()
            rows.append(
                format_html(
                    '<tr class="{}">{}</tr>',
                    "odd" if number % 2 else "even",
                    mark_safe(  # noqa: S308 - format_html/escaped pieces only
                        "".join(
                            f"{td}{conditional_escape(cell(record, url))}</td>"
                            for td, cell in zip(tds, cells, strict=True)
                        )
                    ),
                )
            )
        return mark_safe("\n".join(rows))  # noqa: S308 - each row is format_html

    # One function per column for ``rows_html``: the record and its URL in.

    def _cell_queue_position(self, record, url: str) -> str:
        return self.render_queue_position(None, record)

    def _cell_title(self, record, url: str) -> str:
        return self.render_title(record.title, record, url)

    def _cell_project(self, record, url: str) -> str:
        return record.project.name or EMPTY

    def _cell_outlet(self, record, url: str) -> str:
        return record.outlet or EMPTY

    def _cell_annotatable_count(self, record, url: str) -> str:
        return str(record.annotatable_count)

    def _cell_my_done(self, record, url: str) -> str:
        return self.render_my_done(record.my_done, record)

    def _cell_team_done(self, record, url: str) -> str:
        return self.render_team_done(record.team_done, record)

    def _cell_last_activity(self, record, url: str) -> str:
        # What DateTimeColumn's template does: the local time, short format.
        if record.last_activity is None:
            return "–"
        return date_format(localtime(record.last_activity), "SHORT_DATETIME_FORMAT")

    def _cell_action(self, record, url: str) -> str:
        return self.render_action(record, url)

    # tables2's per-cell renderers (also what ``rows_html`` calls).

    def render_queue_position(self, value, record) -> str:
        return "–" if record.queue_position is None else str(record.queue_position + 1)

    def render_title(self, value, record, url: str | None = None) -> str:
        return format_html(
            '<a href="{}">{}</a>{}',
            url or record.get_absolute_url(),
            value,
            format_html('<span class="byline">{}</span>', record.byline)
            if record.byline
            else "",
        )

    def _bar(self, done: int, total: int, label: str) -> str:
        return format_html(
            '<div class="progress-cell"><progress value="{}" max="{}" '
            'aria-label="{}">{}%</progress><span class="progress-text">{}/{}</span>'
            "</div>",
            done,
            total or 1,
            label,
            _percent(done, total),
            done,
            total,
        )

    def render_my_done(self, value, record) -> str:
        return self._bar(value, record.annotatable_count, "My progress")

    def render_team_done(self, value, record) -> str:
        return self._bar(value, record.annotatable_count, "Segments labelled by anyone")

    def render_action(self, record, url: str | None = None) -> str:
        if record.my_done >= record.annotatable_count:
            text, css = "Open", "button small"
        elif record.my_done:
            text, css = "Continue", "button small primary"
        else:
            text, css = "Start", "button small"
        url = url or record.get_absolute_url()
        return format_html('<a class="{}" href="{}">{}</a>', css, url, text)


# ---------------------------------------------------------------------------
# Team pages
# ---------------------------------------------------------------------------


def duration(ms: int) -> str:
    minutes, seconds = divmod(round(ms / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def progress(done: int, total: int) -> str:
    """A CSP-safe bar (<progress>, no inline style) with the numbers next to it."""
    return format_html(
        '<progress value="{}" max="{}"></progress> <span class="num">{}/{}</span>',
        min(done, total),
        max(total, 1),
        done,
        total,
    )


class AnnotatorProgressTable(tables.Table):
    user = tables.Column(accessor="user__username", verbose_name="Annotator")
    role = tables.Column()
    assigned_articles = tables.Column(verbose_name="Articles assigned")
    labelled = tables.Column(verbose_name="Segments labelled / assigned")
    time_spent_ms = tables.Column(verbose_name="Time spent")
    last_activity = tables.DateTimeColumn(verbose_name="Last activity", default="–")

    class Meta:
        model = Membership
        fields = ()
        sequence = (
            "user",
            "role",
            "assigned_articles",
            "labelled",
            "time_spent_ms",
            "last_activity",
        )
        attrs = {"class": "team-table", "id": "annotator-progress"}
        orderable = False

    def render_labelled(self, record: Membership) -> str:
        # Work done counts too where nothing (or not all of it) was assigned:
        # ``labelled_count`` is the member's own annotations in the whole project.
        if not record.assigned_segments:
            return format_html(
                '<span class="num">{}</span> labelled · nothing assigned',
                record.labelled_count,
            )
        if record.labelled_count > record.labelled:
            return format_html(
                "{} · {} in all",
                progress(record.labelled, record.assigned_segments),
                record.labelled_count,
            )
        return progress(record.labelled, record.assigned_segments)

    def render_time_spent_ms(self, value: int) -> str:
        return duration(value)


class ArticleProgressTable(tables.Table):
    title = tables.Column(verbose_name="Article", linkify=False)
    annotatable_count = tables.Column(verbose_name="Segments")
    assignments = tables.Column(
        accessor="pk", verbose_name="Annotators (progress)", orderable=False
    )
    annotation_count = tables.Column(verbose_name="Annotations")
    gold_count = tables.Column(verbose_name="Gold")
    disagreements = tables.Column(
        accessor="pk", verbose_name="Disagreements", orderable=False
    )

    class Meta:
        model = Article
        fields = ()
        sequence = (
            "title",
            "annotatable_count",
            "assignments",
            "annotation_count",
            "gold_count",
            "disagreements",
        )
        attrs = {"class": "team-table", "id": "article-progress"}
        orderable = False

    def __init__(self, *args, done: dict, disagreements: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.done = done
        self.disagreement_counts = disagreements

    def render_title(self, record: Article) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("annotations:review", args=[record.pk]),
            record.title,
        )

    def render_assignments(self, record: Article) -> str:
        rows = [
            (
                a.annotator.username,
                progress(
                    self.done.get((record.pk, a.annotator_id), 0),
                    record.annotatable_count,
                ),
            )
            for a in record.assignments.all()
        ]
        if not rows:
            return "–"
        return format_html(
            '<ul class="assignees">{}</ul>',
            format_html_join("", "<li><span>{}</span> {}</li>", rows),
        )

    def render_disagreements(self, record: Article) -> str:
        n = self.disagreement_counts.get(record.pk, 0)
        return format_html(
            '<span class="{}">{}</span>', "disagree-count" if n else "", n
        )
