"""Held-out figures of the shipped model, the two baselines, and the speed.

    python -m annotations.suggesting.evaluate --corpus PATH

Scores the suggester on the HELD OUT debates (corpus.py) with the
per-suggestion measure (scoring.py), next to two baselines computed on the
same split from the same training words:

- word list: every token whose lowercase form was a cue in at least half of
  its occurrences in TRAIN + DEV is suggested as a cue;
- nearest name: the source of each of those cues is the nearest capitalised
  word or personal pronoun in the sentence.

Speed is characters per second of ``suggest_article`` (segments given), best
of three runs, on the held-out speeches and on the seed articles repeated.
``--split dev`` scores DEV instead (with a word list from TRAIN), for tuning.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from . import lexicon, suggest_article
from .corpus import Speech, debate_of, read_corpus, split_of
from .scoring import Counts, score_speech
from .suggester import load_model
from .tokens import tokenize
from .train import DEFAULT_CORPUS, REPO, evaluate_model, report

PUBLISHED = (
    "Published (SpkAtt-2023 test set, token-level cue F1, overview paper): "
    "string-match baseline 0.678 (P 0.573, R 0.830); best system 0.893 "
    "(fine-tuned BERT). Not the same measure or data as the figures above: "
    "orientation only."
)


def word_list(speeches: list[Speech]) -> set[str]:
    cue = Counter()
    seen = Counter()
    for speech in speeches:
        for _, span, word in speech.tokens:
            seen[word] += 1
            if span in speech.cue_tokens:
                cue[word] += 1
    return {word for word, count in cue.items() if count >= 0.5 * seen[word]}


def baseline(speeches: list[Speech], words: set[str]) -> Counts:
    total = Counts()
    for speech in speeches:
        predicted = []
        for start, end in speech.segments:
            tokens = tokenize(speech.text, start, end)
            for i, token in enumerate(tokens):
                if token.lower not in words:
                    continue
                source = None
                for distance in range(1, len(tokens)):
                    for j in (i - distance, i + distance):
                        if 0 <= j < len(tokens) and j != i:
                            other = tokens[j]
                            if (
                                other.text[0].isupper()
                                or other.lower in lexicon.PERSONAL_PRONOUNS
                            ):
                                source = (other.start, other.end)
                                break
                    if source is not None:
                        break
                predicted.append((((token.start, token.end),), source))
        total.add(score_speech(predicted, speech.events))
    return total


def speed(articles: list[tuple[str, list[tuple[int, int]]]]) -> float:
    characters = sum(len(text) for text, _ in articles)
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for text, segments in articles:
            suggest_article(text, segments)
        best = min(best, time.perf_counter() - began)
    return characters / best


def seed_articles(repetitions: int = 20) -> list[tuple[str, list[tuple[int, int]]]]:
    from annotations.segmentation import segment_article

    articles = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        segments = [(s.start, s.end) for s in segment_article(text, language="de")]
        articles.append((text, segments))
    return articles * repetitions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--split", choices=("heldout", "dev"), default="heldout")
    args = parser.parse_args(argv)
    speeches = read_corpus(args.corpus)
    part = split_of([speech.name for speech in speeches])
    scored = [s for s in speeches if part[s.name] == args.split]
    if args.split == "heldout":
        known = [s for s in speeches if part[s.name] != "heldout"]
    else:
        known = [s for s in speeches if part[s.name] == "train"]
    events = sum(len(s.events) for s in scored)
    attributions = sum(1 for s in scored for e in s.events if e.attribution)
    debates = ", ".join(sorted({debate_of(s.name) for s in scored}))
    print(
        f"{args.split.upper()}: {len(scored)} speeches from debates {debates}; "
        f"{events} gold events, {attributions} of them attributions "
        "(with a source or a message)"
    )
    model = load_model()
    print("\nAll SpkAtt events (speech-event mentions included):")
    counts = evaluate_model(scored, model, mentions=True)
    print(report("  suggester, mentions=True ", counts))
    print(
        report(
            "  baseline word list + nearest name",
            baseline(scored, word_list(known)),
        )
    )
    print(
        report(
            "  suggester, workbench mode", evaluate_model(scored, model, mentions=False)
        )
    )
    print("Attributions only (gold events with a source or message):")
    workbench = evaluate_model(scored, model, mentions=False, attributions_only=True)
    print(report("  suggester, workbench mode", workbench))
    if workbench.cueless:
        print(f"  (+ {workbench.cueless} continuations without a cue, not scored)")
    print(PUBLISHED)
    held = [(s.text, s.segments) for s in scored]
    print(f"speed on {args.split} speeches: {speed(held):,.0f} characters/s")
    print(f"speed on the seeds x20: {speed(seed_articles()):,.0f} characters/s")


if __name__ == "__main__":
    main()
