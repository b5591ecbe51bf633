"""Averaged perceptron over string features: training and scoring, plain Python.

The models are small linear functions (a weight per feature string), so scoring
at run time is one dict lookup per feature and needs no library. Training is
deterministic: examples are visited in an order shuffled by a fixed seed, and
weights are averaged over all updates (Collins 2002), which keeps the last
epochs' noise out of the shipped weights.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


class AveragedPerceptron:
    def __init__(self) -> None:
        self.weights: dict[str, float] = {}
        self._totals: dict[str, float] = {}
        self._stamps: dict[str, int] = {}
        self._clock = 0

    def score(self, features: Sequence[str]) -> float:
        weights = self.weights
        return sum(weights.get(f, 0.0) for f in features)

    def _update(self, features: Sequence[str], delta: float) -> None:
        for feature in features:
            weight = self.weights.get(feature, 0.0)
            stamp = self._stamps.get(feature, 0)
            self._totals[feature] = (
                self._totals.get(feature, 0.0) + (self._clock - stamp) * weight
            )
            self._stamps[feature] = self._clock
            self.weights[feature] = weight + delta

    def tick(self) -> None:
        self._clock += 1

    def train_binary(self, features: Sequence[str], positive: bool) -> None:
        self.tick()
        margin = self.score(features)
        if positive and margin <= 0:
            self._update(features, 1.0)
        elif not positive and margin >= 0:
            self._update(features, -1.0)

    def train_choice(
        self, options: Sequence[Sequence[str]], gold: Sequence[int]
    ) -> None:
        """One ranking step: the best-scoring option should be one of ``gold``."""
        self.tick()
        scores = [self.score(option) for option in options]
        best = max(range(len(options)), key=scores.__getitem__)
        if best in gold:
            return
        target = max(gold, key=scores.__getitem__)
        self._update(options[target], 1.0)
        self._update(options[best], -1.0)

    def averaged(self, digits: int = 3) -> dict[str, float]:
        """The averaged weights, rounded, without the ones that round to zero."""
        out = {}
        clock = max(self._clock, 1)
        for feature, weight in self.weights.items():
            total = (
                self._totals.get(feature, 0.0)
                + (self._clock - self._stamps.get(feature, 0)) * weight
            )
            value = round(total / clock, digits)
            if value:
                out[feature] = value
        return dict(sorted(out.items()))


def train_epochs(examples: list, step, *, epochs: int, seed: int) -> None:
    """Call ``step(example)`` for each example, ``epochs`` times, in a shuffled
    order fixed by ``seed``."""
    order = list(range(len(examples)))
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for index in order:
            step(examples[index])
