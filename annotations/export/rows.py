"""Shaping export rows: records from the database to cells in column order.

Plain Python, no Django: ``queries.py`` reads the database once per stream
(``values_list`` tuples laid out as ``columns.SEGMENT_FIELDS`` and
``columns.ANNOTATION_FIELDS``) and hands them to the generators here, so this
module can be tested without a database and never holds more than one article's
rows in memory.

Data flow::

    segment records  --+
                       +-- merge -- shape_rows() -- writers.csv_chunks() / ...
    annotation records-+

Rows are produced one article at a time: ``article_frames`` (the SemEval-2023 style
frame set of an article) is the union over that article's rows, so the article's
rows are buffered until its last segment has been read; nothing else is kept.

List-valued cells (frames, attributions, stance sources, multi-choice dimensions)
are Python lists in the shaped row; the writers render them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from ..snapshot import (
    ATTRIBUTION_FORM,
    ATTRIBUTION_PRESENCE,
    ATTRIBUTION_SOURCE,
    ATTRIBUTION_TYPE,
    CUE_SPANS,
    SOURCE_SPANS,
    attribution_identities,
    attribution_readings,
    canonical_source,
    group_attributions,
    source_key,
)
from .columns import (
    ANNOTATION_FIELDS,
    ANY,
    ATTRIBUTIONS,
    DATE,
    DATETIME,
    EARLIEST,
    FLAG,
    INT,
    LABEL_VOTE,
    LATEST,
    META_COLUMNS,
    NAME_VOTE,
    SEGMENT_COLUMNS,
    SEGMENT_FIELDS,
    SPAN_VOTE,
    TOTAL,
    DimensionInfo,
    ExportPlan,
    columns,
    parse_span,
)

# Indexes into the records (see columns.SEGMENT_FIELDS / ANNOTATION_FIELDS).
_S_ID = SEGMENT_FIELDS.index("id")
_S_ARTICLE = SEGMENT_FIELDS.index("article_id")
_S_POSITION = SEGMENT_FIELDS.index("position")
_A_ARTICLE = ANNOTATION_FIELDS.index("article_id")
_A_POSITION = ANNOTATION_FIELDS.index("segment__position")
_A_USER = ANNOTATION_FIELDS.index("annotator__username")
_A_GOLD = ANNOTATION_FIELDS.index("is_gold")
_A_VALUES = ANNOTATION_FIELDS.index("values")
# The segment columns' places in a segment record, and whether each is a date.
_HEAD = tuple((SEGMENT_FIELDS.index(c.field), c.kind == DATE) for c in SEGMENT_COLUMNS)
# The meta columns' places in an annotation record and their kinds.
_META = tuple(
    (ANNOTATION_FIELDS.index(c.field), c.kind, c.majority) for c in META_COLUMNS
)
# What a row without an annotation has in the meta columns.
_EMPTY_META = [None if c.kind in (INT, FLAG) else "" for c in META_COLUMNS]


def pseudonym(username: str, key: bytes) -> str:
    """A stable pseudonym: the same username and key always give the same one."""
    digest = hmac.new(key, username.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"ann_{digest[:10]}"


def iso_text(value: date | datetime | str | None) -> str:
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
    memory by the double-annotated overlap rather than by the corpus. The
    attributions' figures are there too (``snapshot.ATTRIBUTION_*`` keys), and
    ``spans[snapshot.SOURCE_SPANS | CUE_SPANS]`` holds each annotator's marked
    spans per segment for span agreement.
    """

    def __init__(self, plan: ExportPlan, *, ratings: bool = True) -> None:
        self.rows = 0
        self.labelled_rows = 0
        self.labels: dict[str, Counter[str]] = {
            d.code: Counter() for d in plan.dimensions
        }
        self.collect_ratings = ratings
        self.ratings: dict[str, list[tuple[Any, str, Any]]] = {}
        self.spans: dict[str, list[tuple[Any, str, Any]]] = {}


class Shaper:
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
                [column.value(a) for a in attributions] for column in ATTRIBUTIONS
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
            self._rate_attributions(segment_id, coder, attribution_entries(cells))

    def _rate_attributions(self, segment_id: int, coder: str, entries: list[dict]):
        """Presence, canonical sources, type and form (per matched attribution)
        and the marked spans of one annotator's attributions of one segment
        (see README, Team work, Agreement)."""
        counts = self.counts
        assert counts is not None
        ratings, spans = counts.ratings, counts.spans
        readings = attribution_readings(entries)
        ratings.setdefault(ATTRIBUTION_PRESENCE, []).append(
            (segment_id, coder, readings.presence)
        )
        if readings.sources is not None:
            ratings.setdefault(ATTRIBUTION_SOURCE, []).append(
                (segment_id, coder, readings.sources)
            )
        for key, read in (
            (ATTRIBUTION_TYPE, readings.types),
            (ATTRIBUTION_FORM, readings.forms),
        ):
            target = ratings.setdefault(key, [])
            for identity, code in read.items():
                target.append(((segment_id, *identity), coder, code))
        spans.setdefault(SOURCE_SPANS, []).append(
            (
                segment_id,
                coder,
                tuple(
                    (parse_span(e["source_span"]),) for e in entries if e["source_span"]
                ),
            )
        )
        spans.setdefault(CUE_SPANS, []).append(
            (
                segment_id,
                coder,
                tuple(
                    tuple(parse_span(part) for part in e["cue_spans"].split("+"))
                    for e in entries
                    if e["cue_spans"]
                ),
            )
        )


_NO_DIM = DimensionInfo(code="", role="", name_en="")
# Shared empty cells: rows are only ever changed by replacing a cell, never by
# mutating the list in it, so one empty list can stand in every row.
_NOTHING: dict = {}
_NO_MAPPING = ("", "")
# The label cells start with claim and its two mappings, then one list per
# attribution column (columns.ATTRIBUTIONS), then three cells per target.
ATTRIBUTION_LISTS = len(ATTRIBUTIONS)
STANCE_CELL = 3 + ATTRIBUTION_LISTS
_NO_ATTRIBUTIONS: list[list[str]] = [[] for _ in range(ATTRIBUTION_LISTS)]
# The snapshot key of each attribution list, and of those with a count column.
_ATTRIBUTION_KEYS = tuple(column.key for column in ATTRIBUTIONS)
_AGREED_KEYS = tuple(column.key for column in ATTRIBUTIONS if column.agree)

_loads = json.JSONDecoder().decode


# ---------------------------------------------------------------------------
# Attributions across annotators (segments mode; the review screen's proposal)
# ---------------------------------------------------------------------------


def attribution_entries(cells: Sequence[Any]) -> list[dict]:
    """The attribution lists of one annotation's label cells (:meth:`Shaper.labels`)
    as one dict per attribution, keyed as in the snapshot (items as rendered)."""
    return [
        dict(zip(_ATTRIBUTION_KEYS, entry, strict=True))
        for entry in zip(*cells[3:STANCE_CELL], strict=True)
    ]


def _comparable(value: Any) -> Any:
    """A hashable stand-in for an item; every empty one (``""``, None, ``[]``:
    not given, not marked) is the same."""
    if value is None or value == "" or value == [] or value == ():
        return None
    return _frozen(value)


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_frozen(part) for part in value)
    return value


def _vote(vote: str, values: Sequence[Any]) -> Any:
    counts: Counter[Any] = Counter()
    first: dict[Any, Any] = {}
    for value in values:
        key = _comparable(value)
        counts[key] += 1
        first.setdefault(key, value)
    if vote == LABEL_VOTE:
        key, votes = counts.most_common(1)[0]
        return first[key] if votes * 2 > len(values) and key is not None else ""
    if vote == NAME_VOTE:
        # most_common keeps the first seen of equal counts: the first annotator's.
        return first[counts.most_common(1)[0][0]]
    if vote == SPAN_VOTE:
        # max keeps the first of equal keys; marked spans before none.
        return first[max(counts.items(), key=lambda kv: (kv[1], kv[0] is not None))[0]]
    raise ValueError(f"unknown attribution vote {vote!r}")


def vote_attribution(givers: Sequence[dict]) -> dict:
    """One attribution from the versions of the annotators who gave it (the same
    canonical source), each item picked as its column's ``vote`` says: the
    spelling of the source and of its canonical name the commonest, type, form
    and cue the one more than half of them gave (else empty), the spans the
    commonest (marked before none on a tie)."""
    return {
        column.key: _vote(column.vote, [g.get(column.key) for g in givers])
        for column in ATTRIBUTIONS
    }


def majority_attributions(per_annotator: Sequence[Sequence[dict]]) -> list[dict]:
    """The attributions more than half of the annotators gave, in the order they
    first appear, each voted by :func:`vote_attribution`."""
    half = len(per_annotator) / 2
    return [
        vote_attribution(group.givers)
        for group in group_attributions(per_annotator)
        if len(group.members) > half
    ]


def attribution_agreement(
    exported: Sequence[dict], per_annotator: Sequence[Sequence[dict]]
) -> list[list[int]]:
    """The attribution count columns of one row: per exported attribution, how
    many annotators gave that source, then per counted item (columns whose
    ``agree`` is set) how many of them gave it with the exported item."""
    own = [
        dict(zip(attribution_identities(items), items, strict=True))
        for items in per_annotator
    ]
    lists: list[list[int]] = [[] for _ in range(1 + len(_AGREED_KEYS))]
    for identity, entry in zip(attribution_identities(exported), exported, strict=True):
        givers = [mine[identity] for mine in own if identity in mine]
        lists[0].append(len(givers))
        for k, key in enumerate(_AGREED_KEYS, start=1):
            wanted = _comparable(entry.get(key))
            lists[k].append(sum(1 for g in givers if _comparable(g.get(key)) == wanted))
    return lists


def _holder_key(name: str) -> tuple[str, ...]:
    """Who holds a stance, comparable: the author, nobody, or a source key."""
    if name in ("", "author"):
        return (name,)
    return ("source", source_key(name))


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
    shaper = Shaper(plan, counts)
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


def _finish_article(rows: list[list[Any]], shaper: Shaper) -> list[list[Any]]:
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
    shaper: Shaper,
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
        shaper.head = [shaper.plan.project] + [
            iso_text(segment[at]) if is_date else segment[at] for at, is_date in _HEAD
        ]
    row = shaper.head + [annotator]
    if shaper.segments_mode:
        row += summary[:2]
    if cells is None:
        n_labels = shaper.width - len(row) - len(_EMPTY_META) - 1
        row += [None] * n_labels
        row += _EMPTY_META
        row.append(shaper.plan.scheme_version)
        return row
    row += cells
    if record is not None:
        row += meta_cells(record)
    else:
        row += summary[2:]
    row.append(shaper.plan.scheme_version)
    return row


def meta_cells(record: tuple) -> list[Any]:
    """The meta columns of one annotation record."""
    cells: list[Any] = []
    for at, kind, _majority in _META:
        value = record[at]
        if kind == DATETIME:
            value = iso_text(value)
        elif kind == FLAG:
            value = 1 if value else 0
        cells.append(value)
    return cells


def majority_meta_cells(records: list[tuple]) -> list[Any]:
    """The meta columns of a majority row: each column's annotators' values
    summed up as the column says (``Column.majority``)."""
    cells: list[Any] = []
    for at, kind, majority in _META:
        values = [record[at] for record in records]
        if majority == ANY:
            value: Any = 1 if any(values) else 0
        elif majority == EARLIEST:
            value = min(values)
        elif majority == LATEST:
            value = max(values)
        elif majority == TOTAL:
            value = sum(values)
        else:
            value = ""
        cells.append(iso_text(value) if kind == DATETIME else value)
    return cells


# ---------------------------------------------------------------------------
# Segments mode: gold, else majority
# ---------------------------------------------------------------------------


def _segment_row(
    shaper: Shaper, segment: tuple, group: list[tuple]
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
        meta = meta_cells(gold)
    else:
        values = {}
        cells = _majority(shaper, cells_list)
        annotator = ""
        source = "majority"
        meta = majority_meta_cells(own)
    cells = _with_agreement(shaper, cells, cells_list)
    row = _row(shaper, segment, annotator, (source, n, *meta), cells, None)
    shaper.count(row, values)
    return row


def _majority(shaper: Shaper, cells_list: list[list[Any]]) -> list[Any]:
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
    # Attributions: one that more than half gave (the same canonical source),
    # each item voted among those who gave it (majority_attributions).
    chosen = majority_attributions([attribution_entries(c) for c in cells_list])
    out += [[entry[key] for entry in chosen] for key in _ATTRIBUTION_KEYS]
    # A source-held stance names its holder by the canonical name: spelled as
    # the exported attribution of that source spells it, so the holder and the
    # attribution lists name the same source.
    spelling = {
        _holder_key(canonical_source(entry)): canonical_source(entry)
        for entry in chosen
    }

    def named(key: tuple[str, ...], fallback: str) -> str:
        return spelling.get(key, fallback)

    def holder(i: int, polarity: str) -> str:
        votes: Counter[tuple[str, ...]] = Counter()
        first: dict[tuple[str, ...], str] = {}
        for cells in cells_list:
            if cells[i] == polarity:
                key = _holder_key(cells[i + 1])
                votes[key] += 1
                first.setdefault(key, cells[i + 1])
        if not polarity or not votes:
            return ""
        key = votes.most_common(1)[0][0]
        return named(key, first[key])

    def source_stances(i: int) -> list[str]:
        votes: Counter[tuple] = Counter()
        first: dict[tuple, str] = {}
        for cells in cells_list:
            seen = set()
            for item in cells[i]:
                name, _, polarity = item.rpartition("=")
                key = (_holder_key(name), polarity)
                if key in seen:
                    continue
                seen.add(key)
                votes[key] += 1
                first.setdefault(key, name)
        return [
            f"{named(key[0], first[key])}={key[1]}"
            for key, count in votes.items()
            if count > half
        ]

    i = STANCE_CELL
    for _ in shaper.target_codes:
        polarity = single(i)
        out += [polarity, holder(i, polarity), source_stances(i + 2)]
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
    shaper: Shaper, cells: list[Any], cells_list: list[list[Any]]
) -> list[Any]:
    """Insert the ``*_agree`` columns: annotators whose own value equals the row's."""

    def agree(i: int, as_set: bool = False) -> int:
        if as_set:
            return sum(1 for c in cells_list if set(c[i]) == set(cells[i]))
        return sum(1 for c in cells_list if c[i] == cells[i])

    out: list[Any] = [cells[0], agree(0), *cells[1:STANCE_CELL]]
    out += attribution_agreement(
        attribution_entries(cells), [attribution_entries(c) for c in cells_list]
    )
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
