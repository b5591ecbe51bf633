"""The numpy tally gives exactly what the pure-Python one did.

``tests/reference/agreement_v1.py`` is a frozen copy of ``annotations/agreement.py``
before its counts moved to numpy. Every report is compared field by field with
``==`` (floats included: not approximately), dict order included, on random data
with missing ratings, single-rated items, single- and multi-choice values (empty
sets too), tuple item ids, many coders and many distinct values (which take the
sort-based counting instead of the bincount one), and span units.
"""

import random
from dataclasses import asdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotations import agreement as new
from annotations.agreement import Columns, Rating
from tests.reference import agreement_v1 as old

BUDGET = settings.default.max_examples
SETTINGS = settings(
    max_examples=2 * BUDGET,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

LABELS = st.sampled_from(["a", "b", "c", "d"])
SETS = st.frozensets(st.sampled_from(["w", "x", "y", "z"]), max_size=3)
ITEMS = st.one_of(
    st.integers(0, 12), st.tuples(st.integers(0, 5), st.sampled_from("pq"))
)


@st.composite
def ratings_data(draw: st.DrawFn, values: st.SearchStrategy) -> list[Rating]:
    coders = draw(st.sampled_from([st.integers(0, 6), st.sampled_from("ABCDEFG")]))
    cells = draw(st.dictionaries(st.tuples(ITEMS, coders), values, max_size=70))
    return [Rating(item, coder, value) for (item, coder), value in cells.items()]


def as_plain(report) -> dict:
    """A report as nested plain data, dict order kept as lists of pairs."""
    data = asdict(report)
    for key, value in data.items():
        if isinstance(value, dict):
            data[key] = list(value.items())
    return data


def assert_same_report(ratings: list[Rating], *, multi: bool) -> None:
    expected = old.dimension_report(ratings, multi=multi, item_scores=True)
    got = new.dimension_report(ratings, multi=multi, item_scores=True)
    assert as_plain(got) == as_plain(expected)
    # The same through Columns numbered once.
    again = new.dimension_report(Columns.from_ratings(ratings), multi=multi)
    assert as_plain(again) == as_plain(
        old.dimension_report(ratings, multi=multi, item_scores=False)
    )


@SETTINGS
@given(ratings_data(LABELS))
def test_single_choice_report_is_identical(ratings: list[Rating]) -> None:
    assert_same_report(ratings, multi=False)


@SETTINGS
@given(ratings_data(SETS))
def test_multi_choice_report_is_identical(ratings: list[Rating]) -> None:
    assert_same_report(ratings, multi=True)
    assert_same_report(ratings, multi=False)  # sets as whole labels


@SETTINGS
@given(ratings_data(st.one_of(LABELS, SETS)), st.sampled_from(sorted(new.DISTANCES)))
def test_single_functions_are_identical(ratings: list[Rating], distance: str) -> None:
    assert new.krippendorff_alpha(ratings, distance=distance) == (
        old.krippendorff_alpha(ratings, distance=distance)
    )
    assert list(new.item_disagreement(ratings, distance=distance).items()) == list(
        old.item_disagreement(ratings, distance=distance).items()
    )
    assert new.most_disagreed(ratings, 3, distance=distance) == old.most_disagreed(
        ratings, 3, distance=distance
    )
    assert new.fleiss_kappa(ratings) == old.fleiss_kappa(ratings)
    assert new.percent_agreement(ratings) == old.percent_agreement(ratings)
    assert list(new.confusion(ratings).items()) == list(old.confusion(ratings).items())
    assert list(new.label_prevalence(ratings).items()) == list(
        old.label_prevalence(ratings).items()
    )
    expected_cm = old.coincidence_matrix(ratings)
    got_cm = new.coincidence_matrix(ratings)
    assert got_cm.keys() == expected_cm.keys()
    for key, weight in expected_cm.items():
        assert got_cm[key] == pytest.approx(weight, rel=1e-12)


UNITS = st.lists(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(1, 5)).map(
            lambda p: (p[0], p[0] + p[1])
        ),
        min_size=1,
        max_size=2,
    ).map(tuple),
    max_size=3,
).map(tuple)


@SETTINGS
@given(ratings_data(UNITS))
def test_span_agreement_is_identical(ratings: list[Rating]) -> None:
    assert as_plain(new.span_agreement(ratings)) == as_plain(
        old.span_agreement(ratings)
    )


def test_duplicates_are_rejected_as_before() -> None:
    ratings = [Rating(1, "A", "x"), Rating(2, "A", "y"), Rating(1, "A", "z")]
    for module in (old, new):
        with pytest.raises(ValueError, match="'A' rated the same item twice"):
            module.dimension_report(ratings, multi=False)
        with pytest.raises(ValueError, match="'A' rated the same item twice"):
            module.span_agreement([(i, c, ()) for i, c, _v in ratings])


def large_data(seed: int, *, n_items: int, n_coders: int, multi: bool) -> list:
    """Many items, a large coder pool (each item rated by 1-6 of them) and, for
    sets, many distinct values: the sort-based counting paths."""
    rng = random.Random(seed)
    labels = [f"l{k}" for k in range(12)]
    ratings = []
    for item in range(n_items):
        for coder in rng.sample(range(n_coders), rng.randint(1, 6)):
            if multi:
                value = frozenset(rng.sample(labels, rng.randint(0, 3)))
            else:
                value = rng.choice(labels[:6])
            ratings.append(Rating(item, coder, value))
    rng.shuffle(ratings)
    return ratings


@pytest.mark.parametrize("multi", [False, True])
def test_large_pool_report_is_identical(multi: bool) -> None:
    ratings = large_data(7, n_items=3000, n_coders=150, multi=multi)
    assert_same_report(ratings, multi=multi)


def test_large_span_agreement_is_identical() -> None:
    rng = random.Random(3)
    ratings = []
    for item in range(2000):
        for coder in rng.sample(range(40), rng.randint(1, 4)):
            units = tuple(
                ((start, start + rng.randint(1, 6)),)
                for start in rng.sample(range(30), rng.randint(0, 2))
            )
            ratings.append(Rating(item, coder, units))
    assert as_plain(new.span_agreement(ratings)) == as_plain(
        old.span_agreement(ratings)
    )


@SETTINGS
@given(ratings_data(SETS), st.sampled_from(["masi", "jaccard"]))
def test_expected_disagreement_from_shared_labels_is_identical(
    ratings: list[Rating], distance: str
) -> None:
    # Forced for every size: the sum over label-sharing pairs only.
    original = new._SPARSE_EXPECTED
    try:
        new._SPARSE_EXPECTED = 0
        got = new.krippendorff_alpha(ratings, distance=distance)
        report = new.dimension_report(ratings, multi=True)
    finally:
        new._SPARSE_EXPECTED = original
    assert got == old.krippendorff_alpha(ratings, distance=distance)
    assert report.alpha == old.dimension_report(ratings, multi=True).alpha


def test_many_distinct_sets_use_shared_labels_and_stay_identical() -> None:
    rng = random.Random(11)
    sources = [f"source {k}" for k in range(60)]
    ratings = [
        Rating(item, coder, frozenset(rng.sample(sources, rng.randint(0, 2))))
        for item in range(500)
        for coder in rng.sample(range(5), rng.randint(1, 3))
    ]
    distinct = {r.value for r in ratings}
    assert len(distinct) > new._SPARSE_EXPECTED
    for distance in ("masi", "jaccard"):
        assert new.krippendorff_alpha(ratings, distance=distance) == (
            old.krippendorff_alpha(ratings, distance=distance)
        )
