"""Review screen and adjudication into gold; change history of annotations."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations import review, services
from annotations.models import Annotation
from annotations.scheme import SchemeIndex
from annotations.services import (
    AnnotationInput,
    AnnotationRefused,
    AttributionInput,
    StaleRevision,
    StanceInput,
    save_annotation,
)
from annotations.snapshot import values_changes
from tests import factories


@pytest.fixture
def labelled(project):
    """Three annotators on the first sentence: two say opinion, one checkworthy."""
    article = factories.make_article(project, n_sentences=4)
    segment = article.segments.annotatable().order_by("position")[0]
    users = [factories.member(project, username=n) for n in ("anna", "bert", "cleo")]
    factories.annotate(
        segment,
        users[0],
        claim="opinion",
        frames=("economic", "policy"),
        stances={"russia": "against"},
    )
    factories.annotate(
        segment,
        users[1],
        claim="opinion",
        frames=("economic",),
        stances={"russia": "against"},
        comment="hard one",
    )
    factories.annotate(segment, users[2], claim="checkworthy", frames=("political",))
    return article, segment, users


def review_item(article, segment):
    index = SchemeIndex.for_project(article.project)
    (item,) = review.review_segments(article, index=index, segment_ids=[segment.pk])
    return item


def checked(item, key):
    group = next(g for g in item.groups if g.spec.key == key)
    return [c.code for c in group.choices if c.checked], group.disagree


def test_review_screen_shows_everyone_side_by_side_with_the_differences_marked(
    client, reviewer, labelled
):
    article, segment, _users = labelled
    client.force_login(reviewer)
    response = client.get(reverse("annotations:review", args=[article.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    section = html[html.index(f'id="seg-{segment.pk}"') :]
    section = section[: section.index("</section>")]
    for name in ("anna", "bert", "cleo", "hard one"):
        assert name in section
    assert "review-seg disagree" in html
    assert section.count('class="differs"') == 3 * 3  # claim, frames, stance: russia
    assert "Check-worthy claim" in section
    assert "Opinion" in section
    assert "style=" not in html
    assert response.context["n_disagree"] == 1


def test_the_majority_is_preselected_and_a_tie_is_left_to_the_reviewer(
    labelled, project
):
    article, segment, users = labelled
    item = review_item(article, segment)
    assert checked(item, "claim") == (["opinion"], True)
    assert checked(item, "frames") == (
        ["economic"],
        True,
    )  # 2 of 3; policy 1, political 1
    assert checked(item, "stance:russia") == (["against"], True)
    assert checked(item, "stance:nato") == (["none"], False)
    other = article.segments.annotatable().order_by("position")[1]
    factories.annotate(other, users[0], claim="opinion")
    factories.annotate(other, users[1], claim="factual")
    assert checked(review_item(article, other), "claim") == ([], True)


def test_accepting_the_majority_saves_gold_by_the_reviewer_from_all_annotations(
    client, reviewer, labelled
):
    article, segment, users = labelled
    own_before = list(Annotation.objects.own().values_list("pk", "revision", "values"))
    client.force_login(reviewer)
    response = client.post(
        reverse("annotations:review_save", args=[article.pk, segment.pk]),
        {
            "dim-claim": "opinion",
            "dim-frames": ["economic"],
            "stance-russia": "against",
            "stance-nato": "none",
            "revision": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"#seg-{segment.pk}")
    gold = Annotation.objects.gold().get(segment=segment)
    assert gold.annotator == reviewer
    assert gold.values["labels"] == {"claim": ["opinion"], "frames": ["economic"]}
    assert gold.values["stances"] == [
        {"target": "russia", "polarity": "against", "holder": None}
    ]
    assert set(gold.adjudicated_from.all()) == set(Annotation.objects.own())
    assert gold.updated_at is not None
    # The annotators' own work is untouched.
    assert list(Annotation.objects.own().values_list("pk", "revision", "values")) == (
        own_before
    )
    page = client.get(reverse("annotations:review", args=[article.pk]))
    assert "Gold" in page.content.decode()
    assert "has-gold" in page.content.decode()
    assert checked(review_item(article, segment), "claim") == (["opinion"], True)


def test_htmx_save_returns_the_segment_and_a_refusal_keeps_the_choices(
    client, reviewer, labelled
):
    article, segment, _users = labelled
    client.force_login(reviewer)
    url = reverse("annotations:review_save", args=[article.pk, segment.pk])
    refused = client.post(
        url, {"dim-frames": ["morality"]}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422
    html = refused.content.decode()
    assert "Claim is required" in html
    assert html.lstrip().startswith("<section")  # the partial only
    assert 'value="morality" data-key="m" checked' in html
    assert not Annotation.objects.gold().exists()
    saved = client.post(url, {"dim-claim": "factual"}, headers={"HX-Request": "true"})
    assert saved.status_code == 200
    assert "Gold saved." in saved.content.decode()
    assert Annotation.objects.gold().get().values["labels"] == {"claim": ["factual"]}


def test_a_second_reviewer_saving_over_an_old_revision_gets_409_and_changes_nothing(
    client, reviewer, project, labelled
):
    article, segment, _users = labelled
    url = reverse("annotations:review_save", args=[article.pk, segment.pk])
    client.force_login(reviewer)
    client.post(url, {"dim-claim": "opinion", "revision": ""})
    other = factories.member(project, role="reviewer", username="rev2")
    client.force_login(other)
    response = client.post(url, {"dim-claim": "none", "revision": ""})
    assert response.status_code == 409
    assert "Another reviewer saved" in response.content.decode()
    gold = Annotation.objects.gold().get()
    assert gold.values["labels"]["claim"] == ["opinion"]
    assert gold.annotator == reviewer
    again = client.post(url, {"dim-claim": "none", "revision": str(gold.revision)})
    assert again.status_code == 302
    gold.refresh_from_db()
    assert (gold.values["labels"]["claim"], gold.revision, gold.annotator) == (
        ["none"],
        2,
        other,
    )


def test_gold_takes_over_the_sources_of_the_chosen_annotation(
    client, reviewer, project
):
    article = factories.make_article(project, n_sentences=2)
    segment = article.segments.annotatable().order_by("position")[0]
    anna = factories.member(project, username="anna")
    save_annotation(
        segment=segment,
        annotator=anna,
        expected_revision=None,
        payload=AnnotationInput(
            labels={"claim": ("checkworthy",)},
            attributions=(
                AttributionInput(
                    source_text="Peskow",
                    source_type="person",
                    form="indirect",
                    cue_text="sagte",
                ),
            ),
            stances=(StanceInput(target="ukraine", polarity="against", holder=0),),
        ),
    )
    own = Annotation.objects.get(annotator=anna)
    client.force_login(reviewer)
    client.post(
        reverse("annotations:review_save", args=[article.pk, segment.pk]),
        {"dim-claim": "checkworthy", "sources": str(own.pk)},
    )
    gold = Annotation.objects.gold().get()
    assert [a["source_text"] for a in gold.values["attributions"]] == ["Peskow"]
    assert gold.values["stances"] == [
        {"target": "ukraine", "polarity": "against", "holder": 0}
    ]
    assert gold.attributions.get().form.code == "indirect"


def test_only_reviewers_may_adjudicate_through_the_service(
    project, annotator, labelled
):
    _article, segment, _users = labelled
    with pytest.raises(AnnotationRefused, match="reviewer role"):
        services.adjudicate_segment(
            segment=segment,
            reviewer=annotator,
            expected_revision=None,
            payload=AnnotationInput(labels={"claim": ("opinion",)}),
        )
    assert not Annotation.objects.gold().exists()


def test_unknown_labels_are_refused_and_nothing_is_stored(reviewer, labelled):
    _article, segment, _users = labelled
    with pytest.raises(AnnotationRefused, match="unknown"):
        services.adjudicate_segment(
            segment=segment,
            reviewer=reviewer,
            expected_revision=None,
            payload=AnnotationInput(labels={"claim": ("made-up",)}),
        )
    with pytest.raises(StaleRevision):
        services.adjudicate_segment(
            segment=segment,
            reviewer=reviewer,
            expected_revision=3,
            payload=AnnotationInput(labels={"claim": ("opinion",)}),
        )
    assert not Annotation.objects.gold().exists()


def test_a_boilerplate_segment_cannot_be_adjudicated(client, reviewer, project):
    article = factories.make_article(
        project, text="Titel\n\nFoto: dpa\n\nEin Satz steht hier.\n"
    )
    skipped = article.segments.exclude(
        kind__in=["title", "byline", "heading", "sentence"]
    ).first()
    if skipped is None:
        pytest.skip("the segmenter marks no boilerplate in this text")
    client.force_login(reviewer)
    response = client.post(
        reverse("annotations:review_save", args=[article.pk, skipped.pk]),
        {"dim-claim": "none"},
    )
    assert response.status_code == 404


# ---------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------


def test_two_saves_leave_two_historical_records_with_old_and_new_values_and_who(
    project, annotator
):
    article = factories.make_article(project, n_sentences=1)
    segment = article.segments.annotatable().order_by("position")[0]
    first = factories.annotate(segment, annotator, claim="factual")
    factories.annotate(segment, annotator, claim="opinion", frames=("morality",))
    records = list(first.history.order_by("history_id"))
    assert len(records) == 2
    assert [r.values["labels"] for r in records] == [
        {"claim": ["factual"]},
        {"claim": ["opinion"], "frames": ["morality"]},
    ]
    assert [r.history_user for r in records] == [annotator, annotator]
    assert [r.revision for r in records] == [1, 2]
    assert values_changes(records[0].values, records[1].values) == [
        "claim: factual → opinion",
        "frames: – → morality",
    ]


def test_gold_history_names_each_reviewer_who_changed_it(project, reviewer, labelled):
    _article, segment, _users = labelled
    second = factories.member(project, role="reviewer", username="rev2")
    gold = services.adjudicate_segment(
        segment=segment,
        reviewer=reviewer,
        expected_revision=None,
        payload=AnnotationInput(labels={"claim": ("opinion",)}),
    )
    services.adjudicate_segment(
        segment=segment,
        reviewer=second,
        expected_revision=1,
        payload=AnnotationInput(labels={"claim": ("none",)}),
    )
    records = list(gold.history.order_by("history_id"))
    assert [
        (r.history_user, r.annotator_id, r.values["labels"]["claim"]) for r in records
    ] == [(reviewer, reviewer.pk, ["opinion"]), (second, second.pk, ["none"])]


def test_admin_shows_the_label_changes_and_the_history_view(
    admin_client, project, annotator
):
    article = factories.make_article(project, n_sentences=1)
    segment = article.segments.annotatable().order_by("position")[0]
    annotation = factories.annotate(segment, annotator, claim="factual")
    factories.annotate(segment, annotator, claim="opinion")
    change = admin_client.get(
        reverse("admin:annotations_annotation_change", args=[annotation.pk])
    )
    assert change.status_code == 200
    html = change.content.decode()
    assert "claim: factual → opinion" in html
    assert "claim: – → factual" in html
    history = admin_client.get(
        reverse("admin:annotations_annotation_history", args=[annotation.pk])
    )
    assert history.status_code == 200
    text = history.content.decode()
    assert "claim: factual" in text
    assert "claim: opinion" in text
    assert annotator.username in text


def test_admin_shows_whom_a_gold_was_adjudicated_from(admin_client, reviewer, labelled):
    _article, segment, users = labelled
    gold = services.adjudicate_segment(
        segment=segment,
        reviewer=reviewer,
        expected_revision=None,
        payload=AnnotationInput(labels={"claim": ("opinion",)}),
    )
    html = admin_client.get(
        reverse("admin:annotations_annotation_change", args=[gold.pk])
    ).content.decode()
    for user in users:
        assert f"{user.username} (#" in html
    assert "reviewer" in html
