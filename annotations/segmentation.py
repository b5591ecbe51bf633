"""INTERIM stand-in written by the lead so other modules can import; the
segmentation helper replaces this whole file with the real segmenter."""

from __future__ import annotations

import re
from dataclasses import dataclass

SEGMENT_KINDS = ("title", "byline", "heading", "sentence", "boilerplate")


@dataclass(frozen=True, slots=True)
class SegmentSpan:
    position: int
    kind: str
    paragraph: int
    start: int
    end: int
    text: str


def normalise_text(raw: str) -> str:
    return raw.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def split_sentences(text: str, *, language: str = "de") -> list[tuple[int, int]]:
    spans = []
    for match in re.finditer(r"\S.*?(?:[.!?](?=\s+[A-ZÄÖÜ„»\"])|$)", text, re.S):
        spans.append((match.start(), match.start() + len(match.group().rstrip())))
    return spans


def segment_article(text: str, *, language: str = "de") -> list[SegmentSpan]:
    spans: list[SegmentSpan] = []
    paragraph = 0
    for line in re.finditer(r"[^\n]+", text):
        if not line.group().strip():
            continue
        base = line.start()
        if not spans:
            pieces, kind = [(0, len(line.group().rstrip()))], "title"
            lead = len(line.group()) - len(line.group().lstrip())
            pieces = [(lead, len(line.group().rstrip()))]
        elif line.group().startswith("Von "):
            pieces, kind = [(0, len(line.group().rstrip()))], "byline"
        else:
            pieces, kind = split_sentences(line.group()), "sentence"
        for start, end in pieces:
            spans.append(SegmentSpan(len(spans), kind, paragraph, base + start, base + end,
                                     text[base + start:base + end]))
        paragraph += 1
    return spans
