"""Who said it, by keyboard: the first seed article labelled keyboard-only within
the key budget; undo, same-as-previous and the previous source; keyed type and
form (no select), Enter saving from any field and Esc leaving any field; names
another annotator typed never reaching me; the article-done state; the layout
at 1366x768 and 1024x700.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from annotations import services
from annotations.models import Annotation, Article, Source
from tests import factories
from tests.browser import login, logout, screenshot

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
FIRST_SEED = ROOT / "seeds" / "000_0025281e9e8aa252.txt"
SECOND_SEED = ROOT / "seeds" / "004_9eb77cd24a090f0a.txt"
# The key budget for one segment.
NAMED_EARLIER_MAX_KEYS = 8
NEW_SOURCE_MAX_KEYS = 15  # plus the letters of the name


@pytest.fixture
def seeded(transactional_db):
    project = services.ensure_seed_project()
    articles = []
    for path in (FIRST_SEED, SECOND_SEED):
        result = services.import_path(project=project, path=path)
        assert result.ok, result.error
        articles.append(Article.objects.get(pk=result.article_ids[0]))
    for name in ("annotator1", "annotator2"):
        factories.member(project, role="annotator", username=name)
    return articles


def wait_position(page, position: int) -> None:
    page.wait_for_selector(f'#annotate-root[data-position="{position}"]')


def drained(page) -> None:
    try:
        # Generous: on a busy machine a save may meet a locked database and be
        # retried after its backoff.
        page.wait_for_selector(
            '#save-status[data-waiting="0"][data-held="0"]', timeout=30_000
        )
    except Exception:
        print("STATUS", page.inner_text("#save-status"), page.inner_text("#held-saves"))
        print(
            "QUEUE",
            page.evaluate("localStorage.getItem('wb-save-queue:v2:annotator1')"),
        )
        raise


class Keys:
    """Presses keys and counts them per segment (typed letters apart)."""

    def __init__(self, page) -> None:
        self.page = page
        self.keys: Counter[int] = Counter()
        self.letters: Counter[int] = Counter()

    def position(self) -> int:
        return int(self.page.get_attribute("#annotate-root", "data-position"))

    def press(self, *keys: str) -> None:
        for key in keys:
            self.keys[self.position()] += 1
            self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.letters[self.position()] += len(text)
        self.page.keyboard.type(text)


# What a careful annotator does with each segment of the first seed article:
# claim (and a frame here and there); the attributions are the article's four.
CLAIM = {"checkworthy": "1", "factual": "2", "opinion": "3", "none": "4"}


def plan_for(position: int, text: str) -> dict:
    if position == 14:  # Ihre deutliche Botschaft an Russland lautete: ...
        return {
            "claim": "opinion",
            "frames": ["p"],
            "new_source": "europäische Politiker",
            "type": "i",
            "form": "k",
            "cue": "1",
        }
    if position == 19:  # Am selben Abend machte Putin seinen Gegenzug: Er lud ...
        return {"claim": "factual", "named": "Putin", "type": "p", "form": "r"}
    if position == 21:  # Des Weiteren lud Putin die Ukrainer ... ein
        return {"claim": "factual", "named": "Putin", "form": "r"}
    if position == 28:  # Ich bin schon lange der Meinung, dass ...
        return {
            "claim": "opinion",
            "new_source": "Ich",
            "type": "a",
            "form": "k",
            "cue": "1",
        }
    claim = "none" if text.rstrip().endswith("?") else "factual"
    return {"claim": claim, "frames": ["p"] if position % 3 == 0 else []}


@pytest.mark.browser
def test_first_seed_article_keyboard_only_within_the_key_budget(
    seeded, live_server, browser_page
):
    page = browser_page
    article = seeded[0]
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{article.pk}/annotate/")
    wait_position(page, 0)
    keys = Keys(page)
    segments = {s.position: s for s in article.segments.annotatable()}
    plans = {}
    while True:
        position = keys.position()
        segment = segments[position]
        plan = plans[position] = plan_for(position, segment.text)
        keys.press(CLAIM[plan["claim"]], *plan.get("frames", []))
        if "named" in plan:
            keys.press("/")
            # The name this sentence contains comes first: Tab takes it.
            first = page.inner_text(".attribution-new .source-list li.active span")
            assert first == plan["named"], first
            keys.press("Tab")
        if "new_source" in plan:
            keys.press("/")
            keys.type(plan["new_source"])
            keys.press("Tab")
        for part in ("type", "form", "cue"):
            if part in plan:
                keys.press(plan[part])
        if position == 19:
            screenshot(page, "annotate_source_keys")
        keys.press("Enter")
        if page.locator("#article-done[open]").count():
            break
        assert keys.position() != position
    screenshot(page, "annotate_article_done")
    assert "All 40 segments" in page.inner_text("#article-done")
    drained(page)

    saved = {
        a.segment.position: a.values
        for a in Annotation.objects.filter(
            article=article, annotator__username="annotator1"
        ).select_related("segment")
    }
    assert sorted(saved) == sorted(segments)
    first = saved[14]["attributions"][0]
    assert first["source_text"] == "europäische Politiker"
    assert (first["source_type"], first["form"]) == ("institution", "indirect")
    assert first["cue_text"] == "Botschaft … lautete"
    text = segments[14].text
    assert [text[a:b] for a, b in first["cue_spans"]] == ["Botschaft", "lautete"]
    assert first["source_span"] is None  # not named so in the sentence
    for position in (19, 21):
        putin = saved[position]["attributions"][0]
        assert putin["source_text"] == "Putin"
        assert (putin["source_type"], putin["form"]) == ("person", "reported")
        a, b = putin["source_span"]
        assert segments[position].text[a:b] == "Putin"
    me = saved[28]["attributions"][0]
    assert (me["source_text"], me["source_type"], me["form"]) == (
        "Ich",
        "author",
        "indirect",
    )
    assert segments[28].text[slice(*me["source_span"])] == "Ich"
    # Candidate 1 is the verb with its noun ("der Meinung sein"), two spans.
    assert me["cue_text"] == "bin … Meinung"
    assert [segments[28].text[a:b] for a, b in me["cue_spans"]] == ["bin", "Meinung"]
    assert saved[2]["labels"] == {"claim": ["factual"]}

    # The budget, and the distribution for the record.
    with_source = {
        p for p, plan in plans.items() if "named" in plan or "new_source" in plan
    }
    for position in with_source:
        if "named" in plans[position]:
            assert keys.keys[position] <= NAMED_EARLIER_MAX_KEYS, position
        else:
            assert keys.keys[position] <= NEW_SOURCE_MAX_KEYS, position
    distribution = {
        "without_source": sorted(keys.keys[p] for p in plans if p not in with_source),
        "source_named_earlier": {p: keys.keys[p] for p in plans if "named" in plans[p]},
        "new_source": {
            p: f"{keys.keys[p]} keys + {keys.letters[p]} letters"
            for p in plans
            if "new_source" in plans[p]
        },
    }
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "key-budget.json").write_text(json.dumps(distribution, indent=2))
    assert page.console_errors == [], page.console_errors


@pytest.mark.browser
def test_undo_same_as_previous_and_the_previous_source(
    seeded, live_server, browser_page
):
    page = browser_page
    article = seeded[1]
    login(page, live_server, "annotator1")
    # Segment 5: Uschakow ließ ... durchblicken (a new source).
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/5/")
    wait_position(page, 5)
    page.keyboard.press("1")
    page.keyboard.press("/")
    page.keyboard.type("Juri Uschakow")
    page.keyboard.press("Tab")
    for key in ("p", "k", "1"):
        page.keyboard.press(key)
    assert page.input_value('input[name="attr-0-cue"]') == "ließ … durchblicken"
    # Undo: the cue goes, then the form; a shortcut never edits the source field.
    page.keyboard.press("Control+z")
    assert page.input_value('input[name="attr-0-cue"]') == ""
    page.keyboard.press("Control+z")
    assert not page.is_checked('input[name="attr-0-form"][value="indirect"]')
    assert page.input_value('input[name="attr-0-source"]') == "Juri Uschakow"
    assert page.is_checked('input[name="attr-0-source_type"][value="person"]')
    page.keyboard.press("Enter")
    wait_position(page, 6)
    drained(page)
    first = Annotation.objects.get(segment__position=5)
    assert first.revision == 1
    assert first.values["attributions"][0]["form"] == ""

    # Undo after a save: the earlier saved version comes back as a new save.
    page.keyboard.press("k")
    wait_position(page, 5)
    page.keyboard.press("3")  # a change, saved when I move on
    page.keyboard.press("j")
    wait_position(page, 6)
    drained(page)
    assert Annotation.objects.get(segment__position=5).values["labels"]["claim"] == [
        "opinion"
    ]
    page.keyboard.press("k")
    wait_position(page, 5)
    page.keyboard.press("Control+z")
    drained(page)
    again = Annotation.objects.get(segment__position=5)
    assert again.values["labels"]["claim"] == ["checkworthy"]
    assert again.revision == 3

    # Same as previous: segment 6 takes segment 5's labels and source.
    page.keyboard.press("j")
    wait_position(page, 6)
    page.keyboard.press("=")
    assert page.is_checked('input[name="dim-claim"][value="checkworthy"]')
    assert page.input_value('input[name="attr-0-source"]') == "Juri Uschakow"
    assert page.input_value('input[name="attr-0-cue"]') == ""  # spans are per sentence
    page.keyboard.press("Control+z")
    assert page.input_value('input[name="attr-0-source"]') == ""
    # The previous source only (a quotation running on), then its form key.
    page.keyboard.press("2")
    page.keyboard.press('"')
    assert page.input_value('input[name="attr-0-source"]') == "Juri Uschakow"
    assert page.is_checked('input[name="attr-0-source_type"][value="person"]')
    page.keyboard.press("f")  # free indirect: the source keys are on
    assert page.is_checked('input[name="attr-0-form"][value="free_indirect"]')
    page.keyboard.press("Enter")
    drained(page)
    copied = Annotation.objects.get(segment__position=6).values
    assert copied["labels"] == {"claim": ["factual"]}
    assert copied["attributions"][0]["source_text"] == "Juri Uschakow"
    assert copied["attributions"][0]["form"] == "free_indirect"
    assert page.console_errors == [], page.console_errors


@pytest.mark.browser
def test_no_field_keeps_the_keys(seeded, live_server, browser_page):
    """Type and form are keys (no select); Enter saves from any field; Esc leaves
    any field with one press; the keys after it are shortcuts again."""
    page = browser_page
    article = seeded[1]
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/2/")
    wait_position(page, 2)
    assert page.locator(".attribution select").count() == 0
    page.keyboard.press("1")
    page.keyboard.press("/")
    page.keyboard.type("Peskow")
    page.keyboard.press("Escape")  # leaves the field; the name stays
    assert page.evaluate("document.activeElement === document.body")
    page.keyboard.press("5")  # a stance target key: a shortcut, not a letter
    page.keyboard.press("a")
    assert page.input_value('input[name="attr-0-source"]') == "Peskow"
    assert page.is_checked('input[name="stance-russia"][value="against"]')
    # The source span was marked by itself.
    text = article.segments.get(position=2).text
    start = int(page.input_value('input[name="attr-0-source_start"]'))
    end = int(page.input_value('input[name="attr-0-source_end"]'))
    assert text[start:end] == "Peskow"
    # Enter in the comment saves and moves on.
    page.keyboard.press(";")
    page.keyboard.type("Quelle prüfen")
    page.keyboard.press("Enter")
    wait_position(page, 3)
    # The holder select never keeps a key either.
    page.keyboard.press("k")
    wait_position(page, 2)
    page.click('select[name="holder-russia"]')
    page.keyboard.press("Escape")
    page.keyboard.press("3")
    assert page.is_checked('input[name="dim-claim"][value="opinion"]')
    page.keyboard.press("Enter")
    wait_position(page, 3)
    drained(page)
    saved = Annotation.objects.get(segment__position=2).values
    assert saved["comment"] == "Quelle prüfen"
    assert saved["labels"]["claim"] == ["opinion"]
    assert saved["attributions"][0]["source_span"] == [start, end]
    assert saved["stances"] == [
        {"target": "russia", "polarity": "against", "holder": None}
    ]


# One annotator's name, and the same name as another might type it: other case,
# other spacing.
SPELLINGS = ["ZQSb Ann1y", "zqsb ann1y", "ZQSB  ANN1Y"]


@pytest.mark.browser
def test_names_another_annotator_typed_never_reach_me(
    seeded, live_server, browser_page
):
    page = browser_page
    article = seeded[1]
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/2/")
    wait_position(page, 2)
    page.keyboard.press("1")
    page.keyboard.press("/")
    page.keyboard.type(SPELLINGS[0])
    page.keyboard.press("Enter")
    drained(page)
    logout(page)

    login(page, live_server, "annotator2")
    for number, spelling in enumerate(SPELLINGS[1:], start=2):
        page.goto(f"{live_server.url}/articles/{article.pk}/segments/{number}/")
        wait_position(page, number)
        page.keyboard.press("1")
        page.keyboard.press("/")
        page.keyboard.type("zqs")
        page.wait_for_timeout(400)  # the server's names arrive too
        shown = page.locator(".source-list:not([hidden]) li span").all_inner_texts()
        assert SPELLINGS[0] not in shown, shown
        assert all("nn1y" not in name.lower() or name == SPELLINGS[1] for name in shown)
        page.keyboard.press("Control+a")
        page.keyboard.type(spelling)
        page.keyboard.press("Enter")
        drained(page)
    mine = [
        a.values["attributions"][0]["source"]
        for a in Annotation.objects.filter(annotator__username="annotator2").order_by(
            "pk"
        )
    ]
    # My first spelling is my own entry; my second maps to it, never to theirs.
    assert mine == ["zqsb ann1y", "zqsb ann1y"]
    assert SPELLINGS[0] not in page.content()
    response = page.request.get(
        f"{live_server.url}/export/{article.project.slug}/download/"
        "?mode=annotations&format=csv-raw"
    )
    rows = list(csv.DictReader(io.StringIO(response.text())))
    assert {row["attribution_source"] for row in rows} == {"zqsb ann1y"}
    assert Source.objects.filter(project=article.project).count() == 2


@pytest.mark.browser
def test_article_done_waits_for_the_saves_then_opens_the_next_article(
    seeded, live_server, browser_page
):
    page = browser_page
    first, second = seeded
    user = factories.UserFactory._meta.model.objects.get(username="annotator1")
    # Everything but the last segment is labelled already.
    last = first.segments.annotatable().order_by("position").last()
    for segment in first.segments.annotatable().exclude(pk=last.pk):
        factories.annotate(segment, user, claim="factual")
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{first.pk}/annotate/")
    wait_position(page, last.position)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_selector("#article-done[open]")
    assert "All 40 segments" in page.inner_text("#article-done")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/articles/{second.pk}/**")
    assert Annotation.objects.filter(article=first, annotator=user).count() == 40


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1024, 700)])
def test_every_label_and_the_source_panel_fit_the_screen(
    seeded, live_server, browser_page, width, height
):
    page = browser_page
    article = seeded[1]
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/5/")
    wait_position(page, 5)
    page.keyboard.press("/")
    page.keyboard.type("Usch")
    page.keyboard.press("Tab")
    screenshot(page, f"annotate_{width}x{height}")
    # The page itself never scrolls.
    assert page.evaluate("document.documentElement.scrollHeight") <= height
    needed = [
        *[f'input[name="dim-frames"][value="{code}"]' for code in FRAMES],
        *[f'input[name="dim-claim"][value="{code}"]' for code in CLAIM],
        *[f'.stance-row[data-target="{code}"]' for code in TARGETS],
        'input[name="attr-0-source"]',
        'input[name="attr-0-source_type"][value="person"]',
        'input[name="attr-0-form"][value="mixed"]',
        ".attribution .cue-chip",
        "#save-next",
        "#current-segment",
    ]
    for selector in needed:
        element = page.locator(selector).first
        target = (
            element.locator("xpath=ancestor::label[1]")
            if "input" in selector
            else element
        )
        box = target.bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0, selector
        assert box["y"] >= 0, selector
        assert box["x"] + box["width"] <= width + 1, selector
        assert box["y"] + box["height"] <= height + 1, selector
        # Not covered, nor inside a column scrolled out of view: what shows at
        # its centre is the element itself.
        assert target.evaluate(
            "(el) => { const r = el.getBoundingClientRect();"
            " const hit = document.elementFromPoint(r.x + r.width / 2,"
            " r.y + r.height / 2); return el === hit || el.contains(hit); }"
        ), selector


FRAMES = [
    "economic",
    "capacity_resources",
    "morality",
    "fairness_equality",
    "legality",
    "policy",
    "crime_punishment",
    "security_defense",
    "health_safety",
    "quality_of_life",
    "cultural_identity",
    "public_opinion",
    "political",
    "external_reputation",
    "other",
]
TARGETS = ["russia", "ukraine", "usa", "europe", "nato", "germany"]


@pytest.mark.browser
def test_a_suggestion_is_accepted_with_one_key_and_recorded(
    seeded, live_server, browser_page
):
    page = browser_page
    article = seeded[1]
    login(page, live_server, "annotator1")
    # Segment 2: "Kreml-Sprecher Dmitri Peskow bestätigte, dass ..."
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/2/")
    wait_position(page, 2)
    page.wait_for_selector("#suggestion-box:not([hidden])")
    assert "Dmitri Peskow" in page.inner_text("#suggestion-text")
    # Cue and source are pointed out in the sentence.
    assert page.locator("#current-segment mark.mark-suggested-cue").count() == 1
    screenshot(page, "annotate_suggestion")
    page.keyboard.press("1")
    page.keyboard.press("a")  # accept: every field filled, still editable
    assert page.input_value('input[name="attr-0-source"]') == (
        "Kreml-Sprecher Dmitri Peskow"
    )
    assert page.input_value('input[name="attr-0-cue"]') == "bestätigte"
    assert page.is_checked('input[name="attr-0-form"][value="indirect"]')
    assert page.locator("#suggestion-box").is_hidden()
    page.keyboard.press("p")  # the type: the source keys are on
    page.keyboard.press("Enter")
    wait_position(page, 3)
    drained(page)  # before leaving the page (it would warn: saves waiting)
    # Segment 5: accepted, then the form changed: "edited".
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/5/")
    wait_position(page, 5)
    page.keyboard.press("1")
    page.keyboard.press("a")
    page.keyboard.press("q")  # direct, not what was suggested
    page.keyboard.press("Enter")
    drained(page)
    # Segment 7: dismissed.
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/7/")
    wait_position(page, 7)
    page.keyboard.press("2")
    if page.locator("#suggestion-box:not([hidden])").count():
        page.keyboard.press("d")
        assert page.locator("#suggestion-box").is_hidden()
    page.keyboard.press("Enter")
    drained(page)
    saved = {
        a.segment.position: a.values
        for a in Annotation.objects.filter(article=article).select_related("segment")
    }
    first = saved[2]["attributions"][0]
    assert first["suggestion"] == "accepted"
    assert (first["source_type"], first["form"]) == ("person", "indirect")
    text = article.segments.get(position=2).text
    assert text[slice(*first["source_span"])] == "Kreml-Sprecher Dmitri Peskow"
    assert saved[5]["attributions"][0]["suggestion"] == "edited"
    assert saved[7]["attributions"] == []
    assert page.console_errors == [], page.console_errors
