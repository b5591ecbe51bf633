"""Hostile import input from hypothesis: imported exactly or refused, never half.

For every generated file the outcome must be one of two:
- imported: every segment's text is ``article.text[start:end]``, segments are in
  order, never overlap, and cover every non-whitespace character exactly once;
- refused: ``ImportRefused`` (parser) or ``FileImportResult.error`` (service) with a
  message naming the file, and not one Article or Segment row more in the database.
Any other exception is a failure (it would be a traceback for the user).

``EXAMPLES`` records how many examples each test ran (printed at the end of the
module with ``-s``; reported in the issue's closing note).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from annotations import services
from annotations.importing import ImportRefused, parse_file
from annotations.models import Article, Segment

# Examples per test are a multiple of the Hypothesis profile's budget
# (tests/conftest.py: 100 in the derandomized "ci" profile, 1000 under `make fuzz`).
BUDGET = settings.default.max_examples
MAX_BYTES = 5 * 1024 * 1024
MAX_CHARS = 2_000_000
EXAMPLES: Counter[str] = Counter()
NO_DB_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
DB_HEALTH = [*NO_DB_HEALTH, HealthCheck.function_scoped_fixture]

# Hebrew, Arabic, and the bidi overrides/marks RLO, RLM, RLE, PDF.
RTL = "\u05d0\u05d1\u05d2 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 " + (
    "\u202e\u200f\u202b\u202c"
)
EMOJI = "\U0001f600\U0001f1e9\U0001f1ea\U0001f469\u200d\U0001f4bb\u2764\ufe0f"
GERMAN = "ÄÖÜäöüß„“»«–— "
HOSTILE_CHARS = st.sampled_from(
    list(RTL + EMOJI + GERMAN)
    + [
        "\x00",
        "\x07",
        "\x1b",
        "\x7f",
        "\x85",
        "\u2028",
        "\u2029",
        "\ufeff",
        "\u0301",
        "\r\n",
        "\r",
        "\n",
        "\n\n",
        "\t",
        ". ",
        "? ",
        "z. B. ",
        "Am 10. Mai ",
        '"',
        "Von ",
    ]
)
# Text that looks like an article, sprinkled with hostile characters.
ARTICLE_TEXT = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
        HOSTILE_CHARS,
        st.sampled_from(
            ["Der Minister sagte: „Wir helfen.“ ", "Satz eins. Satz zwei! "]
        ),
    ),
    max_size=40,
).map("".join)
LINE_ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


@pytest.fixture(scope="module", autouse=True)
def _report_example_counts():
    """Print how many generated examples ran (shown with ``-s``, for the report)."""
    yield
    total = sum(EXAMPLES.values())
    print(f"\nimport fuzz examples: {total} {dict(sorted(EXAMPLES.items()))}")


def check_draft_offsets(draft) -> None:
    """The import's contract for one article: exact, ordered, complete offsets."""
    text = draft.text
    assert "\r" not in text
    assert not text.startswith("\ufeff")
    covered = [0] * len(text)
    previous_end = 0
    for position, span in enumerate(draft.segments):
        assert span.position == position
        assert 0 <= previous_end <= span.start < span.end <= len(text)
        assert span.text == text[span.start : span.end]
        assert span.text.strip(), "a segment of only whitespace"
        for index in range(span.start, span.end):
            covered[index] += 1
        previous_end = span.end
    for index, char in enumerate(text):
        if not char.isspace():
            assert covered[index] == 1, (index, char, text)


def parse_or_refuse(data: bytes, name: str) -> None:
    try:
        drafts = parse_file(data, name=name, max_bytes=MAX_BYTES, max_chars=MAX_CHARS)
    except ImportRefused as refusal:
        message = str(refusal)
        EXAMPLES[f"{name} refused"] += 1
        assert message.startswith(name), message
        return
    EXAMPLES[f"{name} imported"] += 1
    assert drafts
    for draft in drafts:
        check_draft_offsets(draft)


def import_or_refuse(project, data: bytes, name: str) -> None:
    """Through the service and the database: whole or nothing."""
    before = (Article.objects.count(), Segment.objects.count())
    result = services.import_file(project=project, name=name, data=data)
    after = (Article.objects.count(), Segment.objects.count())
    if not result.ok:
        assert result.error.startswith(name)
        assert after == before
        EXAMPLES[f"service {name} refused"] += 1
        return
    EXAMPLES[f"service {name} imported"] += 1
    assert after == (before[0] + result.articles, before[1] + result.segments)
    for article in Article.objects.filter(pk__in=result.article_ids).prefetch_related(
        "segments"
    ):
        segments = sorted(article.segments.all(), key=lambda s: s.position)
        assert len(segments) == article.segment_count
        for segment in segments:
            assert segment.text == article.text[segment.start : segment.end]


# --- parser only (no database): many examples --------------------------------


@settings(max_examples=4 * BUDGET, deadline=None, suppress_health_check=NO_DB_HEALTH)
@given(
    data=st.binary(max_size=2000),
    suffix=st.sampled_from([".txt", ".md", ".jsonl", ".csv"]),
)
@example(data=b"\x89PNG\r\n\x1a\n", suffix=".txt")
@example(data=b"\xff\xfeT\x00i\x00", suffix=".txt")
@example(data=b"\xed\xa0\x80", suffix=".txt")  # a surrogate encoded as UTF-8
def test_random_bytes_are_parsed_exactly_or_refused(data, suffix):
    parse_or_refuse(data, f"random{suffix}")


@settings(max_examples=4 * BUDGET, deadline=None, suppress_health_check=NO_DB_HEALTH)
@given(text=ARTICLE_TEXT, ending=LINE_ENDINGS, bom=st.booleans())
@example(text="Titel\r\n\r\nSatz eins.\rSatz zwei.\nSatz drei.", ending="\n", bom=True)
@example(text=f"{RTL}\n\n{RTL}. {EMOJI}.", ending="\n", bom=False)
@example(text="Titel\n\n\u2028Satz.\u2029Noch\x85einer.", ending="\n", bom=False)
# A run of BOMs at the start (one per re-save): all go; "\ufeff" alone is empty.
@example(text="\ufeff\ufeffTitel\n\nSatz.", ending="\n", bom=True)
@example(text="\ufeff\ufeff", ending="\n", bom=True)
def test_hostile_plain_text_is_parsed_exactly_or_refused(text, ending, bom):
    data = ("\ufeff" if bom else "") + text.replace("\n", ending)
    parse_or_refuse(data.encode("utf-8", "surrogatepass"), "article.txt")


def has_visible_title_line(text: str) -> bool:
    """The first line with a non-space character (the title) shows something: a
    title line of only U+FEFF and spaces is refused by design, like an empty one."""
    lines = text.lstrip("\ufeff").split("\n")
    title_line = next((line for line in lines if line.strip()), "")
    return bool(title_line.replace("\ufeff", "").strip())


# Printable text of any script (no control characters, no surrogates) with a
# visible title line: must be imported, not refused, so the tests above cannot
# pass by refusing everything.
PRINTABLE_TEXT = (
    st.lists(
        st.one_of(
            st.text(
                alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=30
            ),
            st.sampled_from(
                list(RTL + EMOJI + GERMAN) + ["\n", "\n\n", "\t", ". ", "z. B. "]
            ),
        ),
        max_size=40,
    )
    .map("".join)
    .filter(has_visible_title_line)
)


@settings(max_examples=3 * BUDGET, deadline=None, suppress_health_check=NO_DB_HEALTH)
@given(text=PRINTABLE_TEXT, ending=LINE_ENDINGS)
@example(text=f"{RTL}\n\n{EMOJI} sagt: „Ja.“ \u202eDas ist umgedreht.", ending="\r\n")
@example(text="\ufeff\ufeff\ufeffTitel\n\nEin\ufeffSatz.", ending="\n")
def test_printable_text_of_any_script_is_imported_exactly(text, ending):
    data = text.replace("\n", ending).encode()
    drafts = parse_file(data, name="any.txt", max_bytes=MAX_BYTES, max_chars=MAX_CHARS)
    EXAMPLES["printable any.txt imported"] += 1
    # The BOMs at the start of the file go (all of them); nothing else changes.
    assert drafts[0].text == text.lstrip("\ufeff")
    check_draft_offsets(drafts[0])


@settings(max_examples=3 * BUDGET, deadline=None, suppress_health_check=NO_DB_HEALTH)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"title": ARTICLE_TEXT, "text": ARTICLE_TEXT},
            optional={
                "byline": st.text(max_size=30),
                "outlet": st.one_of(st.text(max_size=30), st.integers(), st.none()),
                "published": st.one_of(st.just("2025-05-10"), st.text(max_size=12)),
                "url": st.one_of(
                    st.just("https://example.org/a"), st.text(max_size=20)
                ),
            },
        ),
        min_size=1,
        max_size=4,
    ),
    ascii_escapes=st.booleans(),
)
@example(rows=[{"title": "T", "text": "A \ud800 B."}], ascii_escapes=True)
@example(rows=[{"title": "T\ud800", "text": "Satz."}], ascii_escapes=True)
@example(rows=[{"title": "T", "text": "\udfff"}], ascii_escapes=True)
@example(rows=[{"title": " \ufeff", "text": "Satz."}], ascii_escapes=False)
def test_hostile_jsonl_rows_are_parsed_exactly_or_refused(rows, ascii_escapes):
    # ensure_ascii=True writes lone surrogates as \\ud800 escapes, which json.loads
    # turns back into lone surrogates: the parser must refuse them.
    lines = [json.dumps(row, ensure_ascii=ascii_escapes) for row in rows]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    parse_or_refuse(data, "rows.jsonl")


@settings(max_examples=3 * BUDGET, deadline=None, suppress_health_check=NO_DB_HEALTH)
@given(
    cells=st.lists(st.tuples(ARTICLE_TEXT, ARTICLE_TEXT), min_size=1, max_size=4),
    ending=LINE_ENDINGS,
)
# A BOM inside a cell is a zero-width no-break space: a title of only spaces and
# U+FEFF is empty (it used to become the first character of Article.text).
@example(cells=[(" \ufeff", "Satz.")], ending="\n")
@example(cells=[("\ufeffTitel", "\ufeffSatz.")], ending="\r\n")
@example(cells=[("Titel", "\ufeff \ufeff")], ending="\n")
def test_hostile_csv_rows_are_parsed_exactly_or_refused(cells, ending):
    import csv
    import io

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=ending)
    writer.writerow(["title", "text"])
    writer.writerows(cells)
    parse_or_refuse(buffer.getvalue().encode("utf-8", "surrogatepass"), "rows.csv")


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("Ein sehr langer Satz ohne Ende " * 35_000, id="1MB-one-sentence"),
        pytest.param("Kurz. " * 175_000, id="1MB-many-sentences"),
        pytest.param("x" * 1_048_576, id="1MB-one-word"),
        pytest.param((RTL + EMOJI + " ") * 30_000, id="1MB-rtl-emoji"),
    ],
)
def test_one_megabyte_lines_are_parsed_exactly(line):
    assert len(line.encode()) >= 1_000_000
    data = f"Titel\n\n{line}\n".encode()
    drafts = parse_file(data, name="long.txt", max_bytes=MAX_BYTES, max_chars=MAX_CHARS)
    check_draft_offsets(drafts[0])
    EXAMPLES["1MB line imported"] += 1


# --- through the service and the database: fewer examples ----------------------


@settings(max_examples=6 * BUDGET // 5, deadline=None, suppress_health_check=DB_HEALTH)
@given(
    text=ARTICLE_TEXT,
    ending=LINE_ENDINGS,
    noise=st.one_of(st.just(b""), st.binary(max_size=8)),
)
@example(text="Titel\n\nSatz eins. \u05d0\u05d1 \U0001f600.", ending="\r\n", noise=b"")
@example(text="Titel\n\nSatz.", ending="\n", noise=b"\x00")
def test_service_imports_hostile_text_whole_or_not_at_all(project, text, ending, noise):
    data = text.replace("\n", ending).encode("utf-8", "surrogatepass") + noise
    import_or_refuse(project, data, "hostile.txt")


@settings(max_examples=4 * BUDGET // 5, deadline=None, suppress_health_check=DB_HEALTH)
@given(
    good=st.lists(
        st.sampled_from(
            [
                "Erster Satz. Zweiter Satz.",
                "Ein Satz \U0001f600.",
                "\u05d0\u05d1\u05d2. Satz.",
            ]
        ),
        min_size=0,
        max_size=3,
    ),
    bad=st.sampled_from(
        [
            '{"title": "T", "text": "A \\ud800"}',
            '{"title": "T"}',
            "{broken",
            "[1, 2]",
            '{"title": "T", "text": "A\\u0000B"}',
            '{"title": "T", "text": "Satz."}',
        ]
    ),
    position=st.integers(min_value=0, max_value=3),
)
def test_service_never_leaves_a_partial_jsonl_file(project, good, bad, position):
    lines = [
        json.dumps({"title": f"Titel {index} {text[:5]}", "text": text})
        for index, text in enumerate(good)
    ]
    lines.insert(min(position, len(lines)), bad)
    import_or_refuse(project, "\n".join(lines).encode(), "rows.jsonl")
