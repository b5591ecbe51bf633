"""The export's pre-rendered label cells (``AnnotationExportCells``): rendered by
``writers.LabelRenderer`` when an annotation is saved (``services`` calls
:func:`store_export_cells` in the save's transaction), so an annotations-mode
export only joins text. A cache, never the source of truth: see the model.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, transaction

from ..models import Annotation, AnnotationExportCells, Project
from ..scheme import SchemeIndex
from .queries import ExportOptions, build_plan, label_plan, with_export_freshness
from .writers import LabelRenderer


def label_renderer(project: Project, index: SchemeIndex) -> LabelRenderer:
    """The renderer of the label cells for this scheme, made once per index (no
    query: the save already loaded the index)."""
    renderer = index.derived.get("export_renderer")
    if renderer is None:
        renderer = index.derived["export_renderer"] = LabelRenderer(
            label_plan(project, index)
        )
    return renderer


def project_renderer(project: Project) -> LabelRenderer:
    """The renderer for ``project`` as it is now: 3 queries (its scheme index)."""
    return LabelRenderer(build_plan(project, ExportOptions()))


_CELL_FIELDS = (
    "plan_key",
    "source_updated_at",
    "csv",
    "csv_sheet",
    "csv_tail",
    "csv_tail_sheet",
    "json",
    "json_tail",
    "frames",
)


def store_export_cells(
    annotations: Sequence[Annotation], renderer: LabelRenderer
) -> None:
    """Render and upsert the export cells of ``annotations`` (saved ones, as
    stored): one query."""
    AnnotationExportCells.objects.bulk_create(
        [
            AnnotationExportCells(
                annotation_id=annotation.pk,
                source_updated_at=annotation.updated_at,
                **renderer.cells(
                    annotation.values,
                    comment=annotation.comment,
                    unsure=annotation.unsure,
                    created=annotation.created_at,
                    updated=annotation.updated_at,
                    time_spent_ms=annotation.time_spent_ms,
                ),
            )
            for annotation in annotations
        ],
        update_conflicts=True,
        unique_fields=["annotation"],
        update_fields=list(_CELL_FIELDS),
    )


def refresh_export_cells(project: Project, *, articles_per_batch: int = 20) -> int:
    """Render the missing and stale export cells of ``project``; returns how many.

    Goes through the project's articles a few at a time (the annotation index by
    article, whatever the table statistics say) and re-renders the annotations
    without fresh cells; each batch is its own transaction. A row saved again
    meanwhile is simply stale once more (its ``updated_at`` moved on), so this
    can run at any time.
    """
    renderer = project_renderer(project)
    article_ids = list(project.articles.order_by("pk").values_list("pk", flat=True))
    done = 0
    for first in range(0, len(article_ids), articles_per_batch):
        batch = article_ids[first : first + articles_per_batch]
        stale = [
            annotation
            for annotation in with_export_freshness(
                Annotation.objects.filter(article_id__in=batch), renderer.key
            ).only(
                "pk",
                "values",
                "comment",
                "unsure",
                "created_at",
                "updated_at",
                "time_spent_ms",
            )
            if not annotation.has_fresh_export_cells
        ]
        if stale:
            with transaction.atomic():
                store_export_cells(stale, renderer)
            done += len(stale)
    connection = connections[AnnotationExportCells.objects.db]
    if done >= 1000 and connection.vendor == "postgresql":
        # Fresh statistics now rather than whenever autovacuum comes by: with the
        # table believed empty, the planner scans it once per exported row.
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(AnnotationExportCells._meta.db_table)
            cursor.execute(f"ANALYZE {table}")
    return done
