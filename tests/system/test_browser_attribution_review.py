"""In the browser: two annotators disagree on a source's type and form; the
reviewer sees it side by side, combines the two versions, restores a source only
one gave, adds one, all by keyboard, and the gold keeps whom it came from."""

from __future__ import annotations

import os

import pytest

from annotations import services
from annotations.models import Annotation
from annotations.services import AnnotationInput, AttributionInput
from tests import factories
from tests.browser import (
    browser_page,  # noqa: F401  (the fixture)
    login,
    screenshot,
)

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def give(segment, user, *attributions):
    return services.save_annotation(
        segment=segment,
        annotator=user,
        expected_revision=None,
        payload=AnnotationInput(
            labels={"claim": ("factual",)}, attributions=tuple(attributions)
        ),
    )


@pytest.mark.browser
def test_reviewer_combines_two_versions_of_a_source_by_keyboard(
    browser_page,  # noqa: F811
    live_server,
    transactional_db,
):
    project = factories.ProjectFactory(slug="review-sources", name="Quellen")
    article = factories.make_article(project, n_sentences=2, title="Gipfel")
    anna = factories.member(project, username="annotator1")
    bert = factories.member(project, username="annotator2")
    factories.member(project, role="reviewer", username="reviewer")
    segment = article.segments.filter(kind="sentence").order_by("position").first()
    give(
        segment,
        anna,
        AttributionInput(
            source_text="Satz",
            source_type="person",
            form="indirect",
            cue_text="sagt",
            source_span=(0, 4),
            cue_spans=((7, 11),),
        ),
        AttributionInput(
            source_text="Berlin", source_type="institution", form="reported"
        ),
    )
    give(
        segment,
        bert,
        AttributionInput(
            source_text="Satz",
            source_type="institution",
            form="direct",
            cue_text="sagt",
            source_span=(0, 4),
        ),
    )

    page = browser_page
    login(page, live_server, "reviewer")
    page.goto(f"{live_server.url}/articles/{article.pk}/review/")
    seg = f"#seg-{segment.pk}"
    page.wait_for_selector(f"{seg}.current form.gold-form")
    # Side by side: "Satz" by both (type and form differ), "Berlin" by one.
    sources = page.locator(f"{seg} table.review-attributions tbody.attribution")
    assert sources.count() == 2
    assert page.locator(f"{seg} tbody.attribution.disagree").count() == 2
    assert (
        page.locator(f"{seg} .review-attributions td.differs:not(.absent)").count() == 4
    )
    assert page.locator(f"{seg} td.absent.differs").count() == 1
    # The proposal: "Satz" kept (2 of 2) with type and form open (1:1), "Berlin"
    # left out (1 of 2).
    rows = page.locator(f"{seg} fieldset.gattr")
    assert rows.count() == 3  # Satz, Berlin, a blank one
    first, second = rows.nth(0), rows.nth(1)
    assert first.locator('[data-field="source_type"]').input_value() == ""
    assert first.locator('[data-field="form"]').input_value() == ""
    assert "deleted" in second.get_attribute("class")
    screenshot(page, "review_attributions")

    page.keyboard.press("a")  # the first source
    assert "armed" in first.get_attribute("class")
    page.keyboard.press("1")  # annotator1's whole version: person, indirect
    page.keyboard.press("f")  # ... but the form
    page.keyboard.press("2")  # ... of annotator2: direct
    assert first.locator('[data-field="source_type"]').input_value() == "person"
    assert first.locator('[data-field="form"]').input_value() == "direct"
    assert first.locator('[data-field="cue_spans"]').input_value() == "7-11"
    page.keyboard.press("a")  # the next source: Berlin, left out
    page.keyboard.press("x")  # take it back
    assert "deleted" not in second.get_attribute("class")
    page.keyboard.press("+")  # a new source: its name field gets the focus
    page.keyboard.type("Mai")
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")  # back to the keys
    screenshot(page, "review_attributions_editing")
    page.keyboard.press("Enter")  # save the gold
    page.wait_for_selector(f"{seg}.has-gold")

    gold = Annotation.objects.gold().get(segment=segment)
    assert [
        (a["source"], a["source_type"], a["form"], a["cue_text"], a["source_span"])
        for a in gold.values["attributions"]
    ] == [
        ("Satz", "person", "direct", "sagt", [0, 4]),
        ("Berlin", "institution", "reported", "", None),
        ("Mai", "", "", "", None),
    ]
    assert set(gold.adjudicated_from.values_list("annotator__username", flat=True)) == {
        "annotator1",
        "annotator2",
    }
    page.reload()  # the page as the server draws it now
    # The segment in the address has the focus; its form loads in place (the
    # section is replaced), so wait for it before looking.
    page.wait_for_selector(f"{seg}.has-gold.current form.gold-form")
    gold_by = page.locator(f"{seg} .gold-by")
    assert "from annotator1, annotator2" in gold_by.inner_text()
    page.locator(seg).scroll_into_view_if_needed()
    screenshot(page, "review_attributions_gold")
    # The agreement page's attribution and span figures (reviewers see it too).
    page.goto(f"{live_server.url}/team/{project.slug}/agreement/")
    assert page.locator("#span-agreement").is_visible()
    assert page.get_by_role("link", name="Attribution: form").count() == 1
    page.set_viewport_size({"width": 1280, "height": 1400})
    screenshot(page, "team_agreement_attributions")
    assert page.console_errors == []
