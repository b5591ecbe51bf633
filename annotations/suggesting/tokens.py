"""Word tokens with article offsets, and the sentence facts every later step uses.

One regular expression splits a segment into words, numbers and single
punctuation marks; hyphenated compounds ("Kreml-Sprecher", "US-Außenminister")
stay one token, since a source is named by the whole compound. Everything here
is computed once per segment in one pass, so the run-time cost is linear in the
text and dominated by ``re.finditer``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words (letters/digits, joined by hyphens or apostrophes, a trailing hyphen for
# "Außen- und Verteidigungsministerium"), otherwise one non-space character.
_TOKEN = re.compile(r"\w+(?:[-‐'’]\w+)*-?|[^\w\s]")

OPENING_QUOTES = frozenset("„»‚›")
CLOSING_QUOTES = frozenset("“”«‘’‹")
# Marks that open or close depending on position ('"', "'" and the English “).
AMBIGUOUS_QUOTES = frozenset("\"'")
QUOTE_MARKS = OPENING_QUOTES | CLOSING_QUOTES | AMBIGUOUS_QUOTES


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    lower: str
    start: int  # article offsets, [start, end)
    end: int


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Tokens of ``text[start:end]`` with offsets into ``text``."""
    return [
        Token(m.group(), m.group().lower(), m.start(), m.end())
        for m in _TOKEN.finditer(text, start, len(text) if end is None else end)
    ]


def _opens(token: Token, previous_end: int | None, inside: bool) -> bool:
    text = token.text
    if text in OPENING_QUOTES:
        return True
    if text in "“\"'":
        # English “…” and straight quotes: opening after a space or at the start.
        return not inside and (previous_end is None or previous_end < token.start)
    return False


def quote_flags(
    tokens: list[Token], open_at_start: bool = False
) -> tuple[list[bool], bool]:
    """For each token whether it stands inside quotation marks, and whether a
    quotation is still open after the last token (the next segment starts in it).

    German „…“ and »…« are read by direction; “ and '"' open when they follow a
    space or start the segment and close otherwise. The marks themselves count
    as outside.
    """
    inside = open_at_start
    flags = []
    previous_end = None
    for token in tokens:
        if token.text in QUOTE_MARKS:
            opens = _opens(token, previous_end, inside)
            if opens != inside:
                inside = opens
                flags.append(False)
            else:
                flags.append(inside)
        else:
            flags.append(inside)
        previous_end = token.end
    return flags, inside
