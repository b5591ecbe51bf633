"""Reading article files into drafts: decoding, validation, formats. No Django models.

A file becomes a stream of ``ArticleDraft`` or an ``ImportRefused`` with a message a
user understands; nothing here touches the database, so ``services`` can parse and
segment a whole file before it opens a transaction (lands whole or not at all).

Streaming: ``read_drafts`` reads a binary stream line by line (JSONL, CSV) and
yields one draft per row, so a file of any size is read with flat memory; the
limits are per article (``max_chars``) and per line, not per file. A plain-text
file is one article, read whole (at most what ``max_chars`` characters can take).
``parse_file`` is the same for bytes in memory, as a list.

Hostile JSON is refused before ``json`` sees it or while it parses, each with a
message naming the line: rows nested deeper than ``MAX_JSON_DEPTH`` (checked
without recursion: Python's ``json`` recurses and a line of 100,000 ``[`` ended
in a ``RecursionError``), numbers longer than ``MAX_NUMBER_CHARS`` characters,
``NaN``/``Infinity`` (not JSON), a key twice in one object, rows that are not
objects, lines longer than a row can be.

Formats
- ``.txt`` / ``.md``: one article per file, plain text as the seeds. The first
  non-empty line is the title (a leading ``#`` of Markdown is dropped from the
  title field only), a ``Von <Name>`` line the byline.
- ``.jsonl``: one JSON object per line with ``title``, ``text`` and optionally
  ``byline``, ``outlet``, ``url``, ``published`` (ISO date).
- ``.csv``: UTF-8, header row with the same column names.

For JSONL and CSV rows the stored article text is ``title``, a blank line, and
``text`` (unless ``text`` already starts with the title), so the title is a
segment like in a plain-text file and every offset points into one string.

U+FEFF: at the start of a file it is a byte-order mark and is removed (a run of
them too: some tools add one on every save). Anywhere else, inside a line or a
JSONL/CSV field, it is a zero-width no-break space and is kept where it stands,
like any other character, so ``Article.text`` is the file as imported: decoded,
BOM removed, line endings normalised, nothing else. It is not visible content,
though: a title or text made only of whitespace and U+FEFF is empty and refused,
and the one-line fields (title, byline, outlet, url) are trimmed of it like of
spaces, so an article never starts with an invisible character.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import BinaryIO

from .segmentation import SegmentSpan, normalise_text, segment_article

SUPPORTED_SUFFIXES = (".txt", ".md", ".jsonl", ".csv")
ROW_FIELDS = ("title", "text", "byline", "outlet", "url", "published")
_BYLINE = re.compile(r"^\s*Von\s+(?P<name>\S.*?)\s*$")
# Control characters other than tab and newline mean a binary or broken file.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BINARY_MAGIC = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"%PDF",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"\x7fELF",
)
_FIELD_LIMITS = {"title": 500, "byline": 300, "outlet": 200, "url": 1000}
_BOM = "\ufeff"
# Whitespace and U+FEFF at either end of a one-line field.
_BLANK_EDGES = re.compile(r"^[\s\ufeff]+|[\s\ufeff]+\Z")
# A JSONL row is one flat object; a few levels leave room for metadata keys that
# the import ignores. Deeper is refused before ``json.loads`` (which recurses).
MAX_JSON_DEPTH = 8
# Longer numbers are refused: no field of a row is a number, and converting a
# 100,000-digit integer costs seconds (Python limits it to 4,300 digits anyway).
MAX_NUMBER_CHARS = 40
# A JSON string or a bracket, for the depth check (strings may hold brackets).
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
# Bytes a UTF-8 character takes at most; and as a JSON escape at most
# (a surrogate pair: two \uXXXX escapes for one character).
_UTF8_MAX = 4
_ESCAPED_MAX = 12
# Room for the other fields of a row and the JSON around them.
_ROW_OVERHEAD = 64 * 1024


class ImportRefused(Exception):
    """A file (or a row of it) that cannot be imported; the message says why."""


@dataclass(frozen=True)
class ArticleDraft:
    """An article parsed and segmented, ready to be stored."""

    title: str
    text: str
    segments: list[SegmentSpan] = field(repr=False)
    byline: str = ""
    outlet: str = ""
    url: str = ""
    published: dt.date | None = None
    source_file: str = ""
    language: str = "de"

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decode_bytes(data: bytes, *, name: str) -> str:
    """Decode UTF-8 or refuse; remove the BOM(s) at the start, normalise line endings.

    Latin-1 is not guessed: every byte string is valid Latin-1, so guessing would
    turn a binary or mis-encoded file into garbage without a word. The user is told
    to save the file as UTF-8 instead.
    """
    if any(data.startswith(magic) for magic in _BINARY_MAGIC):
        raise ImportRefused(
            f"{name}: this is a binary file (an image, PDF or archive), not text"
        )
    if b"\x00" in data:
        offset = data.index(b"\x00")
        raise ImportRefused(
            f"{name}: contains a NUL byte at byte {offset}; this looks like a binary "
            "file or a UTF-16 file; save it as UTF-8 text"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ImportRefused(
            f"{name}: not valid UTF-8 (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}); save the file as UTF-8 (e.g. from Latin-1 with "
            "'iconv -f latin1 -t utf-8')"
        ) from None
    return normalise_text(text.lstrip(_BOM))


def _is_blank(text: str) -> bool:
    """Nothing visible: only whitespace and U+FEFF (which ``str.strip`` keeps)."""
    return not _trim(text)


def _trim(value: str) -> str:
    """A one-line field without whitespace and U+FEFF at its ends."""
    return _BLANK_EDGES.sub("", value)


def _unify_line_endings(value: str) -> str:
    """CR LF and lone CR to LF, as ``normalise_text`` does for a whole file; a
    U+FEFF at the start of a field is content, not a BOM, and stays."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def check_text(text: str, *, name: str, max_chars: int) -> None:
    """Refuse text that is empty, too long, or has control characters."""
    if _is_blank(text):
        raise ImportRefused(f"{name}: the text is empty or only whitespace")
    if len(text) > max_chars:
        raise ImportRefused(
            f"{name}: the text has {len(text):,} characters; the limit is {max_chars:,}"
        )
    match = _CONTROL.search(text)
    if match:
        raise ImportRefused(
            f"{name}: contains the control character U+{ord(match.group()):04X} at "
            f"character {match.start()}; this looks like a binary or broken file"
        )
    match = _SURROGATE.search(text)
    if match:
        raise ImportRefused(
            f"{name}: contains a lone surrogate at character {match.start()}"
        )


def draft_from_plain_text(
    text: str, *, source_file: str, language: str = "de"
) -> ArticleDraft:
    segments = segment_article(text, language=language)
    title_segment = next((s for s in segments if s.kind == "title"), None)
    if title_segment is None:
        raise ImportRefused(f"{source_file}: no title line found")
    byline_segment = next((s for s in segments if s.kind == "byline"), None)
    title_line = _trim(title_segment.text)
    if not title_line:
        raise ImportRefused(
            f"{source_file}: the title line (the first non-empty line) has no "
            "visible text, only U+FEFF characters (byte-order marks)"
        )
    title = _trim(title_line.lstrip("#")) or title_line
    byline = ""
    if byline_segment is not None:
        match = _BYLINE.match(byline_segment.text)
        byline = match.group("name") if match else byline_segment.text
    return ArticleDraft(
        title=_clip(title, "title"),
        text=text,
        segments=segments,
        byline=_clip(byline, "byline"),
        source_file=source_file,
        language=language,
    )


def draft_from_row(
    row: dict[str, object],
    *,
    where: str,
    source_file: str,
    language: str = "de",
    max_chars: int | None = None,
) -> ArticleDraft:
    """One JSONL object or CSV row; refuses a row without text or with bad fields.

    With ``max_chars`` the stored text is checked (length, control characters,
    surrogates) before it is segmented, so a refused row costs no segmentation.
    """
    values: dict[str, str] = {}
    for name in ROW_FIELDS:
        value = row.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ImportRefused(f"{where}: field {name!r} must be text, got {value!r}")
        values[name] = _unify_line_endings(value)
    if _is_blank(values["text"]):
        raise ImportRefused(f"{where}: the row has no text")
    title = _trim(values["title"])
    if not title:
        raise ImportRefused(f"{where}: the row has no title")
    if "\n" in title:
        raise ImportRefused(f"{where}: the title must be one line")
    for name, limit in _FIELD_LIMITS.items():
        if len(values[name]) > limit:
            raise ImportRefused(f"{where}: {name} is longer than {limit} characters")
    body = values["text"]
    text = body if body.lstrip().startswith(title) else f"{title}\n\n{body}"
    published = _parse_date(values["published"], where=where)
    url = _trim(values["url"])
    if url and not re.match(r"^https?://\S+$", url):
        raise ImportRefused(f"{where}: url must start with http:// or https://")
    if max_chars is not None:
        check_text(text, name=where, max_chars=max_chars)
    return ArticleDraft(
        title=title,
        text=text,
        segments=segment_article(text, language=language),
        byline=_trim(values["byline"]),
        outlet=_trim(values["outlet"]),
        url=url,
        published=published,
        source_file=source_file,
        language=language,
    )


def parse_file(
    data: bytes,
    *,
    name: str,
    max_chars: int,
    max_bytes: int | None = None,
    language: str = "de",
) -> list[ArticleDraft]:
    """Parse and segment one file in memory completely, or refuse it as a whole.

    ``max_bytes``: refuse a larger file before reading it (for callers that hold
    the file in memory; ``read_drafts`` has no file limit).
    """
    check_suffix(name)
    if max_bytes is not None and len(data) > max_bytes:
        raise ImportRefused(
            f"{name}: the file has {len(data):,} bytes; the limit is {max_bytes:,}"
        )
    return list(
        read_drafts(io.BytesIO(data), name=name, max_chars=max_chars, language=language)
    )


def check_suffix(name: str) -> str:
    """The file's lower-case suffix, or a refusal naming the supported ones."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ImportRefused(
            f"{name}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return suffix


class DraftReader:
    """Reads one file from a binary stream into drafts, row by row.

    Iterate it for the drafts; ``bytes_read`` says how far it got (for a progress
    bar). The first bad row raises ``ImportRefused`` (so nothing is yielded after
    it); a file without any article raises it at the end. Memory stays flat
    whatever the file's size: one line (JSONL) or one record (CSV) at a time.
    """

    def __init__(
        self, stream: BinaryIO, *, name: str, max_chars: int, language: str = "de"
    ) -> None:
        self.stream = stream
        self.name = name
        self.max_chars = max_chars
        self.language = language
        self.suffix = check_suffix(name)
        self.bytes_read = 0
        # A line holds at most one row: its text (every character escaped, in
        # the worst case) and the short fields.
        self.max_line_bytes = _ESCAPED_MAX * max_chars + _ROW_OVERHEAD
        self._visible = False  # has any line shown something but whitespace?

    def __iter__(self) -> Iterator[ArticleDraft]:
        if self.suffix in (".txt", ".md"):
            yield self._plain_text()
            return
        rows = self._jsonl_rows() if self.suffix == ".jsonl" else self._csv_rows()
        count = 0
        for where, row in rows:
            count += 1
            yield draft_from_row(
                row,
                where=where,
                source_file=self.name,
                language=self.language,
                max_chars=self.max_chars,
            )
        if not count:
            if not self._visible:
                raise ImportRefused(
                    f"{self.name}: the file is empty or only whitespace"
                )
            raise ImportRefused(f"{self.name}: no articles in the file")

    def _plain_text(self) -> ArticleDraft:
        # One article: read whole, but never more than its limit can take.
        limit = _UTF8_MAX * self.max_chars + _ROW_OVERHEAD
        data = self.stream.read(limit + 1)
        self.bytes_read = len(data)
        if len(data) > limit:
            raise ImportRefused(
                f"{self.name}: the file has more than {limit:,} bytes, so its text "
                f"has more than {self.max_chars:,} characters; the limit is "
                f"{self.max_chars:,}"
            )
        text = decode_bytes(data, name=self.name)
        if _is_blank(text):
            raise ImportRefused(f"{self.name}: the file is empty or only whitespace")
        check_text(text, name=self.name, max_chars=self.max_chars)
        return draft_from_plain_text(
            text, source_file=self.name, language=self.language
        )

    def _lines(self) -> Iterator[str]:
        """The file's lines, decoded and normalised as ``decode_bytes`` does for a
        whole file (BOMs at its start removed, CR LF and lone CR made LF), each
        ending in ``\\n`` except perhaps the last. Refuses binary data, invalid
        UTF-8 and a line longer than a row can be, naming the byte offset."""
        first = True
        while True:
            raw = self.stream.readline(self.max_line_bytes + 1)
            if not raw:
                return
            offset = self.bytes_read
            self.bytes_read += len(raw)
            if first and any(raw.startswith(magic) for magic in _BINARY_MAGIC):
                raise ImportRefused(
                    f"{self.name}: this is a binary file (an image, PDF or archive), "
                    "not text"
                )
            if len(raw) > self.max_line_bytes:
                raise ImportRefused(
                    f"{self.name}: the line at byte {offset:,} is longer than "
                    f"{self.max_line_bytes:,} bytes, more than one article of "
                    f"{self.max_chars:,} characters can take"
                )
            if b"\x00" in raw:
                at = offset + raw.index(b"\x00")
                raise ImportRefused(
                    f"{self.name}: contains a NUL byte at byte {at}; this looks like "
                    "a binary file or a UTF-16 file; save it as UTF-8 text"
                )
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ImportRefused(
                    f"{self.name}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at "
                    f"offset {offset + error.start}); save the file as UTF-8 (e.g. "
                    "from Latin-1 with 'iconv -f latin1 -t utf-8')"
                ) from None
            if first:
                line = line.lstrip(_BOM)
                first = False
            if not self._visible and not _is_blank(line):
                self._visible = True
            # A lone CR ends a line, as in ``normalise_text``.
            yield from _split_lines(_unify_line_endings(line))

    def _jsonl_rows(self) -> Iterator[tuple[str, dict[str, object]]]:
        for number, line in enumerate(self._lines(), start=1):
            if _is_blank(line):
                continue
            where = f"{self.name} line {number}"
            yield where, json_row(line, where=where)

    def _csv_rows(self) -> Iterator[tuple[str, dict[str, object]]]:
        lines = self._lines()
        reader = csv.DictReader(lines, strict=True)
        try:
            header = reader.fieldnames or []
            missing = {"title", "text"} - set(header)
            if missing:
                if not self._visible:
                    # A blank header: is the whole file blank? (read to its end)
                    for _ in lines:
                        pass
                if not self._visible:
                    raise ImportRefused(
                        f"{self.name}: the file is empty or only whitespace"
                    )
                raise ImportRefused(
                    f"{self.name}: the header row needs the columns title and text "
                    f"(missing: {', '.join(sorted(missing))})"
                )
            for row in reader:
                if None in row:
                    raise ImportRefused(
                        f"{self.name} row {reader.line_num}: more cells than columns"
                    )
                yield f"{self.name} row {reader.line_num}", row
        except csv.Error as error:
            raise ImportRefused(f"{self.name}: not valid CSV ({error})") from None


def read_drafts(
    stream: BinaryIO, *, name: str, max_chars: int, language: str = "de"
) -> DraftReader:
    """The drafts of one file, read from ``stream`` as they are needed."""
    return DraftReader(stream, name=name, max_chars=max_chars, language=language)


def _split_lines(text: str) -> Iterator[str]:
    """``text`` cut after each LF (only LF: U+2028 and its kin are content, as in
    ``io.StringIO(newline="")`` and JSON strings)."""
    start = 0
    while (end := text.find("\n", start)) != -1:
        yield text[start : end + 1]
        start = end + 1
    if start < len(text):
        yield text[start:]


class _HostileJSON(Exception):
    """Raised from inside ``json.loads`` by the hooks below."""


def json_row(line: str, *, where: str) -> dict[str, object]:
    """One JSONL line as a dict, or a refusal naming the line.

    Depth is checked first, without recursion; numbers, constants and duplicate
    keys while ``json`` parses (its hooks).
    """
    _check_depth(line, where=where)
    try:
        row = json.loads(
            line,
            object_pairs_hook=_unique_keys,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_no_constant,
        )
    except _HostileJSON as error:
        raise ImportRefused(f"{where}: {error}") from None
    except json.JSONDecodeError as error:
        raise ImportRefused(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(row, dict):
        raise ImportRefused(f"{where}: each line must be a JSON object")
    return row


def _check_depth(line: str, *, where: str) -> None:
    # Fast path: fewer opening brackets than the limit cannot nest deeper.
    if line.count("{") + line.count("[") <= MAX_JSON_DEPTH:
        return
    depth = 0
    for match in _JSON_TOKEN.finditer(line):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ImportRefused(
                    f"{where}: the JSON is nested deeper than {MAX_JSON_DEPTH} "
                    "levels; a row is one flat object of text fields"
                )
        elif token in "]}":
            depth -= 1


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    row: dict[str, object] = {}
    for key, value in pairs:
        if key in row:
            raise _HostileJSON(f"the key {key!r} appears twice in one object")
        row[key] = value
    return row


def _check_number(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise _HostileJSON(
            f"a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS}); "
            "the fields of a row are text"
        )


def _integer(text: str) -> int:
    _check_number(text)
    return int(text)


def _float(text: str) -> float:
    _check_number(text)
    return float(text)


def _no_constant(name: str) -> float:
    raise _HostileJSON(f"{name} is not valid JSON")


def _parse_date(value: str, *, where: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise ImportRefused(
            f"{where}: published must be an ISO date (YYYY-MM-DD), got {value!r}"
        ) from None


def _clip(value: str, field_name: str) -> str:
    limit = _FIELD_LIMITS[field_name]
    return value if len(value) <= limit else value[: limit - 1] + "…"
