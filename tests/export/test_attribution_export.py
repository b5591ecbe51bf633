"""Attributions in segments mode and the codebook, without a database: an
attribution is one canonical source, kept when more than half gave it, its type,
form and cue each the majority among those who gave it; the count columns; the
stance holder; the codebook's attribution and span agreement (hand-computed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from annotations.export.codebook import (
    agreement_figures,
    codebook_data,
    codebook_markdown,
)
from annotations.export.columns import columns
from annotations.export.rows import (
    Counts,
    annotation_records_by_segment,
    shape_rows,
)
from annotations.export.writers import csv_chunks, jsonl_chunks
from tests.export.test_columns_rows_writers import _plan, _record, _segment


def attribution(
    source,
    *,
    canonical=None,
    source_type="person",
    form="indirect",
    cue="sagte",
    span=None,
    cue_spans=(),
):
    return {
        "source_text": source,
        "source": canonical if canonical is not None else source,
        "source_type": source_type,
        "form": form,
        "cue_text": cue,
        "source_span": list(span) if span else None,
        "cue_spans": [list(part) for part in cue_spans],
    }


def segment_rows(records, segments=None, *, mode="segments", counts=None):
    plan = _plan(mode)
    segments = segments or [_segment(1, 0)]
    records = sorted(records, key=lambda r: (r[0], r[1], r[2]))
    grouped = annotation_records_by_segment(records, segments)
    return [
        dict(zip(columns(plan), row, strict=True))
        for row in shape_rows(plan, grouped, counts=counts)
    ]


def labelled(user, *attributions, stances=(), position=0, gold=False):
    return _record(
        1,
        position,
        user,
        {"claim": ["factual"]},
        attributions=attributions,
        stances=stances,
        gold=gold,
    )


def test_two_annotators_who_disagree_on_the_form_keep_the_source_with_empty_form():
    """The issue's case: the same source, the same type, forms direct/indirect."""
    (row,) = segment_rows(
        [
            labelled("a", attribution("Peskow", canonical="Dmitri Peskow")),
            labelled(
                "b", attribution("Peskow", canonical="Dmitri Peskow", form="direct")
            ),
        ]
    )
    assert row["attribution_source"] == ["Dmitri Peskow"]
    assert row["attribution_source_text"] == ["Peskow"]
    assert row["attribution_source_type"] == ["person"]
    assert row["attribution_form"] == [""]  # 1:1, no majority
    assert row["attribution_cue"] == ["sagte"]
    assert row["attribution_agree"] == [2]
    assert row["attribution_source_type_agree"] == [2]
    assert row["attribution_form_agree"] == [0]  # nobody left the form empty
    assert row["attribution_cue_agree"] == [2]
    assert row["attribution_source_span_agree"] == [2]  # nobody marked one


def test_each_item_is_voted_among_those_who_gave_the_source():
    """Three annotators. Peskow by all three (canonical spelled twice with
    another spacing and case: the same key): person 2 of 3, indirect 2 of 3,
    "sagte" 2 of 3, the span marked by one only. Kreml by a and c (2 of 3: kept),
    institution by both, forms "" and reported (1 of 2 each: empty)."""
    records = [
        labelled(
            "a",
            attribution("Peskow", canonical="Dmitri Peskow", span=(0, 6)),
            attribution("Kreml", source_type="institution", form=""),
        ),
        labelled(
            "b",
            attribution("Peskow", canonical="dmitri  PESKOW", form="direct"),
        ),
        labelled(
            "c",
            attribution("Kreml", source_type="institution", form="reported"),
            attribution(
                "Sprecher Peskow",
                canonical="Dmitri Peskow",
                source_type="institution",
                cue="erklärte",
            ),
        ),
    ]
    (row,) = segment_rows(records)
    # In the order they first appear (a's order), spelled as most of them do.
    assert row["attribution_source"] == ["Dmitri Peskow", "Kreml"]
    assert row["attribution_source_text"] == ["Peskow", "Kreml"]
    assert row["attribution_source_type"] == ["person", "institution"]
    assert row["attribution_form"] == ["indirect", ""]
    assert row["attribution_cue"] == ["sagte", "sagte"]
    # One of three marked a span, two did not: the commonest is "none".
    assert row["attribution_source_span"] == ["", ""]
    assert row["attribution_agree"] == [3, 2]
    assert row["attribution_source_type_agree"] == [2, 2]
    assert row["attribution_form_agree"] == [2, 1]  # Kreml: a gave no form
    assert row["attribution_cue_agree"] == [2, 2]
    assert row["attribution_source_span_agree"] == [2, 2]
    assert row["attribution_cue_spans_agree"] == [3, 2]


def test_a_source_only_half_gave_is_not_exported():
    (row,) = segment_rows(
        [
            labelled("a", attribution("Peskow"), attribution("Kreml")),
            labelled("b", attribution("Peskow")),
        ]
    )
    assert row["attribution_source"] == ["Peskow"]
    assert row["attribution_agree"] == [2]


def test_a_source_given_twice_is_matched_in_order():
    """a names Peskow twice (direct, then indirect), b once (direct): the first
    ones match (2 of 2), a's second is a's alone (1 of 2: dropped)."""
    (row,) = segment_rows(
        [
            labelled(
                "a",
                attribution("Peskow", form="direct"),
                attribution("Peskow", form="indirect"),
            ),
            labelled("b", attribution("Peskow", form="direct")),
        ]
    )
    assert row["attribution_source"] == ["Peskow"]
    assert row["attribution_form"] == ["direct"]
    assert row["attribution_form_agree"] == [2]


def test_the_stance_holder_names_the_exported_source():
    """a gives Kreml and Peskow and lets Peskow (index 1) hold the stance; b gives
    only Peskow (index 0), spelled in lower case. Kreml is dropped (1 of 2), so
    Peskow is the first exported attribution, and the holder and the source
    stances name it as the attribution list does."""
    against = {"target": "nato", "polarity": "favor"}
    (row,) = segment_rows(
        [
            labelled(
                "a",
                attribution("Kreml"),
                attribution("Peskow", canonical="Dmitri Peskow"),
                stances=[{**against, "holder": 1}],
            ),
            labelled(
                "b",
                attribution("peskow", canonical="dmitri peskow"),
                stances=[{**against, "holder": 0}],
            ),
        ]
    )
    assert row["attribution_source"] == ["Dmitri Peskow"]
    assert row["stance_nato"] == "favor"
    assert row["stance_nato_holder"] == "Dmitri Peskow"
    assert row["stance_nato_sources"] == ["Dmitri Peskow=favor"]
    assert row["stance_nato_agree"] == 2


def test_gold_rows_count_the_annotators_who_gave_each_gold_attribution():
    records = [
        labelled("a", attribution("Peskow", form="direct")),
        labelled("b", attribution("Peskow", form="indirect")),
        labelled(
            "boss",
            attribution("Peskow", form="direct"),
            attribution("Kreml", source_type="institution"),
            gold=True,
        ),
    ]
    (row,) = segment_rows(records)
    assert row["label_source"] == "gold"
    assert row["attribution_source"] == ["Peskow", "Kreml"]
    assert row["attribution_agree"] == [2, 0]
    assert row["attribution_form_agree"] == [1, 0]
    assert row["attribution_source_type_agree"] == [2, 0]


def test_count_lists_are_numbers_joined_in_csv_and_arrays_in_jsonl():
    plan = _plan("segments")
    records = [
        labelled("a", attribution("Peskow"), attribution("Kreml")),
        labelled("b", attribution("Kreml"), attribution("Peskow", form="direct")),
    ]

    def rows():
        return shape_rows(
            plan, annotation_records_by_segment(records, [_segment(1, 0)])
        )

    text = "".join(csv_chunks(plan, rows(), spreadsheet=True))
    header, line = text.removeprefix("\ufeff").split("\r\n")[:2]
    cells = dict(zip(header.split(","), line.split(","), strict=True))
    assert cells["attribution_agree"] == "2;2"
    # Peskow: indirect / direct, no form (agree 0); Kreml indirect by both.
    assert cells["attribution_form_agree"] == "0;2"
    record = json.loads("".join(jsonl_chunks(plan, rows())))
    assert record["attribution_agree"] == [2, 2]
    assert record["attribution_form_agree"] == [0, 2]
    assert record["attribution_form"] == ["", "indirect"]


def test_annotations_mode_has_no_count_columns():
    names = columns(_plan())
    assert not [name for name in names if name.endswith("_agree")]


# ---------------------------------------------------------------------------
# Codebook: agreement on attributions and spans, hand-computed
# ---------------------------------------------------------------------------


def _four_segments():
    """Two annotators, four segments:

    0: both Peskow (person), forms direct / indirect, spans 0..6 / 0..7
    1: a Peskow (person, indirect, no span), b nothing
    2: neither gives an attribution
    3: both Kreml (institution, reported), spans 10..15 / 20..25
    """
    segments = [_segment(1, position) for position in range(4)]
    records = [
        labelled("a", attribution("Peskow", form="direct", span=(0, 6))),
        labelled("b", attribution("Peskow", span=(0, 7))),
        labelled("a", attribution("Peskow"), position=1),
        labelled("b", position=1),
        labelled("a", position=2),
        labelled("b", position=2),
        labelled(
            "a",
            attribution(
                "Kreml", source_type="institution", form="reported", span=(10, 15)
            ),
            position=3,
        ),
        labelled(
            "b",
            attribution(
                "Kreml", source_type="institution", form="reported", span=(20, 25)
            ),
            position=3,
        ),
    ]
    return segments, records


@pytest.mark.parametrize("mode", ["annotations", "segments"])
def test_codebook_reports_attribution_agreement_computed_by_hand(mode):
    segments, records = _four_segments()
    plan = _plan(mode)
    counts = Counts(plan)
    segment_rows(records, segments, mode=mode, counts=counts)
    data = codebook_data(
        plan,
        counts,
        generated=datetime(2025, 1, 1, tzinfo=UTC),
        agreement=agreement_figures,
    )
    figures = data["agreement"]
    # Presence: yes/yes, yes/no, no/no, yes/yes; 8 values, 5 yes and 3 no, one
    # disagreeing item: alpha = 1 - (8 - 1) * 2 / (2 * 5 * 3) = 8/15.
    presence = figures["attribution presence (any attribution: yes/no)"]
    assert presence["alpha"] == pytest.approx(8 / 15)
    assert presence["n_items"] == 4
    # Sources where both gave one (segments 0 and 3): the same sets: alpha 1.
    sources = figures["attribution canonical sources (set per segment)"]
    assert (sources["alpha"], sources["n_items"]) == (1.0, 2)
    # Type on matched attributions: person/person, institution/institution.
    types = figures["attribution source type (matched attributions)"]
    assert (types["alpha"], types["n_items"]) == (1.0, 2)
    # Form: direct/indirect and reported/reported; values direct 1, indirect 1,
    # reported 2: alpha = 1 - (4 - 1) * 2 / (2 * (1*1 + 1*2 + 1*2)) = 0.4.
    forms = figures["attribution form (matched attributions)"]
    assert forms["alpha"] == pytest.approx(0.4)
    # Source spans: a's 0..6 is found by b's 0..7, a's 10..15 not by 20..25;
    # the same for b's: precision 1/2, recall 1/2, F1 1/2.
    spans = data["span_agreement"]["source spans"]
    (pair,) = spans["pairwise"]
    assert (pair["a"], pair["b"]) == ("a", "b")
    assert (pair["precision"], pair["recall"], pair["f1"]) == (0.5, 0.5, 0.5)
    assert (pair["units_a"], pair["units_b"], pair["n_items"]) == (2, 2, 4)
    assert spans["f1"] == 0.5
    # No cue span was marked: nothing to compare.
    assert data["span_agreement"]["cue spans"]["f1"] is None
    text = codebook_markdown(data)
    assert "| attribution form (matched attributions) | 0.400 |" in text
    assert "| source spans | a | b | 0.500 | 0.500 | 0.500 | 2 | 2 | 4 |" in text
    assert "| cue spans | all pairs | | | | n/a | | | 4 |" in text
