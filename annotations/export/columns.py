"""Every column of the export, defined once: name, meaning, kind, where its value
comes from. Plain Python, no Django.

A column is one ``Column`` below. Its ``kind`` decides how every writer renders
it (``writers.py`` in Python, ``sql.py`` in the database for the fast path), its
``field`` names the database field it is read from (segment and meta columns;
``queries.py`` reads exactly these), and label columns get their values from the
``Annotation.values`` snapshot in ``rows.py``. So a new segment or meta column is
one line here; a new per-attribution field is one ``AttributionColumn``; the
per-target, per-frame and per-dimension groups are expanded from the project's
plan where their markers stand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MODES = ("annotations", "segments")
FORMATS = ("csv", "jsonl")

# Cell kinds: what a value is, hence how each writer renders it.
TEXT = "text"  # free text: quoted and neutralised as needed
KEYWORD = "keyword"  # one of a few fixed words (segment kind): never needs quoting
INT = "int"  # a whole number, or empty
FLAG = "flag"  # 1/0 in CSV, true/false in JSONL
DATE = "date"  # YYYY-MM-DD, empty when unknown
DATETIME = "datetime"  # ISO 8601 in UTC
LIST = "list"  # ;-joined in CSV, an array in JSONL
COUNTS = "counts"  # a list of whole numbers: ;-joined in CSV, numbers in JSONL

# Where a column's value comes from.
PLAN = "plan"  # the export plan (project slug, scheme version)
SEGMENT = "segment"  # a field of the segment or its article
ROW = "row"  # who and how the row was labelled (annotator, label source)
LABEL = "label"  # the annotation's labels (``values`` snapshot)
META = "meta"  # a field of the annotation beside its labels

# Segments mode: how a majority row sums up the annotators' meta values.
FIRST_EMPTY = "empty"  # nobody's (the comment is the gold's only)
ANY = "any"
EARLIEST = "min"
LATEST = "max"
TOTAL = "sum"

# Segments mode: how an attribution's item is picked (AttributionColumn.vote).
NAME_VOTE = "name"
LABEL_VOTE = "label"
SPAN_VOTE = "span"


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    kind: str = TEXT
    source: str = LABEL
    # SEGMENT: the field of ``Segment`` (``article__...`` for the article's);
    # META: the field of ``Annotation``.
    field: str = ""
    segments_only: bool = False
    majority: str = ""  # META columns in segments mode, see above


@dataclass(frozen=True)
class Group:
    """Where the columns of one plan-dependent group go (targets, frames, extras)."""

    name: str


@dataclass(frozen=True)
class AttributionColumn:
    """One of the parallel lists of a row's attributions: the k-th items of every
    list belong to the row's k-th attribution.

    ``key`` is the attribution's key in the ``values`` snapshot; ``item`` turns
    that value into the list item (text); ``vote``: how segments mode picks the
    item among the annotators who gave that attribution (the same canonical
    source, ``snapshot.attribution_identities``): ``name`` the commonest spelling
    (never empty; on a tie the first annotator's by username), ``label`` the
    one more than half of them gave (else empty), ``span`` the commonest (on a
    tie marked before none, then the first annotator's). ``agree`` names its
    segments-mode count column (annotators who gave the attribution with this
    very item), "" for none.
    """

    name: str
    description: str
    key: str
    vote: str = LABEL_VOTE
    item: Callable[[Any], str] = str
    agree: str = ""

    def value(self, attribution: dict) -> str:
        value = attribution.get(self.key)
        if self.item is str:
            return value or ""
        return self.item(value)


def span_text(span: Any) -> str:
    """``[start, end]`` as ``start..end``; "" when not marked. Not ``start-end``:
    a spreadsheet opening the CSV turns ``3-5`` into a date."""
    if isinstance(span, (list, tuple)) and len(span) == 2:
        return f"{span[0]}..{span[1]}"
    return ""


def parse_span(text: str) -> tuple[int, int] | None:
    """The inverse of :func:`span_text`."""
    if not text:
        return None
    start, end = text.split("..")
    return int(start), int(end)


def cue_spans_text(spans: Any) -> str:
    """The parts of a (possibly discontinuous) cue, ``+``-joined."""
    return "+".join(span_text(span) for span in spans or ())


ATTRIBUTIONS: tuple[AttributionColumn, ...] = (
    AttributionColumn(
        "attribution_source_text",
        "list: each attribution's source as written",
        key="source_text",
        vote=NAME_VOTE,
    ),
    AttributionColumn(
        "attribution_source",
        "list: each attribution's canonical source (project source list)",
        key="source",
        vote=NAME_VOTE,
    ),
    AttributionColumn(
        "attribution_source_type",
        "list: each attribution's source type code",
        key="source_type",
        agree="attribution_source_type_agree",
    ),
    AttributionColumn(
        "attribution_form",
        "list: each attribution's form code (SpkAtt-2023 Form)",
        key="form",
        agree="attribution_form_agree",
    ),
    AttributionColumn(
        "attribution_cue",
        "list: each attribution's cue as written",
        key="cue_text",
        agree="attribution_cue_agree",
    ),
    AttributionColumn(
        "attribution_source_span",
        "list: each attribution's source span in `text` as `start..end` "
        "(`text[start:end]`); empty item when not marked",
        key="source_span",
        vote=SPAN_VOTE,
        item=span_text,
        agree="attribution_source_span_agree",
    ),
    AttributionColumn(
        "attribution_cue_spans",
        "list: each attribution's cue span(s) in `text`, `start..end`, the parts "
        "of a discontinuous cue joined with `+`; empty item when not marked",
        key="cue_spans",
        vote=SPAN_VOTE,
        item=cue_spans_text,
        agree="attribution_cue_spans_agree",
    ),
    AttributionColumn(
        "attribution_suggestion",
        "list: whether each attribution came from a suggestion: `accepted` as "
        "suggested, `edited` when changed after accepting, empty when entered "
        "by hand",
        key="suggestion",
    ),
)
# Their names, in file order.
ATTRIBUTION_COLUMNS = tuple(column.name for column in ATTRIBUTIONS)

# Every column of every export, in file order; the groups are expanded per plan
# (``column_specs``).
COLUMNS: tuple[Column | Group, ...] = (
    Column("project", "project slug", source=PLAN),
    Column(
        "article_id",
        "article id in the workbench database",
        INT,
        SEGMENT,
        "article_id",
    ),
    Column("article_title", "article title", TEXT, SEGMENT, "article__title"),
    Column(
        "outlet",
        "outlet (publication) of the article",
        TEXT,
        SEGMENT,
        "article__outlet",
    ),
    Column("url", "article URL", TEXT, SEGMENT, "article__url"),
    Column(
        "published",
        "publication date, ISO 8601 (YYYY-MM-DD); empty when unknown",
        DATE,
        SEGMENT,
        "article__published",
    ),
    Column("segment_id", "segment id in the workbench database", INT, SEGMENT, "id"),
    Column(
        "position",
        "0-based position of the segment in its article",
        INT,
        SEGMENT,
        "position",
    ),
    Column(
        "paragraph",
        "0-based paragraph number of the segment",
        INT,
        SEGMENT,
        "paragraph",
    ),
    Column(
        "kind",
        "segment kind: title, byline, heading, sentence, boilerplate",
        KEYWORD,
        SEGMENT,
        "kind",
    ),
    Column(
        "start",
        "offset of the segment's first character in the article text",
        INT,
        SEGMENT,
        "start",
    ),
    Column(
        "end",
        "offset after the segment's last character (text == article[start:end])",
        INT,
        SEGMENT,
        "end",
    ),
    Column("text", "the segment text, exactly as stored", TEXT, SEGMENT, "text"),
    Column(
        "annotator",
        "username (or pseudonym) of the annotator; in segments mode the "
        "adjudicator of a gold row, empty otherwise",
        source=ROW,
    ),
    Column(
        "label_source",
        "segments mode only: gold (adjudicated), majority, or empty "
        "(nobody labelled the segment)",
        source=ROW,
        segments_only=True,
    ),
    Column(
        "n_annotators",
        "segments mode only: how many annotators labelled the segment",
        INT,
        ROW,
        segments_only=True,
    ),
    Column("claim", "claim label code"),
    Column(
        "claim_agree",
        "segments mode only: annotators whose own claim equals `claim`",
        INT,
        segments_only=True,
    ),
    Column("claim_claimbuster", "`claim` mapped to ClaimBuster (CFS / UFS / NFS)"),
    Column(
        "claim_checkthat",
        "`claim` mapped to CLEF CheckThat! check-worthiness (yes / no)",
    ),
    *(Column(a.name, a.description, LIST) for a in ATTRIBUTIONS),
    Column(
        "attribution_agree",
        "segments mode only: list, per attribution, how many annotators gave "
        "that source (the same canonical source, whatever its type, form or cue)",
        COUNTS,
        segments_only=True,
    ),
    *(
        Column(
            a.agree,
            f"segments mode only: list, per attribution, how many annotators gave "
            f"that source with the same `{a.name}` item",
            COUNTS,
            segments_only=True,
        )
        for a in ATTRIBUTIONS
        if a.agree
    ),
    Group("stance"),
    Column("frames", "list: frame codes chosen (scheme order)", LIST),
    Column(
        "frames_agree",
        "segments mode only: annotators whose frame set equals `frames`",
        INT,
        segments_only=True,
    ),
    Column("frame_primary", "the frame marked primary, if any"),
    Group("frame_flags"),
    Column(
        "article_frames",
        "list: union of `frames` over the article's rows in this export "
        "(annotations mode: per annotator), SemEval-2023 article level",
        LIST,
    ),
    Group("extra"),
    Column(
        "comment",
        "the annotator's comment (segments mode: the gold comment)",
        TEXT,
        META,
        "comment",
        majority=FIRST_EMPTY,
    ),
    Column(
        "unsure",
        "1 if the annotator flagged the label as unsure (segments mode, "
        "majority rows: 1 if any annotator did)",
        FLAG,
        META,
        "unsure",
        majority=ANY,
    ),
    Column(
        "created",
        "when the annotation was first saved, ISO 8601 UTC",
        DATETIME,
        META,
        "created_at",
        majority=EARLIEST,
    ),
    Column(
        "updated",
        "when it was last saved, ISO 8601 UTC",
        DATETIME,
        META,
        "updated_at",
        majority=LATEST,
    ),
    Column(
        "time_spent_ms",
        "measured annotation time in milliseconds (segments mode, "
        "majority rows: the annotators' sum)",
        INT,
        META,
        "time_spent_ms",
        majority=TOTAL,
    ),
    Column("scheme_version", "label scheme as slug@version", source=PLAN),
)
# (name, description) of the fixed columns, in file order.
FIXED_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (column.name, column.description)
    for column in COLUMNS
    if isinstance(column, Column)
)
_FIXED_NAMES = {name for name, _ in FIXED_COLUMNS}

SEGMENT_COLUMNS = tuple(
    c for c in COLUMNS if isinstance(c, Column) and c.source == SEGMENT
)
META_COLUMNS = tuple(c for c in COLUMNS if isinstance(c, Column) and c.source == META)

# The records ``queries.py`` reads and ``rows.py`` takes apart: the fields of a
# segment record, then of an annotation record. The first fields are fixed
# (``rows.py`` indexes them); a new segment or meta column's field is appended.
_SEGMENT_RECORD_START = (
    "id",
    "article_id",
    "position",
    "paragraph",
    "kind",
    "start",
    "end",
    "text",
)
SEGMENT_FIELDS = _SEGMENT_RECORD_START + tuple(
    c.field for c in SEGMENT_COLUMNS if c.field not in _SEGMENT_RECORD_START
)
_ANNOTATION_RECORD_START = (
    "article_id",
    "segment__position",
    "annotator__username",
    "is_gold",
    "values",
    "unsure",
    "comment",
)
ANNOTATION_FIELDS = _ANNOTATION_RECORD_START + tuple(
    c.field for c in META_COLUMNS if c.field not in _ANNOTATION_RECORD_START
)


# ---------------------------------------------------------------------------
# The plan: everything about a project that decides the columns (plain data)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelInfo:
    code: str
    name_en: str
    name_de: str = ""
    definition: str = ""
    mappings: dict[str, str] = field(default_factory=dict)
    active: bool = True


@dataclass(frozen=True)
class DimensionInfo:
    code: str
    role: str  # claim | frames | extra | source_type | form | stance
    name_en: str
    name_de: str = ""
    multi: bool = False
    description: str = ""
    labels: tuple[LabelInfo, ...] = ()
    exported: bool = True  # False: an optional dimension this project has not enabled

    def mapping(self, key: str) -> dict[str, str]:
        return {label.code: label.mappings.get(key, "") for label in self.labels}


@dataclass(frozen=True)
class TargetInfo:
    code: str
    name: str
    question: str = ""


@dataclass(frozen=True)
class ExportPlan:
    """What one export writes: the project's scheme and targets, mode and options."""

    project: str
    scheme_name: str
    scheme_version: str
    dimensions: tuple[DimensionInfo, ...]
    targets: tuple[TargetInfo, ...]
    mode: str = "annotations"
    include_unlabelled: bool = False
    pseudonym_key: bytes | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(
                f"mode must be one of {', '.join(MODES)}; got {self.mode!r}"
            )

    def role(self, role: str) -> DimensionInfo | None:
        return next((d for d in self.dimensions if d.role == role and d.exported), None)

    @property
    def extra_dimensions(self) -> tuple[DimensionInfo, ...]:
        return tuple(d for d in self.dimensions if d.role == "extra" and d.exported)

    @property
    def frame_codes(self) -> tuple[str, ...]:
        frames = self.role("frames")
        return tuple(label.code for label in frames.labels) if frames else ()

    def extra_column(self, dimension: DimensionInfo) -> str:
        # A dimension code that equals a fixed column name gets a prefix.
        return (
            f"dim_{dimension.code}"
            if dimension.code in _FIXED_NAMES
            else dimension.code
        )


# ---------------------------------------------------------------------------
# The columns of one export
# ---------------------------------------------------------------------------


def column_specs(plan: ExportPlan) -> list[Column]:
    """Every column of this export, in file order, the groups expanded."""
    segments = plan.mode == "segments"
    specs: list[Column] = []
    for column in COLUMNS:
        if isinstance(column, Column):
            if segments or not column.segments_only:
                specs.append(column)
        elif column.name == "stance":
            for target in plan.targets:
                specs += [
                    Column(
                        f"stance_{target.code}",
                        f"stance toward {target.name}: the author's (or, without "
                        "one, the first source's) polarity; `none` when the target "
                        "was left untouched",
                    ),
                    Column(
                        f"stance_{target.code}_holder",
                        "who holds that stance: `author` or the canonical source name",
                    ),
                    Column(
                        f"stance_{target.code}_sources",
                        "list: every source-held stance toward the target as "
                        "`source=polarity`",
                        LIST,
                    ),
                ]
                if segments:
                    specs.append(
                        Column(
                            f"stance_{target.code}_agree",
                            f"annotators whose own `stance_{target.code}` equals it",
                            INT,
                        )
                    )
        elif column.name == "frame_flags":
            specs += [
                Column(f"frame_{code}", f"1 if `frames` contains {code}, else 0", INT)
                for code in plan.frame_codes
            ]
        elif column.name == "extra":
            for dimension in plan.extra_dimensions:
                name = plan.extra_column(dimension)
                kind = "list: label codes" if dimension.multi else "label code"
                specs.append(
                    Column(
                        name,
                        f"{dimension.name_en} ({kind})",
                        LIST if dimension.multi else TEXT,
                    )
                )
                if segments:
                    specs.append(
                        Column(
                            f"{name}_agree",
                            f"annotators whose own `{name}` equals it",
                            INT,
                        )
                    )
    return specs


def column_docs(plan: ExportPlan) -> list[tuple[str, str]]:
    """Every column of this export with what it means, in file order."""
    return [(column.name, column.description) for column in column_specs(plan)]


def columns(plan: ExportPlan) -> list[str]:
    return [column.name for column in column_specs(plan)]


def list_columns(plan: ExportPlan) -> list[str]:
    return [c.name for c in column_specs(plan) if c.kind == LIST]


def count_columns(plan: ExportPlan) -> list[str]:
    """Columns holding a list of whole numbers (segments mode's attribution
    counts)."""
    return [c.name for c in column_specs(plan) if c.kind == COUNTS]


def int_columns(plan: ExportPlan) -> list[str]:
    """Columns holding whole numbers (0/1 flags included) in every labelled row."""
    return [c.name for c in column_specs(plan) if c.kind in (INT, FLAG)]


# Bump when the rendering of label cells changes in a way the column list does
# not show: every stored fragment becomes stale.
RENDER_VERSION = 2  # 2: attribution span columns
# The fixed label columns of render version 2. Any other list of fixed label
# columns (one added, removed or moved) is part of the key by itself, so cells
# stored before the change are re-rendered, never misread.
_RENDERED_LABEL_COLUMNS = (
    "claim",
    "claim_claimbuster",
    "claim_checkthat",
    "attribution_source_text",
    "attribution_source",
    "attribution_source_type",
    "attribution_form",
    "attribution_cue",
    "attribution_source_span",
    "attribution_cue_spans",
    "frames",
    "frame_primary",
    "article_frames",
)
LABEL_COLUMNS = tuple(
    c.name
    for c in COLUMNS
    if isinstance(c, Column) and c.source == LABEL and not c.segments_only
)


def label_plan_key(plan: ExportPlan) -> str:
    """What the label cells of annotations mode depend on, as a 32-digit hash:
    the render version, the fixed label columns and the plan's label codes."""
    claim = plan.role("claim")
    frames = plan.role("frames")
    parts = [
        RENDER_VERSION,
        claim.code if claim else None,
        sorted(claim.mapping("claimbuster").items()) if claim else [],
        sorted(claim.mapping("checkthat").items()) if claim else [],
        [target.code for target in plan.targets],
        frames.code if frames else None,
        list(plan.frame_codes),
        [(plan.extra_column(d), d.code, d.multi) for d in plan.extra_dimensions],
    ]
    if LABEL_COLUMNS != _RENDERED_LABEL_COLUMNS:
        parts.append(list(LABEL_COLUMNS))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
