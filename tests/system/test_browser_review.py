"""End to end: two annotators disagree, a reviewer adjudicates from the keyboard, and
the segments export carries the gold labels."""

from __future__ import annotations

import csv
import io
import os

import pytest

from annotations import services
from annotations.export.queries import ExportOptions, export_chunks
from annotations.models import Annotation
from tests import factories
from tests.browser import (
    SCREENSHOTS,
    browser_page,  # noqa: F401  (the fixture)
    login,
    logout,
    screenshot,
)

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def setup(transactional_db):
    project = factories.ProjectFactory(slug="review-e2e", name="Review e2e")
    article = factories.make_article(project, n_sentences=4, title="Gipfel in Genf")
    anna = factories.member(project, role="annotator", username="annotator1")
    bert = factories.member(project, role="annotator", username="annotator2")
    factories.member(project, role="reviewer", username="reviewer")
    manager = factories.member(project, role="manager", username="manager")
    services.assign_articles(
        project=project,
        articles=[article],
        annotators=[anna, bert],
        overlap=2,
        assigned_by=manager,
    )
    segments = list(article.segments.annotatable().order_by("position"))
    return project, article, segments, anna, bert


def wait_gold(page, segment_pk: int) -> None:
    page.wait_for_selector(f"#seg-{segment_pk}.has-gold")


@pytest.mark.browser
def test_reviewer_adjudicates_a_disagreement_by_keyboard_and_export_shows_gold(
    browser_page,  # noqa: F811
    live_server,
    setup,
):
    page = browser_page
    project, article, segments, anna, bert = setup
    title, first, second = segments[0], segments[1], segments[2]

    # annotator1 labels the title through the annotate screen: "opinion", Enter.
    login(page, live_server, "annotator1")
    page.goto(f"{live_server.url}/articles/{article.pk}/annotate/")
    page.wait_for_selector('#annotate-root[data-position="0"]')
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector('#annotate-root:not([data-position="0"])')
    # The next segment shows at once; the save is in the background queue.
    page.wait_for_selector('#save-status[data-waiting="0"][data-held="0"]')
    assert Annotation.objects.get(annotator=anna, segment=title).values["labels"] == {
        "claim": ["opinion"]
    }
    logout(page)
    # The rest through the service (fast): annotator2 disagrees on the title's claim,
    # both agree on the first sentence's claim but not its frames.
    factories.annotate(title, bert, claim="checkworthy", time_spent_ms=5000)
    factories.annotate(
        first,
        anna,
        claim="factual",
        frames=("economic",),
        stances={"russia": "against"},
        time_spent_ms=3000,
    )
    factories.annotate(
        first,
        bert,
        claim="factual",
        frames=("political",),
        stances={"russia": "against"},
        time_spent_ms=7000,
    )
    factories.annotate(second, anna, claim="opinion")
    factories.annotate(second, bert, claim="opinion")

    login(page, live_server, "reviewer")
    page.goto(f"{live_server.url}/articles/{article.pk}/review/")
    # The disagreements are highlighted, the agreement is not; the first one has focus.
    assert page.locator(f"#seg-{title.pk}.disagree").is_visible()
    assert page.locator(f"#seg-{first.pk}.disagree").is_visible()
    assert page.locator(f"#seg-{second.pk}.disagree").count() == 0
    page.wait_for_selector(f"#seg-{title.pk}.current")
    assert page.locator(f"#seg-{title.pk} td.differs").count() == 2
    # A tie (opinion vs checkworthy): nothing pre-selected, the reviewer decides.
    assert page.locator(f"#seg-{title.pk} input[name=dim-claim]:checked").count() == 0
    screenshot(page, "review")

    page.keyboard.press("1")  # check-worthy, the claim key of the annotate screen
    page.keyboard.press("Enter")  # save as gold, on to the next disagreement
    wait_gold(page, title.pk)
    page.wait_for_selector(f"#seg-{first.pk}.current")
    # Claims agree: "factual" is pre-selected; the frames split 1:1, so none is.
    assert page.locator(
        f"#seg-{first.pk} input[name=dim-claim][value=factual]"
    ).is_checked()
    page.keyboard.press("e")  # the economic frame, as on the annotate screen
    page.keyboard.press("6")  # target Ukraine/Selenskyj, then f: favor
    page.keyboard.press("f")
    page.keyboard.press("Enter")
    wait_gold(page, first.pk)
    page.wait_for_selector("#n-disagree:text-is('0')")
    screenshot(page, "review_adjudicated")
    page.screenshot(path=str(SCREENSHOTS / "review_full.png"), full_page=True)
    assert page.console_errors == []

    gold = {a.segment_id: a for a in Annotation.objects.gold()}
    assert gold[title.pk].values["labels"] == {"claim": ["checkworthy"]}
    assert gold[first.pk].values["labels"] == {
        "claim": ["factual"],
        "frames": ["economic"],
    }
    assert gold[first.pk].values["stances"] == [
        {"target": "russia", "polarity": "against", "holder": None},
        {"target": "ukraine", "polarity": "favor", "holder": None},
    ]
    assert all(g.annotator.username == "reviewer" for g in gold.values())
    assert set(
        gold[title.pk].adjudicated_from.values_list("annotator__username", flat=True)
    ) == {"annotator1", "annotator2"}

    # The segments export uses the gold where it exists, the majority elsewhere.
    text = "".join(
        export_chunks(
            project, ExportOptions(mode="segments"), fmt="csv", spreadsheet=False
        )
    )
    rows = {int(row["segment_id"]): row for row in csv.DictReader(io.StringIO(text))}
    assert rows[title.pk]["claim"] == "checkworthy"
    assert rows[title.pk]["label_source"] == "gold"
    assert rows[title.pk]["annotator"] == "reviewer"
    assert rows[first.pk]["frames"] == "economic"
    assert rows[first.pk]["label_source"] == "gold"
    assert rows[second.pk]["label_source"] == "majority"
    logout(page)

    # The manager's pages, for the screenshots (and a look at them).
    login(page, live_server, "manager")
    page.goto(f"{live_server.url}/team/{project.slug}/")
    assert page.locator("#annotator-progress").get_by_text("annotator1").is_visible()
    screenshot(page, "team_dashboard")
    page.goto(f"{live_server.url}/team/{project.slug}/agreement/")
    assert page.locator("#agreement-summary").is_visible()
    page.set_viewport_size({"width": 1280, "height": 1600})
    screenshot(page, "team_agreement")
    page.goto(f"{live_server.url}/team/{project.slug}/assign/")
    screenshot(page, "team_assign")
    assert page.console_errors == []
