"""Reading article files into drafts: decoding, validation, formats. No Django models.

A file becomes a list of ``ArticleDraft`` or an ``ImportRefused`` with a message a
user understands; nothing here touches the database, so ``services.import_file`` can
parse and segment everything before it opens a transaction (lands whole or not at all).

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
    row: dict[str, object], *, where: str, source_file: str, language: str = "de"
) -> ArticleDraft:
    """One JSONL object or CSV row; refuses a row without text or with bad fields."""
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
    data: bytes, *, name: str, max_bytes: int, max_chars: int, language: str = "de"
) -> list[ArticleDraft]:
    """Parse and segment one file completely, or refuse it as a whole."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ImportRefused(
            f"{name}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if len(data) > max_bytes:
        raise ImportRefused(
            f"{name}: the file has {len(data):,} bytes; the limit is {max_bytes:,}"
        )
    text = decode_bytes(data, name=name)
    if _is_blank(text):
        raise ImportRefused(f"{name}: the file is empty or only whitespace")
    if suffix in (".txt", ".md"):
        check_text(text, name=name, max_chars=max_chars)
        return [draft_from_plain_text(text, source_file=name, language=language)]
    rows = (
        _jsonl_rows(text, name=name)
        if suffix == ".jsonl"
        else _csv_rows(text, name=name)
    )
    drafts = []
    for where, row in rows:
        draft = draft_from_row(row, where=where, source_file=name, language=language)
        check_text(draft.text, name=where, max_chars=max_chars)
        drafts.append(draft)
    if not drafts:
        raise ImportRefused(f"{name}: no articles in the file")
    return drafts


def _jsonl_rows(text: str, *, name: str) -> Iterator[tuple[str, dict[str, object]]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ImportRefused(f"{where}: not valid JSON ({error.msg})") from None
        if not isinstance(row, dict):
            raise ImportRefused(f"{where}: each line must be a JSON object")
        yield where, row


def _csv_rows(text: str, *, name: str) -> Iterator[tuple[str, dict[str, object]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
        missing = {"title", "text"} - set(header)
        if missing:
            raise ImportRefused(
                f"{name}: the header row needs the columns title and text "
                f"(missing: {', '.join(sorted(missing))})"
            )
        for row in reader:
            if None in row:
                raise ImportRefused(
                    f"{name} row {reader.line_num}: more cells than columns"
                )
            yield f"{name} row {reader.line_num}", row
    except csv.Error as error:
        raise ImportRefused(f"{name}: not valid CSV ({error})") from None


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
