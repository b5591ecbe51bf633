"""Sentence-boundary precision and recall of the segmenter on a tokenised corpus.

Usage::

    .venv/bin/python scripts/segmenter_boundaries.py CORPUS_DIR [--errors N] [--speed]

CORPUS_DIR holds SpkAtt-2023 task 1 JSON files (German Bundestag speeches, one
speaker's contributions to one agenda item per file: ``Sentences`` of ``Tokens``).
The corpus is not part of the repository (the transcripts are public domain, the
annotations CC BY-SA 4.0; see the corpus README), so CI cannot run this; the
figures it prints are recorded in ``docs/segmenter-choice.md``.

Each file becomes one paragraph: the tokens are joined with the spacing of written
German (no space before closing punctuation, none after opening quotes and
brackets, "19 / 83" -> "19/83"), the sentences with one space. ``split_sentences``
then splits that text and its sentence starts are compared with the corpus's.

Gold boundaries follow the house convention: a sentence ends at ".", "!", "?" or
an ellipsis (and any closing quotes or brackets after it). The corpus also splits
after ":", ";" and "," and at a few places without punctuation; those are
reported as "corpus boundaries after other characters" and not counted as
misses, because the segmenter never splits there on purpose. For comparison the
last figure on each line is the recall against every corpus boundary.

Held out: the agenda items (file-name prefix such as ``19002_Zusatzpunkt_3``) are
sorted and every third one, starting with the third, is the held-out split; the
repairs were developed on the other ("dev") split only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from annotations.segmentation import normalise_text, segment_article, split_sentences

REPO = Path(__file__).resolve().parent.parent
NO_SPACE_BEFORE = frozenset(",.:;!?)]}“”’«%")
NO_SPACE_AFTER = frozenset("„([{‚»")
GLUE = frozenset({"/", "’", "ʼ"})  # no space on either side: "19/83", "Kant’schen"
TERMINAL = frozenset(".!?…")
CLOSING = frozenset("“”\"»«’')]}")


@dataclass
class Document:
    name: str
    text: str
    gold: set[int]  # sentence starts after a terminal punctuation mark
    other: set[int]  # sentence starts after ":", ";", "," or no punctuation


@dataclass
class Score:
    documents: int = 0
    sentences: int = 0
    gold: int = 0
    other: int = 0
    predicted: int = 0
    hits: int = 0
    hits_any: int = 0  # predicted cuts at any corpus boundary
    misses: list[tuple[str, str, int]] = field(default_factory=list)
    false_cuts: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.hits / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.gold if self.gold else 1.0

    @property
    def recall_any(self) -> float:
        every = self.gold + self.other
        return self.hits_any / every if every else 1.0


def join_tokens(tokens: list[str]) -> str:
    """Tokens as written German: "Das Thema „ too big “ ." -> "Das Thema „too big“."."""
    out: list[str] = []
    previous = ""
    for raw in tokens:
        token = raw.strip()
        if not token:
            continue
        if token == "_":  # the corpus's thousands separator: "700 _ 000"
            token = "\u202f"
        if out and not (
            token[0] in NO_SPACE_BEFORE
            or token in GLUE
            or previous in GLUE
            or previous in NO_SPACE_AFTER
            or token == "\u202f"
            or previous == "\u202f"
        ):
            out.append(" ")
        out.append(token)
        previous = token
    return "".join(out)


def _ends_sentence(sentence: str) -> bool:
    end = len(sentence)
    while end and sentence[end - 1] in CLOSING:
        end -= 1
    return end > 0 and sentence[end - 1] in TERMINAL


def read_document(path: Path) -> Document:
    data = json.loads(path.read_text(encoding="utf-8"))
    parts: list[str] = []
    gold: set[int] = set()
    other: set[int] = set()
    position = 0
    previous = ""
    for sentence in data["Sentences"]:
        text = join_tokens(sentence["Tokens"])
        if not text:
            continue
        if parts:
            position += 1  # the joining space
            (gold if _ends_sentence(previous) else other).add(position)
        parts.append(text)
        position += len(text)
        previous = text
    return Document(path.name, normalise_text(" ".join(parts)), gold, other)


def agenda_item(path: Path) -> str:
    return "_".join(path.name.split("_")[:3])


def split_corpus(corpus: Path) -> dict[str, list[Path]]:
    files = sorted(corpus.glob("*.json"))
    items = sorted({agenda_item(path) for path in files})
    held_out = {item for index, item in enumerate(items) if index % 3 == 2}
    return {
        "dev": [path for path in files if agenda_item(path) not in held_out],
        "held-out": [path for path in files if agenda_item(path) in held_out],
    }


def score(paths: list[Path]) -> Score:
    result = Score()
    for path in paths:
        document = read_document(path)
        predicted = {start for start, _ in split_sentences(document.text)[1:]}
        result.documents += 1
        result.sentences += len(document.gold) + len(document.other) + 1
        result.gold += len(document.gold)
        result.other += len(document.other)
        result.predicted += len(predicted)
        result.hits += len(predicted & document.gold)
        result.hits_any += len(predicted & (document.gold | document.other))
        text = document.text
        for cut in sorted(document.gold - predicted):
            result.misses.append((document.name, text, cut))
        for cut in sorted(predicted - document.gold):
            result.false_cuts.append((document.name, text, cut))
    return result


def _context(text: str, cut: int) -> str:
    return f"{text[max(0, cut - 60) : cut]}|{text[cut : cut + 40]}".replace("\n", " ")


def speed(repeats: int = 5) -> tuple[int, int, list[float]]:
    """segments/s of segment_article on ~1 MB of German text, as measured in
    docs/segmenter-choice.md: the two seed articles and the hard cases, repeated."""
    seeds = [
        normalise_text(path.read_text(encoding="utf-8"))
        for path in sorted((REPO / "seeds").glob("*.txt"))
    ]
    cases = json.loads(
        (REPO / "tests" / "data" / "hard_cases.json").read_text(encoding="utf-8")
    )
    unit = "\n\n".join([*seeds, *(case["text"] for case in cases)])
    text = "\n\n".join([unit] * (1_000_000 // len(unit) + 1))
    rates = []
    segments = 0
    for _ in range(repeats):
        started = time.perf_counter()
        segments = len(segment_article(text))
        rates.append(segments / (time.perf_counter() - started))
    return len(text), segments, rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="folder of SpkAtt-2023 JSON files")
    parser.add_argument(
        "--errors", type=int, default=0, help="print N misses and N false cuts (dev)"
    )
    parser.add_argument(
        "--speed", action="store_true", help="also measure segment_article speed"
    )
    args = parser.parse_args(argv)
    if not args.corpus.is_dir() or not any(args.corpus.glob("*.json")):
        parser.error(f"{args.corpus}: not a folder of JSON files")
    splits = split_corpus(args.corpus)
    splits["all"] = splits["dev"] + splits["held-out"]
    for name, paths in splits.items():
        result = score(paths)
        print(
            f"{name:8}  precision {result.precision:.4f}  recall {result.recall:.4f}"
            f"  ({result.hits}/{result.predicted} cuts right,"
            f" {result.hits}/{result.gold} boundaries found;"
            f" {result.documents} files, {result.sentences} corpus sentences,"
            f" {result.other} corpus boundaries after other characters;"
            f" recall against every corpus boundary {result.recall_any:.4f})"
        )
        if name == "dev" and args.errors:
            print("-- misses (dev)")
            for file, text, cut in result.misses[: args.errors]:
                print(f"  {file[:24]}  {_context(text, cut)}")
            print("-- false cuts (dev)")
            for file, text, cut in result.false_cuts[: args.errors]:
                print(f"  {file[:24]}  {_context(text, cut)}")
    if args.speed:
        chars, segments, rates = speed()
        print(
            f"speed     segment_article, {chars:,} characters, {segments:,} segments:"
            f" median {statistics.median(rates):,.0f} segments/s"
            f" (min {min(rates):,.0f}, max {max(rates):,.0f}, {len(rates)} runs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
