"""The corpus export: columns, row shaping, CSV/JSONL writers and the codebook.

Plain Python, no Django model import: ``exporting.py`` reads the database once per
stream (``.values_list(...).iterator()``) and hands plain tuples and dicts to the
generators here, so this module can be tested without a database and never holds
more than one article's rows in memory.

Data flow::

    segment records  --+
                       +-- merge -- shape_rows() -- csv_chunks() / jsonl_chunks()
    annotation records-+

Rows are produced one article at a time: ``article_frames`` (the SemEval-2023 style
frame set of an article) is the union over that article's rows, so the article's
rows are buffered until its last segment has been read; nothing else is kept.

List-valued cells (frames, attributions, stance sources, multi-choice dimensions)
are Python lists in the shaped row; JSONL writes them as JSON arrays, CSV joins them
with ``;`` and escapes a literal ``;`` or ``\\`` inside an item with a backslash
(``split_cell`` undoes it).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

MODES = ("annotations", "segments")
FORMATS = ("csv", "jsonl")

# OWASP "CSV injection": a spreadsheet evaluates a cell that starts with one of these.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = ";"
# Enough rows per write that the per-chunk overhead (one socket write, one file
# write) disappears, few enough that a chunk stays well under a megabyte.
CHUNK_ROWS = 500
# The Excel-friendly flavour starts with a byte order mark; see the README,
# section Export.
BOM = "\ufeff"

# Fields exporting.py reads, in this order (values_list tuples).
SEGMENT_FIELDS = (
    "id",
    "article_id",
    "position",
    "paragraph",
    "kind",
    "start",
    "end",
    "text",
    "article__title",
    "article__outlet",
    "article__url",
    "article__published",
)
ANNOTATION_FIELDS = (
    "article_id",
    "segment__position",
    "annotator__username",
    "is_gold",
    "values",
    "unsure",
    "comment",
    "created_at",
    "updated_at",
    "time_spent_ms",
)
_S_ID, _S_ARTICLE, _S_POSITION = 0, 1, 2
_S_TEXT, _S_TITLE, _S_OUTLET, _S_URL, _S_PUBLISHED = 7, 8, 9, 10, 11
(
    _A_ARTICLE,
    _A_POSITION,
    _A_USER,
    _A_GOLD,
    _A_VALUES,
    _A_UNSURE,
    _A_COMMENT,
    _A_CREATED,
    _A_UPDATED,
    _A_TIME,
) = range(10)


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
# Columns
# ---------------------------------------------------------------------------

# (name, description) of the columns every export has, in order; the per-target,
# per-frame and per-dimension groups are inserted where the markers stand.
FIXED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("project", "project slug"),
    ("article_id", "article id in the workbench database"),
    ("article_title", "article title"),
    ("outlet", "outlet (publication) of the article"),
    ("url", "article URL"),
    ("published", "publication date, ISO 8601 (YYYY-MM-DD); empty when unknown"),
    ("segment_id", "segment id in the workbench database"),
    ("position", "0-based position of the segment in its article"),
    ("paragraph", "0-based paragraph number of the segment"),
    ("kind", "segment kind: title, byline, heading, sentence, boilerplate"),
    ("start", "offset of the segment's first character in the article text"),
    ("end", "offset after the segment's last character (text == article[start:end])"),
    ("text", "the segment text, exactly as stored"),
    (
        "annotator",
        "username (or pseudonym) of the annotator; in segments mode the "
        "adjudicator of a gold row, empty otherwise",
    ),
    (
        "label_source",
        "segments mode only: gold (adjudicated), majority, or empty "
        "(nobody labelled the segment)",
    ),
    ("n_annotators", "segments mode only: how many annotators labelled the segment"),
    ("claim", "claim label code"),
    ("claim_agree", "segments mode only: annotators whose own claim equals `claim`"),
    ("claim_claimbuster", "`claim` mapped to ClaimBuster (CFS / UFS / NFS)"),
    (
        "claim_checkthat",
        "`claim` mapped to CLEF CheckThat! check-worthiness (yes / no)",
    ),
    ("attribution_source_text", "list: each attribution's source as written"),
    (
        "attribution_source",
        "list: each attribution's canonical source (project source list)",
    ),
    ("attribution_source_type", "list: each attribution's source type code"),
    ("attribution_form", "list: each attribution's form code (SpkAtt-2023 Form)"),
    ("attribution_cue", "list: each attribution's cue as written"),
    (
        "attribution_source_span",
        "list: each attribution's source span in `text` as `start..end` "
        "(`text[start:end]`); empty item when not marked",
    ),
    (
        "attribution_cue_spans",
        "list: each attribution's cue span(s) in `text`, `start..end`, the parts "
        "of a discontinuous cue joined with `+`; empty item when not marked",
    ),
    ("<stance>", ""),
    ("frames", "list: frame codes chosen (scheme order)"),
    ("frames_agree", "segments mode only: annotators whose frame set equals `frames`"),
    ("frame_primary", "the frame marked primary, if any"),
    ("<frame_flags>", ""),
    (
        "article_frames",
        "list: union of `frames` over the article's rows in this export "
        "(annotations mode: per annotator), SemEval-2023 article level",
    ),
    ("<extra>", ""),
    ("comment", "the annotator's comment (segments mode: the gold comment)"),
    (
        "unsure",
        "1 if the annotator flagged the label as unsure (segments mode, "
        "majority rows: 1 if any annotator did)",
    ),
    ("created", "when the annotation was first saved, ISO 8601 UTC"),
    ("updated", "when it was last saved, ISO 8601 UTC"),
    (
        "time_spent_ms",
        "measured annotation time in milliseconds (segments mode, "
        "majority rows: the annotators' sum)",
    ),
    ("scheme_version", "label scheme as slug@version"),
)
# The parallel lists of a row's attributions: the k-th items belong together.
ATTRIBUTION_COLUMNS = (
    "attribution_source_text",
    "attribution_source",
    "attribution_source_type",
    "attribution_form",
    "attribution_cue",
    "attribution_source_span",
    "attribution_cue_spans",
)
_FIXED_NAMES = {name for name, _ in FIXED_COLUMNS if not name.startswith("<")}
_SEGMENTS_ONLY = {"label_source", "n_annotators", "claim_agree", "frames_agree"}
_LIST_COLUMNS = {
    *ATTRIBUTION_COLUMNS,
    "frames",
    "article_frames",
}
_INT_COLUMNS = {
    "article_id",
    "segment_id",
    "position",
    "paragraph",
    "start",
    "end",
    "n_annotators",
    "claim_agree",
    "frames_agree",
    "time_spent_ms",
}


def column_docs(plan: ExportPlan) -> list[tuple[str, str]]:
    """Every column of this export with what it means, in file order."""
    segments = plan.mode == "segments"
    docs: list[tuple[str, str]] = []
    for name, description in FIXED_COLUMNS:
        if name in _SEGMENTS_ONLY and not segments:
            continue
        if name == "<stance>":
            for target in plan.targets:
                docs += [
                    (
                        f"stance_{target.code}",
                        f"stance toward {target.name}: the author's (or, without "
                        "one, the first source's) polarity; `none` when the target "
                        "was left untouched",
                    ),
                    (
                        f"stance_{target.code}_holder",
                        "who holds that stance: `author` or the canonical source name",
                    ),
                    (
                        f"stance_{target.code}_sources",
                        "list: every source-held stance toward the target as "
                        "`source=polarity`",
                    ),
                ]
                if segments:
                    docs.append(
                        (
                            f"stance_{target.code}_agree",
                            f"annotators whose own `stance_{target.code}` equals it",
                        )
                    )
        elif name == "<frame_flags>":
            docs += [
                (f"frame_{code}", f"1 if `frames` contains {code}, else 0")
                for code in plan.frame_codes
            ]
        elif name == "<extra>":
            for dimension in plan.extra_dimensions:
                column = plan.extra_column(dimension)
                kind = "list: label codes" if dimension.multi else "label code"
                docs.append((column, f"{dimension.name_en} ({kind})"))
                if segments:
                    docs.append(
                        (
                            f"{column}_agree",
                            f"annotators whose own `{column}` equals it",
                        )
                    )
        else:
            docs.append((name, description))
    return docs


def columns(plan: ExportPlan) -> list[str]:
    return [name for name, _ in column_docs(plan)]


def list_columns(plan: ExportPlan) -> list[str]:
    multi = {plan.extra_column(d) for d in plan.extra_dimensions if d.multi}
    stance = {f"stance_{t.code}_sources" for t in plan.targets}
    return [c for c in columns(plan) if c in _LIST_COLUMNS or c in multi or c in stance]


def int_columns(plan: ExportPlan) -> list[str]:
    """Columns holding whole numbers (0/1 flags included) in every labelled row."""
    # Named exactly, not by prefix: an optional dimension called "frame_tone" or a
    # target "x_agree" holds label codes, which get neutralised like any text.
    numbers = _INT_COLUMNS | {"unsure"} | {f"frame_{code}" for code in plan.frame_codes}
    if plan.mode == "segments":
        numbers |= {"claim_agree", "frames_agree"}
        numbers |= {f"stance_{target.code}_agree" for target in plan.targets}
        numbers |= {f"{plan.extra_column(d)}_agree" for d in plan.extra_dimensions}
    return [c for c in columns(plan) if c in numbers]


# ---------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """Prefix a cell a spreadsheet would evaluate with ``'`` (OWASP CSV injection)."""
    if value and value[0] in FORMULA_TRIGGERS:
        return "'" + value
    return value


def join_cell(items: Sequence[str]) -> str:
    """``;``-join a list; a ``\\`` or ``;`` inside an item is escaped with ``\\``."""
    joined = LIST_SEPARATOR.join(items)
    # Fast path (nearly every cell): no item holds a separator or a backslash.
    if "\\" not in joined and joined.count(LIST_SEPARATOR) == len(items) - 1:
        return joined
    return LIST_SEPARATOR.join(
        item.replace("\\", "\\\\").replace(LIST_SEPARATOR, "\\" + LIST_SEPARATOR)
        for item in items
    )


def split_cell(cell: str) -> list[str]:
    """The inverse of :func:`join_cell`: ``split_cell(join_cell(xs)) == xs``.

    An empty cell is the empty list (a list holding one empty string is not
    representable; the workbench never stores empty codes or source names).
    """
    if not cell:
        return []
    items, current, escaped = [], [], False
    for char in cell:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == LIST_SEPARATOR:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


def split_attributions(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A CSV or JSONL row's parallel ``attribution_*`` lists as one dict per
    attribution, spans parsed to ``(start, end)`` tuples (``None``: not marked).

    ``attribution_source_text`` always has one item per attribution (a source is
    never nameless). The optional lists (cue, type, form, spans) can be empty in
    a CSV cell although the row has an attribution: a list of one empty string
    is written as an empty cell, so such a list is padded to the row's count.
    """

    def items(column: str) -> list[str]:
        cell = row.get(column)
        return split_cell(cell) if isinstance(cell, str) else list(cell or [])

    names = items("attribution_source_text")
    lists = {column: items(column) for column in ATTRIBUTION_COLUMNS}
    for column, values in lists.items():
        if not values:
            lists[column] = [""] * len(names)
        elif len(values) != len(names):
            raise ValueError(
                f"{column} has {len(values)} items for {len(names)} attributions"
            )
    return [
        {
            "source_text": lists["attribution_source_text"][k],
            "source": lists["attribution_source"][k],
            "source_type": lists["attribution_source_type"][k],
            "form": lists["attribution_form"][k],
            "cue": lists["attribution_cue"][k],
            "source_span": parse_span(lists["attribution_source_span"][k]),
            "cue_spans": [
                parse_span(part)
                for part in lists["attribution_cue_spans"][k].split("+")
                if part
            ],
        }
        for k in range(len(names))
    ]


def pseudonym(username: str, key: bytes) -> str:
    """A stable pseudonym: the same username and key always give the same one."""
    digest = hmac.new(key, username.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"ann_{digest[:10]}"


def _iso(value: date | datetime | str | None) -> str:
    """ISO 8601 of a date or a UTC datetime, as the database driver returns them.

    Django's SQLite backend stores datetimes in UTC without an offset and its
    driver hands them back naive; they get the ``+00:00`` that
    ``datetime.isoformat()`` gives for the same aware value.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.isoformat() + "+00:00"
    return value.isoformat()


# ---------------------------------------------------------------------------
# Shaping rows
# ---------------------------------------------------------------------------


class Counts:
    """Label counts over the exported rows and ratings for agreement (codebook).

    ``ratings[dimension]`` holds ``(item, coder, value)`` triples of annotators' own
    annotations, kept only for segments at least two selected annotators labelled:
    those are the ones agreement can be measured on, and keeping only them bounds
    memory by the double-annotated overlap rather than by the corpus.
    """

    def __init__(self, plan: ExportPlan, *, ratings: bool = True) -> None:
        self.rows = 0
        self.labelled_rows = 0
        self.labels: dict[str, Counter[str]] = {
            d.code: Counter() for d in plan.dimensions
        }
        self.collect_ratings = ratings
        self.ratings: dict[str, list[tuple[Any, str, Any]]] = {}


class _Shaper:
    """Turns records into rows (lists in column order) for one plan."""

    def __init__(self, plan: ExportPlan, counts: Counts | None) -> None:
        self.plan = plan
        self.counts = counts
        self.segments_mode = plan.mode == "segments"
        self.columns = columns(plan)
        self.width = len(self.columns)
        self.index = {name: i for i, name in enumerate(self.columns)}
        claim = plan.role("claim")
        frames = plan.role("frames")
        self.claim_code = claim.code if claim else None
        self.claimbuster = claim.mapping("claimbuster") if claim else {}
        self.checkthat = claim.mapping("checkthat") if claim else {}
        self.claim_maps = {
            code: (self.claimbuster.get(code, ""), self.checkthat.get(code, ""))
            for code in self.claimbuster
        }
        self.frame_cache: dict[tuple[str, ...], tuple[list[str], list[int]]] = {}
        self.frames_code = frames.code if frames else None
        self.frame_codes = plan.frame_codes
        self.frame_order = {code: i for i, code in enumerate(self.frame_codes)}
        self.extras = [(d.code, d.multi) for d in plan.extra_dimensions]
        self.target_codes = [t.code for t in plan.targets]
        self.untouched_stances = ["none", "", []] * len(self.target_codes)
        self.source_type_code = (plan.role("source_type") or _NO_DIM).code
        self.form_code = (plan.role("form") or _NO_DIM).code
        self.stance_code = (plan.role("stance") or _NO_DIM).code
        self.pseudonyms: dict[str, str] = {}
        self.head_of: tuple | None = None  # the segment record self.head was made of
        self.head: list[Any] = []
        # Offsets inside the label cells that labels() returns (the same in both
        # modes): claim 0, its two mappings, the attribution lists from 3, three
        # cells per target from STANCE_CELL, then frames, primary, flags,
        # article_frames, extras.
        self.frames_cell = STANCE_CELL + 3 * len(self.target_codes)
        self.extras_cell = self.frames_cell + 3 + len(self.frame_codes)
        self.extra_columns_at = [
            self.index[plan.extra_column(d)] for d in plan.extra_dimensions
        ]
        self.stance_columns_at = [self.index[f"stance_{t}"] for t in self.target_codes]

    def who(self, username: str) -> str:
        key = self.plan.pseudonym_key
        if key is None:
            return username
        name = self.pseudonyms.get(username)
        if name is None:
            name = self.pseudonyms[username] = pseudonym(username, key)
        return name

    # -- one annotation --------------------------------------------------

    def labels(self, values: dict | str | None) -> list[Any]:
        """The label cells of one annotation, in column order (annotations mode).

        ``values`` is the ``Annotation.values`` snapshot, or its JSON text as the
        database returns it. This runs once per row: it avoids per-target scans and
        reuses the flag cells of a frame combination seen before.
        """
        if values is None:
            values = {}
        elif isinstance(values, str):
            values = _loads(values)
        chosen = values.get("labels") or _NOTHING
        claim = chosen.get(self.claim_code)
        claim = claim[0] if claim else ""
        attributions = values.get("attributions")
        cells: list[Any] = [claim, *self.claim_maps.get(claim, _NO_MAPPING)]
        if attributions:
            cells += [
                [a.get("source_text", "") for a in attributions],
                [a.get("source", "") for a in attributions],
                [a.get("source_type", "") for a in attributions],
                [a.get("form", "") for a in attributions],
                [a.get("cue_text", "") for a in attributions],
                [span_text(a.get("source_span")) for a in attributions],
                [
                    "+".join(span_text(span) for span in a.get("cue_spans") or ())
                    for a in attributions
                ],
            ]
        else:
            cells += _NO_ATTRIBUTIONS
        stances = values.get("stances")
        if stances:
            cells += self._stance_cells(stances, attributions or ())
        else:
            cells += self.untouched_stances
        frames = chosen.get(self.frames_code)
        key = tuple(frames) if frames else ()
        shaped = self.frame_cache.get(key)
        if shaped is None:
            order = self.frame_order
            ordered = sorted(key, key=lambda c: order.get(c, len(order)))
            flags = [1 if code in key else 0 for code in self.frame_codes]
            shaped = self.frame_cache[key] = (ordered, flags)
        primary = values.get("primary")
        cells.append(list(shaped[0]) if shaped[0] else [])
        cells.append(primary.get(self.frames_code, "") if primary else "")
        cells += shaped[1]
        cells.append(None)  # article_frames, filled per article
        for code, multi in self.extras:
            picked = chosen.get(code) or ()
            cells.append(list(picked) if multi else (picked[0] if picked else ""))
        return cells

    def _stance_cells(
        self, stances: list[dict], attributions: Sequence[dict]
    ) -> list[Any]:
        """Three cells per target: main polarity, its holder, source-held stances."""
        by_target: dict[str, list[Any]] = {}
        for stance in stances:
            target = stance.get("target")
            entry = by_target.get(target)
            if entry is None:
                entry = by_target[target] = ["", None, []]  # author, first source, list
            holder = stance.get("holder")
            polarity = stance.get("polarity", "")
            if holder is None:
                entry[0] = polarity
            else:
                name = _holder_name(attributions, holder)
                entry[2].append(f"{name}={polarity}")
                if entry[1] is None:
                    entry[1] = (polarity, name)
        cells: list[Any] = []
        for target in self.target_codes:
            entry = by_target.get(target)
            if entry is None:
                cells += ("none", "", [])
            elif entry[0]:
                cells += (entry[0], "author", entry[2])
            elif entry[1] is not None:
                cells += (entry[1][0], entry[1][1], entry[2])
            else:
                cells += ("none", "", entry[2])
        return cells

    def count(self, row: list[Any], values: dict | None) -> None:
        counts = self.counts
        if counts is None:
            return
        counts.rows += 1
        if values is None:
            return
        counts.labelled_rows += 1
        labels = counts.labels
        index = self.index
        if self.claim_code and row[index["claim"]]:
            labels[self.claim_code][row[index["claim"]]] += 1
        if self.frames_code:
            labels[self.frames_code].update(row[index["frames"]])
        for (code, multi), at in zip(self.extras, self.extra_columns_at, strict=True):
            if multi:
                labels[code].update(row[at])
            elif row[at]:
                labels[code][row[at]] += 1
        if self.source_type_code:
            labels[self.source_type_code].update(
                c for c in row[index["attribution_source_type"]] if c
            )
        if self.form_code:
            labels[self.form_code].update(
                c for c in row[index["attribution_form"]] if c
            )
        if self.stance_code:
            for at in self.stance_columns_at:
                if row[at]:
                    labels[self.stance_code][row[at]] += 1

    def rate(self, segment_id: int, group: list[tuple[str, list[Any]]]) -> None:
        """Keep agreement ratings of one segment's annotators (two or more only).

        ``group`` holds (username, label cells from :meth:`labels`) per annotator.
        """
        counts = self.counts
        if counts is None or not counts.collect_ratings or len(group) < 2:
            return
        ratings = counts.ratings
        for username, cells in group:
            coder = self.who(username)
            if self.claim_code and cells[0]:
                ratings.setdefault(self.claim_code, []).append(
                    (segment_id, coder, cells[0])
                )
            if self.frames_code:
                ratings.setdefault(self.frames_code, []).append(
                    (segment_id, coder, frozenset(cells[self.frames_cell]))
                )
            for k, (code, multi) in enumerate(self.extras):
                value = cells[self.extras_cell + k]
                if multi:
                    ratings.setdefault(code, []).append(
                        (segment_id, coder, frozenset(value))
                    )
                elif value:
                    ratings.setdefault(code, []).append((segment_id, coder, value))
            for k, target in enumerate(self.target_codes):
                ratings.setdefault(f"stance:{target}", []).append(
                    ((segment_id, target), coder, cells[STANCE_CELL + 3 * k])
                )


_NO_DIM = DimensionInfo(code="", role="", name_en="")
# Shared empty cells: rows are only ever changed by replacing a cell, never by
# mutating the list in it, so one empty list can stand in every row.
_NOTHING: dict = {}
_NO_MAPPING = ("", "")
# The attribution lists of the label cells: five label fields (source as written,
# canonical source, source type, form, cue), then the two span lists.
ATTRIBUTION_FIELDS = 5
ATTRIBUTION_LISTS = ATTRIBUTION_FIELDS + 2
STANCE_CELL = 3 + ATTRIBUTION_LISTS
_NO_ATTRIBUTIONS: list[list[str]] = [[] for _ in range(ATTRIBUTION_LISTS)]


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
_loads = json.JSONDecoder().decode


def _holder_name(attributions: Sequence[dict], holder: Any) -> str:
    if isinstance(holder, int) and 0 <= holder < len(attributions):
        attribution = attributions[holder]
        return (
            attribution.get("source") or attribution.get("source_text") or f"#{holder}"
        )
    return f"#{holder}"


# ---------------------------------------------------------------------------
# Streams
# ---------------------------------------------------------------------------


def annotation_records_by_segment(
    records: Iterable[tuple], segments: Iterable[tuple]
) -> Iterator[tuple[tuple, list[tuple]]]:
    """Merge two streams sorted by (article, position): each segment with its records.

    Neither stream is read ahead by more than one record, so memory is constant.
    Records whose segment is not in ``segments`` (it cannot happen with both from
    one selection) are skipped.
    """
    records = iter(records)
    pending = next(records, None)
    for segment in segments:
        key = (segment[_S_ARTICLE], segment[_S_POSITION])
        group: list[tuple] = []
        while (
            pending is not None and (pending[_A_ARTICLE], pending[_A_POSITION]) <= key
        ):
            if (pending[_A_ARTICLE], pending[_A_POSITION]) == key:
                group.append(pending)
            pending = next(records, None)
        yield segment, group


def split_joined(
    records: Iterable[tuple], segment_width: int = len(SEGMENT_FIELDS)
) -> Iterator[tuple[tuple, list[tuple]]]:
    """Annotations mode from one joined query: (segment fields + annotation fields)
    per record; consecutive records of one segment form its group."""
    current_key = None
    segment: tuple = ()
    group: list[tuple] = []
    for record in records:
        key = record[0]
        if key != current_key:
            if group:
                yield segment, group
            current_key = key
            segment = record[:segment_width]
            group = []
        group.append(record[segment_width:])
    if group:
        yield segment, group


def shape_rows(
    plan: ExportPlan,
    grouped: Iterable[tuple[tuple, list[tuple]]],
    *,
    counts: Counts | None = None,
) -> Iterator[list[Any]]:
    """Rows (lists in ``columns(plan)`` order) from segments with their records.

    ``grouped`` yields ``(segment record, [annotation records])`` in (article,
    position) order, the records of a segment ordered by annotator. Segments with
    no record give a row only when ``plan.include_unlabelled``. Buffers one article
    at a time (for ``article_frames``).
    """
    shaper = _Shaper(plan, counts)
    buffer: list[list[Any]] = []
    current_article = None
    for segment, group in grouped:
        if segment[_S_ARTICLE] != current_article:
            if buffer:
                yield from _finish_article(buffer, shaper)
                buffer = []
            current_article = segment[_S_ARTICLE]
        if shaper.segments_mode:
            row = _segment_row(shaper, segment, group)
            if row is not None:
                buffer.append(row)
        else:
            own = [record for record in group if not record[_A_GOLD]]
            if own:
                cells_of = []
                for record in own:
                    values = record[_A_VALUES] or {}
                    cells = shaper.labels(values)
                    cells_of.append((record[_A_USER], cells))
                    row = _row(
                        shaper, segment, shaper.who(record[_A_USER]), (), cells, record
                    )
                    shaper.count(row, values)
                    buffer.append(row)
                shaper.rate(segment[_S_ID], cells_of)
            elif plan.include_unlabelled:
                row = _row(shaper, segment, "", (), None, None)
                shaper.count(row, None)
                buffer.append(row)
    if buffer:
        yield from _finish_article(buffer, shaper)


def _finish_article(rows: list[list[Any]], shaper: _Shaper) -> list[list[Any]]:
    """Fill ``article_frames`` of one article's rows: the union of their frames in
    scheme order; per annotator in annotations mode, over all rows in segments mode.
    Unlabelled rows (frames ``None``) stay empty."""
    frames_at = shaper.index["frames"]
    article_frames_at = shaper.index["article_frames"]
    annotator_at = shaper.index["annotator"]
    per_annotator = not shaper.segments_mode
    union: dict[Any, dict[str, None]] = {}
    for row in rows:
        if row[frames_at] is not None:
            bucket = union.setdefault(row[annotator_at] if per_annotator else None, {})
            bucket.update(dict.fromkeys(row[frames_at]))
    order = shaper.frame_order
    ordered = {
        key: sorted(codes, key=lambda c: order.get(c, len(order)))
        for key, codes in union.items()
    }
    for row in rows:
        if row[frames_at] is not None:
            # A list of its own per row: the CSV writer joins cells in place.
            row[article_frames_at] = list(
                ordered[row[annotator_at] if per_annotator else None]
            )
    return rows


def _row(
    shaper: _Shaper,
    segment: tuple,
    annotator: str,
    summary: Sequence[Any],
    cells: list[Any] | None,
    record: tuple | None,
) -> list[Any]:
    """One row: segment fields, annotator, (segments mode summary), labels, meta."""
    # The segment's cells are the same for each of its annotators: built once.
    if segment is not shaper.head_of:
        shaper.head_of = segment
        shaper.head = [
            shaper.plan.project,
            segment[_S_ARTICLE],
            segment[_S_TITLE],
            segment[_S_OUTLET],
            segment[_S_URL],
            _iso(segment[_S_PUBLISHED]),
            segment[_S_ID],
            segment[_S_POSITION],
            segment[3],
            segment[4],
            segment[5],
            segment[6],
            segment[_S_TEXT],
        ]
    row = shaper.head + [annotator]
    if shaper.segments_mode:
        row += summary[:2]
    if cells is None:
        n_labels = shaper.width - len(row) - 6
        row += [None] * n_labels
        row += ["", None, "", "", None, shaper.plan.scheme_version]
        return row
    row += cells
    if record is not None:
        row += [
            record[_A_COMMENT],
            1 if record[_A_UNSURE] else 0,
            _iso(record[_A_CREATED]),
            _iso(record[_A_UPDATED]),
            record[_A_TIME],
            shaper.plan.scheme_version,
        ]
    else:
        row += list(summary[2:]) + [shaper.plan.scheme_version]
    return row


# ---------------------------------------------------------------------------
# Segments mode: gold, else majority
# ---------------------------------------------------------------------------


def _segment_row(
    shaper: _Shaper, segment: tuple, group: list[tuple]
) -> list[Any] | None:
    gold = next((record for record in group if record[_A_GOLD]), None)
    own = [record for record in group if not record[_A_GOLD]]
    n = len(own)
    if gold is None and n == 0:
        if not shaper.plan.include_unlabelled:
            return None
        row = _row(shaper, segment, "", ("", 0), None, None)
        shaper.count(row, None)
        return row
    own_cells = [
        (record[_A_USER], shaper.labels(record[_A_VALUES] or {})) for record in own
    ]
    shaper.rate(segment[_S_ID], own_cells)
    cells_list = [cells for _, cells in own_cells]
    if gold is not None:
        values = gold[_A_VALUES] or {}
        cells = shaper.labels(values)
        annotator = shaper.who(gold[_A_USER])
        source = "gold"
        meta = (
            gold[_A_COMMENT],
            1 if gold[_A_UNSURE] else 0,
            _iso(gold[_A_CREATED]),
            _iso(gold[_A_UPDATED]),
            gold[_A_TIME],
        )
    else:
        values = {}
        cells = _majority(shaper, cells_list)
        annotator = ""
        source = "majority"
        meta = (
            "",
            1 if any(record[_A_UNSURE] for record in own) else 0,
            _iso(min(record[_A_CREATED] for record in own)),
            _iso(max(record[_A_UPDATED] for record in own)),
            sum(record[_A_TIME] for record in own),
        )
    cells = _with_agreement(shaper, cells, cells_list)
    row = _row(shaper, segment, annotator, (source, n, *meta), cells, None)
    shaper.count(row, values)
    return row


def _majority(shaper: _Shaper, cells_list: list[list[Any]]) -> list[Any]:
    """Label cells chosen by more than half of the annotators (see the README,
    section Export)."""
    n = len(cells_list)
    half = n / 2
    shape = cells_list[0]
    out: list[Any] = []

    def single(i: int) -> str:
        top, votes = Counter(cells[i] for cells in cells_list).most_common(1)[0]
        return top if votes > half else ""

    def items(i: int) -> list[str]:
        votes = Counter(
            item for cells in cells_list for item in dict.fromkeys(cells[i])
        )
        return [item for item, count in votes.items() if count > half]

    claim = single(0)
    out += [claim, shaper.claimbuster.get(claim, ""), shaper.checkthat.get(claim, "")]
    # Attributions: an attribution (its five label fields) given by more than
    # half; its spans are the ones most of those annotators marked.
    votes: Counter[tuple] = Counter()
    spans: dict[tuple, Counter[tuple]] = {}
    for cells in cells_list:
        seen = set()
        for entry in zip(*cells[3:STANCE_CELL], strict=True):
            fields = entry[:ATTRIBUTION_FIELDS]
            if fields in seen:
                continue
            seen.add(fields)
            votes[fields] += 1
            spans.setdefault(fields, Counter())[entry[ATTRIBUTION_FIELDS:]] += 1
    chosen = [
        # The commonest spans; on a tie marked spans before none, then the first
        # annotator's (records come by username).
        fields + max(spans[fields].items(), key=lambda kv: (kv[1], any(kv[0])))[0]
        for fields, count in votes.items()
        if count > half
    ]
    out += [[entry[k] for entry in chosen] for k in range(ATTRIBUTION_LISTS)]
    i = STANCE_CELL
    for _ in shaper.target_codes:
        polarity = single(i)
        holders = Counter(cells[i + 1] for cells in cells_list if cells[i] == polarity)
        holder = holders.most_common(1)[0][0] if polarity and holders else ""
        out += [polarity, holder, items(i + 2)]
        i += 3
    frames_at = i
    frame_order = shaper.frame_order
    frames = sorted(
        items(frames_at), key=lambda c: frame_order.get(c, len(frame_order))
    )
    out.append(frames)
    out.append(single(frames_at + 1))
    frame_set = set(frames)
    out += [1 if code in frame_set else 0 for code in shaper.frame_codes]
    out.append(None)
    i = frames_at + 2 + len(shaper.frame_codes) + 1
    for _, multi in shaper.extras:
        if multi:
            out.append(items(i))
        else:
            out.append(single(i))
        i += 1
    assert len(out) == len(shape)
    return out


def _with_agreement(
    shaper: _Shaper, cells: list[Any], cells_list: list[list[Any]]
) -> list[Any]:
    """Insert the ``*_agree`` columns: annotators whose own value equals the row's."""

    def agree(i: int, as_set: bool = False) -> int:
        if as_set:
            return sum(1 for c in cells_list if set(c[i]) == set(cells[i]))
        return sum(1 for c in cells_list if c[i] == cells[i])

    out: list[Any] = [cells[0], agree(0), *cells[1:STANCE_CELL]]
    i = STANCE_CELL
    for _ in shaper.target_codes:
        out += [cells[i], cells[i + 1], cells[i + 2], agree(i)]
        i += 3
    out += [cells[i], agree(i, as_set=True)]
    rest_end = i + 2 + len(shaper.frame_codes) + 1
    out += cells[i + 1 : rest_end]
    i = rest_end
    for _, multi in shaper.extras:
        out += [cells[i], agree(i, as_set=multi)]
        i += 1
    return out


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write() returns what it was given."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(
    plan: ExportPlan,
    rows: Iterable[list[Any]],
    *,
    spreadsheet: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[str]:
    """RFC 4180 CSV (CRLF line ends, ``"`` quoting) in chunks of ``chunk_rows`` rows.

    ``spreadsheet``: start with a UTF-8 byte order mark (Excel reads UTF-8 only
    with it) and neutralise cells that would run as formulas. Off: the raw values,
    no BOM. Lists are ``;``-joined (:func:`join_cell`), ``None`` is an empty cell.

    Byte for byte what ``csv.writer(..., lineterminator="\r\n").writerow(row)``
    writes, but faster: the C writer looks at every character, which made it the
    export's largest cost. A row is written as two parts. The segment part (article
    and segment cells, the same for every annotator of a segment) goes through the
    writer once per segment. The rest is joined with ``,`` by a format template and
    kept as is when one scan shows that no cell needs quoting or neutralising (no
    ``"``, CR or LF, no ``,`` inside a cell, no cell starting with a formula
    trigger); otherwise that part, too, goes through the writer.
    """
    names = columns(plan)
    lists, numbers = set(list_columns(plan)), set(int_columns(plan))
    list_at = [i for i, name in enumerate(names) if name in lists]
    number_at = {i for i, name in enumerate(names) if name in numbers}
    text_at = [i for i in range(len(names)) if i not in number_at and i not in list_at]
    check_at = sorted((*text_at, *list_at)) if spreadsheet else []
    # The segment part: every column before ``annotator``.
    split = names.index("annotator")
    head_check = [i for i in check_at if i < split]
    tail_lists = [i - split for i in list_at if i >= split]
    tail_check = [i - split for i in check_at if i >= split]
    tail_width = len(names) - split
    template = ",".join(["{}"] * tail_width).format

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def render(cells: list[Any]) -> str:
        """The writer's text for these cells, without the line terminator."""
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text[:-2]

    lines = [(BOM if spreadsheet else "") + render(names) + "\r\n"]
    pending = 0
    last_cells: list[Any] | None = None
    head = ""
    for row in rows:
        # Equal cells, not just an equal segment id: rows from any caller are safe.
        if row[:split] != last_cells:
            last_cells = row[:split]
            cells = row[:split]
            for i in head_check:
                cell = cells[i]
                if cell and cell[0] in FORMULA_TRIGGERS:
                    cells[i] = "'" + cell
            head = render(cells) + ","
        tail = row[split:]
        for i in tail_lists:
            cell = tail[i]
            tail[i] = join_cell(cell) if cell else ""
        if None in tail:
            tail = ["" if cell is None else cell for cell in tail]
        line = template(*tail)
        if (
            line.count(",") != tail_width - 1
            or '"' in line
            or "\n" in line
            or "\r" in line
            or spreadsheet
            and (
                line[0] in FORMULA_TRIGGERS
                or ",=" in line
                or ",+" in line
                or ",-" in line
                or ",@" in line
                or ",\t" in line
            )
        ):
            for i in tail_check:
                cell = tail[i]
                if cell and cell[0] in FORMULA_TRIGGERS:
                    tail[i] = "'" + cell
            line = render(tail)
        lines.append(head + line + "\r\n")
        pending += 1
        if pending >= chunk_rows:
            yield "".join(lines)
            lines = []
            pending = 0
    if lines:
        yield "".join(lines)


def jsonl_chunks(
    plan: ExportPlan, rows: Iterable[list[Any]], *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[str]:
    """One JSON object per line (UTF-8, not ASCII-escaped), keys in column order.

    Never altered: no neutralising. Lists stay JSON arrays, ``unsure`` is a boolean,
    empty values of unlabelled rows are ``null``.
    """
    names = columns(plan)
    unsure_at = names.index("unsure")
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    lines: list[str] = []
    for row in rows:
        if row[unsure_at] is not None:
            row[unsure_at] = bool(row[unsure_at])
        lines.append(dumps(dict(zip(names, row, strict=True))))
        if len(lines) >= chunk_rows:
            lines.append("")
            yield "\n".join(lines)
            lines = []
    if lines:
        lines.append("")
        yield "\n".join(lines)


def write_chunks(
    plan: ExportPlan, rows: Iterable[list[Any]], *, fmt: str, spreadsheet: bool = True
) -> Iterator[str]:
    if fmt == "csv":
        return csv_chunks(plan, rows, spreadsheet=spreadsheet)
    if fmt == "jsonl":
        return jsonl_chunks(plan, rows)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")


def file_name(project: str, mode: str, fmt: str, day: date) -> str:
    return f"{project}_{mode}_{day.isoformat()}.{fmt}"


# ---------------------------------------------------------------------------
# Codebook
# ---------------------------------------------------------------------------

MAPPING_NAMES = {
    "claimbuster": "ClaimBuster",
    "checkthat": "CheckThat!",
    "mfc": "Media Frames Corpus",
    "semeval2023": "SemEval-2023 Task 3",
    "spkatt2023": "SpkAtt-2023 Form",
    "semeval2016": "SemEval-2016 Task 6",
    "checkthat_subjectivity": "CheckThat! subjectivity",
    "group": "technique group",
}

AgreementFn = Callable[[Counts, ExportPlan], dict[str, dict[str, Any]]]


def codebook_data(
    plan: ExportPlan,
    counts: Counts,
    *,
    generated: datetime,
    agreement: AgreementFn | None = None,
) -> dict[str, Any]:
    """The codebook as plain data (JSON-ready); ``codebook_markdown`` renders it."""
    return {
        "project": plan.project,
        "scheme": {"name": plan.scheme_name, "version": plan.scheme_version},
        "mode": plan.mode,
        "generated": generated.isoformat(),
        "rows": counts.rows,
        "labelled_rows": counts.labelled_rows,
        "columns": [{"name": n, "description": d} for n, d in column_docs(plan)],
        "dimensions": [
            {
                "code": d.code,
                "role": d.role,
                "name_en": d.name_en,
                "name_de": d.name_de,
                "kind": "multi" if d.multi else "single",
                "exported": d.exported,
                "description": d.description,
                "labels": [
                    {
                        "code": label.code,
                        "name_en": label.name_en,
                        "name_de": label.name_de,
                        "definition": label.definition,
                        "mappings": label.mappings,
                        "active": label.active,
                        "count": counts.labels.get(d.code, Counter()).get(
                            label.code, 0
                        ),
                    }
                    for label in d.labels
                ],
            }
            for d in plan.dimensions
        ],
        "stance_targets": [
            {"code": t.code, "name": t.name, "question": t.question}
            for t in plan.targets
        ],
        "agreement": agreement(counts, plan) if agreement is not None else None,
    }


def _md(text: Any) -> str:
    """A table cell: pipes escaped, line breaks flattened."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _figure(value: Any) -> str:
    return (
        "n/a"
        if value is None
        else f"{value:.3f}"
        if isinstance(value, float)
        else str(value)
    )


def codebook_markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# Codebook: {data['project']}",
        "",
        f"Scheme **{_md(data['scheme']['name'])}** (`{data['scheme']['version']}`); "
        f"export mode `{data['mode']}`, {data['rows']} rows "
        f"({data['labelled_rows']} labelled), generated {data['generated']}.",
        "",
        "Data columns hold label **codes**; the tables below give each code's names, "
        "definition, the matching label of the published datasets, and how often it "
        "occurs in this export. Lists in CSV are `;`-joined (a literal `;` or `\\` "
        "inside an item is escaped with `\\`); JSONL has JSON arrays.",
        "",
        "## Columns",
        "",
        "| column | meaning |",
        "|---|---|",
        *(f"| `{c['name']}` | {_md(c['description'])} |" for c in data["columns"]),
        "",
    ]
    if data["stance_targets"]:
        lines += [
            "## Stance targets",
            "",
            "Polarity codes are those of the stance dimension below (SemEval-2016 "
            "FAVOR / AGAINST / NONE).",
            "",
            "| code | target | question (yes = favor) |",
            "|---|---|---|",
            *(
                f"| `{t['code']}` | {_md(t['name'])} | {_md(t['question'])} |"
                for t in data["stance_targets"]
            ),
            "",
        ]
    lines += ["## Labels", ""]
    for d in data["dimensions"]:
        known = list(MAPPING_NAMES)
        keys = sorted(
            {k for label in d["labels"] for k in label["mappings"]},
            key=lambda k: (known.index(k) if k in known else len(known), k),
        )
        state = "" if d["exported"] else " (optional, not enabled in this project)"
        lines += [
            f"### {_md(d['name_en'])} (`{d['code']}`, {d['kind']} choice){state}",
            "",
        ]
        if d["description"]:
            lines += [_md(d["description"]), ""]
        header = [
            "code",
            "name (en)",
            "name (de)",
            "definition",
            *(MAPPING_NAMES.get(k, k) for k in keys),
            "count",
        ]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for label in d["labels"]:
            inactive = " (inactive)" if not label["active"] else ""
            cells = [
                f"`{label['code']}`{inactive}",
                _md(label["name_en"]),
                _md(label["name_de"]),
                _md(label["definition"]),
                *(_md(label["mappings"].get(k, "")) for k in keys),
                str(label["count"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    agreement = data.get("agreement")
    lines += ["## Agreement", ""]
    if not agreement:
        lines += [
            "No agreement figures: no segment in this export was labelled by two "
            "or more of the selected annotators.",
            "",
        ]
    else:
        lines += [
            "Annotators' own labels on segments two or more of them labelled "
            "(the double-annotated overlap). Krippendorff's alpha: nominal for single "
            "choice, MASI distance for multiple choice; >= 0.800 reliable, 0.667-0.800 "
            "tentative conclusions only.",
            "",
            "| dimension | alpha | reading | Fleiss' kappa | agreement (share) "
            "| items | annotators | ratings |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, report in agreement.items():
            lines.append(
                f"| {_md(name)} | {_figure(report['alpha'])} | "
                f"{_md(report['interpretation'] or 'n/a')} | "
                f"{_figure(report['fleiss'])} | "
                f"{_figure(report['percent'])} | {report['n_items']} | "
                f"{report['n_coders']} | {report['n_ratings']} |"
            )
        lines.append("")
        pair_lines = []
        for name, report in agreement.items():
            for pair in report["pairwise"]:
                pair_lines.append(
                    f"| {_md(name)} | {_md(pair['a'])} | {_md(pair['b'])} | "
                    f"{_figure(pair['kappa'])} | {_figure(pair['percent'])} | "
                    f"{pair['n_items']} |"
                )
        if pair_lines:
            lines += [
                "Cohen's kappa per annotator pair:",
                "",
                "| dimension | annotator | annotator | kappa | agreement (share) "
                "| items |",
                "|---|---|---|---|---|---|",
                *pair_lines,
                "",
            ]
    return "\n".join(lines)


def codebook_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


# ---------------------------------------------------------------------------
# Pre-rendered label cells: the fast path of annotations mode
# ---------------------------------------------------------------------------
#
# Shaping ~40 label cells from the JSON snapshot is most of an export's time
# (about 25 us per row in Python). An annotation's label cells depend only on its
# ``values`` and on the project's label plan (claim mapping, targets, frames,
# optional dimensions), so they are rendered once, when the annotation is saved,
# into text fragments that the export only concatenates (``exporting.py`` joins
# them in SQL with the segment and article cells). ``label_plan_key`` names the
# plan they were rendered for: after a scheme change the key differs and those
# rows are shaped on the fly again, so the output never depends on the cache
# being fresh.

# Bump when the rendering below changes: every stored fragment becomes stale.
RENDER_VERSION = 2  # 2: attribution span columns
_CSV_SPECIAL = frozenset('",\r\n')


def csv_cell(text: str) -> str:
    """One cell as ``csv.writer`` (RFC 4180, minimal quoting) writes it."""
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_text(cell: Any, spreadsheet: bool) -> str:
    """A shaped cell as the CSV writer puts it: numbers as they are, lists
    ``;``-joined, None empty; text and lists neutralised for spreadsheets."""
    if isinstance(cell, int):
        return str(cell)
    if cell is None:
        return ""
    if isinstance(cell, list):
        cell = join_cell(cell) if cell else ""
    return csv_cell(neutralise(cell) if spreadsheet else cell)


def label_plan_key(plan: ExportPlan) -> str:
    """What the label cells of annotations mode depend on, as a 32-digit hash."""
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
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LabelFragments:
    """One annotation's label cells as text, ready to be put into a line.

    ``csv``: the cells from ``claim`` to the last ``frame_<code>`` flag, CSV cells
    joined with ``,``; ``csv_extras``: the optional dimensions' cells (after
    ``article_frames``), each preceded by ``,`` ("" when the project has none).
    ``*_sheet``: the same neutralised for spreadsheets, None when that changes
    nothing. ``json`` / ``json_extras``: the same cells as JSON object members
    (``"claim": "opinion", ...``; extras each preceded by ``, ``). ``frames``: the
    chosen frame codes in scheme order, ``;``-joined, for ``article_frames``.
    """

    csv: str
    csv_sheet: str | None
    csv_extras: str
    csv_extras_sheet: str | None
    json: str
    json_extras: str
    frames: str


class LabelRenderer:
    """Renders :class:`LabelFragments` for one plan (annotations mode columns)."""

    def __init__(self, plan: ExportPlan) -> None:
        plan = replace(plan, mode="annotations", pseudonym_key=None)
        self.key = label_plan_key(plan)
        self.shaper = _Shaper(plan, None)
        names = self.shaper.columns
        start, self.frames_at = names.index("claim"), names.index("article_frames")
        self.names = names[start : self.frames_at]
        self.extra_names = names[self.frames_at + 1 : names.index("comment")]
        self._dumps = json.JSONEncoder(
            ensure_ascii=False, separators=(", ", ": ")
        ).encode

    def render(self, values: dict | str | None) -> LabelFragments:
        cells = self.shaper.labels(values)
        split = len(self.names)
        main, extras = cells[:split], cells[split + 1 :]
        csv_raw = ",".join([_csv_text(cell, False) for cell in main])
        csv_sheet = ",".join([_csv_text(cell, True) for cell in main])
        extras_raw = "".join(["," + _csv_text(cell, False) for cell in extras])
        extras_sheet = "".join(["," + _csv_text(cell, True) for cell in extras])
        dumps = self._dumps
        json_main = dumps(dict(zip(self.names, main, strict=True)))[1:-1]
        json_extras = (
            ", " + dumps(dict(zip(self.extra_names, extras, strict=True)))[1:-1]
            if extras
            else ""
        )
        return LabelFragments(
            csv=csv_raw,
            csv_sheet=None if csv_sheet == csv_raw else csv_sheet,
            csv_extras=extras_raw,
            csv_extras_sheet=None if extras_sheet == extras_raw else extras_sheet,
            json=json_main,
            json_extras=json_extras,
            frames=join_cell(main[self.shaper.frames_cell]),
        )

    def cells(
        self,
        values: dict | str | None,
        *,
        comment: str,
        unsure: bool,
        created: datetime,
        updated: datetime,
        time_spent_ms: int,
    ) -> dict[str, str]:
        """What ``AnnotationExportCells`` stores for one saved annotation: the
        label fragments, and as the tails everything after ``article_frames``
        (the optional dimensions, then comment, unsure, created, updated and time
        spent, which belong to the same save)."""
        fragments = self.render(values)
        flag = "1" if unsure else "0"
        created_at, updated_at = _iso(created), _iso(updated)
        meta = f",{flag},{created_at},{updated_at},{time_spent_ms},"
        csv_tail = fragments.csv_extras + "," + csv_cell(comment) + meta
        csv_tail_sheet = (
            (fragments.csv_extras_sheet or fragments.csv_extras)
            + ","
            + csv_cell(neutralise(comment))
            + meta
        )
        dumps = self._dumps
        json_tail = (
            f'{fragments.json_extras}, "comment": {dumps(comment)}, '
            f'"unsure": {"true" if unsure else "false"}, '
            f'"created": {dumps(created_at)}, "updated": {dumps(updated_at)}, '
            f'"time_spent_ms": {time_spent_ms}, '
        )
        return {
            "plan_key": self.key,
            "csv": fragments.csv,
            "csv_sheet": fragments.csv_sheet or "",
            "csv_tail": csv_tail,
            "csv_tail_sheet": "" if csv_tail_sheet == csv_tail else csv_tail_sheet,
            "json": fragments.json,
            "json_tail": json_tail,
            "frames": fragments.frames,
        }


@dataclass
class ExportStats:
    """What one export pass did, for the command's summary line."""

    rows: int = 0
    shaped_on_the_fly: int = 0  # pre-rendered cells missing or stale


# The columns of a prepared record (see exporting.prerendered_records).
(
    _P_ARTICLE,
    _P_USER,
    _P_HEAD,
    _P_FRESH,
    _P_LABELS,
    _P_TAIL,
    _P_FRAMES,
    _P_META,
    _P_VALUES,
) = range(9)


def prerendered_chunks(
    plan: ExportPlan,
    records: Iterable[tuple],
    *,
    fmt: str,
    spreadsheet: bool = True,
    stats: ExportStats | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[str]:
    """Annotations mode from prepared records: the same bytes as
    ``write_chunks(plan, shape_rows(...))``, with text concatenation per row.

    Each record is (article id, username or None for an unlabelled segment, the
    segment part rendered by the database, whether the stored cells are fresh,
    the stored label fragment, the stored tail (extras and meta), the frames, and
    when not fresh the meta part rendered by the database and the ``values``
    snapshot), in (article, position, annotator) order. Stale or missing cells
    are rendered here from ``values`` by the :class:`LabelRenderer` the save path
    uses.
    Lines of one article are held until its last row (``article_frames``).
    """
    if plan.mode != "annotations":
        raise ValueError("pre-rendered cells exist for annotations mode only")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    renderer = LabelRenderer(plan)
    stats = stats if stats is not None else ExportStats()
    names = columns(plan)
    frame_order = {code: i for i, code in enumerate(plan.frame_codes)}
    key = plan.pseudonym_key
    csv_out = fmt == "csv"
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    annotator_at = names.index("annotator")
    # Everything after the segment part of an unlabelled row (annotator empty,
    # label cells empty, no meta), rendered by the reference writers' rules.
    empty_tail = [""] + [None] * (len(names) - annotator_at - 7)
    empty_tail += ["", None, "", "", None, plan.scheme_version]
    if csv_out:
        first = (BOM if spreadsheet else "") + ",".join(map(csv_cell, names)) + "\r\n"
        prefix = _csv_text(plan.project, spreadsheet) + ","
        suffix = _csv_text(plan.scheme_version, spreadsheet) + "\r\n"
        unlabelled = ",".join(_csv_text(cell, spreadsheet) for cell in empty_tail)
        unlabelled += "\r\n"
    else:
        first = ""
        prefix = '{"project": ' + dumps(plan.project) + ", "
        suffix = '"scheme_version": ' + dumps(plan.scheme_version) + "}\n"
        tail = dict(zip(names[annotator_at:], empty_tail, strict=True))
        unlabelled = ", " + dumps(tail)[1:] + "\n"
    who_cells: dict[str, str] = {}
    union_cells: dict[tuple[str, ...], str] = {}

    def who(username: str) -> str:
        cell = who_cells.get(username)
        if cell is None:
            name = pseudonym(username, key) if key is not None else username
            cell = _csv_text(name, spreadsheet) if csv_out else dumps(name)
            who_cells[username] = cell
        return cell

    def article_frames(frame_cells: dict[str, None]) -> str:
        """The cell of the union of an annotator's frame cells in one article: in
        scheme order, codes the scheme no longer has last in first-seen order
        (as ``_finish_article`` orders them)."""
        # Codes are slugs: nearly always nothing to unescape (join_cell).
        codes = tuple(
            dict.fromkeys(
                code
                for joined in frame_cells
                if joined
                for code in (
                    joined.split(LIST_SEPARATOR)
                    if "\\" not in joined
                    else split_cell(joined)
                )
            )
        )
        cell = union_cells.get(codes)
        if cell is None:
            if len(union_cells) >= 4096:  # bounded: memory must not grow with rows
                union_cells.clear()
            ordered = sorted(codes, key=lambda c: frame_order.get(c, len(frame_order)))
            cell = _csv_text(ordered, spreadsheet) if csv_out else dumps(ordered)
            union_cells[codes] = cell
        return cell

    def fragments(record: tuple) -> tuple[str, str, str]:
        """Labels, tail (extras and meta) and frames of a labelled record."""
        if record[_P_FRESH]:
            return record[_P_LABELS], record[_P_TAIL], record[_P_FRAMES]
        stats.shaped_on_the_fly += 1
        rendered = renderer.render(record[_P_VALUES])
        if not csv_out:
            labels, extras = rendered.json, rendered.json_extras
        elif spreadsheet:
            labels = rendered.csv_sheet or rendered.csv
            extras = rendered.csv_extras_sheet or rendered.csv_extras
        else:
            labels, extras = rendered.csv, rendered.csv_extras
        return labels, extras + record[_P_META], rendered.frames

    # The pieces of the lines so far; each row leaves one slot for its
    # article_frames cell, filled when the article's last row has been read.
    pieces: list[str] = [first]
    slots: list[tuple[int, str]] = []  # (index in pieces, annotator)
    # annotator -> the distinct frame cells of their rows, in first-seen order
    frame_sets: dict[str, dict[str, None]] = {}
    pending_rows = 0
    current_article = None
    after_head = "" if csv_out else ', "annotator": '
    before_labels = "," if csv_out else ", "
    before_frames = "," if csv_out else ', "article_frames": '
    for record in records:
        if record[_P_ARTICLE] != current_article:
            # An article is complete: fill its article_frames slots.
            cells = {user: article_frames(sets) for user, sets in frame_sets.items()}
            for at, user in slots:
                pieces[at] = cells[user]
            slots.clear()
            frame_sets.clear()
            current_article = record[_P_ARTICLE]
            if pending_rows >= chunk_rows:
                yield "".join(pieces)
                pieces.clear()
                pending_rows = 0
        pending_rows += 1
        stats.rows += 1
        username = record[_P_USER]
        if username is None:
            pieces += (prefix, record[_P_HEAD], unlabelled)
            continue
        labels, tail, frames = fragments(record)
        seen = frame_sets.get(username)
        if seen is None:
            seen = frame_sets[username] = {}
        seen[frames] = None
        pieces += (
            prefix,
            record[_P_HEAD],
            after_head,
            who(username),
            before_labels,
            labels,
            before_frames,
            "",  # the article_frames slot
            tail,
            suffix,
        )
        slots.append((len(pieces) - 3, username))
    cells = {user: article_frames(sets) for user, sets in frame_sets.items()}
    for at, user in slots:
        pieces[at] = cells[user]
    if pieces:
        yield "".join(pieces)
