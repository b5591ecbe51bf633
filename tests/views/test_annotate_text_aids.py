"""The annotate screen's text aids (cue candidates, built-in suggestions, names in
the article) are computed from the text once and stored (``ArticleTextAids``):
on the first view of an article, or ahead by ``manage.py prepare_text_aids``; a
row computed by other code (``key``) is computed again."""

from __future__ import annotations

import html
import io
import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from django.urls import reverse

from annotations import annotate_data
from annotations.models import ArticleTextAids
from tests import factories

QUOTE = (
    "„Wir brauchen mehr Zeit“, sagte Kreml-Sprecher Dmitri Peskow am Montag in Moskau."
)


@pytest.fixture
def article(project):
    return factories.make_article(project, n_sentences=3)


def page_payload(client, article) -> dict:
    page = client.get(reverse("annotations:annotate", args=[article.pk]))
    assert page.status_code == 200
    raw = page.content.decode().split('data-payload="')[1].split('"></div>')[0]
    return json.loads(html.unescape(raw))


def aids_of(payload: dict) -> dict:
    return {
        "cues": {s["id"]: s["cues"] for s in payload["segments"]},
        "suggestions": {s["id"]: s["suggestions"] for s in payload["segments"]},
        "names": payload["names"],
    }


def test_the_first_view_stores_the_aids_and_later_ones_read_them(
    client, annotator, project, monkeypatch
):
    article = factories.make_article(
        project, text=f"Titel\n\n{QUOTE} Das ist ein zweiter Satz."
    )
    client.force_login(annotator)
    first = aids_of(page_payload(client, article))
    stored = ArticleTextAids.objects.get(article=article)
    assert stored.key == annotate_data.text_aids_key()
    assert "Kreml-Sprecher Dmitri Peskow" in first["names"]
    assert any(first["suggestions"].values())

    def no_computing(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(annotate_data, "compute_text_aids", no_computing)
    assert aids_of(page_payload(client, article)) == first


def test_aids_computed_by_other_code_are_computed_again(client, annotator, article):
    client.force_login(annotator)
    first = aids_of(page_payload(client, article))
    ArticleTextAids.objects.filter(article=article).update(
        key="an older suggester", data={"cues": {}, "names": ["Alt"], "suggestions": {}}
    )
    assert aids_of(page_payload(client, article)) == first
    assert ArticleTextAids.objects.get(article=article).key == (
        annotate_data.text_aids_key()
    )


def test_the_key_names_the_version(monkeypatch):
    key = annotate_data.text_aids_key()
    annotate_data.text_aids_key.cache_clear()
    monkeypatch.setattr(annotate_data, "TEXT_AIDS_VERSION", -1)
    try:
        assert annotate_data.text_aids_key() != key
    finally:
        annotate_data.text_aids_key.cache_clear()


def test_the_page_is_shown_when_the_aids_cannot_be_stored(
    client, annotator, article, monkeypatch
):
    def broken(rows):
        raise DatabaseError("read-only")

    monkeypatch.setattr(annotate_data, "_store_text_aids", broken)
    client.force_login(annotator)
    payload = page_payload(client, article)
    assert len(payload["segments"]) == article.segment_count
    assert not ArticleTextAids.objects.exists()


def test_the_command_prepares_the_articles_without_current_aids(project, scheme):
    articles = [factories.make_article(project, n_sentences=2) for _ in range(3)]
    other = factories.make_article(factories.ProjectFactory(scheme=scheme))
    ArticleTextAids.objects.create(article=articles[0], key="old", data={})
    out = io.StringIO()
    call_command("prepare_text_aids", project=[project.slug], stdout=out)
    assert f"{project.slug}: prepared the text aids of 3 articles" in out.getvalue()
    rows = ArticleTextAids.objects.filter(key=annotate_data.text_aids_key())
    assert set(rows.values_list("article_id", flat=True)) == {a.pk for a in articles}
    assert not ArticleTextAids.objects.filter(article=other).exists()
    segments = list(articles[0].segments.order_by("position"))
    assert rows.get(article=articles[0]).data == annotate_data.compute_text_aids(
        articles[0].text, segments
    )
    out = io.StringIO()
    call_command("prepare_text_aids", project=[project.slug], stdout=out)
    assert "prepared the text aids of 0 articles" in out.getvalue()
