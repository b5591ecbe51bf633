"""The export: columns, shaping, CSV/JSONL writers, round trips against the database.

The module under test (``annotations/export.py``) is plain Python; its pure parts
are tested without a database, the round trips through ``annotations/exporting.py``
on whichever database DATABASE_URL names (SQLite by default, PostgreSQL in CI).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from django.db import connection

from annotations import export, exporting
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
    return "".join(
        exporting.export_chunks(project, options, fmt="csv", spreadsheet=spreadsheet)
    )


def expected_cells(annotation: Annotation, plan: export.ExportPlan) -> dict:
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


def compare_row(row: dict, expected: dict, plan: export.ExportPlan) -> None:
    list_cols = set(export.list_columns(plan))
    attributions = len(expected["attribution_source_text"])
    for column, value in expected.items():
        got = row[column]
        from_csv = isinstance(got, str)
        if column in list_cols:
            got = export.split_cell(got) if from_csv else got
        if column in export.ATTRIBUTION_COLUMNS and from_csv and got == []:
            # One attribution with an empty optional item is an empty CSV cell
            # (see export.split_attributions).
            got = [""] * attributions
        assert got == value, (column, got, value)


# ---------------------------------------------------------------------------
# Pure parts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "items",
    [
        [],
        ["a"],
        ["a;b", "c\\d", ";", "\\"],
        ["Peskow; der Sprecher", "x\\;y"],
        ["é", "ü"],
    ],
)
def test_split_cell_inverts_join_cell(items):
    assert export.split_cell(export.join_cell(items)) == items


def test_split_attributions_pairs_the_parallel_lists_and_parses_spans():
    row = {
        "attribution_source_text": "Peskow\\; der Sprecher;Kreml",
        "attribution_source": "Dmitri Peskow;Kreml",
        "attribution_source_type": "person;institution",
        "attribution_form": "indirect;",
        "attribution_cue": "sagte;laut",
        "attribution_source_span": "0..6;",
        "attribution_cue_spans": "7..12+20..31;",
    }
    assert export.split_attributions(row) == [
        {
            "source_text": "Peskow; der Sprecher",
            "source": "Dmitri Peskow",
            "source_type": "person",
            "form": "indirect",
            "cue": "sagte",
            "source_span": (0, 6),
            "cue_spans": [(7, 12), (20, 31)],
        },
        {
            "source_text": "Kreml",
            "source": "Kreml",
            "source_type": "institution",
            "form": "",
            "cue": "laut",
            "source_span": None,
            "cue_spans": [],
        },
    ]
    # One attribution whose optional lists are empty cells; JSONL arrays as they are.
    lone = dict.fromkeys(export.ATTRIBUTION_COLUMNS, "")
    lone["attribution_source_text"] = lone["attribution_source"] = "Kreml"
    assert export.split_attributions(lone)[0]["cue_spans"] == []
    assert export.split_attributions({**lone, "attribution_cue_spans": ["1..2"]})[0][
        "cue_spans"
    ] == [(1, 2)]
    with pytest.raises(ValueError, match="attribution_form has 2 items"):
        export.split_attributions({**lone, "attribution_form": "a;b"})


@pytest.mark.parametrize("span", [(0, 1), (3, 5), (12, 127)])
def test_span_text_round_trips_and_is_not_a_spreadsheet_date(span):
    text = export.span_text(span)
    assert "-" not in text
    assert "/" not in text
    assert export.parse_span(text) == span
    assert export.span_text(None) == ""
    assert export.parse_span("") is None


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise_prefixes_every_formula_trigger(trigger):
    assert export.neutralise(f"{trigger}1+1") == f"'{trigger}1+1"


def test_neutralise_leaves_ordinary_text_alone():
    for text in ["", "Kreml", "a=b", " =x", "'quoted", "1-2"]:
        assert export.neutralise(text) == text


def test_pseudonym_is_stable_per_key_and_hides_the_username():
    key = b"k"
    assert export.pseudonym("annotator1", key) == export.pseudonym("annotator1", key)
    assert export.pseudonym("annotator1", key) != export.pseudonym("annotator2", key)
    assert export.pseudonym("annotator1", key) != export.pseudonym(
        "annotator1", b"other"
    )
    assert "annotator1" not in export.pseudonym("annotator1", key)
    assert export.pseudonym("annotator1", key).startswith("ann_")


def _plan(mode="annotations", **kwargs) -> export.ExportPlan:
    claim = export.DimensionInfo(
        code="claim",
        role="claim",
        name_en="Claim",
        labels=(
            export.LabelInfo(
                "checkworthy",
                "Check-worthy",
                mappings={"claimbuster": "CFS", "checkthat": "yes"},
            ),
            export.LabelInfo(
                "opinion", "Opinion", mappings={"claimbuster": "NFS", "checkthat": "no"}
            ),
        ),
    )
    frames = export.DimensionInfo(
        code="frames",
        role="frames",
        name_en="Frames",
        multi=True,
        labels=(
            export.LabelInfo("economic", "Economic"),
            export.LabelInfo("political", "Political"),
        ),
    )
    stance = export.DimensionInfo(
        code="stance",
        role="stance",
        name_en="Stance",
        labels=(export.LabelInfo("favor", "Favor"), export.LabelInfo("none", "None")),
    )
    return export.ExportPlan(
        project="p",
        scheme_name="s",
        scheme_version="s@1",
        dimensions=(claim, frames, stance),
        targets=(export.TargetInfo("nato", "NATO"),),
        mode=mode,
        **kwargs,
    )


def _segment(article, position, text="Satz."):
    return (
        position + 100 * article,
        article,
        position,
        0,
        "sentence",
        0,
        len(text),
        text,
        "Titel",
        "Outlet",
        "",
        date(2025, 5, 1),
    )


def _record(
    article, position, user, labels, *, gold=False, stances=(), attributions=()
):
    values = {
        "labels": labels,
        "primary": {},
        "attributions": list(attributions),
        "stances": list(stances),
        "unsure": False,
        "comment": "",
    }
    moment = datetime(2025, 5, 1, tzinfo=UTC)
    return (article, position, user, gold, values, False, "", moment, moment, 10)


def test_columns_of_annotations_mode_follow_the_issue_order():
    names = export.columns(_plan())
    assert names[:14] == [
        "project",
        "article_id",
        "article_title",
        "outlet",
        "url",
        "published",
        "segment_id",
        "position",
        "paragraph",
        "kind",
        "start",
        "end",
        "text",
        "annotator",
    ]
    assert names[-6:] == [
        "comment",
        "unsure",
        "created",
        "updated",
        "time_spent_ms",
        "scheme_version",
    ]
    attribution_lists = [n for n in names if n.startswith("attribution_")]
    assert attribution_lists == [
        "attribution_source_text",
        "attribution_source",
        "attribution_source_type",
        "attribution_form",
        "attribution_cue",
        "attribution_source_span",
        "attribution_cue_spans",
    ]
    for name in [
        "claim_claimbuster",
        "stance_nato",
        "stance_nato_holder",
        "stance_nato_sources",
        "frames",
        "frame_primary",
        "frame_economic",
        "frame_political",
        "article_frames",
    ]:
        assert name in names
    assert "label_source" not in names
    assert "claim_agree" not in names
    assert len(set(names)) == len(names)


def test_segments_mode_takes_the_strict_majority_and_counts_agreement():
    plan = _plan("segments")
    segments = [_segment(1, 0), _segment(1, 1), _segment(1, 2)]
    records = [
        # segment 0: 2 of 3 say checkworthy; frames: political by all, economic by 1
        _record(1, 0, "a", {"claim": ["checkworthy"], "frames": ["political"]}),
        _record(
            1,
            0,
            "b",
            {"claim": ["checkworthy"], "frames": ["political", "economic"]},
            stances=[{"target": "nato", "polarity": "favor", "holder": None}],
        ),
        _record(1, 0, "c", {"claim": ["opinion"], "frames": ["political"]}),
        # segment 1: a tie, no majority
        _record(1, 1, "a", {"claim": ["checkworthy"]}),
        _record(1, 1, "b", {"claim": ["opinion"]}),
        # segment 2: gold wins over the annotators
        _record(1, 2, "a", {"claim": ["opinion"]}),
        _record(1, 2, "boss", {"claim": ["checkworthy"]}, gold=True),
    ]
    records.sort(key=lambda r: (r[0], r[1], r[2]))
    rows = list(
        export.shape_rows(plan, export.annotation_records_by_segment(records, segments))
    )
    by_position = [dict(zip(export.columns(plan), row, strict=True)) for row in rows]
    first, tie, gold = by_position
    assert (
        first["label_source"],
        first["n_annotators"],
        first["claim"],
        first["claim_agree"],
        first["claim_claimbuster"],
    ) == ("majority", 3, "checkworthy", 2, "CFS")
    assert first["frames"] == ["political"]
    assert first["frames_agree"] == 2
    assert first["frame_political"] == 1
    assert first["frame_economic"] == 0
    assert (first["stance_nato"], first["stance_nato_agree"]) == ("none", 2)
    assert first["article_frames"] == ["political"]
    assert (tie["claim"], tie["claim_agree"], tie["claim_claimbuster"]) == ("", 0, "")
    assert (
        gold["label_source"],
        gold["annotator"],
        gold["claim"],
        gold["claim_agree"],
    ) == ("gold", "boss", "checkworthy", 0)


def _attribution(source, *, span=None, cue_spans=()):
    return {
        "source_text": source,
        "source": source,
        "source_type": "person",
        "form": "indirect",
        "cue_text": "sagte",
        "source_span": list(span) if span else None,
        "cue_spans": [list(part) for part in cue_spans],
    }


def test_segments_mode_majority_attribution_takes_the_most_marked_spans():
    plan = _plan("segments")
    # All four give the same attribution; their spans differ: the attribution has
    # a majority (4 of 4) although no span has (2 of 4), and takes the commonest.
    peskow = [
        _attribution("Peskow", span=(0, 6), cue_spans=[(7, 12)]),
        _attribution("Peskow", span=(0, 6), cue_spans=[(7, 12)]),
        _attribution("Peskow", span=(0, 7)),
        _attribution("Peskow"),
    ]
    records = [
        _record(1, 0, user, {"claim": ["factual"]}, attributions=[attribution])
        for user, attribution in zip("abcd", peskow, strict=True)
    ]
    # Only one of four names the Kreml: no majority for that attribution.
    records[2][4]["attributions"].append(_attribution("Kreml", span=(20, 25)))
    rows = list(
        export.shape_rows(
            plan, export.annotation_records_by_segment(records, [_segment(1, 0)])
        )
    )
    row = dict(zip(export.columns(plan), rows[0], strict=True))
    assert row["attribution_source"] == ["Peskow"]
    assert row["attribution_source_span"] == ["0..6"]
    assert row["attribution_cue_spans"] == ["7..12"]


def test_segments_mode_majority_spans_prefer_marked_ones_on_a_tie():
    plan = _plan("segments")
    records = [
        _record(1, 0, "a", {"claim": ["factual"]}, attributions=[_attribution("P")]),
        _record(
            1,
            0,
            "b",
            {"claim": ["factual"]},
            attributions=[_attribution("P", span=(2, 3))],
        ),
    ]
    rows = list(
        export.shape_rows(
            plan, export.annotation_records_by_segment(records, [_segment(1, 0)])
        )
    )
    row = dict(zip(export.columns(plan), rows[0], strict=True))
    assert row["attribution_source_span"] == ["2..3"]


def test_segments_without_labels_appear_only_when_asked():
    segments = [_segment(1, 0), _segment(1, 1)]
    records = [_record(1, 1, "a", {"claim": ["opinion"]})]
    for include, expected in [(False, [1]), (True, [0, 1])]:
        plan = _plan(include_unlabelled=include)
        rows = list(
            export.shape_rows(
                plan, export.annotation_records_by_segment(records, segments)
            )
        )
        assert [row[7] for row in rows] == expected


def test_merge_reads_both_streams_lazily():
    def segments():
        for position in range(10**9):  # would never end if read eagerly
            yield _segment(1, position)

    records = iter([_record(1, 0, "a", {"claim": ["opinion"]})])
    grouped = export.annotation_records_by_segment(records, segments())
    first = next(grouped)
    assert first[0][2] == 0
    assert len(first[1]) == 1


def test_article_frames_is_the_union_per_annotator_and_article():
    plan = _plan()
    segments = [_segment(1, 0), _segment(1, 1), _segment(2, 0)]
    records = [
        _record(1, 0, "a", {"claim": ["opinion"], "frames": ["political"]}),
        _record(1, 0, "b", {"claim": ["opinion"], "frames": []}),
        _record(1, 1, "a", {"claim": ["opinion"], "frames": ["economic"]}),
        _record(2, 0, "a", {"claim": ["opinion"], "frames": []}),
    ]
    rows = [
        dict(zip(export.columns(plan), row, strict=True))
        for row in export.shape_rows(
            plan, export.annotation_records_by_segment(records, segments)
        )
    ]
    assert [(r["article_id"], r["annotator"], r["article_frames"]) for r in rows] == [
        (1, "a", ["economic", "political"]),
        (1, "b", []),
        (1, "a", ["economic", "political"]),
        (2, "a", []),
    ]


def test_codebook_markdown_lists_every_label_with_its_mapping_and_count():
    plan = _plan()
    counts = export.Counts(plan)
    counts.labels["claim"]["checkworthy"] = 7
    data = export.codebook_data(
        plan, counts, generated=datetime(2025, 1, 1, tzinfo=UTC)
    )
    text = export.codebook_markdown(data)
    assert "| `checkworthy` | Check-worthy |" in text
    assert "| CFS | yes | 7 |" in text
    assert "`stance_nato_sources`" in text
    assert (
        json.loads(export.codebook_json(data))["dimensions"][0]["labels"][0]["count"]
        == 7
    )


# ---------------------------------------------------------------------------
# Round trips against the database
# ---------------------------------------------------------------------------


@pytest.fixture
def corpus(project, annotator, reviewer):
    second = factories.member(project, role="annotator", username="annotator2")
    article = hostile_corpus(project, [annotator, second])
    return article


def test_raw_csv_round_trips_every_field_through_csv_reader(project, corpus):
    options = exporting.ExportOptions()
    plan = exporting.build_plan(project, options)
    text = csv_text(project, options)
    assert not text.startswith(export.BOM)
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
    assert reader.fieldnames == export.columns(plan)


def test_raw_csv_round_trips_through_pandas_and_loads_without_options(project, corpus):
    options = exporting.ExportOptions()
    plan = exporting.build_plan(project, options)
    text = csv_text(project, options)
    default = pd.read_csv(io.StringIO(text))
    assert list(default.columns) == export.columns(plan)
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
    options = exporting.ExportOptions()
    text = csv_text(project, options, spreadsheet=True)
    assert text.startswith(export.BOM)
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
            if stored[:1] in export.FORMULA_TRIGGERS and stored:
                assert got == "'" + stored
                neutralised += 1
            else:
                assert got == stored
    # the title, comments and cues of the hostile corpus start with triggers
    assert neutralised > 10
    assert (frame["attribution_cue"].str.startswith("'=")).all()


def test_jsonl_is_never_altered_and_has_lists(project, corpus):
    options = exporting.ExportOptions()
    plan = exporting.build_plan(project, options)
    text = "".join(exporting.export_chunks(project, options, fmt="jsonl"))
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
        assert list(row) == export.columns(plan)
        assert isinstance(row["frames"], list)
        assert isinstance(row["unsure"], bool)
        assert row["comment"] == annotation.comment
        assert row["attribution_cue"] == ["=sagte", "laut"]
        assert row["text"] == annotation.segment.text
        assert row["segment_id"] == annotation.segment_id


def test_include_unlabelled_rebuilds_every_article_text(project, corpus, annotator):
    other = factories.make_article(project, n_sentences=4, title="Unberührt")
    options = exporting.ExportOptions(mode="segments", include_unlabelled=True)
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
    options = exporting.ExportOptions(mode="segments")
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
    options = exporting.ExportOptions(annotators=["annotator1"], pseudonymise=True)
    rows = list(csv.DictReader(io.StringIO(csv_text(project, options), newline="")))
    assert rows
    assert {row["annotator"] for row in rows} == {
        export.pseudonym("annotator1", exporting.pseudonym_key())
    }
    assert "annotator1" not in csv_text(project, options)


def test_deactivated_label_is_still_exported_as_it_was(project, corpus):
    from annotations.models import Label

    Label.objects.filter(dimension__scheme=project.scheme, code="political").update(
        active=False
    )
    rows = list(
        csv.DictReader(
            io.StringIO(csv_text(project, exporting.ExportOptions()), newline="")
        )
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
        options = exporting.ExportOptions(mode=mode, include_unlabelled=unlabelled)
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
        options = exporting.ExportOptions(mode=mode, include_unlabelled=unlabelled)
        with django_assert_max_num_queries(export_queries(5)):
            big_rows = len(csv_text(project, options).splitlines())
    assert big_rows > small_rows + 60


def test_codebook_counts_labels_and_reports_agreement(project, corpus):
    data = exporting.codebook(project, exporting.ExportOptions())
    claim = next(d for d in data["dimensions"] if d["code"] == "claim")
    n_rows = Annotation.objects.own().count()
    assert sum(label["count"] for label in claim["labels"]) == n_rows
    assert data["agreement"]["claim"]["n_coders"] == 2
    assert data["agreement"]["frames"]["n_items"] > 0
    text = export.codebook_markdown(data)
    assert "## Agreement" in text
    assert "Cohen's kappa" in text
    frames = next(d for d in data["dimensions"] if d["code"] == "frames")
    assert frames["labels"][0]["mappings"]["mfc"] == "1.0"


def test_docs_describe_every_fixed_column():
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name, _ in export.FIXED_COLUMNS:
        if not name.startswith("<"):
            assert f"`{name}`" in docs, name
