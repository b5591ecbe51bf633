"""The tables of the pages (django-tables2): the work list, the manager dashboard
and the reviewers' article list.

Every column reads values the page's queryset annotated or prefetched
(``ArticleQuerySet.for_work_list``, ``MembershipQuerySet.with_progress``,
``ArticleQuerySet.with_team_progress``); per-annotator progress and disagreements
come from dicts computed once per page and handed to the table, never from a
query per row.
"""

from __future__ import annotations

import django_tables2 as tables
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .models import Article, Membership


def _percent(done: int, total: int) -> int:
    return min(100, round(100 * done / total)) if total else 0


class WorkListTable(tables.Table):
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

    def render_queue_position(self, value, record) -> str:
        return "–" if record.queue_position is None else str(record.queue_position + 1)

    def render_title(self, value, record) -> str:
        return format_html(
            '<a href="{}">{}</a>{}',
            record.get_absolute_url(),
            value,
            format_html('<span class="byline">{}</span>', record.byline)
            if record.byline
            else "",
        )

    def _bar(self, done: int, total: int, label: str) -> str:
        return render_to_string(
            "annotations/_worklist_progress.html",
            {
                "done": done,
                "total": total,
                "percent": _percent(done, total),
                "label": label,
            },
        )

    def render_my_done(self, value, record) -> str:
        return self._bar(value, record.annotatable_count, "My progress")

    def render_team_done(self, value, record) -> str:
        return self._bar(value, record.annotatable_count, "Segments labelled by anyone")

    def render_action(self, record) -> str:
        if record.my_done >= record.annotatable_count:
            text, css = "Open", "button small"
        elif record.my_done:
            text, css = "Continue", "button small primary"
        else:
            text, css = "Start", "button small"
        return format_html(
            '<a class="{}" href="{}">{}</a>', css, record.get_absolute_url(), text
        )


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
