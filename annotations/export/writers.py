"""The CSV and JSONL writers: how every cell of the export is written.

Plain Python, no Django. One renderer per format:

- ``csv_chunks`` / ``jsonl_chunks`` write shaped rows (``rows.py``);
- ``LabelRenderer`` writes one annotation's label cells with the same rules when
  the annotation is saved (``cells.py`` stores them), and ``prerendered_chunks``
  joins those stored cells into lines: the fast path of annotations mode.

The rules per cell kind (``columns.py``): text is quoted as ``csv.writer`` quotes
(RFC 4180) and, in the spreadsheet flavour, neutralised when it would run as a
formula; lists are ``;``-joined with ``\\`` escaping (``join_cell``, undone by
``split_cell``); numbers as they are; None empty. ``sql.py`` states the same
rules for the database, which renders the segment and meta cells of the fast
path; the tests compare both byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from .columns import (
    ATTRIBUTION_COLUMNS,
    FORMATS,
    ExportPlan,
    columns,
    count_columns,
    int_columns,
    label_plan_key,
    list_columns,
    parse_span,
)
from .rows import Shaper, iso_text, pseudonym

# OWASP "CSV injection": a spreadsheet evaluates a cell that starts with one of these.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = ";"
# Enough rows per write that the per-chunk overhead (one socket write, one file
# write) disappears, few enough that a chunk stays well under a megabyte.
CHUNK_ROWS = 500
# The Excel-friendly flavour starts with a byte order mark; see the README,
# section Export.
BOM = "\ufeff"

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


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------


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
    # Lists of numbers (segments mode's counts): ;-joined, nothing to quote.
    counted = set(count_columns(plan))
    counts_at = [i for i, name in enumerate(names) if name in counted]
    number_at = {i for i, name in enumerate(names) if name in numbers}
    number_at.update(counts_at)
    text_at = [i for i in range(len(names)) if i not in number_at and i not in list_at]
    check_at = sorted((*text_at, *list_at)) if spreadsheet else []
    # The segment part: every column before ``annotator``.
    split = names.index("annotator")
    head_check = [i for i in check_at if i < split]
    tail_lists = [i - split for i in list_at if i >= split]
    tail_counts = [i - split for i in counts_at]
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
        for i in tail_counts:
            cell = tail[i]
            tail[i] = LIST_SEPARATOR.join(map(str, cell)) if cell else ""
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
# Pre-rendered label cells: the fast path of annotations mode
# ---------------------------------------------------------------------------
#
# Shaping ~40 label cells from the JSON snapshot is most of an export's time
# (about 25 us per row in Python). An annotation's label cells depend only on its
# ``values`` and on the project's label plan (claim mapping, targets, frames,
# optional dimensions), so they are rendered once, when the annotation is saved,
# into text fragments that the export only concatenates (``queries.py`` joins
# them in SQL with the segment and article cells). ``label_plan_key`` names the
# plan they were rendered for: after a scheme change the key differs and those
# rows are shaped on the fly again, so the output never depends on the cache
# being fresh.


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
        self.shaper = Shaper(plan, None)
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
        created_at, updated_at = iso_text(created), iso_text(updated)
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


# The columns of a prepared record (see queries.prerendered_records).
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
