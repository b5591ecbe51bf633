"""Inter-annotator agreement for one annotation dimension.

This module is deliberately free of Django: views, management commands and
exports feed it plain :class:`Rating` tuples (or, where millions of ratings come
from a few distinct snapshot texts, :class:`Columns` they numbered themselves), so
the statistics can be unit-tested against published examples and reference
implementations without a database. The counting runs in numpy (integer sorts
and bincounts); the coefficients themselves are exact Python arithmetic over the
*distinct* labels and coder pairs.

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

Cost: :class:`Rating` input is numbered in one Python-level pass over the ``R``
ratings (:meth:`Columns.from_ratings`); from then on the ratings are integer
columns, sorted by (item, coder) and counted with numpy, and Python loops only
over *distinct* keys: value pairs, coder pairs, ``(coder pair, value)``
marginals, item patterns.  Nothing is quadratic in the number of items; the only
quadratic term is the expected disagreement of the set distances (``"masi"``,
``"jaccard"``), ``O(V^2)`` in the number ``V`` of *distinct* values.
``dimension_report`` of :class:`Columns` with 300,000 ratings (100,000 items x 3
coders) takes a few hundredths of a second; see ``_Tally`` for the details.
Every figure is the same, bit for bit, as the pure-Python tally this replaced
(``tests/reference/agreement_v1.py``, ``tests/plain/test_agreement_reference.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from heapq import nsmallest
from itertools import combinations
from math import comb, fsum
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "ALPHA_RELIABLE",
    "ALPHA_TENTATIVE",
    "DISTANCES",
    "MASI_OVERLAP_WEIGHT",
    "MASI_SUBSET_WEIGHT",
    "Columns",
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
    "report_and_scores",
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
    if _is_set(value):
        return value
    return frozenset((value,))


def _is_set(value: Any) -> bool:
    """``isinstance(value, AbstractSet)``, with the common frozenset checked
    first (the ABC check costs a microsecond, and it runs per value pair)."""
    return type(value) is frozenset or isinstance(value, AbstractSet)


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
# Ratings as integer columns, and the shared tally
# --------------------------------------------------------------------------------


class Columns:
    """Ratings as three parallel integer columns plus the ids they stand for.

    ``item[k]``, ``coder[k]`` and ``value[k]`` are the k-th rating's positions in
    ``items``, ``coders`` and ``values``. Two conditions make a valid table:

    * ``coders`` is in the order coder pairs are oriented in (``(a, b)`` with
      ``a`` before ``b``): ascending ids, or the type/repr order when the ids do
      not all compare (:meth:`from_ratings` sorts them);
    * every result listed per item (``item_scores``) comes out in the order of
      the item numbers; :meth:`from_ratings` numbers items by first appearance,
      so the order is that of the ratings given (a subset, :meth:`take`, keeps
      the numbers of the whole).

    Equal values must have one number (the counts are kept per number). Rows
    already sorted by (item, coder) are not sorted again. A caller that reads
    many ratings from the same few texts (``ratings.py``) numbers them itself
    and never builds a :class:`Rating` per rating; everyone else passes ratings
    and :meth:`from_ratings` numbers them in one pass.
    """

    __slots__ = ("coder", "coders", "item", "items", "value", "values")

    def __init__(
        self,
        item: Any,
        coder: Any,
        value: Any,
        items: Sequence[ItemId],
        coders: Sequence[CoderId],
        values: Sequence[Value],
    ) -> None:
        self.item = np.asarray(item, dtype=np.int64)
        self.coder = np.asarray(coder, dtype=np.int64)
        self.value = np.asarray(value, dtype=np.int64)
        if not len(self.item) == len(self.coder) == len(self.value):
            raise ValueError("item, coder and value columns differ in length")
        self.items = items
        self.coders = coders
        self.values = values

    def __len__(self) -> int:
        return len(self.item)

    @classmethod
    def from_ratings(cls, ratings: Iterable[Rating] | Columns) -> Columns:
        """Number the ratings: items and values by first appearance, coders in
        pair order. The one Python-level pass over individual ratings."""
        if isinstance(ratings, Columns):
            return ratings
        item_no: dict[ItemId, int] = {}
        coder_no: dict[CoderId, int] = {}
        value_no: dict[Value, int] = {}
        items: list[int] = []
        coders: list[int] = []
        values: list[int] = []
        for item, coder, value in ratings:
            number = item_no.get(item)
            if number is None:
                number = item_no[item] = len(item_no)
            items.append(number)
            number = coder_no.get(coder)
            if number is None:
                number = coder_no[coder] = len(coder_no)
            coders.append(number)
            number = value_no.get(value)
            if number is None:
                number = value_no[value] = len(value_no)
            values.append(number)
        coder_ids = list(coder_no)
        ordered = _sorted_safely(range(len(coder_ids)), key=coder_ids.__getitem__)
        rank = np.empty(len(ordered), dtype=np.int64)
        rank[ordered] = np.arange(len(ordered), dtype=np.int64)
        coder_column = rank[np.asarray(coders, dtype=np.int64)] if coders else []
        return cls(
            items,
            coder_column,
            values,
            list(item_no),
            [coder_ids[k] for k in ordered],
            list(value_no),
        )

    def take(self, rows: Any) -> Columns:
        """The ratings at ``rows`` (a boolean mask or positions), same numbering."""
        return Columns(
            self.item[rows],
            self.coder[rows],
            self.value[rows],
            self.items,
            self.coders,
            self.values,
        )

    def ratings(self) -> list[Rating]:
        """Back to :class:`Rating` tuples (tests, small data)."""
        items, coders, values = self.items, self.coders, self.values
        return [
            Rating(items[i], coders[c], values[v])
            for i, c, v in zip(
                self.item.tolist(),
                self.coder.tolist(),
                self.value.tolist(),
                strict=True,
            )
        ]


def _unique(keys: Any, size: int) -> tuple[Any, Any]:
    """``np.unique(keys, return_inverse=True)`` for ints in ``[0, size)``,
    without a sort when the key space is small (a table look-up instead)."""
    if size <= max(1 << 16, 4 * keys.size):
        seen = np.zeros(size, dtype=bool)
        seen[keys] = True
        present = np.flatnonzero(seen)
        position = np.zeros(size, dtype=np.int64)
        position[present] = np.arange(len(present), dtype=np.int64)
        return present, position[keys]
    present, inverse = np.unique(keys, return_inverse=True)
    return present, inverse.reshape(keys.shape)


def _count(keys: Any, size: int) -> tuple[Any, Any]:
    """Distinct ``keys`` (ints in ``[0, size)``) and how often each occurs,
    ascending: a bincount when the key space is small, a sort otherwise."""
    if size <= max(1 << 16, 4 * len(keys)):
        counts = np.bincount(keys, minlength=size)
        present = np.flatnonzero(counts)
        return present, counts[present]
    return np.unique(keys, return_counts=True)


class _Tally:
    """Ratings grouped once; every statistic is derived from these counts.

    The ratings are sorted by (item, coder number) with numpy, so within an item
    position ``i < j`` means ``coder_i`` before ``coder_j`` (the orientation of
    coder pairs). Items with ``m >= 2`` ratings are laid out as an
    ``(items, m)`` block per ``m``; every within-item pair of ratings is a pair
    of columns of its block. The counters the coefficients read (values, value
    pairs, coder pairs and their marginals) are bincounts of those columns,
    turned into ``Counter`` objects keyed by the ids and values themselves, so
    the coefficients below are plain Python over *distinct* keys: a few labels
    and coder pairs, never the individual ratings.
    """

    def __init__(self, ratings: Iterable[Rating] | Columns) -> None:
        data = Columns.from_ratings(ratings)
        self.data = data
        n = len(data)
        n_coders = max(len(data.coders), 1)
        key = data.item * n_coders + data.coder
        if np.all(key[1:] > key[:-1]):
            # Already in (item, coder) order without a repeat (the loader of the
            # agreement page sorts its rows once for all dimensions).
            item, coder, value = data.item, data.coder, data.value
        else:
            order = np.argsort(key, kind="stable")
            item = data.item[order]
            coder = data.coder[order]
            value = data.value[order]
            same = (item[1:] == item[:-1]) & (coder[1:] == coder[:-1])
            if same.any():
                dup = data.coders[int(coder[int(np.argmax(same))])]
                raise ValueError(f"coder {dup!r} rated the same item twice")
        starts = np.flatnonzero(np.r_[True, item[1:] != item[:-1]]) if n else item
        sizes = np.diff(np.r_[starts, n])
        values = data.values
        n_values = len(values)

        # m -> (item numbers, coder block, value block), blocks (items, m).
        self.blocks: dict[int, tuple[Any, Any, Any]] = {}
        present_sizes = np.flatnonzero(np.bincount(sizes)) if n else sizes
        for m in present_sizes[present_sizes >= 2].tolist():
            first = starts[sizes == m]
            at = first[:, None] + np.arange(m)
            self.blocks[m] = (item[first], coder[at], value[at])
        pairable_mask = np.repeat(sizes >= 2, sizes)

        def counter(keys: Any, labels: Sequence[Any]) -> Counter:
            present, counts = _count(keys, len(labels))
            return Counter(
                dict(
                    zip(
                        [labels[k] for k in present.tolist()],
                        counts.tolist(),
                        strict=True,
                    )
                )
            )

        self.n_values = n_values
        self.sizes: Counter[int] = Counter(
            {m: len(block[0]) for m, block in self.blocks.items()}
        )
        self.n_items = int(np.count_nonzero(sizes >= 2))
        self.n_singles = int(np.count_nonzero(sizes == 1))
        self.coders: set[CoderId] = {
            data.coders[c]
            for c in np.flatnonzero(np.bincount(coder, minlength=n_coders)).tolist()
        }
        self.pairable: Counter[Value] = counter(value[pairable_mask], values)
        self.values: Counter[Value] = counter(value, values)
        self.n_ratings = n

    def pair_columns(self) -> tuple[Any, Any, Any, Any, Any]:
        """Every within-item pair of ratings, item sizes concatenated:
        ``(item, coder_a, coder_b, value_a, value_b, m)`` columns."""
        parts = [
            (items, cs[:, i], cs[:, j], vs[:, i], vs[:, j], np.full(len(items), m))
            for m, (items, cs, vs) in self.blocks.items()
            for i, j in combinations(range(m), 2)
        ]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty, empty, empty
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))

    @cached_property
    def value_pairs(self) -> dict[int, Counter[tuple[Value, Value]]]:
        """Within-item value pairs per item size: ``m -> {(v_a, v_b): count}``."""
        values, n_values = self.data.values, self.n_values
        out: dict[int, Counter[tuple[Value, Value]]] = {}
        for m, (_items, _cs, vs) in self.blocks.items():
            keys = np.concatenate(
                [vs[:, i] * n_values + vs[:, j] for i, j in combinations(range(m), 2)]
            )
            present, counts = _count(keys, n_values * n_values)
            out[m] = Counter(
                {
                    (values[k // n_values], values[k % n_values]): c
                    for k, c in zip(present.tolist(), counts.tolist(), strict=True)
                }
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
        """Per coder pair: shared items, identical values, and both marginals."""
        coders, values = self.data.coders, self.data.values
        n_coders, n_values = len(coders), self.n_values
        _items, ca, cb, va, vb, _m = self.pair_columns()
        pair = ca * n_coders + cb

        def by_pair(keys: Any) -> Counter[CoderPair]:
            present, counts = _count(keys, n_coders * n_coders)
            return Counter(
                {
                    (coders[k // n_coders], coders[k % n_coders]): c
                    for k, c in zip(present.tolist(), counts.tolist(), strict=True)
                }
            )

        def by_pair_value(keys: Any) -> Counter[tuple[CoderId, CoderId, Value]]:
            present, counts = _count(keys, n_coders * n_coders * n_values)
            out: Counter[tuple[CoderId, CoderId, Value]] = Counter()
            for k, c in zip(present.tolist(), counts.tolist(), strict=True):
                p, v = divmod(k, n_values)
                out[coders[p // n_coders], coders[p % n_coders], values[v]] = c
            return out

        return (
            by_pair(pair),
            by_pair(pair[va == vb]),
            by_pair_value(pair * n_values + va),
            by_pair_value(pair * n_values + vb),
        )

    @cached_property
    def agree_by_size(self) -> Counter[int]:
        """Identical-value pairs per item size ``m`` (summed over items)."""
        return Counter(
            {
                m: sum(k for (va, vb), k in pairs.items() if va == vb)
                for m, pairs in self.value_pairs.items()
            }
        )

    def item_scores(self, distance: str) -> tuple[Any, Any]:
        """:func:`item_disagreement` as columns: the numbers of the items with
        ``m >= 2`` ratings, ascending, and their scores.

        Per item size, the distance is computed once per distinct pair of
        values (``dist(v_i, v_j)``, ``i < j`` in coder order, as before) and
        the score (``fsum`` of the item's distances over their number) once per
        distinct row of distances: a handful of rows, however many items.
        """
        dist = _distance_fn(distance)
        values, n_values = self.data.values, max(self.n_values, 1)
        numbers, scores = [], []
        for m, (items, _cs, vs) in self.blocks.items():
            pairs = list(combinations(range(m), 2))
            keys = np.stack([vs[:, i] * n_values + vs[:, j] for i, j in pairs], axis=1)
            distinct, inverse = _unique(keys, n_values * n_values)
            by_key = [
                dist(values[k // n_values], values[k % n_values])
                for k in distinct.tolist()
            ]
            # Rows of distances, numbered through the few distinct distances.
            distances, code = np.unique(
                np.asarray(by_key, dtype=np.float64), return_inverse=True
            )
            codes = code.ravel()[inverse]
            base = max(len(distances), 1)
            if base ** len(pairs) < 2**62:
                weights = base ** np.arange(len(pairs), dtype=np.int64)
                row_keys, row_of = _unique(codes @ weights, base ** len(pairs))
                rows = (row_keys[:, None] // weights) % base
            else:
                rows, row_of = np.unique(codes, axis=0, return_inverse=True)
            per_row = [
                fsum(distances[row].tolist()) / len(pairs) for row in rows.tolist()
            ]
            numbers.append(items)
            scores.append(np.asarray(per_row, dtype=np.float64)[row_of.ravel()])
        if not numbers:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        number, score = np.concatenate(numbers), np.concatenate(scores)
        order = np.argsort(number, kind="stable")
        return number[order], score[order]


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
    sparse = _expected_from_shared_labels(vals, d)
    if sparse is not None:
        expected_f = 2 * sparse
    else:
        expected_f = 2 * fsum(
            ca * cb * d(a, b)
            for i, (a, ca) in enumerate(vals)
            for b, cb in vals[i + 1 :]
        )
    if expected_f == 0:
        return None
    observed_f = fsum(
        2 * fsum(k * d(va, vb) for (va, vb), k in pairs.items() if va != vb) / (m - 1)
        for m, pairs in t.value_pairs.items()
    )
    return 1 - (n - 1) * observed_f / expected_f


#: From this many distinct pairable values on, the expected disagreement of a set
#: distance sums only the value pairs that share a label (a project's canonical
#: sources: hundreds of sets, each naming one or two of hundreds of sources).
_SPARSE_EXPECTED = 256


def _expected_from_shared_labels(
    vals: list[tuple[Value, int]], d: Callable[[Value, Value], float]
) -> float | None:
    """``fsum(c_a * c_b * d(a, b))`` over the pairs ``a``, ``b`` of ``vals``, as
    the full ``O(V^2)`` sum gives it, bit for bit, for ``masi`` and ``jaccard``
    from the pairs that share a label only. Two values without a common label
    are at distance exactly 1.0 under both (disjoint sets, or one of them
    empty; two empty ones would be equal values), so their terms are the
    integers ``c_a * c_b``: they are added up exactly as one Python int, handed
    to ``fsum`` as two floats whose sum is that int, and ``fsum``, correctly
    rounded, returns the same float as over the separate terms. ``None`` (use
    the full sum) below ``_SPARSE_EXPECTED`` values, or where a product would
    not be an exact float."""
    if len(vals) < _SPARSE_EXPECTED or max(c for _v, c in vals) ** 2 >= 2**53:
        return None
    by_label: dict[Any, list[int]] = {}
    empty = 0
    for i, (value, _c) in enumerate(vals):
        labels = _as_set(value)
        empty += not labels
        for label in labels:
            by_label.setdefault(label, []).append(i)
    if empty > 1:
        return None
    sharing: set[tuple[int, int]] = set()
    for members in by_label.values():
        sharing.update(combinations(members, 2))  # i < j: appended in order
    terms = []
    shared_products = 0
    for i, j in sharing:
        (a, ca), (b, cb) = vals[i], vals[j]
        terms.append(ca * cb * d(a, b))
        shared_products += ca * cb
    total = sum(c for _v, c in vals)
    all_products = (total * total - sum(c * c for _v, c in vals)) // 2
    rest = all_products - shared_products
    high = float(rest)
    terms += [high, float(rest - int(high))]
    return fsum(terms)


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
    return value if _is_set(value) else (value,)


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
        if not _is_set(va) and not _is_set(vb):
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
    numbers, scores = t.item_scores(distance)
    items = t.data.items
    return {items[k]: s for k, s in zip(numbers.tolist(), scores.tolist(), strict=True)}


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


def report_and_scores(
    data: Columns, *, multi: bool, item_scores: bool = True
) -> tuple[DimensionReport, Any, Any]:
    """:func:`dimension_report` of numbered ratings, the item scores as columns:
    ``(report, item numbers, scores)`` with ``report.item_scores`` empty and the
    numbers ascending (only items with two or more ratings; both columns empty
    unless ``item_scores``). What the agreement page uses: it sums the scores
    per segment with numpy instead of building a dict per dimension."""
    t = _Tally(data)
    distance = "masi" if multi else "nominal"
    alpha = _alpha(t, distance)
    report = DimensionReport(
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
    )
    if item_scores:
        numbers, scores = t.item_scores(distance)
    else:
        numbers, scores = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    return report, numbers, scores


def dimension_report(
    ratings: Iterable[Rating] | Columns, *, multi: bool, item_scores: bool = False
) -> DimensionReport:
    """All agreement figures for one dimension from a single grouping pass.

    ``multi`` selects MASI alpha for multi-choice (frozenset) dimensions, where
    partially overlapping answers deserve partial credit, and nominal alpha for
    single-choice ones.  Fleiss, percent agreement, pairwise kappa and the
    confusion table compare values as whole labels (see :func:`confusion` for
    how sets are broken into labels there).  ``item_scores=True`` also fills
    ``item_scores`` (:func:`item_disagreement` with the same distance) from the
    same tally.  ``ratings`` may also be :class:`Columns` (numbered by the
    caller).  Cost: numpy sorts and bincounts over the ``R`` ratings plus Python
    over the *distinct* labels, coder pairs and item patterns only.
    """
    data = Columns.from_ratings(ratings)
    report, numbers, scores = report_and_scores(
        data, multi=multi, item_scores=item_scores
    )
    if not item_scores:
        return report
    items = data.items
    return replace(
        report,
        item_scores={
            items[k]: s for k, s in zip(numbers.tolist(), scores.tolist(), strict=True)
        },
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


def span_agreement(ratings: Iterable[Rating] | Columns) -> SpanReport:
    """Pairwise precision, recall and F1 by character overlap (see above).

    Ratings are ``Rating(item, coder, units)`` (or :class:`Columns` whose
    values are unit tuples); items with a single rating are ignored, as in the
    coefficients above. Cost: the pairs of ratings are counted with numpy; the
    units are compared once per distinct pair of non-empty unit tuples.
    """
    if not isinstance(ratings, Columns):
        ratings = Columns.from_ratings(
            (item, coder, tuple(units)) for item, coder, units in ratings
        )
    t = _Tally(ratings)
    units = ratings.values
    n_coders, n_values = len(ratings.coders), max(len(units), 1)
    length = np.fromiter(map(len, units), dtype=np.int64, count=len(units))
    _items, ca, cb, ua, ub, _m = t.pair_columns()
    pair = ca * n_coders + cb
    found_a = np.zeros(len(pair), dtype=np.int64)
    found_b = np.zeros(len(pair), dtype=np.int64)
    both = (length[ua] > 0) & (length[ub] > 0) if len(pair) else pair > 0
    if both.any():
        distinct, inverse = np.unique(
            ua[both] * n_values + ub[both], return_inverse=True
        )
        fa, fb = [], []
        for key in distinct.tolist():
            units_a, units_b = units[key // n_values], units[key % n_values]
            fa.append(sum(any(spans_overlap(u, v) for v in units_b) for u in units_a))
            fb.append(sum(any(spans_overlap(v, u) for u in units_a) for v in units_b))
        found_a[both] = np.asarray(fa, dtype=np.int64)[inverse.ravel()]
        found_b[both] = np.asarray(fb, dtype=np.int64)[inverse.ravel()]
    present, shared = _count(pair, n_coders * n_coders)
    per_pair = [
        np.bincount(pair, weights=column, minlength=n_coders * n_coders)[present]
        .round()
        .astype(np.int64)
        .tolist()
        for column in (found_a, length[ua], found_b, length[ub])
    ]
    coders = ratings.coders
    counts = {
        (coders[k // n_coders], coders[k % n_coders]): tally
        for k, *tally in zip(present.tolist(), *per_pair, shared.tolist(), strict=True)
    }
    pairwise: dict[CoderPair, SpanPairAgreement] = {}
    for pair_ids in _sorted_safely(counts, key=lambda p: p):
        found_a_n, units_a_n, found_b_n, units_b_n, items = counts[pair_ids]
        precision = found_a_n / units_a_n if units_a_n else None
        recall = found_b_n / units_b_n if units_b_n else None
        pairwise[pair_ids] = SpanPairAgreement(
            precision=precision,
            recall=recall,
            f1=_f1(precision, recall),
            found_a=found_a_n,
            units_a=units_a_n,
            found_b=found_b_n,
            units_b=units_b_n,
            n_items=items,
        )
    defined = [p.f1 for p in pairwise.values() if p.f1 is not None]
    rated = [cs for _items, cs, _vs in t.blocks.values()]
    n_units = sum(int(length[vs].sum()) for _items, _cs, vs in t.blocks.values())
    return SpanReport(
        f1=fsum(defined) / len(defined) if defined else None,
        pairwise=pairwise,
        n_items=t.n_items,
        n_coders=len(np.unique(np.concatenate([cs.ravel() for cs in rated])))
        if rated
        else 0,
        n_units=n_units,
    )
