"""Agreement on attributions, plain: identities across annotators, the readings
agreement takes from a segment's attributions, and span agreement (pairwise
precision / recall / F1 by character overlap). Every figure is computed by hand
in the test's docstring or comments."""

from __future__ import annotations

import pytest

from annotations.agreement import (
    Rating,
    krippendorff_alpha,
    span_agreement,
    spans_overlap,
)
from annotations.snapshot import (
    attribution_identities,
    attribution_readings,
    attribution_signature,
    group_attributions,
)


def attribution(source, canonical=None, source_type="", form="", cue=""):
    return {
        "source_text": source,
        "source": canonical if canonical is not None else source,
        "source_type": source_type,
        "form": form,
        "cue_text": cue,
        "source_span": None,
        "cue_spans": [],
    }


# ---------------------------------------------------------------------------
# Identity and matching
# ---------------------------------------------------------------------------


def test_identity_is_the_canonical_source_key_and_its_occurrence():
    given = [
        attribution("Peskow", "Dmitri Peskow"),
        attribution("der Sprecher", "dmitri\u00a0PESKOW"),  # NBSP and case
        attribution("Kreml"),
        attribution("Selenski", ""),  # no canonical source: as written
    ]
    assert attribution_identities(given) == [
        ("dmitri peskow", 0),
        ("dmitri peskow", 1),
        ("kreml", 0),
        ("selenski", 0),
    ]


def test_groups_match_greedily_in_order_and_keep_first_appearance():
    a = [attribution("Kreml"), attribution("Peskow"), attribution("Peskow")]
    b = [attribution("Peskow"), attribution("NATO")]
    groups = group_attributions([a, b])
    assert [g.identity for g in groups] == [
        ("kreml", 0),
        ("peskow", 0),
        ("peskow", 1),
        ("nato", 0),
    ]
    assert [sorted(g.members) for g in groups] == [[0], [0, 1], [0], [1]]
    assert groups[1].givers == [a[1], b[0]]


def test_signature_ignores_spans_and_spelling_but_not_type_form_or_cue():
    base = [attribution("Peskow", "Dmitri Peskow", "person", "direct", "sagte")]
    same = [attribution("Dmitri Peskow", "DMITRI PESKOW", "person", "direct", "sagte")]
    same[0]["source_span"] = [0, 6]
    assert attribution_signature(base) == attribution_signature(same)
    for changed in (
        [attribution("Peskow", "Dmitri Peskow", "institution", "direct", "sagte")],
        [attribution("Peskow", "Dmitri Peskow", "person", "indirect", "sagte")],
        [attribution("Peskow", "Dmitri Peskow", "person", "direct", "meinte")],
        [],
    ):
        assert attribution_signature(base) != attribution_signature(changed)


# ---------------------------------------------------------------------------
# Alpha on attribution readings
# ---------------------------------------------------------------------------


def readings_of(per_segment):
    """{segment: {coder: [attributions]}} -> readings per segment and coder."""
    return {
        segment: {coder: attribution_readings(given) for coder, given in by.items()}
        for segment, by in per_segment.items()
    }


def test_presence_alpha_by_hand():
    """4 segments, 2 coders: yes/yes, yes/no, no/no, yes/yes. 8 pairable values
    (5 yes, 3 no), one disagreeing item (2 ordered pairs):
    alpha = 1 - (n - 1) * 2 / (2 * 5 * 3) = 1 - 7 * 2 / 30 = 8/15."""
    p = attribution("Peskow")
    read = readings_of(
        {
            1: {"a": [p], "b": [p]},
            2: {"a": [p], "b": []},
            3: {"a": [], "b": []},
            4: {"a": [p], "b": [p]},
        }
    )
    ratings = [
        Rating(segment, coder, r.presence)
        for segment, by in read.items()
        for coder, r in by.items()
    ]
    assert krippendorff_alpha(ratings) == pytest.approx(8 / 15)


def test_source_alpha_is_masi_on_the_sets_where_both_gave_one():
    """seg 1 {P}/{P}, seg 2 {P,K}/{P}, seg 3 {N}/{K}; seg 4 b gave nothing: not
    rated. Values {P}x3, {P,K}, {N}, {K} (n = 6). MASI: {P,K}-{P} = 1 - 1/2 * 2/3
    = 2/3, {P,K}-{K} = 2/3, disjoint sets 1.
    Observed (ordered pairs): 2 * 2/3 + 2 * 1 = 10/3.
    Expected: 2 * (3*1*2/3 + 3*1 + 3*1 + 1*1*1 + 1*1*2/3 + 1*1*1) = 64/3.
    alpha = 1 - (n - 1) * (10/3) / (64/3) = 1 - 50/64 = 7/32."""
    p, k, n = attribution("Peskow"), attribution("Kreml"), attribution("NATO")
    read = readings_of(
        {
            1: {"a": [p], "b": [p]},
            2: {"a": [p, k], "b": [p]},
            3: {"a": [n], "b": [k]},
            4: {"a": [p], "b": []},
        }
    )
    ratings = [
        Rating(segment, coder, r.sources)
        for segment, by in read.items()
        for coder, r in by.items()
        if r.sources is not None
    ]
    assert len(ratings) == 7  # seg 4: only a
    assert krippendorff_alpha(ratings, distance="masi") == pytest.approx(7 / 32)


def test_type_alpha_is_nominal_on_matched_attributions():
    """Matched (segment, source) items: (1, Peskow) person/person, (2, Peskow)
    person/institution, (3, NATO) institution/institution; (2, Kreml) only a:
    not pairable; (3, Peskow) b gave no type: missing. 6 values, 3 person and
    3 institution, one disagreeing item: alpha = 1 - 5 * 2 / (2 * 3 * 3) = 4/9."""

    def typed(source, source_type):
        return attribution(source, source_type=source_type)

    read = readings_of(
        {
            1: {"a": [typed("Peskow", "person")], "b": [typed("Peskow", "person")]},
            2: {
                "a": [typed("Peskow", "person"), typed("Kreml", "institution")],
                "b": [typed("Peskow", "institution")],
            },
            3: {
                "a": [typed("NATO", "institution"), typed("Peskow", "person")],
                "b": [typed("NATO", "institution"), typed("Peskow", "")],
            },
        }
    )
    ratings = [
        Rating((segment, *identity), coder, code)
        for segment, by in read.items()
        for coder, r in by.items()
        for identity, code in r.types.items()
    ]
    assert krippendorff_alpha(ratings) == pytest.approx(4 / 9)


# ---------------------------------------------------------------------------
# Span agreement
# ---------------------------------------------------------------------------


def unit(*parts):
    return tuple(parts)


def test_spans_overlap_by_a_shared_character_only():
    assert spans_overlap(unit((0, 6)), unit((5, 9)))
    assert not spans_overlap(unit((0, 5)), unit((5, 9)))  # half-open: adjacent
    # A discontinuous cue ("ließ ... durchblicken") overlaps through any part.
    assert spans_overlap(unit((4, 8), (20, 31)), unit((22, 25)))
    assert not spans_overlap(unit((4, 8), (20, 31)), unit((9, 19)))


def test_pairwise_precision_recall_f1_by_hand():
    """Coders a < b over three segments:
    1: a 0..6, b 0..7                 -> a's found, b's found
    2: a 10..15 and 20..25, b 22..30  -> a: 1 of 2 found; b's found
    3: a nothing, b 3..5 and 7..9     -> b's not found
    a: 2 of 3 found by b (precision 2/3); b: 2 of 4 found by a (recall 1/2);
    F1 = 2 * 2/3 * 1/2 / (2/3 + 1/2) = (2/3) / (7/6) = 4/7."""
    ratings = [
        Rating(1, "a", (unit((0, 6)),)),
        Rating(1, "b", (unit((0, 7)),)),
        Rating(2, "a", (unit((10, 15)), unit((20, 25)))),
        Rating(2, "b", (unit((22, 30)),)),
        Rating(3, "a", ()),
        Rating(3, "b", (unit((3, 5)), unit((7, 9)))),
        Rating(4, "a", (unit((1, 2)),)),  # only a rated it: ignored
    ]
    report = span_agreement(ratings)
    pair = report.pairwise["a", "b"]
    assert (pair.found_a, pair.units_a, pair.found_b, pair.units_b) == (2, 3, 2, 4)
    assert pair.precision == pytest.approx(2 / 3)
    assert pair.recall == pytest.approx(1 / 2)
    assert pair.f1 == pytest.approx(4 / 7)
    assert pair.n_items == 3
    assert report.f1 == pytest.approx(4 / 7)
    assert (report.n_items, report.n_coders, report.n_units) == (3, 2, 7)
    # Swapping the coders swaps precision and recall; F1 stays.
    swapped = span_agreement(
        Rating(item, {"a": "z", "b": "b"}[coder], units)
        for item, coder, units in ratings
    )
    other = swapped.pairwise["b", "z"]
    assert (other.precision, other.recall) == (pair.recall, pair.precision)
    assert other.f1 == pytest.approx(pair.f1)


def test_three_coders_average_their_pairwise_f1():
    """One segment: a 0..4, b 0..4, c 10..12. a-b: 1 and 1, F1 1; a-c and b-c:
    0 found either way, F1 0. Mean over the three pairs: 1/3."""
    report = span_agreement(
        [
            Rating(1, "a", (unit((0, 4)),)),
            Rating(1, "b", (unit((0, 4)),)),
            Rating(1, "c", (unit((10, 12)),)),
        ]
    )
    assert report.pairwise["a", "b"].f1 == 1.0
    assert report.pairwise["a", "c"].f1 == 0.0
    assert report.pairwise["b", "c"].f1 == 0.0
    assert report.f1 == pytest.approx(1 / 3)


def test_span_agreement_without_spans_is_undefined_and_one_sided_is_zero():
    nothing = span_agreement([Rating(1, "a", ()), Rating(1, "b", ())])
    assert nothing.pairwise["a", "b"].f1 is None
    assert nothing.f1 is None
    one_sided = span_agreement([Rating(1, "a", ()), Rating(1, "b", (unit((0, 3)),))])
    pair = one_sided.pairwise["a", "b"]
    assert (pair.precision, pair.recall, pair.f1) == (None, 0.0, 0.0)
    with pytest.raises(ValueError, match="twice"):
        span_agreement([Rating(1, "a", ()), Rating(1, "a", ())])
