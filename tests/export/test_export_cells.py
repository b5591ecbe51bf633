"""The export's fast path: label cells pre-rendered at save time, joined in SQL.

The reference is the shaping path (``shape_rows`` + ``write_chunks``),
which reads every row's ``values`` snapshot; the fast path must write the very same
bytes, on SQLite and on PostgreSQL, whether the stored cells are fresh, missing or
stale, and whatever the data holds (quotes, commas, line breaks, tabs, control
characters, formula triggers, backslashes, umlauts, emoji).
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from annotations.export.cells import refresh_export_cells, store_export_cells
from annotations.export.columns import label_plan_key
from annotations.export.queries import (
    ExportOptions,
    build_plan,
    export_chunks,
    export_rows,
    label_plan,
    prefetched,
)
from annotations.export.rows import iso_text
from annotations.export.writers import (
    BOM,
    ExportStats,
    LabelRenderer,
    csv_cell,
    write_chunks,
)
from annotations.models import (
    Annotation,
    AnnotationExportCells,
    Article,
    Dimension,
    Label,
    StanceTarget,
)
from annotations.services import AnnotationInput, SchemeIndex, save_annotation
from tests import factories
from tests.export.test_round_trips import annotate, export_queries, hostile_corpus

# Everything JSON and CSV escape differently, in the fields the database renders.
NASTY = 'Ti"tel, mit\tTab\r\nZeile \\ Back\x01\x1f \u2028 ü 🙂 ; =x'


def reference(project, options, *, fmt: str, spreadsheet: bool = True) -> str:
    plan = build_plan(project, options)
    rows = export_rows(project, options, plan=plan)
    return "".join(write_chunks(plan, rows, fmt=fmt, spreadsheet=spreadsheet))


def fast(project, options, *, fmt: str, spreadsheet: bool = True):
    stats = ExportStats()
    text = "".join(
        export_chunks(project, options, fmt=fmt, spreadsheet=spreadsheet, stats=stats)
    )
    return text, stats


FLAVOURS = [("csv", True), ("csv", False), ("jsonl", True)]


@pytest.fixture
def corpus(project, annotator):
    """Hostile text everywhere the database renders cells, two articles (one
    partly unlabelled), optional dimensions switched on, odd usernames."""
    project.optional_dimensions.set(
        Dimension.objects.filter(scheme=project.scheme, off_by_default=True)
    )
    second = factories.member(project, username="@second")
    third = factories.member(project, username="-third")
    article = hostile_corpus(project, [annotator, second])
    Article.objects.filter(pk=article.pk).update(
        title=NASTY, outlet='"Der" Spiegel, online', url="https://x.example/a,b"
    )
    other = factories.make_article(project, n_sentences=4, title="=SUM(1)")
    Article.objects.filter(pk=other.pk).update(published=date(2026, 11, 23))
    extras = {
        dimension.code: (dimension.labels.order_by("order").first().code,)
        for dimension in project.optional_dimensions.all()
    }
    for segment in other.segments.annotatable().order_by("position")[:2]:
        save_annotation(
            segment=segment,
            annotator=third,
            payload=AnnotationInput(
                labels={"claim": ("factual",), **extras},
                comment=NASTY,
                time_spent_ms=7,
            ),
            expected_revision=None,
        )
    return article


OPTIONS = {
    "default": lambda annotator: ExportOptions(),
    "unlabelled": lambda annotator: ExportOptions(include_unlabelled=True),
    "pseudonyms": lambda annotator: ExportOptions(pseudonymise=True),
    "one annotator, unlabelled": lambda annotator: ExportOptions(
        annotators=[annotator.username], include_unlabelled=True
    ),
    "one article": lambda annotator: ExportOptions(
        articles=Article.objects.filter(title="=SUM(1)"), include_unlabelled=True
    ),
}


@pytest.mark.parametrize(("fmt", "spreadsheet"), FLAVOURS)
@pytest.mark.parametrize("which", sorted(OPTIONS))
def test_fast_path_writes_the_same_bytes_as_shaping(
    project, corpus, annotator, which, fmt, spreadsheet
):
    options = OPTIONS[which](annotator)
    expected = reference(project, options, fmt=fmt, spreadsheet=spreadsheet)
    got, stats = fast(project, options, fmt=fmt, spreadsheet=spreadsheet)
    assert got == expected
    assert stats.shaped_on_the_fly == 0  # every annotation came through the save
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(expected.removeprefix(BOM))))[1:]
    else:
        rows = expected.split("\n")[:-1]
    assert stats.rows == len(rows) > 0


def test_the_corpus_exercises_what_the_database_renders(project, corpus):
    text, _ = fast(project, ExportOptions(), fmt="csv")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM))))
    assert {row["article_title"] for row in rows} == {NASTY, "'=SUM(1)"}
    assert {row["annotator"] for row in rows} == {"annotator1", "'@second", "'-third"}
    assert any(row["published"] == "2026-11-23" for row in rows)
    extras = [d.code for d in project.optional_dimensions.all()]
    assert extras
    assert all(any(row[code] for row in rows) for code in extras)


@pytest.mark.parametrize(("fmt", "spreadsheet"), FLAVOURS)
def test_missing_and_stale_cells_are_shaped_on_the_fly(
    project, corpus, fmt, spreadsheet
):
    options = ExportOptions(include_unlabelled=True)
    annotations = list(Annotation.objects.order_by("pk"))
    # missing
    AnnotationExportCells.objects.filter(annotation=annotations[0]).delete()
    # saved outside save_annotation (e.g. the admin): updated_at moves on
    edited = annotations[1]
    edited.comment = "=neu, im Admin"
    edited.save()
    expected = reference(project, options, fmt=fmt, spreadsheet=spreadsheet)
    got, stats = fast(project, options, fmt=fmt, spreadsheet=spreadsheet)
    assert got == expected
    assert "neu, im Admin" in got
    assert stats.shaped_on_the_fly == 2


def test_a_new_stance_target_makes_every_cell_stale_and_refresh_renders_them(
    project, corpus
):
    options = ExportOptions()
    total = Annotation.objects.count()
    StanceTarget.objects.create(project=project, code="china", name="China", order=99)
    expected = reference(project, options, fmt="csv")
    assert "stance_china" in expected.splitlines()[0]
    got, stats = fast(project, options, fmt="csv")
    assert got == expected
    assert stats.shaped_on_the_fly == total
    assert refresh_export_cells(project) == total
    assert refresh_export_cells(project) == 0
    got, stats = fast(project, options, fmt="csv")
    assert got == expected
    assert stats.shaped_on_the_fly == 0


def test_save_renders_the_cells_for_the_current_plan(project, annotator):
    article = factories.make_article(project, n_sentences=2)
    segment = article.segments.annotatable().first()
    first = annotate(segment, annotator, claim="opinion", comment="eins")
    key = label_plan_key(build_plan(project, ExportOptions()))
    cells = AnnotationExportCells.objects.get(annotation=first)
    assert cells.plan_key == key
    assert cells.source_updated_at == first.updated_at
    assert cells.csv.startswith("opinion,")
    second = save_annotation(
        segment=segment,
        annotator=annotator,
        payload=AnnotationInput(labels={"claim": ("factual",)}, comment="zwei"),
        expected_revision=first.revision,
    )
    cells.refresh_from_db()
    assert cells.source_updated_at == second.updated_at
    assert cells.csv.startswith("factual,")
    assert ",zwei," in cells.csv_tail


def test_the_save_path_plan_has_the_export_plan_key(project):
    """Inactive labels and targets, switched-on optional dimensions and an
    inactive dimension: the plan a save builds from its SchemeIndex (no query)
    names the same label plan as the export's own."""
    project.optional_dimensions.set(
        Dimension.objects.filter(scheme=project.scheme, off_by_default=True)
    )
    Label.objects.filter(dimension__code="frames", code="other").update(active=False)
    StanceTarget.objects.filter(project=project, code="nato").update(active=False)
    Dimension.objects.filter(scheme=project.scheme, code="subjectivity").update(
        active=False
    )
    project.refresh_from_db()
    index = SchemeIndex.for_project(project)
    from_save = label_plan(project, index)
    from_export = build_plan(project, ExportOptions())
    assert label_plan_key(from_save) == label_plan_key(from_export)
    assert "other" in from_save.frame_codes
    assert "nato" in [t.code for t in from_save.targets]


def test_save_adds_one_query_for_the_cells(
    project, annotator, django_assert_num_queries
):
    article = factories.make_article(project, n_sentences=2)
    segment = article.segments.annotatable().first()
    index = SchemeIndex.for_project(project)
    payload = AnnotationInput(labels={"claim": ("opinion",)})
    # project, membership, savepoint, lock, progress counter, insert, history,
    # labels, export cells (one upsert), release; no attributions or stances.
    with django_assert_num_queries(10):
        save_annotation(
            segment=segment,
            annotator=annotator,
            payload=payload,
            expected_revision=None,
            index=index,
        )
    assert AnnotationExportCells.objects.count() == 1


def test_export_query_count_is_fixed_with_stale_rows(
    project, corpus, django_assert_max_num_queries
):
    AnnotationExportCells.objects.all().delete()
    for options in (
        ExportOptions(),
        ExportOptions(annotators=["annotator1"], include_unlabelled=True),
    ):
        with django_assert_max_num_queries(export_queries(5)):
            text, stats = fast(project, options, fmt="jsonl")
        assert stats.shaped_on_the_fly == stats.rows - text.count('"annotator": ""')


def test_refresh_command_reports_per_project_and_refuses_unknown_ones(project, corpus):
    AnnotationExportCells.objects.all().delete()
    out = io.StringIO()
    call_command("refresh_export_cells", "--project", project.slug, stdout=out)
    assert f"{project.slug}: rendered {Annotation.objects.count()} export cells" in (
        out.getvalue()
    )
    with pytest.raises(CommandError, match="no such project: nope"):
        call_command("refresh_export_cells", "--project", "nope")


def test_export_command_says_when_rows_were_shaped_on_the_fly(
    project, corpus, tmp_path
):
    AnnotationExportCells.objects.filter(
        annotation__in=Annotation.objects.order_by("pk")[:3]
    ).delete()
    out = io.StringIO()
    target = tmp_path / "x.csv"
    call_command(
        "export_annotations", "--format", "csv", "--output", str(target), stdout=out
    )
    assert "3 rows were shaped on the fly" in out.getvalue()
    assert "refresh_export_cells" in out.getvalue()
    assert target.read_bytes().decode("utf-8") == reference(
        project, ExportOptions(), fmt="csv"
    )


def test_prefetched_stream_stops_its_thread_when_the_reader_stops(project, corpus):
    queryset = Annotation.objects.order_by("pk").values_list("pk")
    rows = prefetched(queryset, chunk_size=1)
    first = next(rows)
    rows.close()  # the consumer went away: the thread is joined, cursor closed
    assert first == (Annotation.objects.order_by("pk").first().pk,)
    assert list(prefetched(queryset, chunk_size=2)) == list(queryset.values_list("pk"))


def test_prefetched_stream_raises_the_fetch_error_in_the_reader(db):
    broken = Annotation.objects.extra(where=["no_such_column = 1"]).values_list("pk")
    with pytest.raises(Exception, match="no_such_column"):
        list(prefetched(broken))


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])))
def test_csv_cell_is_what_the_csv_module_writes(text):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([text, "x"])
    assert buffer.getvalue() == csv_cell(text) + ",x\r\n"


def test_cells_hold_the_meta_of_the_same_save(project, annotator):
    article = factories.make_article(project, n_sentences=2)
    segment = article.segments.annotatable().first()
    saved = annotate(segment, annotator, comment="=a,b", unsure=True)
    cells = AnnotationExportCells.objects.get(annotation=saved)
    when = f"{iso_text(saved.created_at)},{iso_text(saved.updated_at)}"
    assert when.endswith("+00:00")
    assert cells.csv_tail.endswith(f',"=a,b",1,{when},1234,')
    assert cells.csv_tail_sheet.endswith(f',"\'=a,b",1,{when},1234,')
    assert '"comment": "=a,b", "unsure": true' in cells.json_tail


def test_an_admin_edit_renders_the_cells_again(project, corpus, rf, django_user_model):
    from django.contrib import admin

    annotation = Annotation.objects.order_by("pk").first()
    annotation.comment = "=im Admin geändert"
    request = rf.post("/")
    request.user = django_user_model.objects.create_superuser("boss", "b@x.org", "pw")
    admin.site._registry[Annotation].save_model(request, annotation, None, True)
    cells = AnnotationExportCells.objects.get(annotation=annotation)
    assert cells.source_updated_at == annotation.updated_at
    assert "=im Admin geändert" in cells.csv_tail
    options = ExportOptions()
    got, stats = fast(project, options, fmt="csv")
    assert stats.shaped_on_the_fly == 0
    assert got == reference(project, options, fmt="csv")


@pytest.mark.parametrize("unlabelled", [False, True])
def test_unknown_annotators_give_what_shaping_gives(project, corpus, unlabelled):
    options = ExportOptions(annotators=["nobody"], include_unlabelled=unlabelled)
    for fmt, spreadsheet in FLAVOURS:
        expected = reference(project, options, fmt=fmt, spreadsheet=spreadsheet)
        got, stats = fast(project, options, fmt=fmt, spreadsheet=spreadsheet)
        assert got == expected
        assert (stats.rows > 0) is unlabelled


def test_article_frames_keep_codes_the_scheme_dropped_in_first_seen_order(
    project, annotator
):
    """Frame codes no longer in the scheme (a label code edited after use) go
    last, in the order first seen, in both paths, whatever the hash seed."""
    article = factories.make_article(project, n_sentences=3)
    for segment, frames in zip(
        article.segments.annotatable().order_by("position"),
        (["zz_old", "aa_old", "political"], ["mm_old", "economic"], ["aa_old"]),
        strict=False,
    ):
        saved = annotate(segment, annotator, frames=("political",))
        values = {
            **saved.values,
            "labels": {**saved.values["labels"], "frames": frames},
        }
        Annotation.objects.filter(pk=saved.pk).update(values=values)
        saved.refresh_from_db()
        store_export_cells(
            [saved],
            LabelRenderer(build_plan(project, ExportOptions())),
        )
    options = ExportOptions()
    for fmt, spreadsheet in FLAVOURS:
        got, stats = fast(project, options, fmt=fmt, spreadsheet=spreadsheet)
        assert stats.shaped_on_the_fly == 0
        assert got == reference(project, options, fmt=fmt, spreadsheet=spreadsheet)
    raw, _ = fast(project, options, fmt="csv", spreadsheet=False)
    assert ",economic;political;zz_old;aa_old;mm_old," in raw


def test_a_dimension_named_like_a_flag_column_is_text(project, annotator):
    """Only the real number columns skip neutralising: an optional dimension whose
    code looks like a frame flag holds label codes, and "-1" is a formula start."""
    dimension = Dimension.objects.get(scheme=project.scheme, code="subjectivity")
    Dimension.objects.filter(pk=dimension.pk).update(code="frame_tone")
    label = Label.objects.filter(dimension=dimension).first()
    Label.objects.filter(dimension=dimension).exclude(pk=label.pk).delete()
    Label.objects.filter(pk=label.pk).update(code="-1")
    project.optional_dimensions.add(dimension)
    segment = factories.make_article(project, n_sentences=1).segments.first()
    save_annotation(
        segment=segment,
        annotator=annotator,
        payload=AnnotationInput(labels={"claim": ("opinion",), "frame_tone": ("-1",)}),
        expected_revision=None,
    )
    options = ExportOptions()
    expected = reference(project, options, fmt="csv")
    got, _ = fast(project, options, fmt="csv")
    assert got == expected
    assert ",'-1," in got
