"""End to end: label a seed article from the keyboard only, reload, and stay blind;
saves wait in a queue through a lost connection and a reload; a refusal or a
conflict comes back to the segment it belongs to; spans marked with the mouse."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from annotations import services
from annotations.models import Annotation, Article
from tests import factories
from tests.browser import login, logout, screenshot

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_0025281e9e8aa252.txt"


@pytest.fixture
def seeded(transactional_db):
    project = services.ensure_seed_project()
    result = services.import_path(project=project, path=SEED)
    assert result.ok, result.error
    article = Article.objects.get(pk=result.article_ids[0])
    for name in ("annotator1", "annotator2"):
        factories.member(project, role="annotator", username=name)
    return article


def wait_position(page, position: int) -> None:
    page.wait_for_selector(f'#annotate-root[data-position="{position}"]')


def drained(page) -> None:
    """Every save of the queue has reached the server."""
    page.wait_for_selector('#save-status[data-waiting="0"][data-held="0"]')


def queue_length(page, username: str = "annotator1") -> int:
    return page.evaluate(
        f"JSON.parse(localStorage.getItem('wb-save-queue:v2:{username}') || '[]')"
        ".length"
    )


@pytest.mark.browser
def test_keyboard_only_labelling_survives_reload_and_stays_blind(
    seeded, live_server, browser_page
):
    page = browser_page
    article = seeded
    page.goto(f"{live_server.url}/")
    page.wait_for_selector("#id_username")
    screenshot(page, "login")
    login(page, live_server, "annotator1")
    screenshot(page, "work_list")
    assert page.locator("table.worklist").get_by_text(article.title).is_visible()

    page.goto(f"{live_server.url}/articles/{article.pk}/annotate/")
    wait_position(page, 0)  # the title is the first open segment
    page.keyboard.press("?")
    page.wait_for_selector("#guidelines[open]")
    assert "Check-worthy claim" in page.inner_text("#guidelines")
    screenshot(page, "annotate_guidelines")
    page.keyboard.press("Escape")
    page.wait_for_selector("#guidelines:not([open])", state="attached")
    # To the first sentence (the byline is segment 1): keyboard navigation.
    page.keyboard.press("j")
    wait_position(page, 1)
    page.keyboard.press("ArrowRight")
    wait_position(page, 2)

    # Sentence 1: claim, stance, frame, save-and-next: five keys.
    for key in ("3", "5", "a", "p", "Enter"):
        page.keyboard.press(key)
    wait_position(page, 3)

    # Sentence 2: a check-worthy claim with a typed source who holds a stance.
    page.keyboard.press("1")
    page.keyboard.press("/")
    page.keyboard.type("Maria Sacharowa")
    page.keyboard.press("Escape")
    page.keyboard.press("7")
    page.keyboard.press("h")  # holder: the source just typed
    page.keyboard.press("f")
    page.keyboard.press("e")
    page.keyboard.press("x")
    screenshot(page, "annotate")
    page.keyboard.press("Enter")
    wait_position(page, 4)

    # Sentence 3: a factual claim, no stance toward Ukraine, security frame, unsure.
    for key in ("2", "6", "n", "s", "!"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    wait_position(page, 5)
    drained(page)

    # Back to a labelled segment: Enter without a change moves on, saves nothing.
    page.keyboard.press("k")
    wait_position(page, 4)
    page.keyboard.press("Enter")
    wait_position(page, 5)
    drained(page)
    assert Annotation.objects.get(segment__position=4).revision == 1
    # Moving away with a change saves it first (never lost silently).
    page.keyboard.press("4")
    page.keyboard.press("j")
    wait_position(page, 6)
    drained(page)
    assert Annotation.objects.get(segment__position=5).values["labels"] == {
        "claim": ["none"]
    }
    # So does the browser's Back button.
    page.keyboard.press("4")
    page.go_back()
    wait_position(page, 5)
    page.wait_for_selector('.outline-item[data-position="6"].state-labelled')
    assert Annotation.objects.filter(segment__position=6).exists()
    Annotation.objects.filter(segment__position__in=[5, 6]).delete()

    mine = {
        a.segment.position: a.values
        for a in Annotation.objects.filter(article=article).select_related("segment")
    }
    assert mine[2]["labels"] == {"claim": ["opinion"], "frames": ["political"]}
    assert mine[2]["primary"] == {"frames": "political"}
    assert mine[2]["stances"] == [
        {"target": "russia", "polarity": "against", "holder": None}
    ]
    assert mine[3]["labels"]["claim"] == ["checkworthy"]
    assert sorted(mine[3]["labels"]["frames"]) == ["economic", "external_reputation"]
    assert mine[3]["attributions"][0]["source_text"] == "Maria Sacharowa"
    assert mine[3]["stances"] == [{"target": "usa", "polarity": "favor", "holder": 0}]
    assert mine[4]["labels"] == {"claim": ["factual"], "frames": ["security_defense"]}
    assert mine[4]["unsure"] is True
    assert mine[4]["stances"] == [
        {"target": "ukraine", "polarity": "none", "holder": None}
    ]
    # Active time measured in the browser arrives with every save.
    assert all(a.time_spent_ms > 0 for a in Annotation.objects.all())

    # Reload: every label is still there, read from the database.
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/3/")
    page.reload()
    wait_position(page, 3)
    assert page.is_checked('input[name="dim-claim"][value="checkworthy"]')
    assert page.is_checked('input[name="dim-frames"][value="economic"]')
    assert page.is_checked('input[name="primary-frames"][value="economic"]')
    assert page.is_checked('input[name="stance-usa"][value="favor"]')
    assert page.input_value('input[name="attr-0-source"]') == "Maria Sacharowa"
    assert page.input_value('select[name="holder-usa"]') == "0"
    assert page.locator("#save-status").inner_text().startswith("Saved")
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/2/")
    assert page.is_checked('input[name="dim-claim"][value="opinion"]')
    assert page.is_checked('input[name="stance-russia"][value="against"]')
    assert page.is_checked('input[name="dim-frames"][value="political"]')
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/4/")
    assert page.is_checked('input[name="dim-claim"][value="factual"]')
    assert page.is_checked("#unsure")
    assert page.is_checked('input[name="stance-ukraine"][value="none"]')
    states = page.eval_on_selector_all(
        ".outline-item[data-position]", "els => els.map(e => e.className)"
    )
    assert sum("state-labelled" in s for s in states) == 2
    assert sum("state-unsure" in s for s in states) == 1
    assert page.console_errors == [], page.console_errors

    page.goto(f"{live_server.url}/")
    screenshot(page, "work_list_progress")

    # annotator2 sees none of it.
    logout(page)
    login(page, live_server, "annotator2")
    for position in (2, 3, 4):
        page.goto(f"{live_server.url}/articles/{article.pk}/segments/{position}/")
        wait_position(page, position)
        assert page.locator('#annotate-form input[type="radio"]:checked').count() == 0
        assert (
            page.locator('#annotate-form input[type="checkbox"]:checked').count() == 0
        )
        assert page.input_value('input[name="attr-0-source"]') == ""
        assert "Maria Sacharowa" not in page.content()
        assert (
            re.search(r"state-(labelled|unsure)", page.inner_html(".outline-list"))
            is None
        )
    assert page.console_errors == [], page.console_errors


@pytest.mark.browser
def test_saves_wait_in_the_queue_through_a_lost_connection_and_a_reload(
    seeded, live_server, browser_page
):
    """The next segment shows at once; the saves wait in this browser (never
    shown as saved), survive a reload, and reach the database in order when the
    connection is back."""
    page = browser_page
    article = seeded
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", accept)
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/2/")
    wait_position(page, 2)
    page.route("**/save/", lambda route: route.abort())
    for key in ("3", "5", "a", "Enter"):
        page.keyboard.press(key)
    wait_position(page, 3)  # at once, the save still on its way
    for key in ("1", "Enter"):
        page.keyboard.press(key)
    wait_position(page, 4)
    page.wait_for_selector("#save-status.status-error")
    status = page.inner_text("#save-status")
    assert "Not saved yet" in status
    assert "2 waiting" in status
    assert Annotation.objects.count() == 0
    assert queue_length(page) == 2
    item = page.get_attribute('.outline-item[data-position="2"]', "class")
    assert "state-queued" in item

    # A reload warns first; the saves still wait, shown as waiting, never saved.
    page.reload()
    wait_position(page, 4)
    assert "beforeunload" in dialogs
    assert queue_length(page) == 2
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/2/")
    wait_position(page, 2)
    assert page.is_checked('input[name="dim-claim"][value="opinion"]')
    assert page.is_checked('input[name="stance-russia"][value="against"]')
    assert "state-labelled" not in page.get_attribute(
        '.outline-item[data-position="2"]', "class"
    )
    assert Annotation.objects.count() == 0

    # The connection comes back after one more failure: the retries store both,
    # in the order they were made.
    failures = [1]

    def flaky(route) -> None:
        if failures:
            failures.pop()
            route.abort()
        else:
            route.continue_()

    page.unroute("**/save/")
    page.route("**/save/", flaky)
    page.click("#retry-save")
    drained(page)
    assert queue_length(page) == 0
    saved = Annotation.objects.order_by("pk")
    assert [a.segment.position for a in saved] == [2, 3]
    assert saved[0].values["labels"] == {"claim": ["opinion"]}
    assert saved[1].values["labels"] == {"claim": ["checkworthy"]}
    assert "state-labelled" in page.get_attribute(
        '.outline-item[data-position="2"]', "class"
    )
    assert page.inner_text("#save-status").startswith("Saved")


@pytest.mark.browser
def test_a_conflict_and_a_refusal_come_back_to_their_segment(
    seeded, live_server, browser_page
):
    page = browser_page
    article = seeded
    user = django_user("annotator1")
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/2/")
    wait_position(page, 2)
    # Another tab saves this segment after the page was loaded.
    services.save_annotation(
        segment=_segment(article, 2),
        annotator=user,
        payload=services.AnnotationInput(labels={"claim": ("factual",)}),
        expected_revision=None,
    )
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    wait_position(page, 3)
    # The 409 comes back while I am on the next segment: it is listed, not lost.
    page.wait_for_selector("#held-saves:not([hidden])")
    assert "Segment 3" in page.inner_text("#held-saves")
    assert "changed elsewhere" in page.inner_text("#held-saves")
    assert "state-error" in page.get_attribute(
        '.outline-item[data-position="2"]', "class"
    )
    page.keyboard.press("b")
    wait_position(page, 2)
    page.wait_for_selector("#conflict-dialog[open]")
    assert "Opinion" in page.inner_text("#conflict-mine")
    assert "Factual" in page.inner_text("#conflict-stored")
    screenshot(page, "annotate_conflict")
    page.click("#conflict-keep")
    drained(page)
    stored = Annotation.objects.get(segment__position=2)
    assert stored.values["labels"] == {"claim": ["opinion"]}
    assert stored.revision == 2

    services.save_annotation(
        segment=_segment(article, 3),
        annotator=user,
        payload=services.AnnotationInput(labels={"claim": ("none",)}),
        expected_revision=None,
    )
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/4/")
    wait_position(page, 4)
    page.keyboard.press("k")
    wait_position(page, 3)
    # The page loaded before... no: this page knows the stored "none" already.
    assert page.is_checked('input[name="dim-claim"][value="none"]')

    # A refusal (no claim: required) is listed and shown on its segment.
    page.keyboard.press("j")
    wait_position(page, 4)
    page.keyboard.press("e")  # a frame, but no claim
    page.keyboard.press("Enter")
    wait_position(page, 5)
    page.wait_for_selector("#held-saves:not([hidden])")
    assert "Claim is required" in page.inner_text("#held-saves")
    page.keyboard.press("b")
    wait_position(page, 4)
    assert "Claim is required" in page.inner_text("#save-errors")
    assert page.is_checked('input[name="dim-frames"][value="economic"]')
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    wait_position(page, 5)
    drained(page)
    assert Annotation.objects.get(segment__position=4).values["labels"] == {
        "claim": ["factual"],
        "frames": ["economic"],
    }
    assert page.locator("#held-saves").is_hidden()
    # Chromium logs the 409 and 422 answers themselves; nothing else went wrong.
    unexpected = [
        e for e in page.console_errors if not re.search(r"status of (409|422)", e)
    ]
    assert unexpected == [], unexpected


def django_user(username: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


def _segment(article, position: int):
    return article.segments.select_related("article__project").get(position=position)


@pytest.mark.browser
def test_selecting_text_marks_source_and_cue_spans(seeded, live_server, browser_page):
    page = browser_page
    article = seeded
    segment = _segment(article, 2)
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/2/")
    wait_position(page, 2)

    def select(start: int, end: int) -> None:
        page.evaluate(
            """([start, end]) => {
                // The segment's text nodes (marked spans are <mark> elements).
                const walker = document.createTreeWalker(
                    document.getElementById("current-segment"), NodeFilter.SHOW_TEXT);
                const at = (offset) => {
                    let node;
                    while ((node = walker.nextNode())) {
                        if (offset <= node.length) return [node, offset];
                        offset -= node.length;
                    }
                };
                const range = document.createRange();
                range.setStart(...at(start));
                walker.currentNode = walker.root;
                range.setEnd(...at(end));
                const selection = window.getSelection();
                selection.removeAllRanges();
                selection.addRange(range);
            }""",
            [start, end],
        )

    words = segment.text.split(" ")
    source_end = len(words[0]) + 1 + len(words[1])  # "In den"
    select(0, source_end)
    page.click("#mark-source")
    cue_start = segment.text.index("hat")
    select(cue_start, cue_start + 3)
    page.click("#mark-cue")
    assert page.input_value('input[name="attr-0-source"]') == segment.text[:source_end]
    assert page.input_value('input[name="attr-0-source_start"]') == "0"
    assert page.input_value('input[name="attr-0-source_end"]') == str(source_end)
    assert page.input_value('input[name="attr-0-cue"]') == "hat"
    page.keyboard.press("Escape")
    page.keyboard.press("3")
    # An empty row waits for a second source.
    page.wait_for_selector('.attribution-new[data-index="1"]')
    page.keyboard.press("Enter")
    wait_position(page, 3)
    drained(page)
    attribution = Annotation.objects.get().values["attributions"][0]
    assert attribution["source_span"] == [0, source_end]
    assert attribution["cue_spans"] == [[cue_start, cue_start + 3]]
    assert attribution["cue_text"] == "hat"


@pytest.mark.browser
def test_work_list_by_keyboard(seeded, live_server, browser_page):
    """No 19 Tabs: j/k move through the articles, Enter opens the one marked,
    / goes to the title filter, c continues labelling."""
    page = browser_page
    article = seeded
    second = factories.make_article(article.project, title="Zweiter Artikel")
    login(page, live_server, "annotator1")
    page.keyboard.press("j")
    assert page.locator("table.worklist tbody tr.selected").count() == 1
    page.keyboard.press("j")
    selected = page.inner_text("table.worklist tbody tr.selected td.title-cell")
    assert second.title in selected
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/articles/{article.pk}/**")
    page.go_back()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "id_title"
    page.keyboard.type("Zweiter")
    page.keyboard.press("Enter")  # the filter form
    page.wait_for_url("**title=Zweiter**")
    assert page.locator("table.worklist tbody tr").count() == 1
    page.keyboard.press("c")
    page.wait_for_url("**/annotate/**")
    assert page.console_errors == [], page.console_errors


@pytest.mark.browser
def test_an_unavailable_server_costs_a_retry_not_the_labels(
    seeded, live_server, browser_page
):
    """A 503 with Retry-After (the database restarting) keeps the save waiting in
    the queue for that long, then it goes through; the page never shows a 500."""
    page = browser_page
    article = seeded
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{article.pk}/segments/2/")
    wait_position(page, 2)
    answers = ["unavailable"]

    def restarting(route) -> None:
        if answers:
            answers.pop()
            route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body='{"status": "unavailable", "message": "Database restarting"}',
            )
        else:
            route.continue_()

    page.route("**/save/", restarting)
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    wait_position(page, 3)
    page.wait_for_selector("#save-status.status-error")
    assert "server is unavailable" in page.inner_text("#save-status")
    assert queue_length(page) == 1
    drained(page)
    assert Annotation.objects.get().values["labels"] == {"claim": ["opinion"]}
