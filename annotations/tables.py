"""The work list table (django-tables2); every column reads annotated values."""

from __future__ import annotations

import django_tables2 as tables
from django.template.loader import render_to_string
from django.utils.html import format_html

from .models import Article


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
    last_activity = tables.DateTimeColumn(
        verbose_name="Last activity", format="d.m.Y H:i", default="–"
    )
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
