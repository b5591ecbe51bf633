"""Curating the source list: renaming and merging canonical sources in the admin.

Annotations keep each attribution's canonical source name in their ``values``
snapshot (exports read it); after a rename or a merge the export must still name
the source the Attribution rows point to, with no row shaped on the fly.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotations import services
from annotations.export.queries import ExportOptions, build_plan, export_chunks
from annotations.export.writers import ExportStats
from annotations.models import Annotation, Attribution, Role, Source
from annotations.services import AttributionInput, StanceInput
from tests import factories
from tests.export.test_round_trips import annotate, compare_row, expected_cells


def attribution(name: str) -> AttributionInput:
    return AttributionInput(
        source_text=name, source_type="person", form="indirect", cue_text="sagte"
    )


@pytest.fixture
def spelled_twice(project, annotator):
    """Two annotations that name one person in two spellings, which became two
    sources; the second also holds a stance toward Russia."""
    article = factories.make_article(project, n_sentences=3, title="Quellen")
    first, second = article.segments.annotatable().order_by("position")[:2]
    annotate(first, annotator, attributions=[attribution("Selenski")])
    annotate(
        second,
        annotator,
        attributions=[attribution("Kreml"), attribution("Selenskyj")],
        stances=[StanceInput(target="russia", polarity="against", holder=1)],
    )
    return article


def exported(project) -> tuple[list[dict], ExportStats]:
    stats = ExportStats()
    text = "".join(
        export_chunks(
            project,
            ExportOptions(),
            fmt="csv",
            spreadsheet=False,
            stats=stats,
        )
    )
    return list(csv.DictReader(io.StringIO(text, newline=""))), stats


def assert_export_matches_database(project) -> list[dict]:
    """Every exported field equals the normalised tables, and every row came from
    fresh pre-rendered cells (the snapshot and cells were updated, not bypassed)."""
    rows, stats = exported(project)
    plan = build_plan(project, ExportOptions())
    annotations = (
        Annotation.objects.own()
        .filter(article__project=project)
        .select_related("segment", "article__project__scheme", "annotator")
        .order_by("article_id", "segment__position", "annotator__username")
    )
    assert len(rows) == annotations.count() > 0
    for row, annotation in zip(rows, annotations, strict=True):
        compare_row(row, expected_cells(annotation, plan), plan)
    assert stats.shaped_on_the_fly == 0
    return rows


def test_renaming_a_source_in_the_admin_renames_it_in_the_export(
    admin_client, project, annotator, spelled_twice
):
    source = Source.objects.get(project=project, name="Selenskyj")
    before = Annotation.objects.get(attributions__source=source)
    response = admin_client.post(
        reverse("admin:annotations_source_change", args=[source.pk]),
        {"project": project.pk, "name": "Wolodymyr Selenskyj", "aliases": "[]"},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 annotation now name" in response.content.decode()
    source.refresh_from_db()
    assert source.name == "Wolodymyr Selenskyj"
    assert source.aliases == ["Selenskyj"]
    rows = assert_export_matches_database(project)
    renamed = next(row for row in rows if "Kreml" in row["attribution_source"])
    assert renamed["attribution_source"] == "Kreml;Wolodymyr Selenskyj"
    assert renamed["attribution_source_text"] == "Kreml;Selenskyj"  # as written
    assert renamed["stance_russia_holder"] == "Wolodymyr Selenskyj"
    assert renamed["stance_russia_sources"] == "Wolodymyr Selenskyj=against"
    after = Annotation.objects.get(pk=before.pk)
    # Nobody changed the labels: same revision and time of the last save.
    assert (after.revision, after.updated_at) == (before.revision, before.updated_at)
    latest = after.history.order_by("-history_date").first()
    assert latest.history_change_reason.startswith("source renamed: Selenskyj")


def test_the_old_name_still_maps_to_the_renamed_source(
    project, annotator, spelled_twice
):
    source = Source.objects.get(project=project, name="Selenskyj")
    services.rename_source(source, "Wolodymyr Selenskyj")
    third = spelled_twice.segments.annotatable().order_by("position")[2]
    annotate(third, annotator, attributions=[attribution("selenskyj")])
    assert Attribution.objects.get(annotation__segment=third).source == source
    assert not Source.objects.filter(project=project, name__iexact="selenskyj")


def test_merging_sources_points_every_attribution_to_the_kept_one(
    admin_client, project, annotator, spelled_twice
):
    keep = Source.objects.get(project=project, name="Selenskyj")
    other = Source.objects.get(project=project, name="Selenski")
    url = reverse("admin:annotations_source_changelist")
    selection = {"action": "merge_sources", "_selected_action": [keep.pk, other.pk]}
    confirm = admin_client.post(url, selection)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Choose the canonical name to keep" in page
    assert Source.objects.filter(pk=other.pk).exists()  # nothing changed yet
    done = admin_client.post(
        url, {**selection, "keep": keep.pk, "apply": "Merge"}, follow=True
    )
    assert "Merged 2 sources into “Selenskyj”; 1 annotation updated." in (
        done.content.decode()
    )
    assert not Source.objects.filter(pk=other.pk).exists()
    keep.refresh_from_db()
    assert keep.aliases == ["Selenski"]
    rows = assert_export_matches_database(project)
    assert [row["attribution_source"] for row in rows] == [
        "Selenskyj",
        "Kreml;Selenskyj",
    ]
    assert rows[0]["attribution_source_text"] == "Selenski"


def test_merge_refuses_a_single_source_or_two_projects(
    admin_client, project, annotator
):
    mine = Source.objects.create(project=project, name="Peskow")
    elsewhere = Source.objects.create(project=factories.ProjectFactory(), name="Peskow")
    url = reverse("admin:annotations_source_changelist")
    for selected in ([mine.pk], [mine.pk, elsewhere.pk]):
        response = admin_client.post(
            url,
            {"action": "merge_sources", "_selected_action": selected, "apply": "1"},
            follow=True,
        )
        assert "Select two or more sources of one project" in response.content.decode()
    assert Source.objects.count() == 2
    with pytest.raises(services.SourceMergeRefused):
        services.merge_sources(mine, [elsewhere])
    assert Source.objects.count() == 2


def test_a_manager_merges_only_sources_of_their_own_project(
    client, project, annotator, spelled_twice
):
    manager = factories.member(project, role=Role.MANAGER, username="chefin")
    get_user_model().objects.filter(pk=manager.pk).update(is_staff=True)
    foreign = Source.objects.create(project=factories.ProjectFactory(), name="Fremd")
    keep = Source.objects.get(project=project, name="Selenskyj")
    client.force_login(manager)
    response = client.post(
        reverse("admin:annotations_source_changelist"),
        {
            "action": "merge_sources",
            "_selected_action": [keep.pk, foreign.pk],
            "keep": keep.pk,
            "apply": "Merge",
        },
        follow=True,
    )
    # The other project's source is not in the manager's queryset: one source left.
    assert "Select two or more sources of one project" in response.content.decode()
    assert Source.objects.filter(pk=foreign.pk).exists()


def test_a_failed_merge_changes_nothing(project, annotator, spelled_twice, monkeypatch):
    keep = Source.objects.get(project=project, name="Selenskyj")
    other = Source.objects.get(project=project, name="Selenski")
    snapshot = list(Annotation.objects.order_by("pk").values_list("values", flat=True))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "store_export_cells", broken)
    with pytest.raises(RuntimeError):
        services.merge_sources(keep, [other])
    assert Source.objects.filter(pk=other.pk).exists()
    keep.refresh_from_db()
    assert keep.aliases == []
    assert Attribution.objects.filter(source=other).count() == 1
    assert (
        list(Annotation.objects.order_by("pk").values_list("values", flat=True))
        == snapshot
    )


def test_gold_and_segments_mode_follow_a_rename(project, annotator, spelled_twice):
    second = spelled_twice.segments.annotatable().order_by("position")[1]
    boss = factories.member(project, role=Role.REVIEWER, username="boss")
    # The annotator's own name, curated (shared) first: the gold then names it.
    services.curate_sources(Source.objects.filter(project=project, name="Selenskyj"))
    annotate(
        second,
        boss,
        is_gold=True,
        attributions=[attribution("Selenskyj")],
        stances=[StanceInput(target="russia", polarity="against", holder=0)],
    )
    source = Source.objects.get(project=project, name="Selenskyj")
    assert services.rename_source(source, "W. Selenskyj") == 2  # own and gold
    gold = Annotation.objects.gold().get()
    assert gold.values["attributions"][0]["source"] == "W. Selenskyj"
    text = "".join(
        export_chunks(
            project,
            ExportOptions(mode="segments"),
            fmt="csv",
            spreadsheet=False,
        )
    )
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    gold_row = next(row for row in rows if row["label_source"] == "gold")
    assert gold_row["attribution_source"] == "W. Selenskyj"
    assert gold_row["stance_russia_holder"] == "W. Selenskyj"


def test_reverting_to_a_version_from_before_a_rename_keeps_the_new_name(
    admin_client, project, annotator, spelled_twice
):
    source = Source.objects.get(project=project, name="Selenskyj")
    annotation = Annotation.objects.get(attributions__source=source)
    before = annotation.history.order_by("history_id").last()
    assert before.values["attributions"][1]["source"] == "Selenskyj"
    services.rename_source(source, "Wolodymyr Selenskyj")
    url = reverse(
        "admin:annotations_annotation_history",
        args=[annotation.pk],
    )
    revert = f"{url}{before.history_id}/"
    page = admin_client.get(revert)
    assert page.status_code == 200
    response = admin_client.post(
        revert, {"comment": annotation.comment, "unsure": ""}, follow=True
    )
    assert response.status_code == 200
    annotation.refresh_from_db()
    assert annotation.values["attributions"][1]["source"] == "Wolodymyr Selenskyj"
    assert_export_matches_database(project)


@pytest.mark.parametrize(
    ("name", "aliases"),
    [("kreml", "[]"), ("Präsident", '["KREML"]'), ("Selenskyj", "[]")],
)
def test_a_name_or_alias_of_another_source_is_refused(
    admin_client, project, annotator, spelled_twice, name, aliases
):
    source = Source.objects.get(project=project, name="Selenski")
    response = admin_client.post(
        reverse("admin:annotations_source_change", args=[source.pk]),
        {"name": name, "aliases": aliases},
    )
    assert response.status_code == 200
    assert "already names the source" in response.content.decode()
    source.refresh_from_db()
    assert (source.name, source.aliases) == ("Selenski", [])
    assert not Annotation.objects.filter(values__attributions__0__source=name)


def test_a_source_in_use_stays_in_its_project(
    admin_client, project, annotator, spelled_twice
):
    elsewhere = factories.ProjectFactory()
    source = Source.objects.get(project=project, name="Selenski")
    admin_client.post(
        reverse("admin:annotations_source_change", args=[source.pk]),
        {"project": elsewhere.pk, "name": "Selenski", "aliases": "[]"},
    )
    source.refresh_from_db()
    assert source.project == project


@pytest.mark.postgres
def test_a_save_locks_its_sources_before_the_annotation(project, annotator):
    """The lock order rename_source and merge_sources use: sources, then
    annotations. With the opposite order a save and a rename could deadlock."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks; CI runs this on its PostgreSQL pass")
    article = factories.make_article(project, n_sentences=2, title="Sperren")
    first, second = article.segments.annotatable().order_by("position")[:2]
    annotate(first, annotator, attributions=[attribution("Peskow")])
    with CaptureQueriesContext(connection) as queries:
        annotate(second, annotator, attributions=[attribution("Peskow")])
    locks = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].rstrip().endswith("FOR UPDATE")
    ]
    tables = [
        "source" if '"annotations_source"' in sql.split(" WHERE ")[0] else "annotation"
        for sql in locks
    ]
    assert tables == ["source", "annotation"]
