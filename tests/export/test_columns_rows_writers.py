"""The export's plain modules without a database: columns, cells, shaping rows
(annotations and segments mode), the writers and the codebook."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from annotations.export.codebook import codebook_data, codebook_json, codebook_markdown
from annotations.export.columns import (
    ATTRIBUTION_COLUMNS,
    FIXED_COLUMNS,
    DimensionInfo,
    ExportPlan,
    LabelInfo,
    TargetInfo,
    columns,
    parse_span,
    span_text,
)
from annotations.export.rows import (
    Counts,
    annotation_records_by_segment,
    pseudonym,
    shape_rows,
)
from annotations.export.writers import (
    join_cell,
    neutralise,
    split_attributions,
    split_cell,
)


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
    assert split_cell(join_cell(items)) == items


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
    assert split_attributions(row) == [
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
    lone = dict.fromkeys(ATTRIBUTION_COLUMNS, "")
    lone["attribution_source_text"] = lone["attribution_source"] = "Kreml"
    assert split_attributions(lone)[0]["cue_spans"] == []
    assert split_attributions({**lone, "attribution_cue_spans": ["1..2"]})[0][
        "cue_spans"
    ] == [(1, 2)]
    with pytest.raises(ValueError, match="attribution_form has 2 items"):
        split_attributions({**lone, "attribution_form": "a;b"})


@pytest.mark.parametrize("span", [(0, 1), (3, 5), (12, 127)])
def test_span_text_round_trips_and_is_not_a_spreadsheet_date(span):
    text = span_text(span)
    assert "-" not in text
    assert "/" not in text
    assert parse_span(text) == span
    assert span_text(None) == ""
    assert parse_span("") is None


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise_prefixes_every_formula_trigger(trigger):
    assert neutralise(f"{trigger}1+1") == f"'{trigger}1+1"


def test_neutralise_leaves_ordinary_text_alone():
    for text in ["", "Kreml", "a=b", " =x", "'quoted", "1-2"]:
        assert neutralise(text) == text


def test_pseudonym_is_stable_per_key_and_hides_the_username():
    key = b"k"
    assert pseudonym("annotator1", key) == pseudonym("annotator1", key)
    assert pseudonym("annotator1", key) != pseudonym("annotator2", key)
    assert pseudonym("annotator1", key) != pseudonym("annotator1", b"other")
    assert "annotator1" not in pseudonym("annotator1", key)
    assert pseudonym("annotator1", key).startswith("ann_")


def _plan(mode="annotations", **kwargs) -> ExportPlan:
    claim = DimensionInfo(
        code="claim",
        role="claim",
        name_en="Claim",
        labels=(
            LabelInfo(
                "checkworthy",
                "Check-worthy",
                mappings={"claimbuster": "CFS", "checkthat": "yes"},
            ),
            LabelInfo(
                "opinion", "Opinion", mappings={"claimbuster": "NFS", "checkthat": "no"}
            ),
        ),
    )
    frames = DimensionInfo(
        code="frames",
        role="frames",
        name_en="Frames",
        multi=True,
        labels=(
            LabelInfo("economic", "Economic"),
            LabelInfo("political", "Political"),
        ),
    )
    stance = DimensionInfo(
        code="stance",
        role="stance",
        name_en="Stance",
        labels=(LabelInfo("favor", "Favor"), LabelInfo("none", "None")),
    )
    return ExportPlan(
        project="p",
        scheme_name="s",
        scheme_version="s@1",
        dimensions=(claim, frames, stance),
        targets=(TargetInfo("nato", "NATO"),),
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
    names = columns(_plan())
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
        "attribution_suggestion",
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
    rows = list(shape_rows(plan, annotation_records_by_segment(records, segments)))
    by_position = [dict(zip(columns(plan), row, strict=True)) for row in rows]
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
        shape_rows(plan, annotation_records_by_segment(records, [_segment(1, 0)]))
    )
    row = dict(zip(columns(plan), rows[0], strict=True))
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
        shape_rows(plan, annotation_records_by_segment(records, [_segment(1, 0)]))
    )
    row = dict(zip(columns(plan), rows[0], strict=True))
    assert row["attribution_source_span"] == ["2..3"]


def test_segments_without_labels_appear_only_when_asked():
    segments = [_segment(1, 0), _segment(1, 1)]
    records = [_record(1, 1, "a", {"claim": ["opinion"]})]
    for include, expected in [(False, [1]), (True, [0, 1])]:
        plan = _plan(include_unlabelled=include)
        rows = list(shape_rows(plan, annotation_records_by_segment(records, segments)))
        assert [row[7] for row in rows] == expected


def test_merge_reads_both_streams_lazily():
    def segments():
        for position in range(10**9):  # would never end if read eagerly
            yield _segment(1, position)

    records = iter([_record(1, 0, "a", {"claim": ["opinion"]})])
    grouped = annotation_records_by_segment(records, segments())
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
        dict(zip(columns(plan), row, strict=True))
        for row in shape_rows(plan, annotation_records_by_segment(records, segments))
    ]
    assert [(r["article_id"], r["annotator"], r["article_frames"]) for r in rows] == [
        (1, "a", ["economic", "political"]),
        (1, "b", []),
        (1, "a", ["economic", "political"]),
        (2, "a", []),
    ]


def test_codebook_markdown_lists_every_label_with_its_mapping_and_count():
    plan = _plan()
    counts = Counts(plan)
    counts.labels["claim"]["checkworthy"] = 7
    data = codebook_data(plan, counts, generated=datetime(2025, 1, 1, tzinfo=UTC))
    text = codebook_markdown(data)
    assert "| `checkworthy` | Check-worthy |" in text
    assert "| CFS | yes | 7 |" in text
    assert "`stance_nato_sources`" in text
    assert json.loads(codebook_json(data))["dimensions"][0]["labels"][0]["count"] == 7


# ---------------------------------------------------------------------------
# Round trips against the database
# ---------------------------------------------------------------------------


def test_docs_describe_every_fixed_column():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name, _ in FIXED_COLUMNS:
        if not name.startswith("<"):
            assert f"`{name}`" in docs, name
