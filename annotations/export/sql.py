"""The writers' cell rules as SQL (SQLite and PostgreSQL), for the fast path.

The annotations-mode export asks the database for each row's segment part and meta
part as finished CSV or JSON text (``queries.prerendered_records``), so Python
only concatenates a few strings per row. ``rendered_part`` builds that text from
the column definitions (``columns.py``): each cell kind has one expression here
that renders exactly what ``writers.py`` writes for the same value; the tests
compare the two byte for byte on both databases, with quotes, commas, line
breaks, tabs, formula triggers, umlauts and control characters in the data. A new
segment or meta column needs nothing here unless it brings a new kind.

Expressions that repeat their argument (``CASE WHEN x ... THEN x ...``) take
column references only, so no query parameter is ever repeated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db.models import F, Func, TextField, Value

from .columns import DATE, DATETIME, FLAG, INT, KEYWORD, TEXT, Column

_TEXT = TextField()


class Joined(Func):
    """``a || b || ...`` with every part as text (parts must not be NULL)."""

    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = _TEXT

    def as_postgresql(self, compiler, connection, **extra_context):
        parts = []
        params: list = []
        for expression in self.get_source_expressions():
            sql, part_params = compiler.compile(expression)
            parts.append(f"({sql})::text")
            params.extend(part_params)
        return "(" + " || ".join(parts) + ")", params


class _Repeating(Func):
    """A template that names its one argument several times as ``%(x)s``."""

    arity = 1
    output_field = _TEXT
    sqlite_template = ""
    postgresql_template = ""

    def _render(self, compiler, connection, template: str):
        sql, params = compiler.compile(self.get_source_expressions()[0])
        if params:
            raise ValueError(f"{type(self).__name__} takes a column reference")
        return template.replace("%(x)s", f"({sql})"), []

    def as_sqlite(self, compiler, connection, **extra_context):
        return self._render(compiler, connection, self.sqlite_template)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self._render(compiler, connection, self.postgresql_template)


class CsvCell(_Repeating):
    """A text cell as ``csv.writer`` writes it: quoted, inner quotes doubled,
    when it holds ``"``, ``,``, CR or LF (``export.csv_cell``)."""

    sqlite_template = (
        "CASE WHEN %(x)s GLOB ('*[\",' || char(13) || char(10) || ']*') "
        "THEN '\"' || replace(%(x)s, '\"', '\"\"') || '\"' ELSE %(x)s END"
    )
    postgresql_template = (
        "CASE WHEN %(x)s ~ E'[\",\\r\\n]' "
        "THEN '\"' || replace(%(x)s, '\"', '\"\"') || '\"' ELSE %(x)s END"
    )


class SpreadsheetCsvCell(_Repeating):
    """``CsvCell`` of the value neutralised for spreadsheets: a leading ``=``,
    ``+``, ``-``, ``@``, tab or CR gets a ``'`` before it (``export.neutralise``)."""

    _neutral = (
        "(CASE WHEN substr(%(x)s, 1, 1) IN "
        "('=', '+', '-', '@', {tab}, {cr}) THEN '''' || %(x)s ELSE %(x)s END)"
    )
    sqlite_template = CsvCell.sqlite_template.replace(
        "%(x)s", _neutral.format(tab="char(9)", cr="char(13)")
    )
    postgresql_template = CsvCell.postgresql_template.replace(
        "%(x)s", _neutral.format(tab="chr(9)", cr="chr(13)")
    )


class JsonString(_Repeating):
    """A text value as a JSON string, escaped as Python's ``json`` module does
    with ``ensure_ascii=False``."""

    sqlite_template = "json_quote(%(x)s)"
    postgresql_template = "to_json((%(x)s)::text)::text"


class JsonPlainString(_Repeating):
    """A JSON string of a value that never needs escaping (a segment kind, which a
    check constraint limits to a few codes; an ISO date): just the quotes."""

    sqlite_template = "'\"' || %(x)s || '\"'"
    postgresql_template = sqlite_template


class JsonBool(_Repeating):
    sqlite_template = "CASE WHEN %(x)s THEN 'true' ELSE 'false' END"
    postgresql_template = sqlite_template


class FlagText(_Repeating):
    """A boolean as ``1`` / ``0``."""

    sqlite_template = "CASE WHEN %(x)s THEN '1' ELSE '0' END"
    postgresql_template = sqlite_template


class IsoDate(_Repeating):
    """A date as ``YYYY-MM-DD``, NULL as an empty string."""

    sqlite_template = "COALESCE(%(x)s, '')"
    postgresql_template = "COALESCE(to_char(%(x)s, 'YYYY-MM-DD'), '')"


class IsoUtc(_Repeating):
    """A datetime as ``datetime.isoformat()`` writes it in UTC:
    ``2026-11-23T12:34:57.748750+00:00``, no fraction when it is zero.

    Django's SQLite backend stores UTC as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` text.
    """

    sqlite_template = "replace(%(x)s, ' ', 'T') || '+00:00'"
    postgresql_template = (
        "to_char(%(x)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        "|| CASE WHEN to_char(%(x)s, 'US') = '000000' THEN '' "
        "ELSE '.' || to_char(%(x)s, 'US') END || '+00:00'"
    )


def _csv_cell(column: Column, field: F, spreadsheet: bool) -> Func | F:
    """One column's value as a CSV cell (``writers.csv_chunks``)."""
    if column.kind == TEXT:
        return SpreadsheetCsvCell(field) if spreadsheet else CsvCell(field)
    if column.kind == DATE:
        return IsoDate(field)
    if column.kind == DATETIME:
        return IsoUtc(field)
    if column.kind == FLAG:
        return FlagText(field)
    if column.kind in (INT, KEYWORD):
        return field
    raise ValueError(f"no SQL rendering for {column.kind} cells ({column.name})")


def _json_value(column: Column, field: F) -> Func | F:
    """One column's value as a JSON value (``writers.jsonl_chunks``)."""
    if column.kind == TEXT:
        return JsonString(field)
    if column.kind == DATE:
        return JsonPlainString(IsoDate(field))
    if column.kind == DATETIME:
        return JsonPlainString(IsoUtc(field))
    if column.kind == FLAG:
        return JsonBool(field)
    if column.kind == KEYWORD:
        return JsonPlainString(field)
    if column.kind == INT:
        return field
    raise ValueError(f"no SQL rendering for {column.kind} cells ({column.name})")


def rendered_part(
    columns: Sequence[Column],
    *,
    fmt: str,
    spreadsheet: bool,
    prefix: str = "",
    leading: bool = False,
) -> Joined:
    """The cells of ``columns`` (read from ``prefix + column.field``) as one text:
    CSV cells each followed by ``,`` (``leading``: also one before the first);
    JSON object members each preceded by ``, `` but the first (unless
    ``leading``), a ``, `` after the last when ``leading``."""
    parts: list = []
    comma = Value(",")
    if fmt == "csv" and leading:
        parts.append(comma)
    for number, column in enumerate(columns):
        field = F(prefix + column.field)
        if fmt == "csv":
            parts += [_csv_cell(column, field, spreadsheet), comma]
        else:
            separator = ", " if number or leading else ""
            parts += [
                Value(f"{separator}{json.dumps(column.name)}: "),
                _json_value(column, field),
            ]
    if fmt != "csv" and leading:
        parts.append(Value(", "))
    return Joined(*parts)
