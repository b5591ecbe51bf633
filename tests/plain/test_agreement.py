"""Tests for annotations.agreement: published examples and reference implementations.

No database and no Django:
``pytest tests/plain/test_agreement.py -p no:django``.
Every coefficient is checked against (a) a worked example from the literature or
(b) an independent implementation (the ``krippendorff`` package, NLTK,
scikit-learn, or a naive formula written here) on random data with missing
ratings, so the fast counter-based code is not just checked against itself.
"""

import math
import random
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable
from fractions import Fraction
from itertools import combinations

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nltk.metrics import agreement as nltk_agreement
from nltk.metrics import distance as nltk_distance
from sklearn.metrics import cohen_kappa_score

from annotations import agreement as ag
from annotations.agreement import (
    DimensionReport,
    PairAgreement,
    Rating,
    cohen_kappa,
    coincidence_matrix,
    confusion,
    dimension_report,
    fleiss_kappa,
    interpret_alpha,
    item_disagreement,
    jaccard_distance,
    krippendorff_alpha,
    label_prevalence,
    masi_distance,
    most_disagreed,
    pairwise_cohen_kappa,
    percent_agreement,
)

AnnotationTask = nltk_agreement.AnnotationTask

# Examples per test are a multiple of the Hypothesis profile's budget
# (tests/conftest.py: 100 in the derandomized "ci" profile, 1000 under `make fuzz`).
BUDGET = settings.default.max_examples
SETTINGS = settings(
    max_examples=3 * BUDGET // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --------------------------------------------------------------------------------
# Data generators and naive helpers
# --------------------------------------------------------------------------------

LABELS = st.sampled_from(["a", "b", "c"])
SETS = st.frozensets(st.sampled_from(["w", "x", "y", "z"]), min_size=1, max_size=3)


@st.composite
def ratings_data(
    draw: st.DrawFn,
    values: st.SearchStrategy = LABELS,
    max_items: int = 10,
    max_coders: int = 5,
    max_size: int = 50,
) -> list[Rating]:
    """Random sparse (item, coder) -> value tables: missing ratings are absent."""
    cells = draw(
        st.dictionaries(
            st.tuples(st.integers(0, max_items - 1), st.integers(0, max_coders - 1)),
            values,
            max_size=max_size,
        )
    )
    return [Rating(item, coder, value) for (item, coder), value in cells.items()]


@st.composite
def complete_data(draw: st.DrawFn, values: st.SearchStrategy = LABELS) -> list[Rating]:
    """Every coder rates every item (what NLTK's kappa/pi family assumes)."""
    n_items = draw(st.integers(1, 8))
    n_coders = draw(st.integers(2, 4))
    return [Rating(i, c, draw(values)) for i in range(n_items) for c in range(n_coders)]


@st.composite
def fixed_m_data(draw: st.DrawFn) -> list[Rating]:
    """Every item has the same number m of ratings, from varying coders."""
    n_items = draw(st.integers(1, 10))
    n_coders = draw(st.integers(2, 6))
    m = draw(st.integers(2, n_coders))
    out = []
    for i in range(n_items):
        coders = draw(st.permutations(range(n_coders)))[:m]
        out.extend(Rating(i, c, draw(LABELS)) for c in coders)
    return out


def by_item(ratings: Iterable[Rating]) -> dict[object, list[Rating]]:
    grouped: dict[object, list[Rating]] = defaultdict(list)
    for r in ratings:
        grouped[r.item].append(r)
    return grouped


def pairable_values(ratings: list[Rating]) -> list[object]:
    """Values of items with at least two ratings (those alpha uses)."""
    return [r.value for rs in by_item(ratings).values() if len(rs) >= 2 for r in rs]


def alpha_is_undefined(ratings: list[Rating]) -> bool:
    """Alpha is undefined iff fewer than two distinct pairable values exist."""
    return len(set(pairable_values(ratings))) < 2


def to_reliability_matrix(ratings: list[Rating]) -> np.ndarray:
    """coders x items float matrix with nan for missing (krippendorff package)."""
    items = sorted({r.item for r in ratings})
    coders = sorted({r.coder for r in ratings})
    codes = {v: float(k) for k, v in enumerate(sorted({r.value for r in ratings}))}
    data = np.full((len(coders), len(items)), np.nan)
    for r in ratings:
        data[coders.index(r.coder), items.index(r.item)] = codes[r.value]
    return data


def nltk_task(ratings: list[Rating], distance=nltk_distance.binary_distance):
    return AnnotationTask(
        data=[(r.coder, r.item, r.value) for r in ratings], distance=distance
    )


def naive_fleiss(ratings: list[Rating]) -> float:
    """Fleiss (1971) straight from the formula, per subject and category."""
    grouped = by_item(ratings)
    m = len(next(iter(grouped.values())))
    n_subjects = len(grouped)
    categories = sorted({r.value for r in ratings})
    table = [
        [sum(1 for r in rs if r.value == k) for k in categories]
        for rs in grouped.values()
    ]
    p_i = [(sum(x * x for x in row) - m) / (m * (m - 1)) for row in table]
    p_bar = sum(p_i) / n_subjects
    p_j = [
        sum(row[j] for row in table) / (n_subjects * m) for j in range(len(categories))
    ]
    p_e = sum(p * p for p in p_j)
    return (p_bar - p_e) / (1 - p_e)


def naive_percent(ratings: list[Rating]) -> float | None:
    shares = []
    for rs in by_item(ratings).values():
        if len(rs) >= 2:
            pairs = list(combinations([r.value for r in rs], 2))
            shares.append(sum(a == b for a, b in pairs) / len(pairs))
    return sum(shares) / len(shares) if shares else None


def naive_confusion(ratings: list[Rating]) -> Counter:
    out: Counter = Counter()
    for rs in by_item(ratings).values():
        for a, b in combinations([r.value for r in rs], 2):
            out[a, b] += 1
            out[b, a] += 1
    return out


def shared_items(ratings: list[Rating], a: object, b: object) -> tuple[list, list]:
    va = {r.item: r.value for r in ratings if r.coder == a}
    vb = {r.item: r.value for r in ratings if r.coder == b}
    common = sorted(va.keys() & vb.keys())
    return [va[i] for i in common], [vb[i] for i in common]


def sklearn_kappa(y1: list, y2: list) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cohen_kappa_score(y1, y2))


# --------------------------------------------------------------------------------
# Published worked examples
# --------------------------------------------------------------------------------

# Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers x 12 units, nominal data with missing values ("." = missing).
KRIPPENDORFF_2011 = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}


def krippendorff_2011() -> list[Rating]:
    return [
        Rating(unit, coder, value)
        for coder, row in KRIPPENDORFF_2011.items()
        for unit, value in enumerate(row.split(), start=1)
        if value != "."
    ]


def test_krippendorff_2011_nominal_alpha() -> None:
    ratings = krippendorff_2011()
    # Published: alpha = 0.743.  By hand: n = 40 pairable values, 8 weighted
    # disagreeing ordered pairs, sum n_c^2 = 384, so alpha = 1 - 39*8/(1600-384).
    assert krippendorff_alpha(ratings) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(ratings) == pytest.approx(1 - 39 * 8 / 1216, rel=1e-12)
    reference = krippendorff.alpha(
        reliability_data=to_reliability_matrix(ratings), level_of_measurement="nominal"
    )
    assert krippendorff_alpha(ratings) == pytest.approx(reference, rel=1e-9)


def test_krippendorff_2011_coincidence_matrix() -> None:
    o = coincidence_matrix(krippendorff_2011())
    # Published marginals n_c of the coincidence matrix: 9, 13, 10, 5, 3 (n=40).
    marginals = Counter()
    for (c, _k), w in o.items():
        marginals[c] += w
    assert {c: round(w, 9) for c, w in marginals.items()} == {
        "1": 9,
        "2": 13,
        "3": 10,
        "4": 5,
        "5": 3,
    }
    # o_11 = 3*2/2 (unit 1) + 3*2/3 (unit 8) + 2*1/1 (unit 11) = 7
    assert o["1", "1"] == pytest.approx(7)
    # o_12 = 1*1/3 (unit 6) + 3*1/3 (unit 8) = 4/3; symmetric
    assert o["1", "2"] == pytest.approx(4 / 3)
    assert o["2", "1"] == pytest.approx(4 / 3)
    assert ("1", "5") not in o
    # Unit 12 has a single value and is not pairable.
    assert sum(o.values()) == pytest.approx(40)


def test_krippendorff_2011_single_rated_unit_is_ignored() -> None:
    ratings = krippendorff_2011()
    without_unit_12 = [r for r in ratings if r.item != 12]
    assert krippendorff_alpha(without_unit_12) == krippendorff_alpha(ratings)
    assert dimension_report(ratings, multi=False).n_items == 11


# Fleiss (1971) example as tabulated on Wikipedia ("Fleiss' kappa", worked
# example): 10 subjects, 14 raters each, 5 categories; kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def fleiss_example() -> list[Rating]:
    out = []
    for subject, row in enumerate(FLEISS_TABLE, start=1):
        values = [str(k + 1) for k, n in enumerate(row) for _ in range(n)]
        out.extend(Rating(subject, rater, v) for rater, v in enumerate(values))
    return out


def test_fleiss_wikipedia_example() -> None:
    ratings = fleiss_example()
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=5e-4)
    # P-bar = 0.378 is the mean per-subject agreement = percent agreement.
    assert percent_agreement(ratings) == pytest.approx(0.378, abs=5e-4)
    # Category proportions p_j from the same table.
    prevalence = label_prevalence(ratings)
    expected_p = {"1": 0.143, "2": 0.200, "3": 0.279, "4": 0.150, "5": 0.229}
    assert prevalence == pytest.approx(expected_p, abs=5e-4)
    assert fleiss_kappa(ratings) == pytest.approx(naive_fleiss(ratings), rel=1e-9)
    # Every "rater" rated every subject, so NLTK's multi-pi equals Fleiss' kappa.
    assert fleiss_kappa(ratings) == pytest.approx(nltk_task(ratings).pi(), rel=1e-9)


def two_coder_table(both_yes: int, a_yes_b_no: int, a_no_b_yes: int, both_no: int):
    cells = (
        [("yes", "yes")] * both_yes
        + [("yes", "no")] * a_yes_b_no
        + [("no", "yes")] * a_no_b_yes
        + [("no", "no")] * both_no
    )
    return [
        Rating(i, coder, value)
        for i, pair in enumerate(cells)
        for coder, value in zip(("A", "B"), pair, strict=True)
    ]


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # Wikipedia "Cohen's kappa", simple example: p_o = 0.7, p_e = 0.5.
        ((20, 5, 10, 15), 0.4),
        # Same page, equal p_o = 0.6 with different marginals.
        ((45, 15, 25, 15), 0.06 / 0.46),  # 0.1304
        ((25, 35, 5, 35), 0.14 / 0.54),  # 0.2593
    ],
)
def test_cohen_textbook_examples(
    table: tuple[int, int, int, int], expected: float
) -> None:
    ratings = two_coder_table(*table)
    assert cohen_kappa(ratings, "A", "B") == pytest.approx(expected, rel=1e-12)
    assert cohen_kappa(ratings, "B", "A") == pytest.approx(expected, rel=1e-12)
    pair = pairwise_cohen_kappa(ratings)[("A", "B")]
    assert pair.kappa == pytest.approx(expected, rel=1e-12)
    assert pair.n_items == sum(table)
    assert pair.percent == pytest.approx((table[0] + table[3]) / sum(table))


def test_cohen_wikipedia_rounded_values() -> None:
    assert cohen_kappa(two_coder_table(45, 15, 25, 15), "A", "B") == pytest.approx(
        0.1304, abs=5e-5
    )
    assert cohen_kappa(two_coder_table(25, 35, 5, 35), "A", "B") == pytest.approx(
        0.2593, abs=5e-5
    )


# --------------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------------


def test_masi_published_value() -> None:
    # NLTK's documented example, by hand from Passonneau's definition:
    # jaccard = 2/4, subset weight m = 2/3, so 1 - 1/2 * 2/3 = 2/3.
    assert masi_distance({1, 2}, {1, 2, 3, 4}) == pytest.approx(2 / 3, abs=1e-15)
    assert masi_distance(frozenset("ab"), frozenset("ab")) == 0.0
    assert masi_distance(frozenset("ab"), frozenset("cd")) == 1.0
    # overlap without subset: jaccard = 1/3, m = 1/3, so 1 - 1/9 = 8/9
    assert masi_distance(frozenset("ab"), frozenset("bc")) == pytest.approx(
        8 / 9, abs=1e-15
    )
    assert masi_distance(frozenset(), frozenset()) == 0.0
    assert masi_distance(frozenset(), frozenset("a")) == 1.0
    # scalar labels are singleton sets, so MASI reduces to nominal distance
    assert masi_distance("a", "a") == 0.0
    assert masi_distance("a", "b") == 1.0


@SETTINGS
@given(SETS, SETS)
def test_masi_matches_nltk_definition(a: frozenset, b: frozenset) -> None:
    # The installed NLTK uses exact 2/3 and 1/3; with those weights we match it.
    ours = masi_distance(a, b, subset_weight=2 / 3, overlap_weight=1 / 3)
    assert ours == pytest.approx(nltk_distance.masi_distance(a, b), rel=1e-12)
    assert masi_distance(a, b) == masi_distance(b, a)


@SETTINGS
@given(SETS, SETS)
def test_masi_default_weights_match_nltk(a: frozenset, b: frozenset) -> None:
    # The module's own weights are Passonneau's exact 2/3 and 1/3, like NLTK 3.9+.
    assert masi_distance(a, b) == pytest.approx(
        nltk_distance.masi_distance(a, b), rel=0, abs=1e-12
    )


@SETTINGS
@given(SETS, SETS)
def test_jaccard_matches_nltk(a: frozenset, b: frozenset) -> None:
    assert jaccard_distance(a, b) == pytest.approx(
        nltk_distance.jaccard_distance(a, b), rel=1e-12
    )


def test_jaccard_empty_sets() -> None:
    assert jaccard_distance(frozenset(), frozenset()) == 0.0
    assert jaccard_distance(frozenset(), frozenset("a")) == 1.0


# --------------------------------------------------------------------------------
# Krippendorff's alpha against reference implementations
# --------------------------------------------------------------------------------


@SETTINGS
@given(ratings_data())
def test_alpha_nominal_matches_krippendorff_package(ratings: list[Rating]) -> None:
    ours = krippendorff_alpha(ratings)
    if alpha_is_undefined(ratings):
        assert ours is None
        return
    reference = krippendorff.alpha(
        reliability_data=to_reliability_matrix(ratings), level_of_measurement="nominal"
    )
    assert ours == pytest.approx(reference, rel=1e-9, abs=1e-12)


@SETTINGS
@given(ratings_data())
def test_alpha_nominal_matches_nltk(ratings: list[Rating]) -> None:
    ours = krippendorff_alpha(ratings)
    if alpha_is_undefined(ratings):
        assert ours is None
        return
    assert ours == pytest.approx(nltk_task(ratings).alpha(), rel=1e-9, abs=1e-12)


@SETTINGS
@given(ratings_data(values=SETS))
def test_alpha_masi_matches_nltk(ratings: list[Rating]) -> None:
    # NLTK's alpha machinery with our (scalar) MASI: checks both the coincidence
    # computation and the precomputed distance table of the set distances.
    ours = krippendorff_alpha(ratings, distance="masi")
    if alpha_is_undefined(ratings):
        assert ours is None
        return
    reference = nltk_task(ratings, distance=masi_distance).alpha()
    assert ours == pytest.approx(reference, rel=1e-9, abs=1e-12)


@SETTINGS
@given(ratings_data(values=SETS))
def test_alpha_masi_matches_nltk_masi_alpha(ratings: list[Rating]) -> None:
    # End to end against NLTK alone: its AnnotationTask with its own masi_distance.
    ours = krippendorff_alpha(ratings, distance="masi")
    if alpha_is_undefined(ratings):
        assert ours is None
        return
    reference = nltk_task(ratings, distance=nltk_distance.masi_distance).alpha()
    assert ours == pytest.approx(reference, rel=0, abs=1e-12)


@SETTINGS
@given(ratings_data(values=SETS))
def test_alpha_jaccard_matches_nltk(ratings: list[Rating]) -> None:
    ours = krippendorff_alpha(ratings, distance="jaccard")
    if alpha_is_undefined(ratings):
        assert ours is None
        return
    reference = nltk_task(ratings, distance=nltk_distance.jaccard_distance).alpha()
    assert ours == pytest.approx(reference, rel=1e-9, abs=1e-12)


@SETTINGS
@given(ratings_data(values=SETS))
def test_alpha_nominal_on_sets_treats_each_set_as_a_label(
    ratings: list[Rating],
) -> None:
    as_strings = [r._replace(value="+".join(sorted(r.value))) for r in ratings]
    assert krippendorff_alpha(ratings) == krippendorff_alpha(as_strings)


@SETTINGS
@given(ratings_data())
def test_set_distances_reduce_to_nominal_on_singletons(ratings: list[Rating]) -> None:
    singletons = [r._replace(value=frozenset({r.value})) for r in ratings]
    nominal = krippendorff_alpha(ratings)
    for distance in ("masi", "jaccard"):
        for data in (singletons, ratings):  # str values count as singletons too
            result = krippendorff_alpha(data, distance=distance)
            if nominal is None:
                assert result is None
            else:
                assert result == pytest.approx(nominal, rel=1e-9, abs=1e-12)


@SETTINGS
@given(ratings_data(), st.randoms(use_true_random=False))
def test_alpha_invariant_to_order_and_ids(
    ratings: list[Rating], rnd: random.Random
) -> None:
    shuffled = list(ratings)
    rnd.shuffle(shuffled)
    renamed = [Rating(f"item-{r.item}", f"coder-{r.coder}", r.value) for r in shuffled]
    a, b = krippendorff_alpha(ratings), krippendorff_alpha(renamed)
    assert (a is None) == (b is None)
    if a is not None:
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


def test_alpha_perfect_agreement_is_one() -> None:
    ratings = [Rating(i, c, "yes" if i % 2 else "no") for i in range(6) for c in "AB"]
    assert krippendorff_alpha(ratings) == 1.0
    assert krippendorff_alpha(ratings, distance="masi") == 1.0


def test_alpha_unknown_distance() -> None:
    with pytest.raises(ValueError, match="unknown distance"):
        krippendorff_alpha([Rating(1, "A", "x")], distance="interval")


# --------------------------------------------------------------------------------
# Cohen, Fleiss, percent agreement against references
# --------------------------------------------------------------------------------


@SETTINGS
@given(ratings_data())
def test_pairwise_cohen_matches_sklearn(ratings: list[Rating]) -> None:
    result = pairwise_cohen_kappa(ratings)
    coders = sorted({r.coder for r in ratings})
    expected_pairs = set()
    for a, b in combinations(coders, 2):
        y1, y2 = shared_items(ratings, a, b)
        if not y1:
            continue
        expected_pairs.add((a, b))
        pair = result[a, b]
        assert pair.n_items == len(y1)
        assert pair.percent == pytest.approx(
            sum(x == y for x, y in zip(y1, y2, strict=True)) / len(y1), rel=1e-12
        )
        reference = sklearn_kappa(y1, y2)
        if pair.kappa is None:
            assert math.isnan(reference)
        else:
            assert pair.kappa == pytest.approx(reference, rel=1e-9, abs=1e-12)
        assert cohen_kappa(ratings, a, b) == pair.kappa
    assert set(result) == expected_pairs
    assert list(result) == sorted(result)  # deterministic a < b ordering


@SETTINGS
@given(ratings_data(values=SETS))
def test_cohen_on_sets_treats_each_set_as_a_label(ratings: list[Rating]) -> None:
    as_strings = [r._replace(value="+".join(sorted(r.value))) for r in ratings]
    assert pairwise_cohen_kappa(ratings) == pairwise_cohen_kappa(as_strings)


def test_cohen_kappa_edge_cases() -> None:
    ratings = [Rating(1, "A", "x"), Rating(1, "B", "x"), Rating(2, "C", "y")]
    assert cohen_kappa(ratings, "A", "C") is None  # no shared item
    assert cohen_kappa(ratings, "A", "B") is None  # chance agreement is 1
    assert cohen_kappa(ratings, "A", "nobody") is None
    with pytest.raises(ValueError, match="two different coders"):
        cohen_kappa(ratings, "A", "A")


@SETTINGS
@given(fixed_m_data())
def test_fleiss_matches_formula(ratings: list[Rating]) -> None:
    ours = fleiss_kappa(ratings)
    if len({r.value for r in ratings}) < 2:
        assert ours is None  # P_e = 1
        return
    assert ours == pytest.approx(naive_fleiss(ratings), rel=1e-9, abs=1e-12)


@SETTINGS
@given(complete_data())
def test_fleiss_and_percent_match_nltk_on_complete_data(ratings: list[Rating]) -> None:
    task = nltk_task(ratings)
    assert percent_agreement(ratings) == pytest.approx(task.avg_Ao(), rel=1e-9)
    ours = fleiss_kappa(ratings)
    if len({r.value for r in ratings}) < 2:
        assert ours is None
    else:
        assert ours == pytest.approx(task.pi(), rel=1e-9, abs=1e-12)


def test_fleiss_requires_same_number_of_raters() -> None:
    ratings = fleiss_example()
    assert fleiss_kappa(ratings[1:]) is None  # subject 1 now has 13 ratings
    assert fleiss_kappa([*ratings, Rating(99, 0, "1")]) is None  # a single rating
    assert fleiss_kappa([]) is None


@SETTINGS
@given(ratings_data(values=st.one_of(LABELS, SETS)))
def test_percent_matches_naive(ratings: list[Rating]) -> None:
    ours = percent_agreement(ratings)
    expected = naive_percent(ratings)
    if expected is None:
        assert ours is None
    else:
        assert ours == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------
# Confusion, prevalence, item disagreement
# --------------------------------------------------------------------------------


@SETTINGS
@given(ratings_data())
def test_confusion_matches_naive(ratings: list[Rating]) -> None:
    result = confusion(ratings)
    assert result == dict(naive_confusion(ratings))
    assert all(result[b, a] == n for (a, b), n in result.items())


def test_confusion_hand_example() -> None:
    ratings = [
        Rating(1, "A", "x"), Rating(1, "B", "x"), Rating(1, "C", "y"),
        Rating(2, "A", "y"), Rating(2, "B", "y"),
        Rating(3, "A", "z"),  # single rating: no pair
    ]  # fmt: skip
    assert confusion(ratings) == {
        ("x", "x"): 2,
        ("x", "y"): 2,
        ("y", "x"): 2,
        ("y", "y"): 2,
    }


def test_confusion_sets_exact() -> None:
    ratings = [
        Rating(1, "A", frozenset({"x", "y"})),
        Rating(1, "B", frozenset({"x", "z"})),
        Rating(2, "A", frozenset({"x", "y"})),
        Rating(2, "B", frozenset({"x"})),
    ]
    assert confusion(ratings) == {
        ("x", "x"): 4,  # x shared in both items, counted in both directions
        ("y", "z"): 1,  # item 1: y only chosen by A, z only by B
        ("z", "y"): 1,
        ("y", None): 1,  # item 2: A chose y, B nothing in its place
        (None, "y"): 1,
    }


@SETTINGS
@given(ratings_data())
def test_confusion_singleton_sets_equal_single_choice(ratings: list[Rating]) -> None:
    singletons = [r._replace(value=frozenset({r.value})) for r in ratings]
    assert confusion(singletons) == confusion(ratings)


@SETTINGS
@given(ratings_data(values=st.one_of(LABELS, SETS)))
def test_prevalence_matches_naive(ratings: list[Rating]) -> None:
    counts: Counter = Counter()
    for r in ratings:
        counts.update(r.value if isinstance(r.value, frozenset) else [r.value])
    expected = {label: n / len(ratings) for label, n in counts.items()}
    result = label_prevalence(ratings)
    assert result == pytest.approx(expected, rel=1e-12)
    shares = list(result.values())
    assert shares == sorted(shares, reverse=True)


def test_prevalence_hand_example() -> None:
    ratings = [
        Rating(1, "A", frozenset({"x", "y"})),
        Rating(1, "B", frozenset({"x"})),
        Rating(2, "A", frozenset()),
        Rating(3, "A", frozenset({"z"})),
    ]
    assert label_prevalence(ratings) == {"x": 0.5, "y": 0.25, "z": 0.25}


@SETTINGS
@given(ratings_data(values=st.one_of(LABELS, SETS)))
def test_item_disagreement_matches_naive(ratings: list[Rating]) -> None:
    for distance in ("nominal", "masi"):
        fn = ag.DISTANCES[distance]
        expected = {}
        for item, rs in by_item(ratings).items():
            if len(rs) >= 2:
                ds = [fn(a.value, b.value) for a, b in combinations(rs, 2)]
                expected[item] = sum(ds) / len(ds)
        assert item_disagreement(ratings, distance=distance) == pytest.approx(
            expected, rel=1e-12
        )


def test_item_disagreement_and_most_disagreed() -> None:
    ratings = [
        Rating("s1", "A", "x"), Rating("s1", "B", "x"), Rating("s1", "C", "x"),
        Rating("s2", "A", "x"), Rating("s2", "B", "y"), Rating("s2", "C", "x"),
        Rating("s3", "A", "x"), Rating("s3", "B", "y"), Rating("s3", "C", "z"),
        Rating("s4", "A", "x"), Rating("s4", "B", "y"),
        Rating("s0", "A", "x"), Rating("s0", "B", "z"),
        Rating("s5", "A", "x"),
    ]  # fmt: skip
    scores = item_disagreement(ratings)
    assert scores == pytest.approx(
        {"s1": 0.0, "s2": 2 / 3, "s3": 1.0, "s4": 1.0, "s0": 1.0}
    )
    assert "s5" not in scores  # one rating: nothing to disagree with
    # Highest first; ties broken by item id.
    assert most_disagreed(ratings, 4) == [
        ("s0", 1.0),
        ("s3", 1.0),
        ("s4", 1.0),
        ("s2", pytest.approx(2 / 3)),
    ]
    assert most_disagreed(ratings, 0) == []
    assert len(most_disagreed(ratings, 100)) == 5


# --------------------------------------------------------------------------------
# Report, interpretation, edge cases
# --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha", "word"),
    [
        (1.0, "reliable"),
        (0.800, "reliable"),
        (0.7999, "tentative"),
        (0.667, "tentative"),
        (0.6669, "unreliable"),
        (-0.2, "unreliable"),
        (None, None),
    ],
)
def test_interpretation_thresholds(alpha: float | None, word: str | None) -> None:
    assert interpret_alpha(alpha) == word


@SETTINGS
@given(ratings_data(values=st.one_of(LABELS, SETS)), st.booleans())
def test_report_bundles_the_individual_functions(
    ratings: list[Rating], multi: bool
) -> None:
    report = dimension_report(ratings, multi=multi)
    distance = "masi" if multi else "nominal"
    assert report.distance == distance
    assert report.alpha == krippendorff_alpha(ratings, distance=distance)
    assert report.interpretation == interpret_alpha(report.alpha)
    assert report.fleiss == fleiss_kappa(ratings)
    assert report.percent == percent_agreement(ratings)
    assert report.pairwise == pairwise_cohen_kappa(ratings)
    assert report.prevalence == label_prevalence(ratings)
    assert report.confusion == confusion(ratings)
    assert report.n_ratings == len(ratings)
    assert report.n_coders == len({r.coder for r in ratings})
    assert report.n_items == sum(1 for rs in by_item(ratings).values() if len(rs) >= 2)


@SETTINGS
@given(st.lists(st.integers(0, 40), max_size=60), st.integers(41, 10**7))
def test_bincount_and_sort_counts_agree(keys: list[int], size: int) -> None:
    # _count bincounts a small key space and sorts a large one: same answer.
    column = np.asarray(keys, dtype=np.int64)
    for space in (41, size):
        present, counts = ag._count(column, space)
        assert dict(zip(present.tolist(), counts.tolist(), strict=True)) == Counter(
            keys
        )
        assert present.tolist() == sorted(set(keys))


def test_empty_input() -> None:
    report = dimension_report([], multi=False)
    assert report == DimensionReport(
        distance="nominal",
        alpha=None,
        interpretation=None,
        fleiss=None,
        percent=None,
        n_items=0,
        n_coders=0,
        n_ratings=0,
        pairwise={},
        prevalence={},
        confusion={},
    )
    assert krippendorff_alpha([], distance="masi") is None
    assert item_disagreement([]) == {}
    assert most_disagreed([], 5) == []
    assert coincidence_matrix([]) == {}


def test_single_coder_has_no_agreement() -> None:
    ratings = [Rating(i, "A", v) for i, v in enumerate("xyxyz")]
    report = dimension_report(ratings, multi=False)
    assert report.alpha is None
    assert report.fleiss is None
    assert report.percent is None
    assert report.pairwise == {}
    assert report.confusion == {}
    assert report.n_items == 0
    assert report.n_coders == 1
    assert report.n_ratings == 5
    assert report.prevalence == {"x": 0.4, "y": 0.4, "z": 0.2}


def test_all_agree_on_one_label_is_undefined_not_perfect() -> None:
    # Expected disagreement is 0: alpha (and kappa) have nothing to correct
    # for, so they are undefined (None), while raw agreement is 100%.
    ratings = [Rating(i, c, "x") for i in range(5) for c in "ABC"]
    report = dimension_report(ratings, multi=False)
    assert report.alpha is None
    assert report.interpretation is None
    assert report.fleiss is None
    assert report.percent == 1.0
    assert all(p == PairAgreement(None, 1.0, 5) for p in report.pairwise.values())
    multi_report = dimension_report(
        [r._replace(value=frozenset({"x", "y"})) for r in ratings], multi=True
    )
    assert multi_report.alpha is None


def test_perfect_agreement_with_variation() -> None:
    ratings = [Rating(i, c, "xy"[i % 2]) for i in range(6) for c in "ABC"]
    report = dimension_report(ratings, multi=False)
    assert report.alpha == 1.0
    assert report.interpretation == "reliable"
    assert report.fleiss == 1.0
    assert report.percent == 1.0
    assert {p.kappa for p in report.pairwise.values()} == {1.0}


def test_items_with_one_rating_are_ignored() -> None:
    base = krippendorff_2011()
    extra = [
        Rating(100 + k, coder, v)
        for k, (coder, v) in enumerate([("A", "1"), ("B", "5"), ("C", "9"), ("E", "2")])
    ]
    report, with_extra = (
        dimension_report(base, multi=False),
        dimension_report(base + extra, multi=False),
    )
    assert with_extra.alpha == report.alpha
    assert with_extra.percent == report.percent
    assert with_extra.pairwise == report.pairwise
    assert with_extra.confusion == report.confusion
    assert with_extra.n_items == report.n_items
    assert with_extra.n_ratings == report.n_ratings + 4
    assert with_extra.n_coders == report.n_coders + 1  # coder E


def test_duplicate_rating_is_rejected() -> None:
    ratings = [Rating(1, "A", "x"), Rating(1, "B", "x"), Rating(1, "A", "y")]
    with pytest.raises(ValueError, match="rated the same item twice"):
        krippendorff_alpha(ratings)
    mixed = [Rating(1, "A", "x"), Rating(1, "A", frozenset({"x"}))]
    with pytest.raises(ValueError, match="rated the same item twice"):
        dimension_report(mixed, multi=True)


def test_accepts_a_generator_and_plain_tuples() -> None:
    ratings = krippendorff_2011()
    expected = krippendorff_alpha(ratings)
    assert krippendorff_alpha(r for r in ratings) == expected
    assert krippendorff_alpha([tuple(r) for r in ratings]) == expected


def test_unorderable_coder_ids() -> None:
    ratings = [
        Rating(1, 7, "x"), Rating(1, "seven", "x"), Rating(1, (7,), "y"),
        Rating(2, 7, "y"), Rating(2, "seven", "x"), Rating(2, (7,), "y"),
    ]  # fmt: skip
    pairs = pairwise_cohen_kappa(ratings)
    assert len(pairs) == 3
    assert all(p.n_items == 2 for p in pairs.values())
    reference = nltk_task(ratings).alpha()
    assert krippendorff_alpha(ratings) == pytest.approx(reference, rel=1e-9)


def test_exact_rational_arithmetic() -> None:
    # 3 items x 3 coders; nominal alpha computed by hand with fractions.
    ratings = [
        Rating(1, "A", "x"), Rating(1, "B", "x"), Rating(1, "C", "y"),
        Rating(2, "A", "y"), Rating(2, "B", "y"), Rating(2, "C", "y"),
        Rating(3, "A", "x"), Rating(3, "B", "z"),
    ]  # fmt: skip
    # n = 8; n_x = 3, n_y = 4, n_z = 1; D_e numerator = 64 - (9+16+1) = 38.
    # Disagreeing ordered pairs: item 1: 4 pairs / (3-1) = 2; item 3: 2 / 1 = 2.
    expected = 1 - Fraction(7 * 4, 38)
    assert krippendorff_alpha(ratings) == float(expected)
