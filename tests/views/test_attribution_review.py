"""Attributions end to end through the database: the review screen shows every
annotator's sources side by side and counts their differences as disagreements;
the gold editor's POST contract (combine, edit, delete, refuse); the agreement
page's attribution and span figures (hand-computed); the segments export; and
the pages' query counts with attributions at two sizes."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from django.urls import reverse

from annotations import review, services
from annotations.export.queries import ExportOptions, export_chunks
from annotations.models import Annotation
from annotations.scheme import SchemeIndex
from annotations.services import AnnotationInput, AttributionInput, StanceInput
from annotations.snapshot import (
    ATTRIBUTION_FORM,
    ATTRIBUTION_PRESENCE,
    ATTRIBUTION_SOURCE,
    ATTRIBUTION_TYPE,
)
from tests import factories


def source(
    name,
    source_type="person",
    form="indirect",
    cue="sagte",
    span=None,
    cue_spans=(),
):
    return AttributionInput(
        source_text=name,
        source_type=source_type,
        form=form,
        cue_text=cue,
        source_span=span,
        cue_spans=tuple(cue_spans),
    )


def give(segment, user, *attributions, claim="factual", stances=()):
    """Save ``user``'s annotation of ``segment`` with these attributions."""
    current = Annotation.objects.filter(
        segment=segment, annotator=user, is_gold=False
    ).first()
    return services.save_annotation(
        segment=segment,
        annotator=user,
        expected_revision=current.revision if current else None,
        payload=AnnotationInput(
            labels={"claim": (claim,)},
            attributions=tuple(attributions),
            stances=tuple(stances),
        ),
    )


def sentences(article):
    return list(article.segments.filter(kind="sentence").order_by("position"))


def review_item(article, segment):
    index = SchemeIndex.for_project(article.project)
    (item,) = review.review_segments(article, index=index, segment_ids=[segment.pk])
    return item


def section(html: str, segment_pk: int) -> str:
    match = re.search(
        rf'<section [^>]*id="seg-{segment_pk}".*?</section>', html, flags=re.S
    )
    assert match, f"segment {segment_pk} not on the page"
    return match.group(0)


@pytest.fixture
def form_split(project):
    """The issue's case: anna and bert give the same source (Peskow, a person,
    cue "sagte") with forms indirect / direct, and agree on everything else."""
    article = factories.make_article(project, n_sentences=3)
    segments = [None, *sentences(article)]  # segments[1]: the first sentence
    anna = factories.member(project, username="anna")
    bert = factories.member(project, username="bert")
    give(segments[1], anna, source("Peskow", span=(0, 4)))
    give(segments[1], bert, source("Peskow", form="direct", span=(0, 4)))
    return article, segments, anna, bert


# ---------------------------------------------------------------------------
# Review screen
# ---------------------------------------------------------------------------


def test_a_form_disagreement_on_one_source_is_shown_and_counted(
    client, reviewer, form_split
):
    article, segments, _anna, _bert = form_split
    item = review_item(article, segments[1])
    (comparison,) = item.attributions
    assert (comparison.name, comparison.votes, comparison.n) == ("Peskow", 2, 2)
    assert comparison.disagree
    assert item.disagree  # the claims agree: the source's form alone
    assert all(group.disagree is False for group in item.groups)
    columns = [key for key, _heading, _counted in review.ATTRIBUTION_FIELDS]
    for line in comparison.lines:
        css = dict(zip(columns, (cell.css for cell in line.cells), strict=True))
        assert css["form"] == "differs"
        assert css["source_type"] == css["cue_text"] == css["source_span"] == ""
    assert [cell.text for cell in comparison.lines[0].cells][:6] == [
        "Peskow",
        "Peskow",
        "Person",
        "Indirect",
        "sagte",
        "„Satz“ 0–4",
    ]
    client.force_login(reviewer)
    response = client.get(reverse("annotations:review", args=[article.pk]))
    html = response.content.decode()
    part = section(html, segments[1].pk)
    assert 'class="review-seg disagree' in part
    assert "review-attributions" in part
    assert part.count('<td class="differs">') == 2  # the two forms
    assert "style=" not in html
    assert response.context["n_disagree"] == 1


def test_presence_and_another_source_are_disagreements_spans_are_not(
    project, client, manager
):
    article = factories.make_article(project, n_sentences=4)
    segments = [None, *sentences(article)]
    anna = factories.member(project, username="anna")
    bert = factories.member(project, username="bert")
    # 1: only anna gives a source; 2: Peskow vs Kreml; 3: same source, spans
    # differ only; 4: nothing at all.
    give(segments[1], anna, source("Peskow"))
    give(segments[1], bert)
    give(segments[2], anna, source("Peskow"))
    give(segments[2], bert, source("Kreml"))
    give(segments[3], anna, source("Peskow", span=(0, 4)))
    give(segments[3], bert, source("Peskow", span=(0, 5)))
    give(segments[4], anna)
    give(segments[4], bert)
    disagree = [review_item(article, s).disagree for s in segments[1:]]
    assert disagree == [True, True, False, False]
    only_anna = review_item(article, segments[1]).attributions[0]
    assert [line.cells[0].css for line in only_anna.lines] == ["", "absent differs"]
    spans = review_item(article, segments[3]).attributions[0]
    assert spans.lines[0].cells[5].css == "differs-minor"
    assert review.disagreements_per_article(project) == {article.pk: 2}
    client.force_login(manager)
    dashboard = client.get(reverse("annotations:team_dashboard", args=[project.slug]))
    assert dashboard.context["articles"].disagreement_counts == {article.pk: 2}


def test_the_gold_editor_proposes_what_segments_mode_would_export(project):
    """Three annotators: Peskow by all (person by 2, institution by 1; forms
    indirect, indirect, direct; the stance toward Russia held by Peskow by two),
    Kreml by one only (proposed, but left out)."""
    article = factories.make_article(project, n_sentences=2)
    segment = sentences(article)[0]
    users = [factories.member(project, username=n) for n in ("anna", "bert", "cleo")]
    held = (StanceInput(target="russia", polarity="against", holder=0),)
    give(segment, users[0], source("Peskow"), source("Kreml"), stances=held)
    give(segment, users[1], source("Peskow"), stances=held)
    give(segment, users[2], source("Peskow", "institution", "direct"))
    rows = review_item(article, segment).gold_rows
    assert [(r.title, r.votes, r.n, r.deleted) for r in rows[:2]] == [
        ("Peskow", 3, 3, False),
        ("Kreml", 1, 3, True),
    ]
    assert rows[0].values == {
        "source": "Peskow",
        "source_type": "person",
        "form": "indirect",
        "cue": "sagte",
        "source_start": "",
        "source_end": "",
        "cue_spans": "",
        "stances": "russia=against",
    }
    assert [o.key for o in rows[0].options] == ["1", "2", "3"]
    assert [name for name, _key, _shown in rows[0].alternatives] == [
        "source_type",
        "form",
    ]
    assert rows[-1].blank
    assert len(rows) == 3


def test_posting_the_gold_combines_versions_edits_and_leaves_sources_out(
    client, reviewer, form_split
):
    article, segments, anna, bert = form_split
    segment = segments[1]
    client.force_login(reviewer)
    response = client.post(
        reverse("annotations:review_save", args=[article.pk, segment.pk]),
        {
            "dim-claim": "factual",
            "gattr-count": "3",
            # Type from anna, form from bert, the cue edited, spans marked.
            "gattr-0-group": "0",
            "gattr-0-source": "Peskow",
            "gattr-0-source_type": "person",
            "gattr-0-form": "direct",
            "gattr-0-cue": "sagte laut",
            "gattr-0-source_start": "0",
            "gattr-0-source_end": "4",
            "gattr-0-cue_spans": "5-6, 8-9",
            "gattr-0-stances": "russia=against",
            # A source added by the reviewer, then left out.
            "gattr-1-source": "Kreml",
            "gattr-1-source_type": "institution",
            "gattr-1-delete": "on",
            # The blank row.
            "gattr-2-source": "",
        },
    )
    assert response.status_code == 302
    gold = Annotation.objects.gold().get(segment=segment)
    assert gold.values["attributions"] == [
        {
            "source_text": "Peskow",
            "source": "Peskow",
            "source_type": "person",
            "form": "direct",
            "cue_text": "sagte laut",
            "source_span": [0, 4],
            "cue_spans": [[5, 6], [8, 9]],
        }
    ]
    assert gold.values["stances"] == [
        {"target": "russia", "polarity": "against", "holder": 0}
    ]
    assert set(gold.adjudicated_from.all()) == set(
        Annotation.objects.own().filter(segment=segment)
    )
    # The review screen says who adjudicated, from which annotations.
    html = client.get(reverse("annotations:review", args=[article.pk])).content
    part = section(html.decode(), segment.pk)
    assert "by reviewer" in part
    assert "from anna, bert</span>" in part
    assert "(changed since)" not in part
    # anna changes her annotation afterwards: the gold says so.
    give(segment, anna, source("Peskow", form="direct"))
    html = client.get(reverse("annotations:review", args=[article.pk])).content
    part = section(html.decode(), segment.pk)
    assert 'from anna <span class="changed"' in part
    item = review_item(article, segment)
    assert item.gold_from == [("anna", True), ("bert", False)]
    # With a gold, the editor starts from the gold's sources.
    assert item.gold_rows[0].values["cue"] == "sagte laut"
    assert [o.key for o in item.gold_rows[0].options] == ["1", "2", "g"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gattr-0-form", "bogus", "unknown or inactive form label 'bogus'"),
        ("gattr-0-source_type", "robot", "unknown or inactive source type label"),
        ("gattr-0-source_start", "x", "a span is not of the form start-end"),
        ("gattr-0-cue_spans", "5..6", "a span is not of the form start-end"),
        ("gattr-0-stances", "russia", "is not target=polarity"),
        ("gattr-0-stances", "mars=favor", "unknown or inactive stance target"),
        ("gattr-0-source_end", "999", "is outside the segment"),
        ("gattr-count", "99", "at most 20 attributions"),
    ],
)
def test_a_bad_gold_attribution_is_refused_with_422_and_nothing_is_stored(
    client, reviewer, form_split, field, value, message
):
    article, segments, _anna, _bert = form_split
    segment = segments[1]
    client.force_login(reviewer)
    data = {
        "dim-claim": "factual",
        "gattr-count": "1",
        "gattr-0-group": "0",
        "gattr-0-source": "Peskow der Sprecher",
        "gattr-0-source_start": "0",
        "gattr-0-source_end": "4",
        field: value,
    }
    response = client.post(
        reverse("annotations:review_save", args=[article.pk, segment.pk]),
        data,
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    html = unescape(response.content.decode())
    assert message in html
    assert not Annotation.objects.gold().exists()
    if field != "gattr-count":
        # What the reviewer typed is shown again, not the proposal.
        assert 'value="Peskow der Sprecher"' in html


def test_more_than_twenty_gold_attributions_are_refused(client, reviewer, form_split):
    article, segments, _anna, _bert = form_split
    client.force_login(reviewer)
    data = {"dim-claim": "factual", "gattr-count": "21"}
    data.update({f"gattr-{i}-source": f"Quelle {i}" for i in range(21)})
    response = client.post(
        reverse("annotations:review_save", args=[article.pk, segments[1].pk]),
        data,
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "at most 20 attributions" in response.content.decode()
    assert not Annotation.objects.gold().exists()


def test_a_post_without_the_editor_takes_the_sources_of_one_annotation(
    client, reviewer, form_split
):
    """The contract before the editor (``sources``) still holds for plain clients."""
    article, segments, _anna, bert = form_split
    own = Annotation.objects.get(annotator=bert, segment=segments[1])
    client.force_login(reviewer)
    client.post(
        reverse("annotations:review_save", args=[article.pk, segments[1].pk]),
        {"dim-claim": "factual", "sources": str(own.pk)},
    )
    gold = Annotation.objects.gold().get()
    assert [a["form"] for a in gold.values["attributions"]] == ["direct"]


# ---------------------------------------------------------------------------
# Agreement page and the export
# ---------------------------------------------------------------------------


@pytest.fixture
def four_segments(project):
    """Two annotators, four sentences (figures in tests/export/
    test_attribution_export.py, computed by hand there):

    1: both Peskow (person), forms direct / indirect, spans 0..6 / 0..7
    2: a Peskow (person, indirect, no span), b nothing
    3: neither gives an attribution
    4: both Kreml (institution, reported), spans 10..15 / 20..25
    """
    article = factories.make_article(project, n_sentences=4)
    segments = sentences(article)
    a = factories.member(project, username="a")
    b = factories.member(project, username="b")
    give(segments[0], a, source("Peskow", form="direct", span=(0, 6)))
    give(segments[0], b, source("Peskow", span=(0, 7)))
    give(segments[1], a, source("Peskow"))
    give(segments[1], b)
    give(segments[2], a)
    give(segments[2], b)
    kreml = {"source_type": "institution", "form": "reported"}
    give(segments[3], a, source("Kreml", span=(10, 15), **kreml))
    give(segments[3], b, source("Kreml", span=(20, 25), **kreml))
    return article, segments


def test_agreement_page_reports_attribution_and_span_figures(
    client, project, reviewer, four_segments
):
    client.force_login(reviewer)
    response = client.get(reverse("annotations:team_agreement", args=[project.slug]))
    assert response.status_code == 200
    result = response.context["result"]
    figures = {item.spec.key: item.report for item in result.dimensions}
    # Presence: 8/15; sources (where both gave one) and types agree: 1; forms
    # direct/indirect and reported/reported: 0.4.
    assert figures[ATTRIBUTION_PRESENCE].alpha == pytest.approx(8 / 15)
    assert figures[ATTRIBUTION_SOURCE].alpha == 1.0
    assert figures[ATTRIBUTION_SOURCE].distance == "masi"
    assert figures[ATTRIBUTION_TYPE].alpha == 1.0
    assert figures[ATTRIBUTION_FORM].alpha == pytest.approx(0.4)
    assert figures[ATTRIBUTION_FORM].n_items == 2
    spans = {figure.key: figure.report for figure in result.spans}
    pair = spans["spans:source"].pairwise[min(result.coders), max(result.coders)]
    assert (pair.precision, pair.recall, pair.f1) == (0.5, 0.5, 0.5)
    assert spans["spans:cue"].f1 is None
    html = response.content.decode()
    assert "Span agreement" in html
    assert "Attribution: form" in html
    assert "0.400" in html
    assert "Not drawn for the canonical sources" in html
    assert "style=" not in html
    # The form split sends its segment to the most disagreed list.
    listed = {d.segment_id: d.dimensions for d in result.disagreed}
    assert "Attribution: form" in listed[four_segments[1][0].pk]


def test_the_segments_export_keeps_a_source_whose_form_is_split(project, form_split):
    _article, segments, _anna, _bert = form_split
    text = "".join(
        export_chunks(
            project, ExportOptions(mode="segments"), fmt="csv", spreadsheet=False
        )
    )
    rows = {int(row["segment_id"]): row for row in csv.DictReader(io.StringIO(text))}
    row = rows[segments[1].pk]
    assert row["attribution_source"] == "Peskow"
    assert row["attribution_source_type"] == "person"
    assert row["attribution_form"] == ""
    assert row["attribution_agree"] == "2"
    assert row["attribution_form_agree"] == "0"
    assert row["attribution_source_type_agree"] == "2"


# ---------------------------------------------------------------------------
# Query counts with attributions, at two sizes
# ---------------------------------------------------------------------------


def build_with_sources(project, *, n_sentences: int, n_annotators: int, reviewer):
    """Every annotatable segment labelled by every annotator with one or two
    sources (forms differing by annotator); every other segment has a gold
    (the first has none)."""
    article = factories.make_article(project, n_sentences=n_sentences)
    users = [factories.member(project, username=f"u{i}") for i in range(n_annotators)]
    forms = ["direct", "indirect", "reported"]
    for position, segment in enumerate(article.segments.annotatable()):
        for i, user in enumerate(users):
            sources = [source("Peskow", form=forms[i % 3], span=(0, 4))]
            if i % 2:
                sources.append(source("Kreml", "institution", cue="laut"))
            give(
                segment,
                user,
                *sources,
                stances=(StanceInput(target="nato", polarity="favor", holder=0),),
            )
        if position % 2:
            services.adjudicate_segment(
                segment=segment,
                reviewer=reviewer,
                expected_revision=None,
                payload=AnnotationInput(
                    labels={"claim": ("factual",)},
                    # Gold names become curated sources: both names are on the
                    # curated list before the timed saves below.
                    attributions=(source("Peskow"), source("Kreml", "institution")),
                ),
            )
    return article


@pytest.mark.parametrize(("n_sentences", "n_annotators"), [(1, 2), (62, 5)])
def test_pages_with_attributions_need_the_same_queries_at_any_size(
    client,
    project,
    manager,
    reviewer,
    django_assert_max_num_queries,
    django_assert_num_queries,
    n_sentences,
    n_annotators,
):
    article = build_with_sources(
        project, n_sentences=n_sentences, n_annotators=n_annotators, reviewer=reviewer
    )
    client.force_login(manager)
    # As pinned in tests/views/test_team_views.py, unchanged by the attributions,
    # less the scheme index (3): this process keeps it since the saves above.
    with django_assert_num_queries(7):
        response = client.get(reverse("annotations:review", args=[article.pk]))
    assert "review-attributions" in response.content.decode()
    url = reverse("annotations:team_agreement", args=[project.slug])
    with django_assert_max_num_queries(10):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(6):  # cached, and the scheme index kept
        assert client.get(url).status_code == 200
    # The first annotatable segment has no gold at either size (build_with_sources).
    segment = article.segments.annotatable().order_by("position").first()
    form = reverse("annotations:review_segment", args=[article.pk, segment.pk])
    with django_assert_max_num_queries(10):
        response = client.get(form, headers={"HX-Request": "true"})
    assert 'name="gattr-count"' in response.content.decode()
    save = reverse("annotations:review_save", args=[article.pk, segment.pk])
    post = {
        "dim-claim": "opinion",
        "gattr-count": "2",
        "gattr-0-source": "Peskow",
        "gattr-0-form": "direct",
        "gattr-1-source": "Kreml",
    }
    # A first gold with sources already on the curated list: the 24 of a gold
    # without sources (test_team_views) and 3: the source list read, the matched
    # sources locked (services._canonical_sources), the attribution rows
    # inserted (a name new to the list costs its get_or_create on top); less
    # the scheme index (3), which this process keeps since the saves above.
    with django_assert_num_queries(24):
        response = client.post(save, post, headers={"HX-Request": "true"})
    assert response.status_code == 200
    # Saving over it: 25, as it also deletes the old rows it has (the
    # attributions, the labels; no stances) and updates the annotation instead
    # of inserting it (no new adjudicated_from links).
    with django_assert_num_queries(25):
        response = client.post(
            save, {**post, "revision": "1"}, headers={"HX-Request": "true"}
        )
    assert response.status_code == 200
    saved = Annotation.objects.gold().get(segment=segment)
    assert [a["source"] for a in saved.values["attributions"]] == ["Peskow", "Kreml"]
