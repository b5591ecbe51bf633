"""The Export page, its streamed download, the codebook and the admin action."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotations import services
from annotations.export.writers import BOM
from annotations.models import Annotation, Article
from tests import factories
from tests.browser import login, screenshot
from tests.export.test_round_trips import annotate, export_queries, hostile_corpus

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.fixture
def corpus(project, annotator):
    second = factories.member(project, role="annotator", username="annotator2")
    return hostile_corpus(project, [annotator, second])


def download(client, project, **params):
    url = reverse("annotations:export_download", args=[project.slug])
    return client.get(url, {"mode": "annotations", "format": "csv", **params})


def body(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode("utf-8")


def test_page_shows_the_form_to_a_reviewer(client, project, reviewer, corpus):
    client.force_login(reviewer)
    response = client.get(reverse("annotations:export"))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="mode"' in content
    assert 'name="annotators"' in content
    assert "Download codebook" in content


def test_page_shows_the_project_scope_and_each_annotators_count(
    client, project, reviewer, annotator, corpus
):
    gold_segment = corpus.segments.annotatable().order_by("position")[0]
    annotate(gold_segment, reviewer, claim="opinion", is_gold=True)
    client.force_login(reviewer)
    page = client.get(reverse("annotations:export")).content.decode()
    labelled = corpus.segments.annotatable().count()
    # Both annotators labelled every annotatable segment; the reviewer none.
    assert f"annotator1 · {labelled} annotations" in page
    assert f"annotator2 · {labelled} annotations" in page
    assert "reviewer · 0 annotations" in page
    scope = dict(re.findall(r"<dt>([^<]+)</dt><dd class=\"num\">(\d+)</dd>", page))
    assert scope == {
        "Articles": "1",
        "Segments": str(corpus.segment_count),
        "To label (not boilerplate)": str(corpus.annotatable_count),
        "Annotations": str(2 * labelled),
        "Adjudicated segments": "1",
    }
    assert f"--project {project.slug}" in page


def test_an_annotator_sees_only_their_own_count(client, project, annotator, corpus):
    client.force_login(annotator)
    page = client.get(reverse("annotations:export")).content.decode()
    scope = dict(re.findall(r"<dt>([^<]+)</dt><dd class=\"num\">(\d+)</dd>", page))
    assert scope["Your annotations"] == str(corpus.segments.annotatable().count())
    assert "Annotations" not in scope
    assert "annotator2" not in page
    assert "manage.py export_annotations" not in page


def test_page_query_count_does_not_grow_with_the_corpus(
    client, project, reviewer, annotator, django_assert_max_num_queries
):
    client.force_login(reviewer)
    url = reverse("annotations:export")
    small = factories.make_article(project, n_sentences=1, title="Klein")
    annotate(small.segments.annotatable()[0], annotator)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(3):
        big = factories.make_article(project, n_sentences=40, title=f"Groß {n}")
        for segment in big.segments.annotatable():
            annotate(segment, annotator)
        factories.member(project, username=f"helfer{n}")
    with django_assert_max_num_queries(10), CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


def test_page_needs_login(client, project):
    response = client.get(reverse("annotations:export"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_download_streams_a_dated_csv_that_pandas_loads(
    client, project, reviewer, corpus
):
    client.force_login(reviewer)
    response = download(client, project)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="{project.slug}_annotations_')
    assert disposition.endswith('.csv"')
    text = body(response)
    assert text.startswith(BOM)
    frame = pd.read_csv(io.BytesIO(text.encode("utf-8")))
    assert len(frame) == Annotation.objects.own().count()
    assert set(frame["annotator"]) == {"annotator1", "annotator2"}


def test_raw_csv_and_jsonl_are_not_neutralised(client, project, reviewer, corpus):
    client.force_login(reviewer)
    raw = body(download(client, project, format="csv-raw"))
    assert not raw.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert rows[0]["text"].startswith("=HYPERLINK(")
    response = download(client, project, format="jsonl")
    assert response["Content-Type"].startswith("application/x-ndjson")
    first = json.loads(body(response).splitlines()[0])
    assert first["text"].startswith("=HYPERLINK(")


def test_segments_mode_and_filters(client, project, manager, corpus):
    other = factories.make_article(project, n_sentences=3, title="Anderes")
    other.outlet = "Zeitung"
    other.save()
    for segment in other.segments.annotatable():
        annotate(segment, manager)
    client.force_login(manager)
    rows = list(
        csv.DictReader(
            io.StringIO(
                body(
                    download(
                        client,
                        project,
                        mode="segments",
                        format="csv-raw",
                        outlet="Zeitung",
                        include_unlabelled="on",
                    )
                ),
                newline="",
            )
        )
    )
    assert {row["article_id"] for row in rows} == {str(other.pk)}
    assert len(rows) == other.segment_count


def test_annotator_gets_only_their_own_annotations(client, project, annotator, corpus):
    client.force_login(annotator)
    page = client.get(reverse("annotations:export"), {"project": project.slug})
    assert page.status_code == 200
    assert 'name="annotators"' not in page.content.decode()
    rows = list(
        csv.DictReader(
            io.StringIO(body(download(client, project, format="csv-raw")), newline="")
        )
    )
    assert rows
    assert {row["annotator"] for row in rows} == {"annotator1"}


@pytest.mark.parametrize(
    "params",
    [
        {"annotators": "annotator2"},
        {"annotators": ["annotator1", "annotator2"]},
        {"mode": "segments"},
    ],
)
def test_annotator_cannot_export_other_peoples_labels(
    client, project, annotator, corpus, params
):
    client.force_login(annotator)
    assert download(client, project, **params).status_code == 403
    url = reverse("annotations:export_codebook", args=[project.slug])
    query = {"mode": "annotations", "format": "csv", **params}
    assert client.get(url, query).status_code == 403


def test_non_member_gets_404_everywhere(client, project, corpus):
    stranger = factories.UserFactory(username="stranger")
    client.force_login(stranger)
    assert download(client, project).status_code == 404
    url = reverse("annotations:export_codebook", args=[project.slug])
    assert client.get(url, {"mode": "annotations", "format": "csv"}).status_code == 404
    page = client.get(reverse("annotations:export"), {"project": project.slug})
    assert page.status_code == 404


def test_bad_choice_rerenders_the_form_with_errors(client, project, reviewer):
    client.force_login(reviewer)
    response = download(client, project, format="xlsx")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    response = download(
        client, project, published_from="2025-05-02", published_to="2025-05-01"
    )
    assert response.status_code == 400


def test_codebook_download_for_a_reviewer_has_agreement(
    client, project, reviewer, corpus
):
    client.force_login(reviewer)
    url = reverse("annotations:export_codebook", args=[project.slug])
    response = client.get(
        url, {"mode": "annotations", "format": "csv", "codebook": "md"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    text = response.content.decode()
    assert "| `checkworthy`" in text
    assert "Cohen's kappa" in text
    response = client.get(
        url, {"mode": "annotations", "format": "csv", "codebook": "json"}
    )
    assert json.loads(response.content)["agreement"]["claim"]["n_coders"] == 2


def test_codebook_for_an_annotator_has_no_agreement(client, project, annotator, corpus):
    client.force_login(annotator)
    url = reverse("annotations:export_codebook", args=[project.slug])
    data = json.loads(
        client.get(
            url, {"mode": "annotations", "format": "csv", "codebook": "json"}
        ).content
    )
    assert data["agreement"] is None
    claim = next(d for d in data["dimensions"] if d["code"] == "claim")
    mine = Annotation.objects.own().filter(annotator=annotator).count()
    assert sum(label["count"] for label in claim["labels"]) == mine


def test_download_query_count_does_not_grow_with_rows(
    client, project, reviewer, annotator, django_assert_max_num_queries
):
    client.force_login(reviewer)
    small = factories.make_article(project, n_sentences=1, title="Klein")
    for segment in small.segments.annotatable():
        annotate(segment, annotator)
    with django_assert_max_num_queries(export_queries(12)):
        small_text = body(download(client, project))
    big = factories.make_article(project, n_sentences=60, title="Groß")
    for segment in big.segments.annotatable():
        annotate(segment, annotator)
    with django_assert_max_num_queries(export_queries(12)):
        big_text = body(download(client, project))
    assert big_text.count("\r\n") > small_text.count("\r\n") + 60


def test_admin_action_streams_the_selected_articles(admin_client, project, corpus):
    other = factories.make_article(project, n_sentences=2, title="Nicht gewählt")
    response = admin_client.post(
        reverse("admin:annotations_article_changelist"),
        {"action": "export_csv", "_selected_action": [corpus.pk]},
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(body(response).lstrip(BOM), newline="")))
    assert rows
    assert {row["article_id"] for row in rows} == {str(corpus.pk)}
    assert str(other.pk) not in {row["article_id"] for row in rows}


def test_admin_actions_export_jsonl_and_segments(admin_client, project, corpus):
    factories.make_article(project, n_sentences=2, title="Nicht gewählt")
    url = reverse("admin:annotations_article_changelist")
    jsonl = admin_client.post(
        url, {"action": "export_jsonl", "_selected_action": [corpus.pk]}
    )
    assert jsonl["Content-Type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in body(jsonl).splitlines()]
    assert len(records) == Annotation.objects.own().filter(article=corpus).count()
    assert {record["article_id"] for record in records} == {corpus.pk}
    segments = admin_client.post(
        url, {"action": "export_segments_csv", "_selected_action": [corpus.pk]}
    )
    assert "_segments_" in segments["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body(segments).lstrip(BOM), newline="")))
    assert len(rows) == corpus.segments.annotatable().count()
    assert {row["label_source"] for row in rows} == {"majority"}
    assert {row["n_annotators"] for row in rows} == {"2"}


def test_admin_action_refuses_articles_of_two_projects(admin_client, project, corpus):
    elsewhere = factories.make_article(
        factories.ProjectFactory(), n_sentences=2, title="Anderswo"
    )
    response = admin_client.post(
        reverse("admin:annotations_article_changelist"),
        {"action": "export_csv", "_selected_action": [corpus.pk, elsewhere.pk]},
        follow=True,
    )
    assert "Select articles of one project" in response.content.decode()


@pytest.mark.browser
def test_reviewer_downloads_the_seed_corpus_and_rebuilds_every_article(
    browser_page, live_server, transactional_db, tmp_path
):
    project = services.ensure_seed_project()
    articles = []
    for path in sorted(SEEDS.glob("*.txt")):
        result = services.import_path(project=project, path=path)
        assert result.ok, result.error
        articles.append(Article.objects.get(pk=result.article_ids[0]))
    annotator = factories.member(project, role="annotator", username="annotator1")
    factories.member(project, role="reviewer", username="reviewer")
    for segment in articles[0].segments.annotatable().order_by("position")[:5]:
        annotate(segment, annotator, comment="=1+1")
    page = browser_page
    login(page, live_server, "reviewer")
    page.click("nav a:text('Export')")
    page.wait_for_selector("form.export-form")
    page.check("input[name=mode][value=segments]")
    page.check("input[name=format][value=csv-raw]")
    page.check("#id_include_unlabelled")
    screenshot(page, "export-page")
    with page.expect_download() as started:
        page.click("button:text('Download export')")
    download = started.value
    assert download.suggested_filename.startswith(f"{project.slug}_segments_")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert pd.read_csv(target).shape[0] == sum(a.segment_count for a in articles)
    frame = pd.read_csv(target, dtype=str, keep_default_na=False)
    for article in articles:
        rows = frame[frame["article_id"] == str(article.pk)]
        assert len(rows) == article.segment_count
        for _, row in rows.iterrows():
            assert article.text[int(row["start"]) : int(row["end"])] == row["text"]
    labelled = frame[frame["label_source"] == "majority"]
    assert len(labelled) == 5
    assert set(labelled["comment"]) == {""}
    with page.expect_download() as started:
        page.click("button:text('Download codebook (Markdown)')")
    codebook = started.value
    assert codebook.suggested_filename.endswith(".md")
    codebook.save_as(tmp_path / "codebook.md")
    assert "| `checkworthy`" in (tmp_path / "codebook.md").read_text(encoding="utf-8")
    assert page.console_errors == []


def test_date_fields_keep_iso_values_whatever_the_locale_shows(
    client, project, reviewer
):
    """A date input's value must be ISO 8601 (HTML), also with German formats on."""
    client.force_login(reviewer)
    response = download(client, project, format="xlsx", published_from="2025-05-02")
    assert response.status_code == 400
    assert 'value="2025-05-02"' in response.content.decode()
