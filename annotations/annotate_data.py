"""The annotate screen's data: one article's segments with my labels, the label
panel of the segment shown first, and what the screen offers while I label (cue
candidates per segment, names in the article, my own and the curated sources).

The page carries the whole article as one JSON payload (``screen_payload``), so
annotate.js moves between segments without asking the server, and saves in the
background. Blind annotation: every read here is of my own annotations (or of
the text, which everyone sees); nothing shows another annotator's labels or the
names they typed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.text import (
    Truncator,
    add_truncation_text,
    calculate_truncate_chars_length,
)

from . import suggesting
from .models import (
    PER_SEGMENT_ROLES,
    Annotation,
    Article,
    ArticleTextAids,
    DimensionRole,
    ImportedSuggestion,
    Segment,
    Source,
)
from .scheme import SchemeIndex
from .suggesting import suggest_article
from .suggesting.candidates import article_names, cue_candidates

# Sources put into the page for the source field (my own and curated ones);
# a bigger list is searched through the source suggestions endpoint.
PAGE_SOURCES = 500
# Raise when the shape of the stored aids changes; a change of the suggester's
# code or model changes text_aids_key() by itself.
TEXT_AIDS_VERSION = 3
BUILT_IN = "built-in"
# Articles whose aids prepare_text_aids computes per batch (one query of their
# segments, one upsert).
PREPARE_BATCH = 50

logger = logging.getLogger(__name__)


@dataclass
class Mine:
    """This annotator's stored annotations of one article, by segment id."""

    by_segment: dict[int, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, *, article: Article, annotator) -> Mine:
        """One query: revision, unsure and the values snapshot of my annotations."""
        return cls(
            Annotation.objects.snapshots_of(article=article, annotator=annotator)
        )

    def state(self, segment: Segment) -> str:
        if not segment.is_annotatable:
            return "skipped"
        row = self.by_segment.get(segment.pk)
        if row is None:
            return "open"
        return "unsure" if row["unsure"] else "labelled"


# ---------------------------------------------------------------------------
# The outline
# ---------------------------------------------------------------------------


@cache
def _combining_mark() -> re.Pattern:
    """Any character Unicode gives a combining class (built once per process)."""
    marks = "".join(
        chr(code)
        for code in range(0x300, sys.maxunicode + 1)
        if unicodedata.combining(chr(code))
    )
    return re.compile(f"[{re.escape(marks)}]")


def truncate_chars(text: str, length: int) -> str:
    """What Django's ``truncatechars`` filter gives, without its loop over every
    character in Python (the outline shortens about 100 texts per page): the
    same result whenever the text has no combining mark, else Django's own."""
    text = unicodedata.normalize("NFC", text)
    if len(text) <= length:
        return text
    if not text.isascii() and _combining_mark().search(text):
        return Truncator(text).chars(length)
    return add_truncation_text(
        text[: calculate_truncate_chars_length(length, None)], None
    )


def outline_texts(segment: Segment) -> None:
    """The outline's shortened text (and title) of a segment, set on it."""
    if segment.is_annotatable:
        segment.outline_text = truncate_chars(segment.text, 90)
        segment.outline_title = truncate_chars(segment.text, 200)
    else:
        segment.outline_text = truncate_chars(segment.text, 60)


# ---------------------------------------------------------------------------
# The label panel (server-rendered for the first segment; the page works
# without JavaScript)
# ---------------------------------------------------------------------------


def label_rows(index: SchemeIndex, dimension, chosen: set[str], primary: str = ""):
    return [
        {
            "label": label,
            "checked": label.code in chosen,
            "primary": label.code == primary,
        }
        for (dim_code, _), label in index.labels.items()
        if dim_code == dimension.code and label.active
    ]


def _attribution_row(number: int, item: dict) -> dict:
    span = item.get("source_span") or ["", ""]
    return {
        **item,
        "index": number,
        "source_start": span[0],
        "source_end": span[1],
        "cue_spans_text": ", ".join(
            f"{start}-{end}" for start, end in item.get("cue_spans") or ()
        ),
    }


BLANK_ATTRIBUTION = {
    "source_text": "",
    "source_type": "",
    "form": "",
    "cue_text": "",
    "source_span": None,
    "cue_spans": [],
}


def panel(index: SchemeIndex, values: dict) -> dict:
    """What the label panel shows: the scheme with my values ticked."""
    labels = values.get("labels", {})
    primary = values.get("primary", {})
    dimensions = [
        {
            "dimension": dimension,
            "labels": label_rows(
                index,
                dimension,
                set(labels.get(dimension.code, [])),
                primary.get(dimension.code, ""),
            ),
        }
        for dimension in index.dimensions.values()
        if dimension.role in PER_SEGMENT_ROLES
    ]
    stances = {item["target"]: item for item in values.get("stances", [])}
    polarity_dim = index.by_role.get(DimensionRole.STANCE)
    polarities = label_rows(index, polarity_dim, set()) if polarity_dim else []
    attributions = [
        _attribution_row(number, item)
        for number, item in enumerate(values.get("attributions", []))
    ]
    # One empty row, so a new source can always be typed (no JS needed).
    attributions.append(_attribution_row(len(attributions), BLANK_ATTRIBUTION))
    type_dim = index.by_role.get(DimensionRole.SOURCE_TYPE)
    form_dim = index.by_role.get(DimensionRole.FORM)
    targets = [
        {
            "target": target,
            "polarity": stances.get(code, {}).get("polarity", ""),
            "holder": stances.get(code, {}).get("holder"),
        }
        for code, target in index.targets.items()
    ]
    return {
        "dimensions": dimensions,
        "targets": targets,
        "polarities": polarities,
        "attributions": attributions,
        "blank_attribution": _attribution_row(0, BLANK_ATTRIBUTION),
        "source_types": label_rows(index, type_dim, set()) if type_dim else [],
        "forms": label_rows(index, form_dim, set()) if form_dim else [],
        "unsure": values.get("unsure", False),
        "comment": values.get("comment", ""),
    }


# ---------------------------------------------------------------------------
# The whole article as one payload
# ---------------------------------------------------------------------------


@cache
def text_aids_key() -> str:
    """What stored aids must have been computed with (``ArticleTextAids.key``):
    TEXT_AIDS_VERSION, the suggester's code and its model file. A release that
    changes any of them makes every stored row stale."""
    digest = hashlib.sha256(f"text-aids:{TEXT_AIDS_VERSION}".encode())
    package = Path(suggesting.__file__).parent
    for path in sorted([*package.glob("*.py"), package / "data" / "model.json"]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def text_aids(article: Article, segments: list[Segment]) -> dict:
    """Cue candidates (segment-local offsets) and built-in suggestions by segment
    id (as a string: the stored JSON's keys), and the names in the article.

    From the stored row (``ArticleTextAids``; no query when the caller loaded it
    with ``select_related("text_aids")``, else one); computed from the text
    (about 10 ms for a long article, plus a query for the text if it was
    deferred) and stored when missing or stale."""
    loaded = Article.text_aids.related  # the reverse one-to-one's cache
    if loaded.is_cached(article):
        stored = loaded.get_cached_value(article)
    else:
        stored = ArticleTextAids.objects.filter(article=article).first()
    if stored is not None and stored.key == text_aids_key():
        return stored.data
    aids = compute_text_aids(article.text, segments)
    try:
        with transaction.atomic():
            _store_text_aids([(article.pk, aids)])
    except DatabaseError:
        # A cache: the page is shown all the same; computed again next time.
        logger.warning("text aids of article %s not stored", article.pk, exc_info=True)
    return aids


def compute_text_aids(text: str, segments: list[Segment]) -> dict:
    """The aids of one article from its text and segments (no query)."""
    annotatable = [segment for segment in segments if segment.is_annotatable]
    spans = [(segment.start, segment.end) for segment in annotatable]
    suggested = suggest_article(text, spans)
    cues = {}
    suggestions = {}
    for segment, found in zip(annotatable, suggested, strict=True):
        if found:
            suggestions[str(segment.pk)] = [
                _local_suggestion(segment, f.cue_spans, f.source_span, f) for f in found
            ]
        extra = [f.cue_spans for f in found if f.cue_spans]
        candidates = cue_candidates(text, segment.start, segment.end, extra=extra)
        cues[str(segment.pk)] = [
            {
                "spans": [[a - segment.start, b - segment.start] for a, b in c.spans],
                "text": c.text,
            }
            for c in candidates
        ]
    names = article_names(
        text,
        [(s.start, s.end) for s in annotatable if s.kind in ("sentence", "byline")],
        sources=[f.source_text for found in suggested for f in found],
    )
    return {"cues": cues, "names": names, "suggestions": suggestions}


def _store_text_aids(rows: Iterable[tuple[int, dict]]) -> None:
    """Insert or replace the aids of these articles: one query."""
    key = text_aids_key()
    ArticleTextAids.objects.bulk_create(
        [ArticleTextAids(article_id=pk, key=key, data=aids) for pk, aids in rows],
        update_conflicts=True,
        unique_fields=["article"],
        update_fields=["key", "data"],
    )


def prepare_text_aids(articles: QuerySet[Article]) -> int:
    """Compute and store the aids of those of ``articles`` without current ones
    (after an import, or a release that changed the suggester), so that no
    annotator waits for them; returns how many. Per PREPARE_BATCH articles: one
    query for the articles, one for their segments, one upsert, each batch its
    own transaction."""
    pending = list(
        articles.exclude(text_aids__key=text_aids_key())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for first in range(0, len(pending), PREPARE_BATCH):
        batch = pending[first : first + PREPARE_BATCH]
        texts = dict(Article.objects.filter(pk__in=batch).values_list("pk", "text"))
        by_article: dict[int, list[Segment]] = {}
        for segment in Segment.objects.filter(article_id__in=batch).order_by(
            "article_id", "position"
        ):
            by_article.setdefault(segment.article_id, []).append(segment)
        rows = [
            (pk, compute_text_aids(texts[pk], by_article.get(pk, [])))
            for pk in batch
            if pk in texts  # deleted meanwhile
        ]
        with transaction.atomic():
            _store_text_aids(rows)
    return len(pending)


def _local_suggestion(segment: Segment, cue_spans, source_span, found) -> dict:
    """A suggestion as the page shows it: spans made segment-local."""
    start = segment.start
    return {
        "origin": getattr(found, "origin", BUILT_IN),
        "cue_spans": [[a - start, b - start] for a, b in cue_spans],
        "source_span": [source_span[0] - start, source_span[1] - start]
        if source_span
        else None,
        "source_text": found.source_text,
        "form": found.form,
        "score": round(found.score, 3) if found.score is not None else None,
    }


def imported_suggestions(article: Article) -> dict[int, list[dict]]:
    """Suggestions imported from external tools for the article's segments, by
    segment id (spans already segment-local). One query, none when the article
    was read with ``has_imported_suggestions`` false (``for_annotate_screen``)."""
    found: dict[int, list[dict]] = {}
    if not getattr(article, "has_imported_suggestions", True):
        return found
    rows = ImportedSuggestion.objects.filter(segment__article=article).order_by(
        "segment_id", "-score", "id"
    )
    for row in rows:
        found.setdefault(row.segment_id, []).append(
            {
                "origin": row.origin,
                "cue_spans": row.cue_spans,
                "source_span": [row.source_start, row.source_end]
                if row.source_start is not None
                else None,
                "source_text": row.source_text,
                "form": row.form,
                "score": row.score,
            }
        )
    return found


def page_sources(*, project, user, sees_others: bool) -> list[dict]:
    """My own and the curated sources (never another annotator's), with the
    source type a curated entry carries: one query."""
    sources = (
        Source.objects.suggestable(project=project, user=user, sees_others=sees_others)
        .order_by("owner_id", "name")
        .values_list("name", "aliases", "source_type__code", "owner_id")
    )
    return [
        {
            "name": name,
            "aliases": [a for a in aliases if isinstance(a, str)],
            "type": type_code or "",
            "own": owner_id == user.pk,
        }
        for name, aliases, type_code, owner_id in sources[:PAGE_SOURCES]
    ]


def screen_payload(
    *,
    article: Article,
    segments: list[Segment],
    mine: Mine,
    user,
    sees_others: bool,
    progress: tuple[int, int],
) -> dict:
    """Everything annotate.js needs to show any segment of the article and save it
    (one more query: the page's sources)."""
    aids = text_aids(article, segments)
    offered: dict[int, list[dict]] = {}
    if article.project.suggestions_enabled:
        # Imported ones first (a project's own model), then the built-in one's.
        imported = imported_suggestions(article)
        for segment in segments:
            both = imported.get(segment.pk, []) + aids["suggestions"].get(
                str(segment.pk), []
            )
            if both:
                offered[segment.pk] = both
    # "/articles/7/segments/": a segment's page and its save URL follow it.
    segments_url = reverse("annotations:annotate_segment", args=[article.pk, 0])
    return {
        "user": user.get_username(),
        "article": {"id": article.pk, "title": article.title},
        "segments": [
            {
                "id": segment.pk,
                "position": segment.position,
                "kind": segment.kind,
                "paragraph": segment.paragraph,
                "text": segment.text,
                "annotatable": segment.is_annotatable,
                "cues": aids["cues"].get(str(segment.pk), []),
                "suggestions": offered.get(segment.pk, []),
            }
            for segment in segments
        ],
        "mine": {
            str(segment.position): {
                "revision": row["revision"],
                "values": row["values"],
            }
            for segment in segments
            if (row := mine.by_segment.get(segment.pk)) is not None
        },
        "names": aids["names"],
        "sources": page_sources(
            project=article.project, user=user, sees_others=sees_others
        ),
        "urls": {
            "segments": segments_url[: -len("0/")],
            "continue": reverse("annotations:continue"),
            "work_list": reverse("annotations:work_list"),
            "sources": reverse("annotations:source_suggestions", args=[article.pk]),
        },
        "progress": {"project_done": progress[0], "project_total": progress[1]},
    }
