"""The review screen draws one adjudication form, the others load on demand; the
agreement page is cached per project and recomputed when the annotations change."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotations.models import Role
from annotations.ratings import (
    agreement_version,
    cached_project_agreement,
    load_ratings,
    project_agreement,
)
from annotations.snapshot import value_of
from tests import factories
from tests.browser import browser_page  # noqa: F401  (the fixture)
from tests.views.test_team_views import build, two_annotators_disagree

FORM = 'class="gold-form"'


def section(html: str, segment_pk: int) -> str:
    match = re.search(
        rf'<section [^>]*id="seg-{segment_pk}".*?</section>', html, flags=re.S
    )
    assert match, f"segment {segment_pk} not on the page"
    return match.group(0)


@pytest.fixture
def disagreeing(db, project):
    """An article of 4 sentences, annotators split on the 2nd and 4th segments."""
    article = factories.make_article(project, n_sentences=4)
    anna = factories.member(project, username="anna")
    bert = factories.member(project, username="bert")
    segments = list(article.segments.annotatable().order_by("position"))
    for i, segment in enumerate(segments):
        factories.annotate(segment, anna, claim="factual")
        factories.annotate(segment, bert, claim="opinion" if i % 2 else "factual")
    return article, segments


def test_review_draws_the_form_of_the_first_open_disagreement_only(
    client, reviewer, disagreeing
):
    article, segments = disagreeing
    client.force_login(reviewer)
    html = client.get(reverse("annotations:review", args=[article.pk])).content
    html = html.decode()
    assert html.count(FORM) == 1
    first_open = segments[1]
    assert FORM in section(html, first_open.pk)
    for other in (segments[0], segments[2], segments[3]):
        part = section(html, other.pk)
        assert FORM not in part
        # Every segment keeps its side-by-side comparison ...
        assert "review-labels" in part
        # ... and says where its form comes from, with and without JavaScript.
        url = reverse("annotations:review_segment", args=[article.pk, other.pk])
        assert f'data-form-url="{url}"' in part
        assert f'href="?segment={other.pk}#seg-{other.pk}"' in part


def test_segment_parameter_draws_that_form_without_javascript(
    client, reviewer, disagreeing
):
    article, segments = disagreeing
    client.force_login(reviewer)
    url = reverse("annotations:review", args=[article.pk])
    html = client.get(url, {"segment": segments[2].pk}).content.decode()
    assert html.count(FORM) == 1
    assert FORM in section(html, segments[2].pk)
    # Nonsense or a segment of another article falls back to the first disagreement.
    other = factories.make_article(article.project, n_sentences=1)
    foreign = other.segments.annotatable().first()
    for wanted in ("x", str(foreign.pk)):
        html = client.get(url, {"segment": wanted}).content.decode()
        assert html.count(FORM) == 1
        assert FORM in section(html, segments[1].pk)


def test_segment_form_endpoint_returns_the_segment_with_its_form(
    client, reviewer, disagreeing
):
    article, segments = disagreeing
    client.force_login(reviewer)
    url = reverse("annotations:review_segment", args=[article.pk, segments[3].pk])
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<section")
    assert html.count(FORM) == 1
    assert "<html" not in html
    assert 'name="dim-claim"' in html
    save = reverse("annotations:review_save", args=[article.pk, segments[3].pk])
    assert f'hx-post="{save}"' in html
    assert "data-form-url" not in html
    assert client.post(url).status_code == 405


@pytest.mark.parametrize(
    ("role", "status"),
    [("outsider", 404), (Role.ANNOTATOR, 403), (Role.REVIEWER, 200), ("manager", 200)],
)
def test_segment_form_endpoint_needs_the_reviewer_role(
    client, project, disagreeing, role, status
):
    article, segments = disagreeing
    if role == "outsider":
        other = factories.ProjectFactory(slug="elsewhere")
        user = factories.member(other, role=Role.MANAGER, username="outsider")
    else:
        user = factories.member(project, role=role, username=f"user-{role}")
    client.force_login(user)
    url = reverse("annotations:review_segment", args=[article.pk, segments[0].pk])
    assert client.get(url).status_code == status


def test_segment_form_endpoint_refuses_foreign_and_skipped_segments(
    client, reviewer, disagreeing
):
    article, _segments = disagreeing
    client.force_login(reviewer)
    other = factories.make_article(article.project, n_sentences=1)
    foreign = other.segments.annotatable().first()
    url = reverse("annotations:review_segment", args=[article.pk, foreign.pk])
    assert client.get(url).status_code == 404
    skipped = article.segments.order_by("position").last()
    type(skipped).objects.filter(pk=skipped.pk).update(kind="boilerplate")
    url = reverse("annotations:review_segment", args=[article.pk, skipped.pk])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(("n_sentences", "n_annotators"), [(1, 2), (62, 5)])
def test_segment_form_endpoint_needs_a_fixed_number_of_queries(
    client, project, manager, django_assert_max_num_queries, n_sentences, n_annotators
):
    article = build(project, n_sentences=n_sentences, n_annotators=n_annotators)
    segment = article.segments.annotatable().order_by("position").last()
    client.force_login(manager)
    url = reverse("annotations:review_segment", args=[article.pk, segment.pk])
    # session, user, article with project, role, nav role, scheme (3), segment and
    # its annotations (2)
    with django_assert_max_num_queries(10):
        assert client.get(url).status_code == 200


def rows_read(client, url: str) -> tuple[int, int]:
    """The queries of one warm GET of ``url`` and the rows their SELECTs return
    (each run again, as captured)."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    rows = 0
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if query["sql"].lstrip().upper().startswith("SELECT"):
                cursor.execute(query["sql"])
                rows += len(cursor.fetchall())
    return len(captured), rows


def test_review_page_work_does_not_grow_with_the_articles_of_the_project(
    client, project, manager
):
    """The review screen reads the article shown, never the project: the same
    queries returning the same rows with five more labelled and adjudicated
    articles beside it (the bench's project has 2,000)."""
    article = build(project, n_sentences=6, n_annotators=3)
    users = list(get_user_model().objects.filter(username__in=["u0", "u1", "u2"]))
    shown = article.segments.annotatable().order_by("position")[1]
    factories.annotate(shown, manager, claim="factual", is_gold=True)
    client.force_login(manager)
    url = reverse("annotations:review", args=[article.pk])
    alone = rows_read(client, url)
    for _ in range(5):
        other = factories.make_article(project, n_sentences=6)
        for segment in other.segments.annotatable():
            own = [factories.annotate(segment, u, claim="opinion") for u in users]
        factories.annotate(
            segment, manager, claim="opinion", is_gold=True, adjudicated_from=own
        )
    assert rows_read(client, url) == alone


def test_review_page_size_does_not_grow_with_the_scheme_per_segment(
    client, project, manager
):
    """62 disagreeing segments: one form, so the page is a fraction of the old one
    (which drew every label of every dimension and target for every segment)."""
    article = build(project, n_sentences=62, n_annotators=3)
    client.force_login(manager)
    html = client.get(reverse("annotations:review", args=[article.pk])).content
    html = html.decode()
    assert html.count(FORM) == 1
    assert html.count('type="radio"') < 40


# ---------------------------------------------------------------------------
# Agreement page cache
# ---------------------------------------------------------------------------


def test_agreement_page_is_cached_and_recomputed_after_a_change(
    client, project, reviewer, django_assert_max_num_queries, django_assert_num_queries
):
    article, segment, anna, bert = two_annotators_disagree(project)
    client.force_login(reviewer)
    url = reverse("annotations:team_agreement", args=[project.slug])
    first = client.get(url)
    assert first.context["result"].n_annotations == 2
    # Warm: session, user, project, role, nav role, the aggregate (the scheme
    # index is kept by this process since the first request).
    with django_assert_num_queries(6):
        again = client.get(url)
    assert again.context["result"].n_annotations == 2
    assert again.context["result"].version == first.context["result"].version
    assert "Krippendorff" in again.content.decode()
    # A new annotation changes the count: recomputed at once.
    second = article.segments.annotatable().order_by("position")[1]
    factories.annotate(second, anna, claim="factual")
    with django_assert_max_num_queries(11):
        after = client.get(url)
    assert after.context["result"].n_annotations == 3
    # An edit keeps the count but moves updated_at: recomputed too.
    factories.annotate(segment, bert, claim="checkworthy", frames=("economic",))
    edited = client.get(url).context["result"]
    claim = next(d for d in edited.dimensions if d.spec.key == "claim")
    assert claim.report.percent == 1.0
    assert edited.disagreed == [] or all(
        d.segment_id != segment.pk or "Claim" not in " ".join(d.dimensions)
        for d in edited.disagreed
    )


def test_cached_result_equals_a_fresh_computation(project):
    two_annotators_disagree(project)
    cached = cached_project_agreement(project)
    fresh = project_agreement(project)
    assert cached.version == fresh.version == agreement_version(project)
    assert [d.report for d in cached.dimensions] == [d.report for d in fresh.dimensions]
    assert cached_project_agreement(project) is not None


def test_load_ratings_matches_value_of_on_every_dimension(project):
    """The one-pass loader gives what ``value_of`` says for each snapshot."""
    article, _segment, anna, bert = two_annotators_disagree(project, n_sentences=4)
    third = article.segments.annotatable().order_by("position")[2]
    factories.annotate(
        third,
        anna,
        claim="opinion",
        frames=(),
        stances={"nato": "favor", "russia": "against"},
    )
    specs, ratings, coders, (count, _last) = load_ratings(project)
    expected: dict[str, set] = {spec.key: set() for spec in specs}
    from annotations.models import Annotation

    for annotation in Annotation.objects.own().filter(article__project=project):
        for spec in specs:
            value = value_of(annotation.values, spec)
            if value is not None:
                expected[spec.key].add(
                    (annotation.segment_id, annotation.annotator_id, value)
                )
    assert {key: set(map(tuple, rs)) for key, rs in ratings.items()} == expected
    assert count == 3
    assert coders == {anna.pk: "anna", bert.pk: "bert"}


# ---------------------------------------------------------------------------
# In the browser: a form loads when its segment gets focus, keys wait for it
# ---------------------------------------------------------------------------


@pytest.mark.browser
def test_focusing_a_segment_loads_its_form_and_keys_typed_meanwhile_apply(
    browser_page,  # noqa: F811
    live_server,
    transactional_db,
):
    import os

    from annotations.models import Annotation
    from tests.browser import login, screenshot

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    project = factories.ProjectFactory(slug="review-demand", name="On demand")
    article = factories.make_article(project, n_sentences=3, title="Nachfrage")
    anna = factories.member(project, username="anna")
    bert = factories.member(project, username="bert")
    factories.member(project, role="reviewer", username="reviewer")
    segments = list(article.segments.annotatable().order_by("position"))
    for segment in segments:
        factories.annotate(segment, anna, claim="factual")
        factories.annotate(segment, bert, claim="opinion")
    page = browser_page
    login(page, live_server, "reviewer")
    page.goto(f"{live_server.url}/articles/{article.pk}/review/")
    first, last = segments[0], segments[-1]
    page.wait_for_selector(f"#seg-{first.pk}.current form.gold-form")
    assert page.locator("form.gold-form").count() == 1
    # Click "Adjudicate" on the last segment: its form is fetched in place.
    page.click(f"#seg-{last.pk} .edit-gold a")
    page.wait_for_selector(f"#seg-{last.pk}.current form.gold-form")
    assert "segment=" not in page.url  # no page load
    assert page.locator("form.gold-form").count() == 2
    screenshot(page, "review_on_demand")
    # j then at once 2 (factual) and Enter: the keys wait for the form.
    page.keyboard.press("k")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    previous = segments[-2]
    page.wait_for_selector(f"#seg-{previous.pk}.has-gold")
    gold = Annotation.objects.gold().get(segment=previous)
    assert gold.values["labels"] == {"claim": ["factual"]}
    assert page.console_errors == []
