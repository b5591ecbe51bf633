"""Rebuild data/model.json from the SpkAtt-2023 training split, reproducibly.

    python -m annotations.suggesting.train --corpus PATH

Two stages with fixed seeds: (1) 4-fold cross-validation by debate over the
training part (TRAIN + DEV of corpus.py) chooses the cue threshold and fits
the score calibration on out-of-fold margins, and prints the CV figures; (2)
the model is trained on the whole training part with those settings and
written. HELD OUT is never read here. The same command on the same corpus
writes the same file byte for byte (about a minute and a half on one core).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter, defaultdict
from pathlib import Path

from .corpus import Speech, debate_of, read_corpus, split_of
from .features import (
    CueWords,
    Sentence,
    candidate_ok,
    cased_key,
    cue_features,
    none_features,
    source_features,
    stem,
)
from .perceptron import AveragedPerceptron, train_epochs
from .scoring import Counts, overlaps, score_speech
from .suggester import MODEL_PATH, Model, analyse_article, model_from_dict
from .tokens import tokenize

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "spkatt-2023-task1-train"
SEED = 20230914
CUE_EPOCHS = 8
SOURCE_EPOCHS = 8
# Attachments and pairs must be seen this often to be shipped.
MIN_COUNT = 2
MIN_RATIO = 0.05
FOLDS = 5


def sentences_of(speech: Speech) -> list[Sentence]:
    out = []
    quote_open = False
    for start, end in speech.segments:
        sentence = Sentence(tokenize(speech.text, start, end), quote_open)
        quote_open = sentence.open_after
        out.append(sentence)
    return out


def _overlapping(sentence: Sentence, spans) -> list[int]:
    return [
        i
        for i, token in enumerate(sentence.tokens)
        if any(token.start < b and a < token.end for a, b in spans)
    ]


def cue_counts(
    speeches: list[Speech], cased: bool = False
) -> dict[str, tuple[int, int]]:
    """(times a cue token, times seen) for every word that was a cue token.
    ``cased``: keyed by cased_key() instead (words not first in a sentence,
    "^" before a capitalised word, "_" before a lowercase one)."""
    cue: Counter = Counter()
    seen: Counter = Counter()
    for speech in speeches:
        previous = -1
        for segment, span, word in speech.tokens:
            first = segment != previous
            previous = segment
            if cased:
                if first:
                    continue
                word = cased_key(word, speech.text[span[0]].isupper())
            seen[word] += 1
            if span in speech.cue_tokens:
                cue[word] += 1
    return {word: (count, seen[word]) for word, count in sorted(cue.items())}


def cue_vocabulary(speeches: list[Speech]) -> set[str]:
    """Words that were a cue token in at least MIN_RATIO of their occurrences
    (so "einen", a part of "einen Antrag stellen", is not a candidate)."""
    return {
        word
        for word, (cue, seen) in cue_counts(speeches).items()
        if cue >= MIN_RATIO * seen
    }


def crossfit_words(speeches: list[Speech], vocab: set[str]) -> dict[str, CueWords]:
    """Per speech, the cue words whose counts come from the OTHER folds
    (debates split in FOLDS), so the tagger learns how far to trust a count
    from counts that did not see the example (as at run time)."""
    debates = sorted({debate_of(speech.name) for speech in speeches})
    fold_of = {debate: index % FOLDS for index, debate in enumerate(debates)}
    out = {}
    for fold in range(FOLDS):
        others = [s for s in speeches if fold_of[debate_of(s.name)] != fold]
        words = CueWords(
            frozenset(vocab), cue_counts(others), cue_counts(others, cased=True)
        )
        for speech in speeches:
            if fold_of[debate_of(speech.name)] == fold:
                out[speech.name] = words
    return out


def collect(speeches: list[Speech], vocab: set[str]):
    """Cue tagger examples, source ranker examples, attachments and pairs."""
    crossfit = crossfit_words(speeches, vocab)
    cue_examples = []
    source_examples = []
    attach_counts: dict[str, Counter] = defaultdict(Counter)
    cue_counts: Counter = Counter()
    pair_counts: Counter = Counter()
    stem_pair_counts: Counter = Counter()
    joins: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for speech in speeches:
        sentences = sentences_of(speech)
        cue_spans = speech.cue_tokens
        known = crossfit[speech.name]
        event_of: dict[tuple[int, int], set[int]] = defaultdict(set)
        for number, event in enumerate(speech.events):
            for span in event.cue:
                event_of[span].add(number)
        for sentence in sentences:
            tokens = sentence.tokens
            for i in range(1, len(tokens) - 1):
                here = event_of.get((tokens[i].start, tokens[i].end))
                after = event_of.get((tokens[i + 1].start, tokens[i + 1].end))
                if here and after and sentence.cap[i] and not sentence.cap[i + 1]:
                    joins[sentence.lower[i + 1]][0 if here & after else 1] += 1
        for sentence in sentences:
            gold = set(_overlapping(sentence, cue_spans))
            for i in range(len(sentence.lower)):
                head = known.candidate(sentence, i)
                if head is not None:
                    features = cue_features(sentence, i, head, known)
                    cue_examples.append((features, i in gold))
        for event in speech.events:
            sentence = sentences[event.sentence]
            cue_only = [span for span in event.cue if span in cue_spans]
            cue = _overlapping(sentence, cue_only or event.cue)
            if not cue:
                continue
            words = [sentence.lower[i] for i in cue]
            head = cue[0]
            extra = [
                sentence.lower[i]
                for i in _overlapping(sentence, event.cue)
                if i not in cue
            ]
            if len(cue) == 1:
                cue_counts[words[0]] += 1
                for word in extra:
                    attach_counts[words[0]][word] += 1
            for a, b in zip(cue, cue[1:], strict=False):
                if b > a + 1:
                    pair_counts[(sentence.lower[a], sentence.lower[b])] += 1
            for k, a in enumerate(cue):
                for b in cue[k + 1 :]:
                    stem_pair_counts[
                        (stem(sentence.lower[a]), stem(sentence.lower[b]))
                    ] += 1
            cue_set = frozenset(_overlapping(sentence, event.cue))
            options = [none_features(sentence, head)]
            gold_source = set(_overlapping(sentence, event.source))
            gold_index = []
            for j in range(len(sentence.tokens)):
                if candidate_ok(sentence, j, cue_set):
                    if j in gold_source:
                        gold_index.append(len(options))
                    options.append(source_features(sentence, head, j))
            if event.source and not gold_index:
                continue  # the source stands in another sentence
            source_examples.append((options, gold_index or [0]))
    attachments = {
        word: sorted(
            particle
            for particle, count in counter.items()
            if count >= MIN_COUNT and count >= 0.2 * cue_counts[word]
        )
        for word, counter in sorted(attach_counts.items())
    }
    attachments = {word: parts for word, parts in attachments.items() if parts}
    pairs = sorted(
        [a, b] for (a, b), count in pair_counts.items() if count >= MIN_COUNT
    )
    pairs += sorted(
        ["~" + a, "~" + b]
        for (a, b), count in stem_pair_counts.items()
        if count >= MIN_COUNT
    )
    noun_verb = dict(sorted(joins.items()))
    return cue_examples, source_examples, attachments, pairs, noun_verb


def train_model(speeches: list[Speech], threshold: float, calibration) -> dict:
    vocab = cue_vocabulary(speeches)
    cue_examples, source_examples, attachments, pairs, joins = collect(speeches, vocab)
    cue_model = AveragedPerceptron()
    train_epochs(
        cue_examples,
        lambda ex: cue_model.train_binary(*ex),
        epochs=CUE_EPOCHS,
        seed=SEED,
    )
    source_model = AveragedPerceptron()
    train_epochs(
        source_examples,
        lambda ex: source_model.train_choice(*ex),
        epochs=SOURCE_EPOCHS,
        seed=SEED + 1,
    )
    return {
        "about": (
            "Cue tagger and source ranker for annotations.suggesting, trained by "
            "'python -m annotations.suggesting.train' on the SpkAtt-2023 task 1 "
            "training split (TRAIN + DEV parts, see corpus.py). Derived from "
            "CC BY-SA 4.0 annotations: see LICENSE-SpkAtt-2023.md."
        ),
        "cue_threshold": threshold,
        "calibration": list(calibration),
        "cue_vocab": sorted(vocab),
        "cue_counts": {
            word: list(counts) for word, counts in cue_counts(speeches).items()
        },
        "cue_case_counts": {
            word: list(counts)
            for word, counts in cue_counts(speeches, cased=True).items()
        },
        "attachments": attachments,
        "pairs": pairs,
        "noun_verb": joins,
        "cue_weights": cue_model.averaged(),
        "source_weights": source_model.averaged(),
    }


def predict(speech: Speech, model: Model, *, mentions: bool = True):
    found = analyse_article(speech.text, speech.segments, model, mentions=mentions)
    return [(f.cue_spans, f.resolved_source) for segment in found for f in segment]


def evaluate_model(
    speeches: list[Speech],
    model: Model,
    *,
    mentions: bool = True,
    attributions_only: bool = False,
) -> Counts:
    """Counts over ``speeches``. ``mentions``: the suggester's mode;
    ``attributions_only``: score against the gold events with a source or a
    message only (bare mentions are left out of the measure)."""
    total = Counts()
    for speech in speeches:
        gold = speech.events
        ignored = None
        if attributions_only:
            gold = [event for event in speech.events if event.attribution]
            ignored = [event for event in speech.events if not event.attribution]
        predicted = predict(speech, model, mentions=mentions)
        total.add(score_speech(predicted, gold, ignored))
    return total


def _margins(speeches: list[Speech], model: Model) -> list[tuple[float, bool]]:
    """Cue margins of every candidate token with its gold label."""
    out = []
    for speech in speeches:
        for sentence in sentences_of(speech):
            gold = set(_overlapping(sentence, speech.cue_tokens))
            for i in range(len(sentence.lower)):
                head = model.cue_words.candidate(sentence, i)
                if head is not None:
                    features = cue_features(sentence, i, head, model.cue_words)
                    margin = sum(model.cue_weights.get(f, 0.0) for f in features)
                    out.append((margin, i in gold))
    return out


def fit_calibration(points: list[tuple[float, bool]]) -> tuple[float, float]:
    """1-D logistic regression (Platt scaling) by plain gradient descent."""
    a, b = 1.0, 0.0
    n = len(points)
    for _ in range(300):
        grad_a = grad_b = 0.0
        for margin, label in points:
            z = max(-30.0, min(30.0, a * margin + b))
            p = 1.0 / (1.0 + math.exp(-z))
            grad_a += (p - label) * margin
            grad_b += p - label
        a -= 0.5 * grad_a / n
        b -= 0.5 * grad_b / n
    return round(a, 4), round(b, 4)


THRESHOLDS = tuple(step / 2 for step in range(-4, 5))
CV_FOLDS = 4


def cross_validate(
    speeches: list[Speech],
) -> tuple[dict[float, Counts], list[tuple[float, bool]], list]:
    """Counts per cue threshold and out-of-fold cue margins, by CV_FOLDS-fold
    cross-validation over debates (debate index modulo CV_FOLDS); and per
    fold the model data and the speeches it did not see."""
    debates = sorted({debate_of(speech.name) for speech in speeches})
    fold_of = {debate: index % CV_FOLDS for index, debate in enumerate(debates)}
    counts = {threshold: Counts() for threshold in THRESHOLDS}
    margins: list[tuple[float, bool]] = []
    folds = []
    for fold in range(CV_FOLDS):
        inside = [s for s in speeches if fold_of[debate_of(s.name)] != fold]
        outside = [s for s in speeches if fold_of[debate_of(s.name)] == fold]
        data = train_model(inside, 0.0, (1.0, 0.0))
        for threshold in THRESHOLDS:
            model = model_from_dict({**data, "cue_threshold": threshold})
            counts[threshold].add(evaluate_model(outside, model))
        margins += _margins(outside, model_from_dict(data))
        folds.append((data, outside))
    return counts, margins, folds


def write_errors(path: Path, folds: list, threshold: float) -> None:
    """The cross-validation's false cues and missed events (mentions=True),
    most frequent words first, then each with its context: for error
    analysis on the training part (never on HELD OUT)."""
    rows = []
    for data, outside in folds:
        model = model_from_dict({**data, "cue_threshold": threshold})
        for speech in outside:
            used: set[int] = set()
            for cue, _ in predict(speech, model):
                if not cue:
                    continue
                match = next(
                    (
                        k
                        for k, event in enumerate(speech.events)
                        if k not in used and overlaps(cue, event.cue)
                    ),
                    None,
                )
                if match is None:
                    rows.append(("FP", speech, cue, ""))
                else:
                    used.add(match)
            for k, event in enumerate(speech.events):
                if k not in used:
                    kind = "attribution" if event.attribution else "mention"
                    rows.append(("FN", speech, event.cue, kind))
    lines = []
    for label in ("FP", "FN"):
        words = Counter(
            " ".join(speech.text[a:b] for a, b in spans).lower()
            for kind, speech, spans, _ in rows
            if kind == label
        )
        common = ", ".join(f"{word} {count}" for word, count in words.most_common(60))
        lines.append(f"{label} {sum(words.values())}: {common}")
    for kind, speech, spans, note in rows:
        start, end = spans[0][0], spans[-1][1]
        context = (
            speech.text[max(0, start - 70) : start]
            + "[["
            + speech.text[start:end]
            + "]]"
            + speech.text[end : end + 70]
        ).replace("\n", " ")
        lines.append(f"{kind}\t{note}\t{speech.name}\t{context}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def choose_threshold(counts: dict[float, Counts]) -> float:
    """Best cue F1 (plus a quarter of source F1); on a tie the higher threshold,
    since an annotator is better served by fewer wrong suggestions."""
    best = max(
        THRESHOLDS,
        key=lambda t: (
            round(counts[t].cue()[2] + 0.25 * counts[t].source()[2], 3),
            t,
        ),
    )
    return best


def report(label: str, counts: Counts) -> str:
    cp, cr, cf = counts.cue()
    sp, sr, sf = counts.source()
    return (
        f"{label}: cue P {cp:.3f} R {cr:.3f} F1 {cf:.3f} "
        f"(right {counts.cue_right}, suggested {counts.cue_predicted}, "
        f"gold {counts.cue_gold}); source P {sp:.3f} R {sr:.3f} F1 {sf:.3f} "
        f"(right {counts.source_right}, suggested {counts.source_predicted}, "
        f"gold {counts.source_gold})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--output", type=Path, default=MODEL_PATH)
    parser.add_argument(
        "--errors",
        type=Path,
        help="also write the cross-validation's false and missed cues here",
    )
    args = parser.parse_args(argv)
    speeches = read_corpus(args.corpus)
    part = split_of([speech.name for speech in speeches])
    pool = [s for s in speeches if part[s.name] != "heldout"]
    print(f"training part: {len(pool)} speeches (held out: not read)")
    counts, margins, folds = cross_validate(pool)
    threshold = choose_threshold(counts)
    if args.errors:
        write_errors(args.errors, folds, threshold)
    calibration = fit_calibration(margins)
    for value in THRESHOLDS:
        mark = " <- chosen" if value == threshold else ""
        print(report(f"CV threshold {value:+.1f}", counts[value]) + mark)
    print(f"calibration (out-of-fold margins) {calibration}")
    final = train_model(pool, threshold, calibration)
    args.output.write_text(
        json.dumps(final, ensure_ascii=False, sort_keys=True, indent=0) + "\n",
        encoding="utf-8",
    )
    size = args.output.stat().st_size
    print(
        f"wrote {args.output} ({size:,} bytes, {len(final['cue_weights'])} cue and "
        f"{len(final['source_weights'])} source weights)"
    )


if __name__ == "__main__":
    main()
