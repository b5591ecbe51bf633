"""The annotate screen and its endpoints: access, blind annotation, plain-form posts,
JSON answers for annotate.js (saved / 422 refused / 409 conflict), query counts."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotations.models import Annotation, Segment, Source
from annotations.services import AnnotationInput, AttributionInput, save_annotation
from tests import factories

JSON = {"HTTP_ACCEPT": "application/json"}
SECRET = "Geheimquelle Zwei"


@pytest.fixture
def article(project):
    return factories.make_article(project, n_sentences=4)


@pytest.fixture
def other(project):
    return factories.member(project, role="annotator", username="annotator2")


def _sentence(article, n: int = 0) -> Segment:
    return article.segments.filter(kind="sentence").select_related("article__project")[
        n
    ]


def page_url(article, position: int | None = None) -> str:
    if position is None:
        return reverse("annotations:annotate", args=[article.pk])
    return reverse("annotations:annotate_segment", args=[article.pk, position])


def save_url(article, position: int) -> str:
    return reverse("annotations:save_annotation", args=[article.pk, position])


def _checked(html: str) -> list[str]:
    return re.findall(r'name="([^"]+)" value="([^"]*)"[^>]*\schecked', html)


# --------------------------------------------------------------------- access


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login(client, article, method):
    url = page_url(article) if method == "get" else save_url(article, 2)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Annotation.objects.count() == 0


def test_article_of_another_project_answers_404(client, annotator, scheme):
    foreign = factories.make_article(factories.ProjectFactory(scheme=scheme))
    client.force_login(annotator)
    assert client.get(page_url(foreign)).status_code == 404
    assert client.get(page_url(foreign, 2)).status_code == 404
    response = client.post(save_url(foreign, 2), {"dim-claim": "opinion"}, **JSON)
    assert response.status_code == 404
    sources = reverse("annotations:source_suggestions", args=[foreign.pk])
    assert client.get(sources).status_code == 404
    assert Annotation.objects.count() == 0


def test_segment_query_parameter_opens_that_segment(client, annotator, article):
    client.force_login(annotator)
    response = client.get(page_url(article) + "?segment=3")
    assert response.context["segment"].position == 3
    assert 'data-position="3"' in response.content.decode()


def test_unknown_segment_answers_404(client, annotator, article):
    client.force_login(annotator)
    assert client.get(page_url(article, 999)).status_code == 404
    assert client.get(page_url(article) + "?segment=abc").status_code == 404
    assert (
        client.post(save_url(article, 999), {"dim-claim": "opinion"}).status_code == 404
    )


# --------------------------------------------------------------------- the page


def test_page_shows_title_byline_segment_and_every_key(client, annotator, article):
    client.force_login(annotator)
    response = client.get(page_url(article, 2))
    html = response.content.decode()
    assert response.status_code == 200
    assert article.title in html
    assert 'id="current-segment"' in html
    assert _sentence(article).text in html
    for key in "1234" + "ermglocshqiupxz" + "567890":
        assert f"<kbd>{key}</kbd>" in html, key
    assert 'data-key="a"' in html  # stance polarity
    assert 'title="A verifiable statement of fact that the public' in html
    # CSP: no inline script or style anywhere.
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert " style=" not in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_page_without_position_opens_my_first_open_segment(client, annotator, article):
    title = article.segments.get(position=0)
    save_annotation(
        segment=title,
        annotator=annotator,
        payload=AnnotationInput(labels={"claim": ("none",)}),
        expected_revision=None,
    )
    client.force_login(annotator)
    response = client.get(page_url(article))
    assert response.context["segment"].position == 1


def test_htmx_request_gets_only_the_partial(client, annotator, article):
    client.force_login(annotator)
    response = client.get(page_url(article, 3), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="annotate-root"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_boilerplate_segment_is_shown_without_a_form(client, annotator, article):
    segment = article.segments.last()
    Segment.objects.filter(pk=segment.pk).update(kind="boilerplate")
    client.force_login(annotator)
    html = client.get(page_url(article, segment.position)).content.decode()
    assert 'id="annotate-form"' not in html
    assert "boilerplate" in html


# --------------------------------------------------------------------- blind


def test_annotator_never_sees_another_annotators_labels(
    client, annotator, other, article
):
    sentence = _sentence(article)
    save_annotation(
        segment=sentence,
        annotator=other,
        payload=AnnotationInput(
            labels={"claim": ("checkworthy",), "frames": ("legality",)},
            attributions=(AttributionInput(source_text=SECRET),),
            comment="nur fuer mich",
            unsure=True,
        ),
        expected_revision=None,
    )
    client.force_login(annotator)
    for response in (
        client.get(page_url(article, sentence.position)),
        client.get(page_url(article, sentence.position), HTTP_HX_REQUEST="true"),
        client.get(page_url(article)),
    ):
        html = response.content.decode()
        assert SECRET not in html
        assert "nur fuer mich" not in html
        assert _checked(html) == []
        assert "state-unsure" not in html.split('class="legend"')[0]
        assert "state-labelled" not in html.split('class="legend"')[0]
    suggestions = client.get(
        reverse("annotations:source_suggestions", args=[article.pk]), {"q": "geheim"}
    )
    assert suggestions.json() == {"names": []}
    # My own save answers with my progress only (1), not the team's.
    response = client.post(
        save_url(article, sentence.position),
        {"dim-claim": "opinion", "go": "stay"},
        **JSON,
    )
    body = response.content.decode()
    assert response.json()["article_done"] == 1
    assert SECRET not in body
    assert "checkworthy" not in body
    # annotator2's conflict answers never reach annotator1 either: their rows differ.
    assert Annotation.objects.get(annotator=other).values["labels"]["claim"] == [
        "checkworthy"
    ]


def test_my_own_source_is_suggested(client, annotator, article):
    save_annotation(
        segment=_sentence(article),
        annotator=annotator,
        payload=AnnotationInput(
            labels={"claim": ("opinion",)},
            attributions=(AttributionInput(source_text="Maria Sacharowa"),),
        ),
        expected_revision=None,
    )
    Source.objects.filter(name="Maria Sacharowa").update(aliases=["Sakharova"])
    client.force_login(annotator)
    url = reverse("annotations:source_suggestions", args=[article.pk])
    assert client.get(url, {"q": "sach"}).json() == {"names": ["Maria Sacharowa"]}
    assert client.get(url, {"q": "sakh"}).json() == {"names": ["Sakharova"]}


# --------------------------------------------------------------------- saving


def _form(**extra) -> dict:
    return {"dim-claim": "opinion", "attr-count": "1", **extra}


def test_plain_form_post_without_javascript_saves_and_goes_to_next_open(
    client, annotator, article
):
    sentence = _sentence(article)
    client.force_login(annotator)
    response = client.post(
        save_url(article, sentence.position),
        _form(
            **{
                "dim-frames": ["political", "economic"],
                "primary-frames": "economic",
                "stance-russia": "against",
                "holder-russia": "0",
                "stance-nato": "",
                "attr-0-source": "Dmitri Peskow",
                "attr-0-source_type": "person",
                "attr-0-form": "indirect",
                "attr-0-cue": "sagte",
                "attr-0-source_start": "0",
                "attr-0-source_end": "4",
                "attr-0-cue_spans": "5-9, 10-12",
                "unsure": "on",
                "comment": "Kommentar",
                "time_spent_ms": "4200",
                "go": "next",
            }
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == page_url(article, sentence.position + 1)
    annotation = Annotation.objects.get()
    assert annotation.values["labels"] == {
        "claim": ["opinion"],
        "frames": ["political", "economic"],
    }
    assert annotation.values["primary"] == {"frames": "economic"}
    assert annotation.values["stances"] == [
        {"target": "russia", "polarity": "against", "holder": 0}
    ]
    attribution = annotation.values["attributions"][0]
    assert attribution["source_span"] == [0, 4]
    assert attribution["cue_spans"] == [[5, 9], [10, 12]]
    assert annotation.unsure is True
    assert annotation.time_spent_ms == 4200
    # The page shows it again, ticked, with the revision for the next save.
    html = client.get(page_url(article, sentence.position)).content.decode()
    assert ("dim-frames", "economic") in _checked(html)
    assert ("primary-frames", "economic") in _checked(html)
    assert ("stance-russia", "against") in _checked(html)
    assert 'name="revision" value="1"' in html
    assert 'value="Dmitri Peskow"' in html


def test_plain_form_post_with_stay_returns_to_the_same_segment(
    client, annotator, article
):
    sentence = _sentence(article)
    client.force_login(annotator)
    response = client.post(save_url(article, sentence.position), _form(go="stay"))
    assert response["Location"] == page_url(article, sentence.position)


def test_time_spent_adds_up_across_saves(client, annotator, article):
    sentence = _sentence(article)
    client.force_login(annotator)
    client.post(
        save_url(article, sentence.position), _form(time_spent_ms="1000"), **JSON
    )
    client.post(
        save_url(article, sentence.position),
        _form(time_spent_ms="500", revision="1"),
        **JSON,
    )
    assert Annotation.objects.get().time_spent_ms == 1500


def test_json_save_answers_state_progress_and_next(client, annotator, article):
    sentence = _sentence(article)
    client.force_login(annotator)
    response = client.post(
        save_url(article, sentence.position), _form(unsure="1"), **JSON
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "saved"
    assert body["revision"] == 1
    assert body["state"] == "unsure"
    assert body["article_done"] == 1
    assert body["article_total"] == article.annotatable_count
    assert body["next_url"] == page_url(article, sentence.position + 1)


def test_next_open_segment_wraps_round_to_the_first_open_one(
    client, annotator, article
):
    last = article.segments.last()
    client.force_login(annotator)
    response = client.post(save_url(article, last.position), _form(), **JSON)
    assert response.json()["next_url"] == page_url(article, 0)


def test_last_open_segment_leads_to_continue(client, annotator, article):
    client.force_login(annotator)
    segments = list(article.segments.all())
    for segment in segments[:-1]:
        save_annotation(
            segment=segment,
            annotator=annotator,
            payload=AnnotationInput(labels={"claim": ("none",)}),
            expected_revision=None,
        )
    response = client.post(save_url(article, segments[-1].position), _form(), **JSON)
    assert response.json()["article_complete"] is True
    assert response.json()["next_url"] == reverse("annotations:continue")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dim-claim": "bogus"}, "unknown or inactive"),
        ({"dim-frames": "political"}, "Claim is required"),
        (_form(**{"stance-mars": "favor"}), "stance target"),
        (
            _form(
                **{
                    "attr-0-source": "A",
                    "attr-0-source_start": "x",
                    "attr-0-source_end": "3",
                }
            ),
            "start-end",
        ),
        (_form(**{"attr-0-source": "A", "attr-0-cue_spans": "1to3"}), "start-end"),
        (_form(**{"stance-nato": "favor", "holder-nato": "first"}), "holder"),
        (_form(**{"stance-nato": "favor", "holder-nato": "3"}), "not an attribution"),
        (_form(**{"attr-count": "5000"}), "attr-count"),
        (_form(revision="abc"), "revision"),
        (_form(comment="x" * 5001), "comment"),
        (_form(**{"attr-0-source": "y" * 201}), "limited to 200"),
    ],
)
def test_refused_input_answers_422_with_messages_and_stores_nothing(
    client, annotator, article, data, message
):
    sentence = _sentence(article)
    client.force_login(annotator)
    response = client.post(save_url(article, sentence.position), data, **JSON)
    assert response.status_code == 422
    assert response.json()["status"] == "refused"
    assert any(message in error for error in response.json()["errors"]), response.json()
    assert Annotation.objects.count() == 0
    assert Source.objects.count() == 0


def test_refused_plain_post_rerenders_the_form_with_errors_and_my_input(
    client, annotator, article
):
    sentence = _sentence(article)
    client.force_login(annotator)
    response = client.post(
        save_url(article, sentence.position),
        {
            "dim-claim": "bogus",
            "dim-frames": "political",
            "attr-count": "1",
            "attr-0-source": "Meine Quelle",
        },
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "Not saved" in html
    assert "unknown or inactive Claim label" in html
    assert ("dim-frames", "political") in _checked(html)
    assert 'value="Meine Quelle"' in html
    assert Annotation.objects.count() == 0


def test_stale_save_answers_409_with_both_versions(client, annotator, article):
    sentence = _sentence(article)
    client.force_login(annotator)
    client.post(save_url(article, sentence.position), _form(), **JSON)
    # Another tab saved revision 2 meanwhile.
    client.post(
        save_url(article, sentence.position),
        {"dim-claim": "factual", "revision": "1"},
        **JSON,
    )
    response = client.post(
        save_url(article, sentence.position),
        {"dim-claim": "none", "revision": "1"},
        **JSON,
    )
    assert response.status_code == 409
    body = response.json()
    assert body["status"] == "conflict"
    assert body["mine"]["labels"] == {"claim": ["none"]}
    assert body["stored"]["labels"] == {"claim": ["factual"]}
    assert body["stored_revision"] == 2
    assert "changed elsewhere" in body["message"]
    assert Annotation.objects.get().values["labels"] == {"claim": ["factual"]}
    # "Keep mine": resubmit against the stored revision.
    response = client.post(
        save_url(article, sentence.position),
        {"dim-claim": "none", "revision": "2"},
        **JSON,
    )
    assert response.status_code == 200
    assert Annotation.objects.get().values["labels"] == {"claim": ["none"]}


def test_first_save_from_a_second_tab_is_a_conflict(client, annotator, article):
    sentence = _sentence(article)
    client.force_login(annotator)
    client.post(save_url(article, sentence.position), _form(), **JSON)
    response = client.post(
        save_url(article, sentence.position), {"dim-claim": "factual"}, **JSON
    )
    assert response.status_code == 409
    assert response.json()["stored"]["labels"] == {"claim": ["opinion"]}


def test_stale_plain_post_shows_both_versions_and_offers_keep_mine(
    client, annotator, article
):
    sentence = _sentence(article)
    client.force_login(annotator)
    client.post(save_url(article, sentence.position), _form(), **JSON)
    client.post(
        save_url(article, sentence.position),
        {"dim-claim": "factual", "revision": "1"},
        **JSON,
    )
    response = client.post(
        save_url(article, sentence.position), {"dim-claim": "none", "revision": "1"}
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "changed elsewhere" in html
    assert "&#x27;factual&#x27;" in html
    assert "&#x27;none&#x27;" in html
    # The form now carries my labels and the stored revision: Save keeps mine.
    assert ("dim-claim", "none") in _checked(html)
    assert 'name="revision" value="2"' in html


def test_get_on_save_url_is_refused(client, annotator, article):
    client.force_login(annotator)
    assert client.get(save_url(article, 2)).status_code == 405


# --------------------------------------------------------------------- speed


@pytest.mark.parametrize("n_sentences", [1, 60])
def test_annotate_page_runs_a_fixed_number_of_queries(
    client,
    annotator,
    project,
    n_sentences,
    django_assert_max_num_queries,
    django_assert_num_queries,
):
    article = factories.make_article(project, n_sentences=n_sentences)
    for segment in article.segments.all():
        save_annotation(
            segment=segment,
            annotator=annotator,
            payload=AnnotationInput(labels={"claim": ("opinion",)}),
            expected_revision=None,
        )
    client.force_login(annotator)
    # The first view of an article computes and stores its text aids: the
    # text, then a savepoint around the upsert (4 queries more).
    with django_assert_max_num_queries(10):
        response = client.get(page_url(article, 2))
    assert response.status_code == 200
    # 6: session, user, the article (with project, role, progress, the nav's
    # team role and the stored text aids), segments, my annotations, my and the
    # curated sources; the scheme index is this process's since the first view,
    # no imported suggestions to read. The same at 1 and 60 sentences.
    with django_assert_num_queries(6):
        response = client.get(page_url(article, 2))
    assert response.status_code == 200
    with django_assert_num_queries(6):
        client.get(page_url(article, 2), HTTP_HX_REQUEST="true")


@pytest.mark.parametrize("n_sentences", [1, 60])
def test_save_runs_a_fixed_number_of_queries(
    client, annotator, project, n_sentences, django_assert_num_queries
):
    article = factories.make_article(project, n_sentences=n_sentences)
    client.force_login(annotator)
    labels = _form(**{"dim-frames": ["political", "economic"]})
    full = {
        **labels,
        "primary-frames": "political",
        "stance-russia": "against",
        "stance-nato": "favor",
        "holder-nato": "0",
        "attr-0-source": "Dmitri Peskow",
        "attr-0-source_type": "person",
    }
    # The first save loads the scheme index (3 queries) and adds the new name to
    # my sources (a savepoint around its INSERT).
    assert client.post(save_url(article, 0), full, **JSON).status_code == 200

    # Labels only, what most saves are. 12: session, user, the segment (with
    # article, project, my role and my progress), savepoint, the lock (which
    # also says what rows the annotation has), my progress counter (created) or
    # the old labels (replaced), the annotation, its history row, its labels,
    # its export cells, release, my open segments of the article (the answer).
    with django_assert_num_queries(12):
        response = client.post(save_url(article, 1), labels, **JSON)
    assert response.json()["revision"] == 1
    with django_assert_num_queries(12):
        response = client.post(
            save_url(article, 1), {**labels, "revision": "1"}, **JSON
        )
    assert response.json()["revision"] == 2
    # annotate.js's background queue needs no open segments: 11.
    with django_assert_num_queries(11):
        response = client.post(
            save_url(article, 1), {**labels, "revision": "2", "go": "queue"}, **JSON
        )
    assert response.json()["revision"] == 3

    # With a source and stances: my sources (2: match, lock) and the attribution
    # and stance rows (2), 16; replacing them deletes the old ones first (2), 18.
    with django_assert_num_queries(16):
        response = client.post(save_url(article, 2), full, **JSON)
    assert response.json()["revision"] == 1
    with django_assert_num_queries(18):
        response = client.post(save_url(article, 2), {**full, "revision": "1"}, **JSON)
    assert response.json()["revision"] == 2
