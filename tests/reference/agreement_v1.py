"""REFERENCE COPY (frozen): ``annotations/agreement.py`` before the columnar
(numpy) rewrite; the tests compare the new code with it on random data.
Not used by the application.

Inter-annotator agreement for one annotation dimension.

This module is deliberately free of Django (and of numpy): views, management
commands and exports feed it plain :class:`Rating` tuples, so the statistics can
be unit-tested against published examples and reference implementations without a
database, and the web process does not need any scientific stack at run time.

Conventions shared by every function:

* A rating is ``Rating(item, coder, value)``.  ``item`` and ``coder`` are any
  hashable ids.  ``value`` is a hashable label (a ``str``) for single-choice
  dimensions or a ``frozenset[str]`` of labels for multi-choice dimensions.
* A missing rating is simply absent; there is no "missing" placeholder value.
* One coder rates an item at most once; a repeated ``(item, coder)`` raises
  :class:`ValueError` because silently keeping either rating would bias every
  coefficient.
* Items with fewer than two ratings carry no information about agreement and are
  ignored by every coefficient (Krippendorff's standard treatment).  They still
  count in ``n_ratings``, ``n_coders`` and in :func:`label_prevalence`, and they
  make :func:`fleiss_kappa` undefined (its design needs a fixed number of raters
  for every item).
* A coefficient that is mathematically undefined (no pairable values, or a chance
  term that leaves nothing to correct, e.g. everyone always used one label) is
  returned as ``None`` rather than ``nan``, ``1.0`` or an exception, so callers
  must show "n/a" instead of a misleading number.

Cost: every public function makes one Python-level grouping pass over the
``R`` ratings; everything else is ``collections.Counter`` over zipped columns
(C speed) plus loops over *distinct* keys: value pairs, coder pairs,
``(coder pair, value)`` marginals.  Nothing is quadratic in the number of items;
the only quadratic term is the expected disagreement of the set distances
(``"masi"``, ``"jaccard"``), ``O(V^2)`` in the number ``V`` of *distinct*
values.  ``dimension_report`` on 300,000 ratings (100,000 items x 3 coders)
takes about 0.2 s; see ``_Tally`` for the details.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from heapq import nsmallest
from itertools import chain, combinations, compress, pairwise
from math import comb, fsum
from operator import eq, itemgetter
from typing import Any, NamedTuple

__all__ = [
    "ALPHA_RELIABLE",
    "ALPHA_TENTATIVE",
    "DISTANCES",
    "MASI_OVERLAP_WEIGHT",
    "MASI_SUBSET_WEIGHT",
    "DimensionReport",
    "PairAgreement",
    "Rating",
    "SpanPairAgreement",
    "SpanReport",
    "coincidence_matrix",
    "cohen_kappa",
    "confusion",
    "dimension_report",
    "fleiss_kappa",
    "interpret_alpha",
    "item_disagreement",
    "jaccard_distance",
    "krippendorff_alpha",
    "label_prevalence",
    "masi_distance",
    "most_disagreed",
    "nominal_distance",
    "pairwise_cohen_kappa",
    "percent_agreement",
    "span_agreement",
    "spans_overlap",
]

type Label = str
type Value = str | frozenset[str]
type ItemId = Hashable
type CoderId = Hashable
type CoderPair = tuple[CoderId, CoderId]
type ConfusionKey = tuple[Label | None, Label | None]
type Distance = Callable[[Any, Any], float]


class Rating(NamedTuple):
    """One coder's answer for one item on one dimension."""

    item: ItemId
    coder: CoderId
    value: Value


@dataclass(frozen=True, slots=True)
class PairAgreement:
    """Agreement between two coders on the items both of them rated.

    ``kappa`` is Cohen's kappa (``None`` when undefined: both coders used one and
    the same label throughout, so chance agreement is already 1), ``percent`` the
    share of shared items with identical values, ``n_items`` the shared items.
    """

    kappa: float | None
    percent: float
    n_items: int


@dataclass(frozen=True, slots=True)
class DimensionReport:
    """Everything the agreement page shows for one dimension, computed in one pass.

    ``alpha`` uses ``distance`` ("nominal" for single-choice, "masi" for
    multi-choice dimensions); ``interpretation`` is :func:`interpret_alpha` of it.
    ``n_items`` counts items with at least two ratings (the ones that enter the
    coefficients); ``n_coders`` and ``n_ratings`` count everything given.
    """

    distance: str
    alpha: float | None
    interpretation: str | None
    fleiss: float | None
    percent: float | None
    n_items: int
    n_coders: int
    n_ratings: int
    pairwise: dict[CoderPair, PairAgreement]
    prevalence: dict[Label, float]
    confusion: dict[ConfusionKey, int]
    #: :func:`item_disagreement` of the same ratings, only when asked for
    #: (``dimension_report(..., item_scores=True)``): one tally serves both.
    item_scores: dict[ItemId, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------------

#: MASI monotonicity weight when one set is a strict subset of the other:
#: exactly 2/3, as in Passonneau (2006) and NLTK since 3.9.  (NLTK up to 3.8 and
#: the project brief used the rounded 0.67/0.33, which moved MASI alpha in the
#: fifth decimal; pass the keyword arguments to reproduce such old figures.)
MASI_SUBSET_WEIGHT = 2 / 3
#: MASI weight when the sets overlap without either containing the other: 1/3.
MASI_OVERLAP_WEIGHT = 1 / 3


def _as_set(value: Any) -> AbstractSet[Any]:
    """A set view of a value: sets stay as they are, a scalar label is a singleton.

    This lets the set distances run on single-choice data (where they reduce to
    the nominal distance) and keeps a ``str`` from being split into characters.
    """
    if isinstance(value, AbstractSet):
        return value
    return frozenset((value,))


def nominal_distance(a: Any, b: Any) -> float:
    """0 for identical values, 1 otherwise (sets are compared as whole labels)."""
    return 0.0 if a == b else 1.0


def jaccard_distance(a: Any, b: Any) -> float:
    """``1 - |A & B| / |A | B|``; two empty sets are identical (distance 0).

    Scalar labels are treated as singleton sets.  NLTK's version divides by zero
    for two empty sets; an annotator choosing "none of these" twice agrees.
    """
    sa, sb = _as_set(a), _as_set(b)
    union = len(sa | sb)
    if union == 0:
        return 0.0
    return (union - len(sa & sb)) / union


def masi_distance(
    a: Any,
    b: Any,
    *,
    subset_weight: float = MASI_SUBSET_WEIGHT,
    overlap_weight: float = MASI_OVERLAP_WEIGHT,
) -> float:
    """MASI distance (Passonneau 2006) as defined by NLTK: ``1 - jaccard * m``.

    ``m`` is 1 for equal sets, ``subset_weight`` if one set contains the other,
    ``overlap_weight`` if they merely intersect and 0 if disjoint.  It gives
    partial credit to multi-choice answers that share labels, which the nominal
    distance (all-or-nothing per set) does not.  Equal sets, including two empty
    sets, are at distance 0.  Scalar labels are treated as singleton sets.
    """
    sa, sb = _as_set(a), _as_set(b)
    len_a, len_b = len(sa), len(sb)
    inter = len(sa & sb)
    if len_a == len_b == inter:
        return 0.0
    union = len(sa | sb)
    if inter == min(len_a, len_b):
        m = subset_weight
    elif inter > 0:
        m = overlap_weight
    else:
        m = 0.0
    return 1 - inter / union * m


#: Distance names accepted by :func:`krippendorff_alpha` and friends.
DISTANCES: dict[str, Distance] = {
    "nominal": nominal_distance,
    "masi": masi_distance,
    "jaccard": jaccard_distance,
}


def _distance_fn(name: str) -> Distance:
    try:
        return DISTANCES[name]
    except KeyError:
        known = ", ".join(sorted(DISTANCES))
        raise ValueError(f"unknown distance {name!r}; use one of {known}") from None


# --------------------------------------------------------------------------------
# Ordering helpers (ids and labels may be of mixed, mutually unorderable types)
# --------------------------------------------------------------------------------


def _fallback_key(x: Any) -> tuple[str, str, str]:
    """A total order for arbitrary hashables: by type, then by ``repr``."""
    return (type(x).__module__, type(x).__qualname__, repr(x))


def _sorted_safely(xs: Iterable[Any], key: Callable[[Any], Any]) -> list[Any]:
    """Sort by ``key``; if the keys do not compare, sort by their fallback key."""
    items = list(xs)
    try:
        return sorted(items, key=key)
    except TypeError:
        return sorted(items, key=lambda x: _fallback_key(key(x)))


def _label_key(label: Any) -> tuple[bool, Any]:
    """Sort ``None`` (the "no counterpart" marker of :func:`confusion`) last."""
    return (label is None, label)


# --------------------------------------------------------------------------------
# The shared one-pass tally
# --------------------------------------------------------------------------------

#: Above this bound on distinct ``(coder_a, coder_b, value_a, value_b)`` keys the
#: pair statistics are counted from columns instead of from the deduplicated
#: joint counter (a speed trade-off only; both give identical results).
_JOINT_LIMIT = 50_000


class _Tally:
    """Ratings grouped once; every statistic is derived from these counters.

    The ratings of each item are sorted by coder, so that within an item
    position ``i < j`` means ``coder_i < coder_j`` (the "a < b" orientation of
    coder pairs).  Items with ``m >= 2`` ratings are then laid out column-wise
    per ``m`` and ``joint[m]`` counts every within-item pair of ratings as
    ``(coder_a, coder_b, value_a, value_b) -> number of items``, built by
    ``Counter`` over ``zip``-ed columns, i.e. at C speed.  Every coefficient is
    a sum over ``joint``, whose size is the number of *distinct* pair
    combinations: tiny for a small team and label set.  When that number could
    be large (many coders or many distinct sets, see ``_JOINT_LIMIT``), looping
    over ``joint`` in Python would cost more than counting the columns again,
    so ``value_pairs`` and ``pair_counts`` then count columns directly.  The
    only Python-level loop over individual ratings is the grouping one.
    """

    def __init__(self, ratings: Iterable[Rating]) -> None:
        # The one Python-level pass over individual ratings (the Rating tuples
        # themselves are stored: no per-rating allocation besides the lists).
        by_item: defaultdict[ItemId, list[Rating]] = defaultdict(list)
        for rating in ratings:
            by_item[rating[0]].append(rating)

        singles: list[Rating] = []
        multi: dict[ItemId, list[Rating]] = {}
        by_size: dict[int, list[list[Rating]]] = {}
        for item, rs in by_item.items():
            m = len(rs)
            if m == 1:
                singles.append(rs[0])
            else:
                multi[item] = rs
                by_size.setdefault(m, []).append(rs)
        del by_item

        # Within an item, Ratings sort by coder.  Mixed, mutually unorderable
        # coder ids fall back to a type/repr order, applied to *all* items so
        # that the orientation of coder pairs stays consistent.
        try:
            for rs in multi.values():
                rs.sort()
        except TypeError:
            for rs in multi.values():
                rs.sort(key=lambda r: _fallback_key(r[1]))

        first, second = itemgetter(1), itemgetter(2)  # coder, value
        coders: set[CoderId] = set(map(first, singles))
        pairable: Counter[Value] = Counter()
        self.coder_cols: dict[int, list[list[CoderId]]] = {}
        self.value_cols: dict[int, list[list[Value]]] = {}
        for m, lists in by_size.items():
            columns = [list(map(itemgetter(i), lists)) for i in range(m)]
            coder_cols = [list(map(first, col)) for col in columns]
            value_cols = [list(map(second, col)) for col in columns]
            for ci, cj in pairwise(coder_cols):  # sorted, so duplicates are adjacent
                if any(map(eq, ci, cj)):
                    dup = next(compress(ci, map(eq, ci, cj)))
                    raise ValueError(f"coder {dup!r} rated the same item twice")
            for ci, vi in zip(coder_cols, value_cols, strict=True):
                coders.update(ci)
                pairable.update(vi)
            self.coder_cols[m] = coder_cols
            self.value_cols[m] = value_cols

        self.multi = multi
        self.sizes: Counter[int] = Counter({m: len(ls) for m, ls in by_size.items()})
        self.n_items = len(multi)
        self.n_singles = len(singles)
        self.coders = coders
        self.pairable = pairable
        self.values: Counter[Value] = pairable + Counter(map(second, singles))
        self.n_ratings = sum(pairable.values()) + len(singles)
        # Bound on the distinct (coder_a, coder_b, value_a, value_b) keys.
        self.compact = comb(len(coders), 2) * len(pairable) ** 2 <= _JOINT_LIMIT

    @cached_property
    def joint(self) -> dict[int, Counter[tuple[CoderId, CoderId, Value, Value]]]:
        """``m -> {(coder_a, coder_b, value_a, value_b): items}`` (compact data)."""
        cc, vv = self.coder_cols, self.value_cols
        return {
            m: Counter(
                chain.from_iterable(
                    zip(cc[m][i], cc[m][j], vv[m][i], vv[m][j], strict=True)
                    for i, j in combinations(range(m), 2)
                )
            )
            for m in cc
        }

    @cached_property
    def value_pairs(self) -> dict[int, Counter[tuple[Value, Value]]]:
        """Within-item value pairs per item size: ``m -> {(v_a, v_b): count}``."""
        out: dict[int, Counter[tuple[Value, Value]]] = {}
        if self.compact:
            for m, joint in self.joint.items():
                pairs: Counter[tuple[Value, Value]] = Counter()
                for (_ca, _cb, va, vb), k in joint.items():
                    pairs[va, vb] += k
                out[m] = pairs
            return out
        for m, vv in self.value_cols.items():
            out[m] = Counter(
                chain.from_iterable(
                    zip(vv[i], vv[j], strict=True) for i, j in combinations(range(m), 2)
                )
            )
        return out

    @cached_property
    def pair_counts(
        self,
    ) -> tuple[
        Counter[CoderPair],
        Counter[CoderPair],
        Counter[tuple[CoderId, CoderId, Value]],
        Counter[tuple[CoderId, CoderId, Value]],
    ]:
        """Per coder pair: shared items, identical values, and both marginals.

        Compact data loops over the few distinct joint keys; otherwise four
        C-level ``Counter`` passes over the columns avoid a Python loop per pair.
        """
        shared: Counter[CoderPair] = Counter()
        agreeing: Counter[CoderPair] = Counter()
        marg_a: Counter[tuple[CoderId, CoderId, Value]] = Counter()
        marg_b: Counter[tuple[CoderId, CoderId, Value]] = Counter()
        if self.compact:
            for joint in self.joint.values():
                for (ca, cb, va, vb), k in joint.items():
                    shared[ca, cb] += k
                    if va == vb:
                        agreeing[ca, cb] += k
                    marg_a[ca, cb, va] += k
                    marg_b[ca, cb, vb] += k
            return shared, agreeing, marg_a, marg_b
        cc, vv = self.coder_cols, self.value_cols
        for m in cc:
            for i, j in combinations(range(m), 2):
                ci, cj, vi, vj = cc[m][i], cc[m][j], vv[m][i], vv[m][j]
                shared.update(zip(ci, cj, strict=True))
                agreeing.update(compress(zip(ci, cj, strict=True), map(eq, vi, vj)))
                marg_a.update(zip(ci, cj, vi, strict=True))
                marg_b.update(zip(ci, cj, vj, strict=True))
        return shared, agreeing, marg_a, marg_b

    @cached_property
    def agree_by_size(self) -> Counter[int]:
        """Identical-value pairs per item size ``m`` (summed over items)."""
        return Counter(
            {
                m: sum(k for (va, vb), k in pairs.items() if va == vb)
                for m, pairs in self.value_pairs.items()
            }
        )


# --------------------------------------------------------------------------------
# Coefficients on a tally
# --------------------------------------------------------------------------------


def _alpha(t: _Tally, distance: str) -> float | None:
    dist = _distance_fn(distance)
    counts = t.pairable
    n = sum(counts.values())
    if n < 2:
        return None
    if distance == "nominal":
        # Exact rational arithmetic: disagreeing ordered pairs weighted 1/(m-1).
        expected = n * n - sum(c * c for c in counts.values())
        if expected == 0:
            return None
        agree = t.agree_by_size
        observed = sum(
            (
                Fraction(2 * (comb(m, 2) * items - agree[m]), m - 1)
                for m, items in t.sizes.items()
            ),
            Fraction(0),
        )
        return float(1 - (n - 1) * observed / expected)

    cache: dict[tuple[Value, Value], float] = {}

    def d(a: Value, b: Value) -> float:
        key = (a, b)
        if key not in cache:
            cache[key] = cache[b, a] = dist(a, b)
        return cache[key]

    vals = list(counts.items())
    expected_f = 2 * fsum(
        ca * cb * d(a, b) for i, (a, ca) in enumerate(vals) for b, cb in vals[i + 1 :]
    )
    if expected_f == 0:
        return None
    observed_f = fsum(
        2 * fsum(k * d(va, vb) for (va, vb), k in pairs.items() if va != vb) / (m - 1)
        for m, pairs in t.value_pairs.items()
    )
    return 1 - (n - 1) * observed_f / expected_f


def _percent(t: _Tally) -> float | None:
    if t.n_items == 0:
        return None
    agree = t.agree_by_size
    total = sum((Fraction(agree[m], comb(m, 2)) for m in t.sizes), Fraction(0))
    return float(total / t.n_items)


def _fleiss(t: _Tally) -> float | None:
    if t.n_singles or len(t.sizes) != 1:
        return None
    (m,) = t.sizes
    n_items = t.sizes[m]
    agree = t.agree_by_size[m]  # A: agreeing rater pairs over all items
    pairs = n_items * comb(m, 2)  # T: rater pairs over all items
    square_sum = sum(c * c for c in t.pairable.values())  # S
    total_sq = (n_items * m) ** 2  # M
    if total_sq == square_sum:
        return None
    # kappa = (A/T - S/M) / (1 - S/M), kept in integers until the last step.
    # int / int is correctly rounded in Python, so this is the exact value.
    return (agree * total_sq - square_sum * pairs) / (pairs * (total_sq - square_sum))


def _pairwise(t: _Tally) -> dict[CoderPair, PairAgreement]:
    shared, agreeing, marg_a, marg_b = t.pair_counts
    # n^2 * p_e per pair: sum over labels of (count by a) * (count by b).
    chance: Counter[CoderPair] = Counter()
    get_b = marg_b.get
    for (ca, cb, v), k in marg_a.items():
        kb = get_b((ca, cb, v))
        if kb:
            chance[ca, cb] += k * kb
    out: dict[CoderPair, PairAgreement] = {}
    for pair in _sorted_safely(shared, key=lambda p: p):
        n, agree, chance_n2 = shared[pair], agreeing[pair], chance[pair]
        kappa = (
            None
            if n * n == chance_n2
            else (agree * n - chance_n2) / (n * n - chance_n2)  # exact ints
        )
        out[pair] = PairAgreement(kappa=kappa, percent=agree / n, n_items=n)
    return out


def _labels_of(value: Any) -> Iterable[Any]:
    return value if isinstance(value, AbstractSet) else (value,)


def _prevalence(t: _Tally) -> dict[Label, float]:
    if t.n_ratings == 0:
        return {}
    counts: Counter[Label] = Counter()
    for value, k in t.values.items():
        for label in _labels_of(value):
            counts[label] += k
    ordered = _sorted_safely(counts.items(), key=lambda lc: (-lc[1], lc[0]))
    return {label: c / t.n_ratings for label, c in ordered}


def _confusion(t: _Tally) -> dict[ConfusionKey, int]:
    pairs: Counter[tuple[Value, Value]] = Counter()
    for by_value in t.value_pairs.values():
        pairs.update(by_value)
    out: Counter[ConfusionKey] = Counter()
    for (va, vb), k in pairs.items():
        if not isinstance(va, AbstractSet) and not isinstance(vb, AbstractSet):
            out[va, vb] += k
            out[vb, va] += k
            continue
        sa, sb = _as_set(va), _as_set(vb)
        for label in sa & sb:
            out[label, label] += 2 * k
        only_a = list(sa - sb) or [None]
        only_b = list(sb - sa) or [None]
        if only_a == only_b == [None]:
            continue
        for la in only_a:
            for lb in only_b:
                out[la, lb] += k
                out[lb, la] += k
    keys = _sorted_safely(out, key=lambda ab: (_label_key(ab[0]), _label_key(ab[1])))
    return {key: out[key] for key in keys}


def _item_scores(t: _Tally, distance: str) -> dict[ItemId, float]:
    dist = _distance_fn(distance)
    score: dict[tuple[Value, ...], float] = {}
    out: dict[ItemId, float] = {}
    get_value = itemgetter(2)
    for item, rs in t.multi.items():
        values = tuple(map(get_value, rs))
        s = score.get(values)
        if s is None:
            ds = [dist(a, b) for a, b in combinations(values, 2)]
            s = score[values] = fsum(ds) / len(ds)
        out[item] = s
    return out


# --------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------

#: Krippendorff (2004, p. 241): rely on alpha >= .800, draw only tentative
#: conclusions from .667 <= alpha < .800, discard data below .667.
ALPHA_RELIABLE = 0.800
ALPHA_TENTATIVE = 0.667


def interpret_alpha(alpha: float | None) -> str | None:
    """Krippendorff's guidance as a word: "reliable", "tentative" or "unreliable".

    ``None`` stays ``None``: an undefined alpha says nothing about reliability.
    """
    if alpha is None:
        return None
    if alpha >= ALPHA_RELIABLE:
        return "reliable"
    if alpha >= ALPHA_TENTATIVE:
        return "tentative"
    return "unreliable"


def krippendorff_alpha(
    ratings: Iterable[Rating], *, distance: str = "nominal"
) -> float | None:
    """Krippendorff's alpha, ``1 - D_o / D_e``, over items with >= 2 ratings.

    Alpha is the project's headline coefficient because it handles any number of
    coders, missing ratings and set-valued answers (with ``distance="masi"`` or
    ``"jaccard"``).  It is computed from the coincidence matrix (each ordered
    pair of ratings within an item weighted ``1 / (m - 1)``), as in
    Krippendorff (2011), equal to the ``krippendorff`` package and to NLTK's
    ``AnnotationTask.alpha``.

    Returns ``None`` when undefined: no item has two ratings, or the expected
    disagreement is 0 because every pairable value is the same.  In that last
    case the coders trivially agree, but alpha measures agreement *beyond
    chance* and there is no variation to agree about; NLTK returns 1 and the
    ``krippendorff`` package raises, and we prefer an explicit "undefined".

    Cost: ``O(R)`` grouping, then ``O(P)`` over distinct item patterns; the set
    distances add ``O(V^2)`` distance evaluations for ``V`` distinct values.
    Nominal alpha is computed in exact rational arithmetic.
    """
    return _alpha(_Tally(ratings), distance)


def coincidence_matrix(ratings: Iterable[Rating]) -> dict[tuple[Value, Value], float]:
    """Krippendorff's coincidence matrix ``o[c, k]`` (symmetric, values as labels).

    Exposed so that the alpha computation can be checked cell by cell against
    published tables and so the UI can show where pairable values fall.  Row
    sums are the numbers ``n_c`` of pairable values.  Cost as for alpha.
    """
    t = _Tally(ratings)
    out: dict[tuple[Value, Value], float] = {}
    for m, pairs in t.value_pairs.items():
        for (va, vb), k in pairs.items():
            w = k / (m - 1)
            out[va, vb] = out.get((va, vb), 0.0) + w
            out[vb, va] = out.get((vb, va), 0.0) + w
    return out


def cohen_kappa(
    ratings: Iterable[Rating], coder_a: CoderId, coder_b: CoderId
) -> float | None:
    """Cohen's kappa of two coders on the items both rated.

    Values are compared as whole labels (a frozenset is one label).  Returns
    ``None`` when they share no item or when chance agreement is 1 (both coders
    used the same single label throughout).  Cost ``O(R)``.
    """
    if coder_a == coder_b:
        raise ValueError("cohen_kappa needs two different coders")
    wanted = {coder_a, coder_b}
    t = _Tally(r for r in ratings if r[1] in wanted)
    pairs = _pairwise(t)
    if not pairs:
        return None
    ((_, agreement),) = pairs.items()
    return agreement.kappa


def pairwise_cohen_kappa(ratings: Iterable[Rating]) -> dict[CoderPair, PairAgreement]:
    """Cohen's kappa, percent agreement and shared items for every coder pair.

    Keys are ``(a, b)`` with ``a < b`` (natural order of the coder ids, or a
    type/repr order if they do not compare); only pairs that share at least one
    item appear.  It shows *which* coders disagree, which a single alpha hides.
    Cost ``O(R)`` plus ``O(#distinct (pair, value, value) combinations)``.
    """
    return _pairwise(_Tally(ratings))


def fleiss_kappa(ratings: Iterable[Rating]) -> float | None:
    """Fleiss' kappa (1971), only if every item has the same number m >= 2 of ratings.

    Fleiss assumes a fixed number of raters per subject (not necessarily the same
    raters).  If any item of the input has a different number of ratings,
    including a single one, the design assumption fails and ``None`` is
    returned; use alpha for unbalanced data.  Also ``None`` when the chance
    agreement ``P_e`` is 1.  Frozensets are compared as whole labels.  Exact
    rational arithmetic; cost ``O(R)``.
    """
    return _fleiss(_Tally(ratings))


def percent_agreement(ratings: Iterable[Rating]) -> float | None:
    """Mean over items with >= 2 ratings of the share of identical rating pairs.

    The uncorrected number people expect to see next to the chance-corrected
    coefficients.  Frozensets must be identical to agree.  ``None`` without any
    item with two ratings.  Exact rational arithmetic; cost ``O(R)``.
    """
    return _percent(_Tally(ratings))


def confusion(ratings: Iterable[Rating]) -> dict[ConfusionKey, int]:
    """Symmetric label coincidence counts: which labels coders mix up.

    Every unordered pair of ratings of the same item is counted in both
    directions, so ``result[x, y] == result[y, x]`` and an agreeing pair adds 2
    to the diagonal cell (as in a coincidence matrix, but unweighted).

    For frozenset values the two sets ``A`` and ``B`` are compared label-wise:
    each shared label ``l`` adds 2 to ``(l, l)``; every label only in ``A`` is
    paired with every label only in ``B`` (both directions); if one side has no
    unmatched label, the other side's unmatched labels are paired with ``None``
    ("no counterpart": chosen by one coder, nothing in its place by the other).
    Singleton sets therefore give exactly the single-choice table.  Cost ``O(R)``.
    """
    return _confusion(_Tally(ratings))


def label_prevalence(ratings: Iterable[Rating]) -> dict[Label, float]:
    """Share of all ratings that use each label, most frequent first.

    For frozenset values it is the share of ratings whose set contains the
    label, so shares can add up to more (or, with empty sets, less) than 1.
    Includes items with a single rating: prevalence describes usage, not
    agreement.  Skewed prevalence explains low kappa/alpha despite high percent
    agreement.  Cost ``O(R)``.
    """
    return _prevalence(_Tally(ratings))


def item_disagreement(
    ratings: Iterable[Rating], *, distance: str = "nominal"
) -> dict[ItemId, float]:
    """Per item (with >= 2 ratings), the mean distance over its rating pairs.

    With the default nominal distance this is the share of disagreeing pairs
    (0 = unanimous, 1 = all different); ``"masi"``/``"jaccard"`` give partial
    credit for overlapping sets.  Used to send the most contested items to
    adjudication.  Cost ``O(R)``; distances are computed once per distinct item
    pattern.
    """
    return _item_scores(_Tally(ratings), distance)


def most_disagreed(
    ratings: Iterable[Rating], n: int, *, distance: str = "nominal"
) -> list[tuple[ItemId, float]]:
    """The ``n`` items with the highest :func:`item_disagreement`, highest first.

    Ties are broken by item id (natural order, or type/repr if ids do not
    compare) so the list is stable between page loads.  Cost ``O(R + I log n)``.
    """
    if n <= 0:
        return []
    scores = _item_scores(_Tally(ratings), distance)
    try:
        return nsmallest(n, scores.items(), key=lambda kv: (-kv[1], kv[0]))
    except TypeError:
        return nsmallest(
            n, scores.items(), key=lambda kv: (-kv[1], _fallback_key(kv[0]))
        )


def dimension_report(
    ratings: Iterable[Rating], *, multi: bool, item_scores: bool = False
) -> DimensionReport:
    """All agreement figures for one dimension from a single grouping pass.

    ``multi`` selects MASI alpha for multi-choice (frozenset) dimensions, where
    partially overlapping answers deserve partial credit, and nominal alpha for
    single-choice ones.  Fleiss, percent agreement, pairwise kappa and the
    confusion table compare values as whole labels (see :func:`confusion` for
    how sets are broken into labels there).  ``item_scores=True`` also fills
    ``item_scores`` (:func:`item_disagreement` with the same distance) from the
    same tally: calling both functions would group the ratings twice, which
    was the larger half of the agreement page's cost.  Cost ``O(R)``: about
    0.2 s for 300,000 ratings (100,000 items x 3 coders), well under 1 s even
    with a pool of 200 coders.
    """
    t = _Tally(ratings)
    distance = "masi" if multi else "nominal"
    alpha = _alpha(t, distance)
    return DimensionReport(
        distance=distance,
        alpha=alpha,
        interpretation=interpret_alpha(alpha),
        fleiss=_fleiss(t),
        percent=_percent(t),
        n_items=t.n_items,
        n_coders=len(t.coders),
        n_ratings=t.n_ratings,
        pairwise=_pairwise(t),
        prevalence=_prevalence(t),
        confusion=_confusion(t),
        item_scores=_item_scores(t, distance) if item_scores else {},
    )


# --------------------------------------------------------------------------------
# Span agreement: pairwise precision, recall and F1 by character overlap
# --------------------------------------------------------------------------------
#
# Where annotators mark *where* something is (the source's words, the cue's
# words), the items are not fixed in advance and chance agreement is undefined,
# so the span-level figures are pairwise precision/recall/F1 with one annotator
# taken as the reference for the other (Hripcsak & Rothschild 2005: F1 between
# two annotators approaches kappa when negatives are many; GATE's IAA plugin
# reports the same per pair), with partial ("lenient") matching: a span counts
# as found when it shares at least one character with a span of the other
# annotator in the same segment. INCEpTION's user guide (Agreement, "Coding vs.
# Unitizing") judges partial overlap of span annotations by characters, not
# tokens, and reports agreement per annotator pair; its coding measures would
# drop a span the other annotator marked differently as "incomplete", which is
# why spans are not given a coding coefficient here.
#
# A rating's value is the tuple of an annotator's *units* in one item (segment):
# each unit a tuple of ``(start, end)`` parts (half-open character offsets), one
# part for a source span, one or more for a discontinuous cue. An annotator who
# labelled the segment but marked nothing gives ``()``: their partner's spans in
# it then count as not found.

type Part = tuple[int, int]
type Unit = tuple[Part, ...]


def spans_overlap(a: Unit, b: Unit) -> bool:
    """True when the two units share a character: some part of ``a`` and some
    part of ``b`` intersect (``[0, 5)`` and ``[5, 9)`` do not)."""
    return any(max(sa, sb) < min(ea, eb) for sa, ea in a for sb, eb in b)


@dataclass(frozen=True, slots=True)
class SpanPairAgreement:
    """Span agreement of coders ``a`` < ``b`` on the items both rated.

    ``precision``: the share of ``a``'s units that overlap one of ``b``'s in
    the same item (``b`` as the reference); ``recall``: the share of ``b``'s
    units ``a`` overlaps. Swapping the coders swaps the two, so ``f1`` (their
    harmonic mean) is symmetric. ``None`` where a share has no units to count;
    ``f1`` is 0 when only one of them marked anything, ``None`` when neither did.
    """

    precision: float | None
    recall: float | None
    f1: float | None
    found_a: int
    units_a: int
    found_b: int
    units_b: int
    n_items: int


@dataclass(frozen=True, slots=True)
class SpanReport:
    """Span agreement of all coder pairs; ``f1`` is the mean of the pairs'
    defined F1 (each pair counts once, as INCEpTION's and GATE's pairwise
    tables are read), ``None`` without any."""

    f1: float | None
    pairwise: dict[CoderPair, SpanPairAgreement]
    n_items: int  # items rated by two or more coders
    n_coders: int
    n_units: int  # units marked in those items


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None and recall is None:
        return None
    if precision is None or recall is None or precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def span_agreement(ratings: Iterable[Rating]) -> SpanReport:
    """Pairwise precision, recall and F1 by character overlap (see above).

    Ratings are ``Rating(item, coder, units)``; items with a single rating are
    ignored, as in the coefficients above. Cost: per item, the units of every
    coder pair compared with each other (a segment has a few units).
    """
    by_item: defaultdict[ItemId, dict[CoderId, tuple[Unit, ...]]] = defaultdict(dict)
    for item, coder, units in ratings:
        if coder in by_item[item]:
            raise ValueError(f"coder {coder!r} rated the same item twice")
        by_item[item][coder] = tuple(units)
    counts: defaultdict[CoderPair, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    coders: set[CoderId] = set()
    n_items = n_units = 0
    for rated in by_item.values():
        if len(rated) < 2:
            continue
        n_items += 1
        coders.update(rated)
        n_units += sum(len(units) for units in rated.values())
        ordered = _sorted_safely(rated, key=lambda c: c)
        for a, b in combinations(ordered, 2):
            units_a, units_b = rated[a], rated[b]
            tally = counts[a, b]
            tally[0] += sum(any(spans_overlap(u, v) for v in units_b) for u in units_a)
            tally[1] += len(units_a)
            tally[2] += sum(any(spans_overlap(v, u) for u in units_a) for v in units_b)
            tally[3] += len(units_b)
            tally[4] += 1
    pairwise: dict[CoderPair, SpanPairAgreement] = {}
    for pair in _sorted_safely(counts, key=lambda p: p):
        found_a, units_a, found_b, units_b, items = counts[pair]
        precision = found_a / units_a if units_a else None
        recall = found_b / units_b if units_b else None
        pairwise[pair] = SpanPairAgreement(
            precision=precision,
            recall=recall,
            f1=_f1(precision, recall),
            found_a=found_a,
            units_a=units_a,
            found_b=found_b,
            units_b=units_b,
            n_items=items,
        )
    defined = [p.f1 for p in pairwise.values() if p.f1 is not None]
    return SpanReport(
        f1=fsum(defined) / len(defined) if defined else None,
        pairwise=pairwise,
        n_items=n_items,
        n_coders=len(coders),
        n_units=n_units,
    )
