"""Read the SpkAtt-2023 task 1 files into article text, sentence segments and
gold attribution events with character offsets; define the fixed split.

The corpus gives tokens, not text: a speech is rebuilt by joining its tokens
with one space, except before closing punctuation and after opening quotes and
brackets, so it reads like the text the workbench stores. Gold token ids
("sentence:token") become character spans of that text, so evaluation compares
characters and does not depend on how the suggester tokenises.

Split (by debate, so speeches on one agenda item never straddle it): the 19
distinct debates (file name up to the party: "19058_Tagesordnungspunkt_14")
are sorted; every fifth from the fifth on (indexes 4, 9, 14: 26 speeches, 682
events) is HELD OUT, every fifth from the third on (2, 7, 12, 17: 36
speeches) is DEV, the rest (115 speeches) TRAIN. Tuning looks at DEV (and at
cross-validation over TRAIN + DEV); the shipped model is trained on TRAIN +
DEV; the reported figures are on HELD OUT.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_NO_SPACE_BEFORE = frozenset(",.:;!?)]}“”«%")
_NO_SPACE_AFTER = frozenset("„»([{")
_DEBATE = re.compile(r"^(\d+_[A-Za-z]+_\d+)_")


@dataclass(frozen=True)
class GoldEvent:
    cue: tuple[tuple[int, int], ...]  # Cue and PTC tokens as character spans
    source: tuple[tuple[int, int], ...]  # empty when the source is implicit
    sentence: int  # index of the sentence of the first cue token
    message: bool  # whether the event's content (Message) is annotated

    @property
    def attribution(self) -> bool:
        """An attribution in the workbench's sense: a source or content is
        written down (not a bare mention such as "die Debatte")."""
        return bool(self.source) or self.message


@dataclass(frozen=True)
class Speech:
    name: str
    text: str
    segments: list[tuple[int, int]]  # one per corpus sentence
    events: list[GoldEvent]
    # (segment index, character span, lowercase token) for every corpus token
    tokens: list[tuple[int, tuple[int, int], str]]
    cue_tokens: frozenset[tuple[int, int]]  # character spans of gold Cue tokens


def debate_of(name: str) -> str:
    match = _DEBATE.match(name)
    return match.group(1) if match else name


def split_of(names: list[str]) -> dict[str, str]:
    """Map each file name to "train", "dev" or "heldout" (see module docstring)."""
    debates = sorted({debate_of(name) for name in names})
    part = {}
    for index, debate in enumerate(debates):
        if index % 5 == 4:
            part[debate] = "heldout"
        elif index % 5 == 2:
            part[debate] = "dev"
        else:
            part[debate] = "train"
    return {name: part[debate_of(name)] for name in names}


def read_speech(path: Path) -> Speech:
    data = json.loads(path.read_text(encoding="utf-8"))
    pieces: list[str] = []
    length = 0
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    segments: list[tuple[int, int]] = []
    tokens = []
    sentence_ids = {}
    for index, sentence in enumerate(data["Sentences"]):
        sentence_ids[sentence["SentenceId"]] = index
        if pieces:
            pieces.append(" ")
            length += 1
        seg_start = length
        previous = None
        for position, token in enumerate(sentence["Tokens"]):
            if previous is not None and not (
                token in _NO_SPACE_BEFORE or previous in _NO_SPACE_AFTER
            ):
                pieces.append(" ")
                length += 1
            spans[(sentence["SentenceId"], position)] = (length, length + len(token))
            tokens.append((index, (length, length + len(token)), token.lower()))
            pieces.append(token)
            length += len(token)
            previous = token
        segments.append((seg_start, length))
    text = "".join(pieces)

    def char_spans(ids: list[str]) -> tuple[tuple[int, int], ...]:
        out = []
        for token_id in ids:
            sentence, position = (int(part) for part in token_id.split(":"))
            out.append(spans[(sentence, position)])
        return tuple(sorted(out))

    events = []
    cue_tokens = set()
    for annotation in data["Annotations"]:
        cue_only = char_spans(annotation["Cue"])
        cue = tuple(sorted(set(cue_only) | set(char_spans(annotation["PTC"]))))
        if not cue:
            continue
        cue_tokens.update(cue_only)
        first = annotation["Cue"][0] if annotation["Cue"] else annotation["PTC"][0]
        sentence = sentence_ids[int(first.split(":")[0])]
        events.append(
            GoldEvent(
                cue,
                char_spans(annotation["Source"]),
                sentence,
                bool(annotation["Message"]),
            )
        )
    return Speech(path.name, text, segments, events, tokens, frozenset(cue_tokens))


def read_corpus(folder: Path) -> list[Speech]:
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"{folder}: no SpkAtt-2023 *.json files there")
    return [read_speech(path) for path in paths]
