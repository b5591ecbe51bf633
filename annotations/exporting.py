"""The database side of the export: named querysets that feed ``export.py``.

Cost of one export, whatever its size: 3 queries for the plan (scheme labels with
their dimensions, the project's enabled optional dimensions, stance targets) and
one or two streamed queries for the rows (annotations mode: one joined query;
segments mode or ``include_unlabelled``: segments and annotations, both ordered by
(article, position) and merged in Python). Rows are read with ``.iterator()``
(server-side cursors on PostgreSQL, chunked fetches on SQLite), so memory does not
grow with the corpus.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from . import agreement, export
from .models import Annotation, Article, Label, Project, Segment, StanceTarget

FETCH_CHUNK = 2000
# export.SEGMENT_FIELDS, reached from an annotation (one joined query).
JOINED_SEGMENT_FIELDS = tuple(
    "article_id"
    if name == "article_id"
    else name
    if name.startswith("article__")
    else f"segment__{name}"
    for name in export.SEGMENT_FIELDS
)


@dataclass(frozen=True)
class ExportOptions:
    """What to export; ``articles`` None means every article of the project."""

    mode: str = "annotations"
    articles: QuerySet[Article] | None = None
    annotators: Sequence[str] | None = None  # usernames; None: everyone
    include_unlabelled: bool = False
    pseudonymise: bool = False


def build_plan(project: Project, options: ExportOptions) -> export.ExportPlan:
    """The project's scheme and targets as plain data: 3 queries.

    Inactive labels stay in the plan (old annotations may use them and are
    exported as they were); optional dimensions the project has not switched on
    are listed in the codebook but get no column.
    """
    scheme = project.scheme
    enabled = set(project.optional_dimensions.values_list("pk", flat=True))
    dimensions: dict[int, dict[str, Any]] = {}
    labels = (
        Label.objects.filter(dimension__scheme_id=project.scheme_id)
        .select_related("dimension")
        .order_by("dimension__order", "dimension_id", "order", "id")
    )
    for label in labels:
        dimension = label.dimension
        entry = dimensions.setdefault(
            dimension.pk, {"dimension": dimension, "labels": []}
        )
        entry["labels"].append(
            export.LabelInfo(
                code=label.code,
                name_en=label.name_en,
                name_de=label.name_de,
                definition=label.definition,
                mappings=dict(label.mappings or {}),
                active=label.active,
            )
        )
    infos = []
    for entry in dimensions.values():
        dimension = entry["dimension"]
        infos.append(
            export.DimensionInfo(
                code=dimension.code,
                role=dimension.role,
                name_en=dimension.name_en,
                name_de=dimension.name_de,
                multi=dimension.is_multi,
                description=dimension.description,
                labels=tuple(entry["labels"]),
                exported=dimension.is_enabled(enabled),
            )
        )
    targets = StanceTarget.objects.filter(project=project).order_by("order", "id")
    return export.ExportPlan(
        project=project.slug,
        scheme_name=scheme.name if scheme else "",
        scheme_version=scheme.version_label if scheme else "",
        dimensions=tuple(infos),
        targets=tuple(
            export.TargetInfo(code=t.code, name=t.name, question=t.question)
            for t in targets
        ),
        mode=options.mode,
        include_unlabelled=options.include_unlabelled,
        pseudonym_key=pseudonym_key() if options.pseudonymise else None,
    )


def pseudonym_key() -> bytes:
    """Stable across exports of one installation, secret to whoever lacks SECRET_KEY."""
    return f"workbench-export-pseudonym:{settings.SECRET_KEY}".encode()


def segments_for_export(project: Project, options: ExportOptions) -> QuerySet:
    """Segments with their article's fields, ordered by (article, position).

    With ``include_unlabelled`` every segment (boilerplate too, so the article text
    can be rebuilt); otherwise only segments someone exported labelled. One query.
    """
    segments = Segment.objects.filter(article__project=project)
    if options.articles is not None:
        segments = segments.filter(article__in=options.articles.values("pk"))
    return segments.order_by("article_id", "position").values_list(
        *export.SEGMENT_FIELDS
    )


def annotations_for_export(
    project: Project, options: ExportOptions, *, with_segment: bool
) -> QuerySet:
    """Annotations ordered by (article, position, annotator): one query.

    Annotations mode reads annotators' own annotations only; segments mode reads
    the gold too (the adjudicated label wins). ``with_segment`` prefixes each
    record with the segment fields (one joined query instead of a merge).
    """
    annotations = Annotation.objects.filter(article__project=project)
    if options.mode == "annotations":
        annotations = annotations.filter(is_gold=False)
    if options.articles is not None:
        annotations = annotations.filter(article__in=options.articles.values("pk"))
    if options.annotators is not None:
        # The gold is the adjudicated label, not an annotator's: kept in segments mode.
        own = Q(annotator__username__in=list(options.annotators))
        annotations = annotations.filter(
            own if options.mode == "annotations" else own | Q(is_gold=True)
        )
    fields = export.ANNOTATION_FIELDS
    if with_segment:
        fields = JOINED_SEGMENT_FIELDS + fields
    return annotations.order_by(
        "article_id", "segment__position", "annotator__username"
    ).values_list(*fields)


def export_rows(
    project: Project,
    options: ExportOptions,
    *,
    plan: export.ExportPlan | None = None,
    counts: export.Counts | None = None,
) -> Iterator[list[Any]]:
    """Shaped rows of the export, streamed; see the module docstring for the cost."""
    plan = plan or build_plan(project, options)
    if options.mode == "annotations" and not options.include_unlabelled:
        records = annotations_for_export(project, options, with_segment=True)
        grouped = export.split_joined(stream(records))
    else:
        segments = segments_for_export(project, options)
        records = annotations_for_export(project, options, with_segment=False)
        grouped = export.annotation_records_by_segment(
            stream(records), stream(segments)
        )
    return export.shape_rows(plan, grouped, counts=counts)


def stream(queryset: QuerySet, *, chunk_size: int = FETCH_CHUNK) -> Iterator[tuple]:
    """The rows of a ``values_list`` queryset as the database driver returns them.

    Like ``.iterator(chunk_size=...)`` (one query; a server-side cursor on
    PostgreSQL, chunked fetches on SQLite) but without Django's per-row
    converters: ``export.py`` accepts the raw JSON text and the raw SQLite date
    strings, and converting them twice was most of the export's time. The cursor
    is closed when the consumer stops early (e.g. the client went away).
    """
    connection = connections[queryset.db]
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def export_chunks(
    project: Project,
    options: ExportOptions,
    *,
    fmt: str,
    spreadsheet: bool = True,
    counts: export.Counts | None = None,
) -> Iterator[str]:
    """The export file as text chunks (CSV or JSONL), for a response or a file."""
    plan = build_plan(project, options)
    rows = export_rows(project, options, plan=plan, counts=counts)
    return export.write_chunks(plan, rows, fmt=fmt, spreadsheet=spreadsheet)


# ---------------------------------------------------------------------------
# Codebook
# ---------------------------------------------------------------------------


def agreement_figures(
    counts: export.Counts, plan: export.ExportPlan
) -> dict[str, dict[str, Any]]:
    """Agreement per dimension from the ratings collected during the export pass.

    Stance is reported per target (``stance:<target>``). Uses
    ``agreement.dimension_report``; coders are already pseudonymised if asked.
    """
    multi = {d.code: d.multi for d in plan.dimensions}
    figures: dict[str, dict[str, Any]] = {}
    for name, triples in counts.ratings.items():
        ratings = [
            agreement.Rating(item, coder, value) for item, coder, value in triples
        ]
        report = agreement.dimension_report(ratings, multi=multi.get(name, False))
        figures[name] = {
            "alpha": report.alpha,
            "interpretation": report.interpretation,
            "fleiss": report.fleiss,
            "percent": report.percent,
            "n_items": report.n_items,
            "n_coders": report.n_coders,
            "n_ratings": report.n_ratings,
            "pairwise": [
                {
                    "a": str(a),
                    "b": str(b),
                    "kappa": pair.kappa,
                    "percent": pair.percent,
                    "n_items": pair.n_items,
                }
                for (a, b), pair in sorted(report.pairwise.items(), key=str)
            ],
        }
    return figures


def codebook(
    project: Project,
    options: ExportOptions,
    *,
    counts: export.Counts | None = None,
    with_agreement: bool = True,
    generated: datetime | None = None,
) -> dict[str, Any]:
    """The codebook data for this export. Without ``counts`` from an export pass
    already made, runs one counting pass over the same rows (nothing written)."""
    plan = build_plan(project, options)
    if counts is None:
        counts = export.Counts(plan, ratings=with_agreement)
        for _ in export_rows(project, options, plan=plan, counts=counts):
            pass
    return export.codebook_data(
        plan,
        counts,
        generated=generated or timezone.now(),
        agreement=agreement_figures if with_agreement else None,
    )


# ---------------------------------------------------------------------------
# Responses (the web page and the admin action share them)
# ---------------------------------------------------------------------------

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}


def export_response(
    project: Project, options: ExportOptions, *, fmt: str, spreadsheet: bool = True
) -> StreamingHttpResponse:
    """A download that starts at once: chunks are produced while the client reads."""
    chunks = export_chunks(project, options, fmt=fmt, spreadsheet=spreadsheet)
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[fmt])
    name = export.file_name(project.slug, options.mode, fmt, timezone.localdate())
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # Labelled data is private to the project: no shared caches.
    response["Cache-Control"] = "private, no-store"
    return response


def codebook_response(
    project: Project, options: ExportOptions, *, fmt: str = "md", with_agreement: bool
) -> HttpResponse:
    data = codebook(project, options, with_agreement=with_agreement)
    day = timezone.localdate().isoformat()
    if fmt == "json":
        response = HttpResponse(
            export.codebook_json(data), content_type="application/json; charset=utf-8"
        )
    else:
        response = HttpResponse(
            export.codebook_markdown(data), content_type="text/markdown; charset=utf-8"
        )
    name = f"{project.slug}_codebook_{day}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
