"""Tests for annotations.suggesting: plain functions, no database, no corpus.

The seed articles pin the clear news attributions with their cue and source
spans; short sentences pin each piece of German grammar the suggester knows
(separated particle, "laut", "zufolge", "nach Angaben", a colon before a
quote, Konjunktiv I, a free-indirect continuation); the rest pins the
contract the integrator relies on (offsets, empty input, no Django,
determinism, the management command).
"""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from annotations.segmentation import normalise_text, segment_article
from annotations.suggesting import FORMS, Suggestion, lexicon, suggest_article

REPO = Path(__file__).resolve().parent.parent.parent
SEEDS = REPO / "seeds"
TRUMP_PUTIN = "000_0025281e9e8aa252.txt"
TRILATERAL = "004_9eb77cd24a090f0a.txt"

# What a careful reader counts as an attribution in the seeds (cue words as
# the suggester joins them). Anything else suggested is a false cue.
SEED_ATTRIBUTIONS = {
    TRUMP_PUTIN: {"Botschaft lautete", "Meinung", "bin Meinung", "Erkenntnis"},
    TRILATERAL: {
        "bestätigte",
        "ließ durchblicken",
        "erklärte",
        "zeigt sich",
        "signalisiert",
        "berichtete",
        "ergänzte",
        "überzeugt",
        "glaubt",
        "fragen",
    },
}
# Measured with the shipped model: 14 suggestions, no false cue (the model
# before had 1 on the second seed, "Russland könnte diesem Arrangement
# zustimmen": a hypothetical, not something said). The bound is kept at 1.
MAX_FALSE_CUES_PER_SEED = 1


def _article(text: str) -> tuple[str, list[tuple[int, int]]]:
    text = normalise_text(text)
    return text, [(s.start, s.end) for s in segment_article(text, language="de")]


def _seed(name: str) -> tuple[str, list[tuple[int, int]], list[list[Suggestion]]]:
    text, segments = _article((SEEDS / name).read_text(encoding="utf-8"))
    return text, segments, suggest_article(text, segments)


def _cue_text(text: str, suggestion: Suggestion) -> str:
    return " ".join(text[a:b] for a, b in suggestion.cue_spans)


def _one(text: str) -> list[Suggestion]:
    """Suggestions of the segment that holds the sentence (after a title)."""
    article, segments = _article("Titel\n\n" + text)
    found = suggest_article(article, segments)
    return [s for segment in found[1:] for s in segment]


def _find(text: str, suggestions: list[Suggestion], cue: str) -> Suggestion:
    matches = [s for s in suggestions if _cue_text(text, s) == cue]
    assert len(matches) == 1, [(_cue_text(text, s), s) for s in suggestions]
    return matches[0]


@pytest.mark.parametrize(
    ("cue", "source", "form"),
    [
        ("bestätigte", "Kreml-Sprecher Dmitri Peskow", "indirect"),
        ("ließ durchblicken", "Putins engster Berater Juri Uschakow", "indirect"),
        ("erklärte", "Rubio", "indirect"),
        ("berichtete", "Die Financial Times", "indirect"),
        ("ergänzte", "Die New York Times", "indirect"),
        ("signalisiert", "Steve Witkoff und Jared Kushner", "reported"),
        ("glaubt", "Putin", "indirect"),
    ],
)
def test_seed_attributions_are_found_with_their_source(
    cue: str, source: str, form: str
) -> None:
    text, _, found = _seed(TRILATERAL)
    suggestions = [s for segment in found for s in segment]
    matches = [
        s for s in suggestions if _cue_text(text, s) == cue and s.source_text == source
    ]
    assert len(matches) == 1, [(_cue_text(text, s), s.source_text) for s in suggestions]
    suggestion = matches[0]
    assert suggestion.form == form
    start, end = suggestion.source_span
    assert text[start:end] == source
    assert 0.5 <= suggestion.score <= 1


def test_a_speech_noun_and_its_verb_are_one_attribution() -> None:
    text, _, found = _seed(TRUMP_PUTIN)
    suggestions = [s for segment in found for s in segment]
    botschaft = _find(text, suggestions, "Botschaft lautete")
    assert botschaft.source_text == "Ihre"
    assert botschaft.form == "indirect"  # a colon, then the demand


def test_seed_spans_are_exact_article_offsets() -> None:
    text, _, found = _seed(TRILATERAL)
    peskow = found[2][0]
    source_start = text.index("Kreml-Sprecher Dmitri Peskow")
    cue_start = text.index("bestätigte, dass die zweite Runde")
    assert peskow.source_span == (source_start, source_start + 28)
    assert peskow.cue_spans == ((cue_start, cue_start + 10),)
    both_rubios = [
        s for s in found[6] if s.source_text == "US-Außenminister Marco Rubio"
    ]
    assert len(both_rubios) == 1
    assert _cue_text(text, both_rubios[0]) == "bestätigte"
    assert both_rubios[0].form == "indirect"  # colon, then Konjunktiv I "sei"
    rubio = found[10][0]
    assert text[rubio.source_span[0] : rubio.source_span[1]] == "Rubio"
    assert rubio.source_span[0] == text.index("Rubio erklärte")


def test_the_author_s_own_opinion_is_attributed_to_ich() -> None:
    text, _, found = _seed(TRUMP_PUTIN)
    suggestions = [s for segment in found for s in segment]
    (meinung,) = [s for s in suggestions if "Meinung" in _cue_text(text, s)]
    assert meinung.source_text == "Ich"
    assert meinung.form == "indirect"


@pytest.mark.parametrize("name", [TRUMP_PUTIN, TRILATERAL])
def test_seeds_have_few_false_cues(name: str) -> None:
    text, _, found = _seed(name)
    cues = [_cue_text(text, s) for segment in found for s in segment]
    false_cues = [cue for cue in cues if cue not in SEED_ATTRIBUTIONS[name]]
    assert len(false_cues) <= MAX_FALSE_CUES_PER_SEED, false_cues
    # Talks, negotiations and scare quotes are not attributions.
    assert not {"Gespräche", "Verhandlungen", "Kriegspartei", "Diskussion"} & set(cues)


def test_separated_particle_gives_two_cue_spans() -> None:
    text = "Peskow ließ am Montag durchblicken, dass ein Treffen möglich sei."
    (suggestion,) = _one(text)
    article = "Titel\n\n" + text
    assert [article[a:b] for a, b in suggestion.cue_spans] == ["ließ", "durchblicken"]
    assert suggestion.source_text == "Peskow"
    assert suggestion.form == "indirect"


def test_particle_verb_without_content_is_reported() -> None:
    text = "Die Regierung wies die Vorwürfe zurück."
    (suggestion,) = _one(text)
    article = "Titel\n\n" + text
    assert [article[a:b] for a, b in suggestion.cue_spans] == ["wies", "zurück"]
    assert suggestion.source_text == "Die Regierung"
    assert suggestion.form == "reported"


@pytest.mark.parametrize(
    ("sentence", "cue", "source"),
    [
        (
            "Laut Kreml-Sprecher Dmitri Peskow findet das Treffen am Freitag statt.",
            "Laut",
            "Kreml-Sprecher Dmitri Peskow",
        ),
        (
            "Der Financial Times zufolge ist ein Abkommen in Reichweite.",
            "zufolge",
            "Der Financial Times",
        ),
        (
            "Nach Angaben des ukrainischen Generalstabs wurden drei Drohnen "
            "abgeschossen.",
            "Nach Angaben",
            "des ukrainischen Generalstabs",
        ),
        (
            "Nach Angaben von Selenskyj wurden drei Drohnen abgeschossen.",
            "Nach Angaben",
            "Selenskyj",
        ),
    ],
)
def test_prepositional_cues_name_their_source(
    sentence: str, cue: str, source: str
) -> None:
    (suggestion,) = _one(sentence)
    article = "Titel\n\n" + sentence
    assert _cue_text(article, suggestion) == cue
    assert suggestion.source_text == source
    assert suggestion.form == "indirect"


def test_nach_without_angaben_is_no_cue() -> None:
    assert _one("Nach dem Spiel gingen alle nach Hause.") == []


def test_direct_quote_after_colon() -> None:
    sentence = (
        "Selenskyj sagte: „Wir werden keinen Zentimeter unseres Landes aufgeben.“"
    )
    (suggestion,) = _one(sentence)
    assert _cue_text("Titel\n\n" + sentence, suggestion) == "sagte"
    assert suggestion.source_text == "Selenskyj"
    assert suggestion.form == "direct"


def test_direct_quote_before_inverted_verb() -> None:
    sentence = "„Wir werden keinen Zentimeter aufgeben“, sagte Selenskyj am Abend."
    (suggestion,) = _one(sentence)
    assert _cue_text("Titel\n\n" + sentence, suggestion) == "sagte"
    assert suggestion.source_text == "Selenskyj"
    assert suggestion.form == "direct"


def test_konjunktiv_i_without_dass_is_indirect_speech() -> None:
    sentence = "Der Minister erklärte, die Lage sei unter Kontrolle."
    (suggestion,) = _one(sentence)
    assert _cue_text("Titel\n\n" + sentence, suggestion) == "erklärte"
    assert suggestion.source_text == "Der Minister"
    assert suggestion.form == "indirect"


def test_free_indirect_continuation_names_the_earlier_source() -> None:
    text, segments = _article(
        "Titel\n\nRubio erklärte, dass die Gespräche gut verlaufen seien. "
        "Die Sicherheitsgarantien seien aber noch offen. Das Wetter war schön."
    )
    found = suggest_article(text, segments)
    assert [len(segment) for segment in found] == [0, 1, 1, 0]
    (continuation,) = found[2]
    assert continuation.cue_spans == ()
    assert continuation.source_span is None
    assert continuation.source_text == "Rubio"
    assert continuation.form == "free_indirect"


def test_speech_event_mentions_only_on_request() -> None:
    text, segments = _article("Titel\n\nDie Gespräche waren tiefgehender als erwartet.")
    assert suggest_article(text, segments) == [[], []]
    mentions = suggest_article(text, segments, mentions=True)
    assert [_cue_text(text, s) for s in mentions[1]] == ["Gespräche"]
    # "als erwartet" is a comparison, not somebody's expectation.


def test_a_headline_colon_without_a_speaker_is_no_attribution() -> None:
    text, segments = _article(
        "Titel\n\nPutins Strategie enthüllt: Telefonat mit Trump durchkreuzt "
        "westliche Diplomatie\n\nText."
    )
    assert suggest_article(text, segments) == [[], [], []]
    mentions = suggest_article(text, segments, mentions=True)
    assert [_cue_text(text, s) for s in mentions[1]] == ["enthüllt"]


def test_a_verb_after_a_speech_noun_is_its_own_event_in_mentions_mode() -> None:
    text, segments = _article(
        "Titel\n\nIn Ihrem Antrag fordern Sie, dass die Steuern sinken."
    )
    found = suggest_article(text, segments, mentions=True)
    assert [(_cue_text(text, s), s.source_text) for s in found[1]] == [
        ("Antrag", "Ihrem"),  # a possessive before a speech noun: its source
        ("fordern", "Sie"),
    ]


@pytest.mark.parametrize(
    ("word", "category"),
    [
        ("kleinreden", "wverb"),  # wider lists: a feature, no grammar rule
        ("verschwieg", "wverb"),
        ("regierungserklärung", "wnoun"),
        ("morddrohungen", "wtail"),  # a compound ending in a listed word
        ("bundesregierung", ""),
        ("sagte", "verb"),  # the grammar lists come first
    ],
)
def test_lexicon_categories(word: str, category: str) -> None:
    assert lexicon.category(word) == category


@pytest.mark.parametrize("mentions", [False, True])
@pytest.mark.parametrize("name", [TRUMP_PUTIN, TRILATERAL])
def test_offsets_lie_inside_their_segment_and_name_their_text(
    name: str, mentions: bool
) -> None:
    text, segments, _ = _seed(name)
    found = suggest_article(text, segments, mentions=mentions)
    assert len(found) == len(segments)
    for (start, end), suggestions in zip(segments, found, strict=True):
        for suggestion in suggestions:
            assert suggestion.form in FORMS
            assert 0.0 <= suggestion.score <= 1.0
            for a, b in suggestion.cue_spans:
                assert start <= a < b <= end
            if suggestion.source_span is not None:
                a, b = suggestion.source_span
                assert start <= a < b <= end
                assert text[a:b] == suggestion.source_text
            elif suggestion.cue_spans:
                assert suggestion.source_text == ""


def test_empty_input() -> None:
    assert suggest_article("", []) == []
    assert suggest_article("   ", [(0, 3)]) == [[]]
    assert suggest_article("Hallo.", [(0, 0)]) == [[]]


def test_suggestions_are_deterministic() -> None:
    text, segments, first = _seed(TRUMP_PUTIN)
    assert suggest_article(text, segments) == first
    assert suggest_article(text, tuple(segments)) == first


def test_the_suggester_imports_no_django() -> None:
    code = (
        "import sys\n"
        "import annotations.suggesting as s\n"
        "from annotations.suggesting import (corpus, evaluate, features, lexicon,\n"
        "    perceptron, scoring, suggester, tokens, train)\n"
        "s.suggest_article('Peskow sagte, dass es regne.', [(0, 28)])\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'django']\n"
        "assert not loaded, loaded\n"
        "assert 'annotations.models' not in sys.modules\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True
    )


def test_command_prints_json_lines_for_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "article.txt"
    path.write_text(
        "Titel\n\nKreml-Sprecher Dmitri Peskow bestätigte, dass die Runde "
        "stattfinden wird.\n",
        encoding="utf-8",
    )
    out = StringIO()
    call_command("suggest_attributions", str(path), stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    text = "Titel\n\nKreml-Sprecher Dmitri Peskow bestätigte, dass die Runde "
    assert row["file"] == str(path)
    assert row["position"] == 1
    assert "article" not in row
    assert row["source_text"] == "Kreml-Sprecher Dmitri Peskow"
    assert row["source_span"] == [7, 35]
    assert row["cue_spans"] == [[36, 46]]
    assert text[36:46] == "bestätigte"
    assert row["form"] == "indirect"


def test_command_numbers_the_articles_of_a_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    rows = [
        {"title": "Eins", "text": "Rubio erklärte, dass es gut laufe."},
        {"title": "Zwei", "text": "Laut Peskow findet das Treffen statt."},
    ]
    path.write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in rows),
        encoding="utf-8",
    )
    out = StringIO()
    call_command("suggest_attributions", str(path), stdout=out)
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(row["article"], row["source_text"]) for row in printed] == [
        (0, "Rubio"),
        (1, "Peskow"),
    ]


def test_command_refuses_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "picture.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(CommandError, match="binary"):
        call_command("suggest_attributions", str(path), stdout=StringIO())
    with pytest.raises(CommandError, match="cannot read"):
        call_command(
            "suggest_attributions", str(tmp_path / "missing.txt"), stdout=StringIO()
        )


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list('aäbdeginrstuzAPRS „“”»«":,.;-–?!\n')),
        max_size=200,
    )
)
def test_any_text_gives_suggestions_inside_their_segments(text: str) -> None:
    article, segments = _article(text)
    found = suggest_article(article, segments, mentions=True)
    assert len(found) == len(segments)
    for (start, end), suggestions in zip(segments, found, strict=True):
        for suggestion in suggestions:
            spans = list(suggestion.cue_spans)
            if suggestion.source_span is not None:
                spans.append(suggestion.source_span)
            assert all(start <= a < b <= end for a, b in spans)
