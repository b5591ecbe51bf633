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
from django.urls import reverse

from annotations import export, exporting, services
from annotations.models import Annotation, Attribution, Role, Source
from annotations.services import AttributionInput, StanceInput
from tests import factories
from tests.test_export import annotate, compare_row, expected_cells


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


def exported(project) -> tuple[list[dict], export.ExportStats]:
    stats = export.ExportStats()
    text = "".join(
        exporting.export_chunks(
            project,
            exporting.ExportOptions(),
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
    plan = exporting.build_plan(project, exporting.ExportOptions())
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

    monkeypatch.setattr(exporting, "store_export_cells", broken)
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
