"""The export's round trips against the database: every field written as stored,
in CSV (raw and spreadsheet) and JSONL, through ``annotations/export/queries.py``
on whichever database DATABASE_URL names (SQLite by default, PostgreSQL in CI).
The plain modules are tested in ``test_columns_rows_writers.py``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC

import pandas as pd
import pytest
from django.db import connection

from annotations.export.codebook import codebook_markdown
from annotations.export.columns import (
    ATTRIBUTION_COLUMNS,
    ExportPlan,
    columns,
    list_columns,
)
from annotations.export.queries import (
    ExportOptions,
    build_plan,
    codebook,
    export_chunks,
    pseudonym_key,
)
from annotations.export.rows import pseudonym
from annotations.export.writers import (
    BOM,
    FORMULA_TRIGGERS,
    split_cell,
)
from annotations.models import Annotation, Segment
from annotations.services import (
    AnnotationInput,
    AttributionInput,
    StanceInput,
    save_annotation,
)
from tests import factories

HOSTILE_ARTICLE = (
    '=HYPERLINK("http://evil.example","Klick")\n\n'
    "Von Erika Musterfrau\n\n"
    'Der Kreml sagte, "alles" sei, wie es war, und das\tbleibe so. '
    "-1 Prozent, meldete die Behörde am Montag. "
    "+49 Anrufe gingen ein, sagte die Polizei. "
    "@Nutzer schrieb: „Wir, die Leute, wollen Frieden“. "
    "NA\n\n"
    "Ein zweiter Absatz; mit Semikolon und Backslash \\ am Ende.\n"
)
HOSTILE_COMMENTS = [
    "=1+1",
    "+SUM(A1)",
    "-2",
    "@cmd",
    "\tbeginnt mit Tab",
    "\rbeginnt mit CR",
    'Zeile 1\nZeile 2, mit "Anführung"',
    "NA",
    "",
    "Semi;kolon \\ und ; noch eins",
]


# ---------------------------------------------------------------------------
# Helpers (also used by test_export_views.py and test_export_command.py)
# ---------------------------------------------------------------------------


def annotate(
    segment: Segment,
    user,
    *,
    claim: str = "opinion",
    frames=("political",),
    primary: str | None = "political",
    comment: str = "",
    unsure: bool = False,
    attributions=(),
    stances=(),
    is_gold: bool = False,
) -> Annotation:
    payload = AnnotationInput(
        labels={"claim": (claim,), **({"frames": tuple(frames)} if frames else {})},
        primary={"frames": primary} if primary and frames else {},
        attributions=tuple(attributions),
        stances=tuple(stances),
        unsure=unsure,
        comment=comment,
        time_spent_ms=1234,
    )
    return save_annotation(
        segment=segment,
        annotator=user,
        payload=payload,
        expected_revision=None,
        is_gold=is_gold,
    )


def hostile_corpus(project, users):
    """An article full of quoting and formula triggers, labelled by ``users``."""
    article = factories.make_article(project, text=HOSTILE_ARTICLE, title="x")
    segments = list(article.segments.annotatable().order_by("position"))
    for number, segment in enumerate(segments):
        for k, user in enumerate(users):
            annotate(
                segment,
                user,
                claim=("checkworthy", "opinion", "none")[(number + k) % 3],
                frames=("political", "economic") if k == 0 else ("economic",),
                primary="economic",
                comment=HOSTILE_COMMENTS[(number + k) % len(HOSTILE_COMMENTS)],
                unsure=bool(k),
                attributions=[
                    AttributionInput(
                        source_text="Peskow; der Sprecher",
                        source_type="person",
                        form="indirect",
                        cue_text="=sagte",
                        # Marked spans where the segment is long enough; the
                        # second attribution has none (empty list items).
                        **(
                            {"source_span": (0, 3), "cue_spans": ((4, 6), (7, 9))}
                            if len(segment.text) >= 9
                            else {}
                        ),
                    ),
                    AttributionInput(
                        source_text="Kreml",
                        source_type="institution",
                        form="direct",
                        cue_text="laut",
                    ),
                ],
                stances=[
                    StanceInput(target="russia", polarity="favor", holder=0),
                    StanceInput(target="ukraine", polarity="against"),
                    StanceInput(target="ukraine", polarity="favor", holder=1),
                ],
            )
    return article


def export_queries(base: int) -> int:
    """A query budget of an export: on PostgreSQL annotations mode also reads in a
    transaction with JIT off (a savepoint inside the test's transaction, SET LOCAL,
    the savepoint's release), a fixed number whatever the size."""
    return base + (3 if connection.vendor == "postgresql" else 0)


def csv_text(project, options, *, spreadsheet: bool = False) -> str:
    return "".join(export_chunks(project, options, fmt="csv", spreadsheet=spreadsheet))


def expected_cells(annotation: Annotation, plan: ExportPlan) -> dict:
    """What the export must say for one annotation, computed from the database rows
    (the normalised tables, not the ``values`` snapshot the export reads)."""
    segment, article = annotation.segment, annotation.article
    labels = {
        (al.dimension.code, al.label.code): al.is_primary
        for al in annotation.labels.select_related("dimension", "label")
    }
    attributions = list(
        annotation.attributions.select_related(
            "source", "source_type", "form"
        ).order_by("order")
    )
    frame_order = list(plan.frame_codes)
    frames = sorted(
        (code for dim, code in labels if dim == "frames"), key=frame_order.index
    )
    claim = next(code for dim, code in labels if dim == "claim")
    expected = {
        "project": article.project.slug,
        "article_id": str(article.pk),
        "article_title": article.title,
        "outlet": article.outlet,
        "url": article.url,
        "published": article.published.isoformat() if article.published else "",
        "segment_id": str(segment.pk),
        "position": str(segment.position),
        "paragraph": str(segment.paragraph),
        "kind": segment.kind,
        "start": str(segment.start),
        "end": str(segment.end),
        "text": segment.text,
        "annotator": annotation.annotator.username,
        "claim": claim,
        "claim_claimbuster": {"checkworthy": "CFS", "factual": "UFS"}.get(claim, "NFS"),
        "claim_checkthat": "yes" if claim == "checkworthy" else "no",
        "attribution_source_text": [a.source_text for a in attributions],
        "attribution_source": [a.source.name for a in attributions],
        "attribution_source_type": [a.source_type.code for a in attributions],
        "attribution_form": [a.form.code for a in attributions],
        "attribution_cue": [a.cue_text for a in attributions],
        "attribution_source_span": [
            f"{a.source_start}..{a.source_end}" if a.source_start is not None else ""
            for a in attributions
        ],
        "attribution_cue_spans": [
            "+".join(f"{start}..{end}" for start, end in a.cue_spans)
            for a in attributions
        ],
        "frames": frames,
        "frame_primary": next(
            (code for (dim, code), p in labels.items() if dim == "frames" and p), ""
        ),
        "comment": annotation.comment,
        "unsure": "1" if annotation.unsure else "0",
        "created": annotation.created_at.astimezone(UTC).isoformat(),
        "updated": annotation.updated_at.astimezone(UTC).isoformat(),
        "time_spent_ms": str(annotation.time_spent_ms),
        "scheme_version": article.project.scheme.version_label,
    }
    for code in frame_order:
        expected[f"frame_{code}"] = "1" if code in frames else "0"
    stances = list(
        annotation.stances.select_related("target", "polarity", "holder__source")
    )
    for target in plan.targets:
        mine = [s for s in stances if s.target.code == target.code]
        author = next((s for s in mine if s.holder is None), None)
        held = [s for s in mine if s.holder is not None]
        sources = [
            f"{s.holder.source.name}={s.polarity.code}"
            for s in sorted(held, key=lambda s: s.holder.order)
        ]
        if author:
            main = (author.polarity.code, "author")
        elif held:
            first = min(held, key=lambda s: s.holder.order)
            main = (first.polarity.code, first.holder.source.name)
        else:
            main = ("none", "")
        expected[f"stance_{target.code}"] = main[0]
        expected[f"stance_{target.code}_holder"] = main[1]
        expected[f"stance_{target.code}_sources"] = sources
    return expected


def compare_row(row: dict, expected: dict, plan: ExportPlan) -> None:
    list_cols = set(list_columns(plan))
    attributions = len(expected["attribution_source_text"])
    for column, value in expected.items():
        got = row[column]
        from_csv = isinstance(got, str)
        if column in list_cols:
            got = split_cell(got) if from_csv else got
        if column in ATTRIBUTION_COLUMNS and from_csv and got == []:
            # One attribution with an empty optional item is an empty CSV cell
            # (see split_attributions).
            got = [""] * attributions
        assert got == value, (column, got, value)


# ---------------------------------------------------------------------------
# Pure parts
# ---------------------------------------------------------------------------


@pytest.fixture
def corpus(project, annotator, reviewer):
    second = factories.member(project, role="annotator", username="annotator2")
    article = hostile_corpus(project, [annotator, second])
    return article


def test_raw_csv_round_trips_every_field_through_csv_reader(project, corpus):
    options = ExportOptions()
    plan = build_plan(project, options)
    text = csv_text(project, options)
    assert not text.startswith(BOM)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    annotations = (
        Annotation.objects.own()
        .filter(article=corpus)
        .select_related("segment", "article__project__scheme", "annotator")
        .order_by("segment__position", "annotator__username")
    )
    assert len(rows) == annotations.count() > 0
    for row, annotation in zip(rows, annotations, strict=True):
        compare_row(row, expected_cells(annotation, plan), plan)
    assert reader.fieldnames == columns(plan)


def test_raw_csv_round_trips_through_pandas_and_loads_without_options(project, corpus):
    options = ExportOptions()
    plan = build_plan(project, options)
    text = csv_text(project, options)
    default = pd.read_csv(io.StringIO(text))
    assert list(default.columns) == columns(plan)
    assert default["segment_id"].dtype.kind == "i"
    assert default["unsure"].dtype.kind == "i"
    exact = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    annotations = (
        Annotation.objects.own()
        .filter(article=corpus)
        .select_related("segment", "article__project__scheme", "annotator")
        .order_by("segment__position", "annotator__username")
    )
    for (_, row), annotation in zip(exact.iterrows(), annotations, strict=True):
        compare_row(row.to_dict(), expected_cells(annotation, plan), plan)


def test_spreadsheet_csv_has_a_bom_and_neutralises_formulas_that_pandas_still_loads(
    project, corpus
):
    options = ExportOptions()
    text = csv_text(project, options, spreadsheet=True)
    assert text.startswith(BOM)
    frame = pd.read_csv(
        io.BytesIO(text.encode("utf-8")), dtype=str, keep_default_na=False
    )
    assert frame.columns[0] == "project"
    raw = pd.read_csv(
        io.StringIO(csv_text(project, options)), dtype=str, keep_default_na=False
    )
    neutralised = 0
    for column in frame.columns:
        for got, stored in zip(frame[column], raw[column], strict=True):
            if stored[:1] in FORMULA_TRIGGERS and stored:
                assert got == "'" + stored
                neutralised += 1
            else:
                assert got == stored
    # the title, comments and cues of the hostile corpus start with triggers
    assert neutralised > 10
    assert (frame["attribution_cue"].str.startswith("'=")).all()


def test_jsonl_is_never_altered_and_has_lists(project, corpus):
    options = ExportOptions()
    plan = build_plan(project, options)
    text = "".join(export_chunks(project, options, fmt="jsonl"))
    lines = text.splitlines()
    assert text.endswith("\n")
    annotations = (
        Annotation.objects.own()
        .filter(article=corpus)
        .select_related("segment", "article__project__scheme", "annotator")
        .order_by("segment__position", "annotator__username")
    )
    assert len(lines) == annotations.count()
    for line, annotation in zip(lines, annotations, strict=True):
        row = json.loads(line)
        assert list(row) == columns(plan)
        assert isinstance(row["frames"], list)
        assert isinstance(row["unsure"], bool)
        assert row["comment"] == annotation.comment
        assert row["attribution_cue"] == ["=sagte", "laut"]
        assert row["text"] == annotation.segment.text
        assert row["segment_id"] == annotation.segment_id


def test_include_unlabelled_rebuilds_every_article_text(project, corpus, annotator):
    other = factories.make_article(project, n_sentences=4, title="Unberührt")
    options = ExportOptions(mode="segments", include_unlabelled=True)
    frame = pd.read_csv(
        io.StringIO(csv_text(project, options)), dtype=str, keep_default_na=False
    )
    for article in (corpus, other):
        rows = frame[frame["article_id"] == str(article.pk)]
        assert list(rows["position"].astype(int)) == list(range(article.segment_count))
        rebuilt = list(" " * len(article.text))
        for _, row in rows.iterrows():
            start, end = int(row["start"]), int(row["end"])
            rebuilt[start:end] = row["text"]
        # Everything outside the segments is whitespace the segmenter stripped.
        assert "".join(rebuilt).split() == article.text.split()
        for _, row in rows.iterrows():
            assert article.text[int(row["start"]) : int(row["end"])] == row["text"]
    untouched = frame[frame["article_id"] == str(other.pk)]
    assert set(untouched["label_source"]) == {""}


def test_segments_mode_prefers_gold_and_exports_the_adjudicator(
    project, corpus, reviewer
):
    segment = corpus.segments.annotatable().order_by("position").first()
    annotate(
        segment, reviewer, claim="factual", frames=(), is_gold=True, comment="Gold"
    )
    options = ExportOptions(mode="segments")
    rows = list(csv.DictReader(io.StringIO(csv_text(project, options), newline="")))
    first = next(row for row in rows if row["segment_id"] == str(segment.pk))
    assert (
        first["label_source"],
        first["annotator"],
        first["claim"],
        first["comment"],
        first["n_annotators"],
    ) == ("gold", "reviewer", "factual", "Gold", "2")
    assert all(row["label_source"] == "majority" for row in rows if row is not first)


def test_annotator_filter_and_pseudonyms(project, corpus, annotator):
    options = ExportOptions(annotators=["annotator1"], pseudonymise=True)
    rows = list(csv.DictReader(io.StringIO(csv_text(project, options), newline="")))
    assert rows
    assert {row["annotator"] for row in rows} == {
        pseudonym("annotator1", pseudonym_key())
    }
    assert "annotator1" not in csv_text(project, options)


def test_deactivated_label_is_still_exported_as_it_was(project, corpus):
    from annotations.models import Label

    Label.objects.filter(dimension__scheme=project.scheme, code="political").update(
        active=False
    )
    rows = list(
        csv.DictReader(io.StringIO(csv_text(project, ExportOptions()), newline=""))
    )
    assert any(row["frame_political"] == "1" for row in rows)


def test_export_runs_a_fixed_number_of_queries(
    project, annotator, django_assert_max_num_queries
):
    small = factories.make_article(project, n_sentences=1, title="Klein")
    for segment in small.segments.annotatable():
        annotate(segment, annotator)
    for mode, unlabelled in [
        ("annotations", False),
        ("annotations", True),
        ("segments", False),
    ]:
        options = ExportOptions(mode=mode, include_unlabelled=unlabelled)
        with django_assert_max_num_queries(export_queries(5)):
            small_rows = len(csv_text(project, options).splitlines())
    big = factories.make_article(project, n_sentences=60, title="Groß")
    for segment in big.segments.annotatable():
        annotate(segment, annotator)
    for mode, unlabelled in [
        ("annotations", False),
        ("annotations", True),
        ("segments", False),
    ]:
        options = ExportOptions(mode=mode, include_unlabelled=unlabelled)
        with django_assert_max_num_queries(export_queries(5)):
            big_rows = len(csv_text(project, options).splitlines())
    assert big_rows > small_rows + 60


def test_codebook_counts_labels_and_reports_agreement(project, corpus):
    data = codebook(project, ExportOptions())
    claim = next(d for d in data["dimensions"] if d["code"] == "claim")
    n_rows = Annotation.objects.own().count()
    assert sum(label["count"] for label in claim["labels"]) == n_rows
    assert data["agreement"]["claim"]["n_coders"] == 2
    assert data["agreement"]["frames"]["n_items"] > 0
    text = codebook_markdown(data)
    assert "## Agreement" in text
    assert "Cohen's kappa" in text
    frames = next(d for d in data["dimensions"] if d["code"] == "frames")
    assert frames["labels"][0]["mappings"]["mfc"] == "1.0"
