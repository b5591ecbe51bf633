"""The ground everything builds on: database, seeds, scheme, demo accounts, admin."""

import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from annotations import services
from annotations.models import Article, Dimension, Label, Project, Segment
from tests import factories

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_tests_run_on_the_database_that_database_url_names(db):
    wanted = (
        "postgresql"
        if os.environ.get("DATABASE_URL", "").startswith("postgres")
        else "sqlite"
    )
    assert connection.vendor == wanted


def test_default_scheme_has_every_dimension_of_the_label_scheme(db):
    scheme, created = services.load_scheme()
    assert created
    codes = set(Dimension.objects.filter(scheme=scheme).values_list("code", flat=True))
    assert codes == {
        "claim",
        "frames",
        "source_type",
        "form",
        "stance",
        "techniques",
        "subjectivity",
    }
    assert Label.objects.filter(dimension__code="frames").count() == 15
    assert Label.objects.filter(dimension__code="techniques").count() == 23
    claim = Label.objects.get(dimension__code="claim", code="checkworthy")
    assert claim.mappings == {"claimbuster": "CFS", "checkthat": "yes"}
    assert (
        Label.objects.get(dimension__code="frames", code="legality").mappings[
            "semeval2023"
        ]
        == "Legality_Constitutionality_and_jurisprudence"
    )
    assert services.load_scheme() == (scheme, False)


def test_importing_the_seeds_twice_imports_nothing_new(db):
    out = io.StringIO()
    call_command("import_articles", str(SEEDS), stdout=out)
    assert "imported 2 articles" in out.getvalue()
    assert "failed 0" in out.getvalue()
    counts = (Article.objects.count(), Segment.objects.count())
    out = io.StringIO()
    call_command("import_articles", str(SEEDS), stdout=out)
    assert (
        "imported 0 articles (0 segments), skipped 2 duplicates, failed 0"
        in out.getvalue()
    )
    assert (Article.objects.count(), Segment.objects.count()) == counts


def test_seed_articles_are_stored_exactly_and_segments_slice_the_text(db):
    call_command("import_articles", str(SEEDS), "--quiet", stdout=io.StringIO())
    for article in Article.objects.all():
        raw = (SEEDS / article.source_file).read_text(encoding="utf-8")
        assert article.text == raw.replace("\r\n", "\n")
        segments = list(article.segments.order_by("position"))
        assert [s.position for s in segments] == list(range(len(segments)))
        assert article.segment_count == len(segments)
        for segment in segments:
            assert segment.text == article.text[segment.start : segment.end]
        covered = "".join(s.text for s in segments)
        assert "".join(covered.split()) == "".join(article.text.split())
    titles = set(Article.objects.values_list("title", flat=True))
    assert (
        "Putins Strategie enthüllt: Telefonat mit Trump durchkreuzt "
        "Westliche Diplomatie" in titles
    )
    assert Article.objects.get(title__startswith="Putins").byline == "Sergei Poletajew"


def test_segment_command_prints_json_lines_without_touching_the_database(db):
    out = io.StringIO()
    call_command("segment", str(SEEDS / "004_9eb77cd24a090f0a.txt"), stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0]["kind"] == "title"
    assert set(rows[0]) == {
        "file",
        "position",
        "kind",
        "paragraph",
        "start",
        "end",
        "text",
    }
    assert Article.objects.count() == 0


def test_demo_accounts_need_debug(db, settings):
    project = services.ensure_seed_project()
    settings.DEBUG = False
    with pytest.raises(PermissionError):
        services.create_demo_accounts(password="x", project=project)
    settings.DEBUG = True
    created = services.create_demo_accounts(password="pw-demo-1234", project=project)
    assert created == ["admin", "annotator1", "annotator2", "reviewer"]
    assert services.create_demo_accounts(password="pw-demo-1234", project=project) == []
    assert project.memberships.count() == 4


@pytest.mark.parametrize(
    "model",
    [
        "project",
        "article",
        "segment",
        "label",
        "dimension",
        "annotation",
        "membership",
        "source",
        "stancetarget",
        "assignment",
        "labelscheme",
    ],
)
def test_admin_changelists_render_in_a_fixed_number_of_queries(
    admin_client, django_assert_max_num_queries, model
):
    project = factories.ProjectFactory(scheme=factories.default_scheme())
    for _ in range(2):
        factories.make_article(project, n_sentences=1)
    small = _count_queries(admin_client, model)
    for _ in range(8):
        factories.make_article(project, n_sentences=60)
    for user in ("a", "b", "c"):
        factories.member(project, username=user)
    with django_assert_max_num_queries(small):
        response = admin_client.get(reverse(f"admin:annotations_{model}_changelist"))
    assert response.status_code == 200


def _count_queries(client, model: str) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        assert (
            client.get(reverse(f"admin:annotations_{model}_changelist")).status_code
            == 200
        )
    return len(context.captured_queries)


def test_article_change_page_shows_segments_in_order(admin_client):
    project = factories.ProjectFactory(scheme=factories.default_scheme())
    article = factories.make_article(project, n_sentences=3)
    response = admin_client.get(
        reverse("admin:annotations_article_change", args=[article.pk])
    )
    body = response.content.decode()
    assert response.status_code == 200
    first, second = (s.text for s in article.segments.order_by("position")[:2])
    assert body.index(first) < body.index(second)


def test_admin_upload_imports_a_file_and_refuses_a_binary_one(admin_client):
    project = factories.ProjectFactory(scheme=factories.default_scheme())
    good = io.BytesIO(b"Titel\n\nEin Satz. Noch ein Satz.\n")
    good.name = "good.txt"
    bad = io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    bad.name = "picture.txt"
    response = admin_client.post(
        reverse("admin:annotations_article_import"),
        {"project": project.pk, "files": [good, bad]},
        follow=True,
    )
    # The upload is a job (run at once in the tests); its page shows each file.
    outcomes = [file.message for file in response.context["files"]]
    assert any("good.txt: imported 1 article(s)" in m for m in outcomes)
    assert any("picture.txt" in m and "binary" in m for m in outcomes)
    assert Article.objects.filter(project=project).count() == 1
    assert Project.objects.count() == 1
