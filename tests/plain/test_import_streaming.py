"""The streaming reader of importing.py (no Django): hostile JSON refused with a
message naming the line, files read line by line with flat memory."""

from __future__ import annotations

import io
import json
import tracemalloc

import pytest

from annotations.importing import (
    MAX_JSON_DEPTH,
    ImportRefused,
    parse_file,
    read_drafts,
)

MAX_CHARS = 2_000_000


def row(**extra: object) -> str:
    return json.dumps({"title": "Titel", "text": "Ein Satz.", **extra})


def refusal(data: bytes, name: str = "rows.jsonl", max_chars: int = MAX_CHARS) -> str:
    with pytest.raises(ImportRefused) as refused:
        parse_file(data, name=name, max_chars=max_chars)
    return str(refused.value)


def nested(depth: int) -> str:
    """A row whose extra key holds ``depth - 1`` more levels (the row is one)."""
    return row()[:-1] + ', "meta": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="100000-arrays"),
        pytest.param('{"a": ' * 100_000 + "1" + "}" * 100_000, id="100000-objects"),
        pytest.param("[" * 100_000, id="unclosed"),
        pytest.param(nested(MAX_JSON_DEPTH + 1), id="one-level-too-deep"),
    ],
)
def test_json_nested_too_deep_is_refused_without_recursion(line):
    data = f"{row()}\n{line}\n".encode()
    assert refusal(data) == (
        f"rows.jsonl line 2: the JSON is nested deeper than {MAX_JSON_DEPTH} levels; "
        "a row is one flat object of text fields"
    )


def test_nesting_up_to_the_limit_and_brackets_inside_strings_are_fine():
    # Brackets inside strings (also after an escaped quote) are not nesting.
    title = '[[[[[[[[[[[[[[ \\" {{{{{{{{{{ "'
    data = "\n".join([nested(MAX_JSON_DEPTH), row(title=title)]).encode()
    drafts = parse_file(data, name="rows.jsonl", max_chars=MAX_CHARS)
    assert [draft.title for draft in drafts] == ["Titel", title]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            row()[:-1] + ', "n": ' + "9" * 100_000 + "}",
            "line 1: a number of 100,000 characters (at most 40); the fields of a "
            "row are text",
            id="huge-integer",
        ),
        pytest.param(
            row()[:-1] + ', "x": 1.' + "5" * 1000 + "e10}",
            "line 1: a number of 1,005 characters",
            id="huge-float",
        ),
        pytest.param(row(n=float("nan")), "line 1: NaN is not valid JSON", id="nan"),
        pytest.param(
            row()[:-1] + ', "x": -Infinity}',
            "line 1: -Infinity is not valid JSON",
            id="infinity",
        ),
        pytest.param(
            '{"title": "A", "text": "Satz.", "title": "B"}',
            "line 1: the key 'title' appears twice in one object",
            id="duplicate-key",
        ),
        pytest.param(
            row()[:-1] + ', "meta": {"k": {"x": 1, "x": 2}}}',
            "line 1: the key 'x' appears twice in one object",
            id="duplicate-key-nested",
        ),
        pytest.param(
            '"just a string"', "line 1: each line must be a JSON object", id="string"
        ),
        pytest.param("3", "line 1: each line must be a JSON object", id="number"),
        pytest.param("[]", "line 1: each line must be a JSON object", id="array"),
        pytest.param("null", "line 1: each line must be a JSON object", id="null"),
        pytest.param(
            row(text=7), "line 1: field 'text' must be text, got 7", id="number-text"
        ),
    ],
)
def test_hostile_rows_are_refused_with_a_message_naming_the_line(line, message):
    assert refusal(line.encode()).startswith(f"rows.jsonl {message}")


def test_a_line_longer_than_a_row_can_be_is_refused_before_it_is_read_whole():
    # At most 12 bytes per character (escaped surrogate pairs) plus 64 KiB.
    limit = 12 * 10 + 64 * 1024
    data = (row(text="x" * (limit + 10)) + "\n").encode()
    assert refusal(data, max_chars=10) == (
        f"rows.jsonl: the line at byte 0 is longer than {limit:,} bytes, more than "
        "one article of 10 characters can take"
    )


def test_a_plain_text_file_longer_than_its_article_can_be_is_refused():
    limit = 4 * 10 + 64 * 1024
    data = ("Titel\n\n" + "Satz. " * 20_000).encode()
    assert refusal(data, name="long.txt", max_chars=10) == (
        f"long.txt: the file has more than {limit:,} bytes, so its text has more "
        "than 10 characters; the limit is 10"
    )


def test_line_breaks_inside_json_strings_and_csv_cells_stay_content():
    """U+2028, U+0085 and the like are not line ends (only LF, CR LF and a lone
    CR are, as before streaming)."""
    text = "Satz eins.\u2028Satz zwei.\x85Satz drei."
    jsonl = (
        row(text=text) + "\r\n" + row(title="Zwei") + "\r" + row(title="Drei")
    ).encode()
    drafts = parse_file(jsonl, name="rows.jsonl", max_chars=MAX_CHARS)
    assert [draft.title for draft in drafts] == ["Titel", "Zwei", "Drei"]
    assert drafts[0].text == f"Titel\n\n{text}"
    csv = f'title,text\r\nEins,"{text}\r\nZeile zwei."\r\n'.encode()
    [draft] = parse_file(csv, name="rows.csv", max_chars=MAX_CHARS)
    assert draft.text == f"Eins\n\n{text}\nZeile zwei."


def test_errors_name_the_byte_offset_in_the_whole_file():
    data = (row() + "\n").encode() * 3 + b'{"title": "\xff"}\n'
    offset = len(row()) * 3 + 3 + len('{"title": "')
    assert refusal(data) == (
        f"rows.jsonl: not valid UTF-8 (byte 0xff at offset {offset}); save the file "
        "as UTF-8 (e.g. from Latin-1 with 'iconv -f latin1 -t utf-8')"
    )
    assert "contains a NUL byte at byte 20" in refusal(b"x" * 20 + b"\x00", "r.csv")


def test_the_reader_stops_at_the_first_bad_row_and_counts_what_it_read():
    data = "\n".join([row(title="Eins"), row(title="Zwei"), "{broken", row()]).encode()
    reader = read_drafts(io.BytesIO(data), name="rows.jsonl", max_chars=MAX_CHARS)
    drafts = iter(reader)
    assert [next(drafts).title, next(drafts).title] == ["Eins", "Zwei"]
    with pytest.raises(ImportRefused, match="rows.jsonl line 3: not valid JSON"):
        next(drafts)
    assert 0 < reader.bytes_read < len(data)
    whole = read_drafts(io.BytesIO(data[:40]), name="x.jsonl", max_chars=MAX_CHARS)
    with pytest.raises(ImportRefused):
        list(whole)
    good = "\n".join([row(title="A"), row(title="B")]).encode()
    reader = read_drafts(io.BytesIO(good), name="rows.jsonl", max_chars=MAX_CHARS)
    assert [draft.title for draft in reader] == ["A", "B"]
    assert reader.bytes_read == len(good)


class GeneratedJsonl(io.RawIOBase):
    """A JSONL file of ``rows`` rows made as it is read: the test holds no file."""

    def __init__(self, rows: int) -> None:
        self.rows, self.made, self.pending = rows, 0, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while len(self.pending) < len(buffer) and self.made < self.rows:
            self.pending += (row(title=f"Meldung {self.made}") + "\n").encode()
            self.made += 1
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


def peak_bytes_reading(rows: int) -> int:
    stream = io.BufferedReader(GeneratedJsonl(rows))
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_drafts(stream, name="g.jsonl", max_chars=MAX_CHARS))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == rows
    return peak


def test_memory_stays_flat_whatever_the_number_of_rows():
    small, large = peak_bytes_reading(500), peak_bytes_reading(5_000)
    assert large < small * 1.5 + 256 * 1024, (small, large)
