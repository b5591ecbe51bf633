"""Lexical features of one segment, shared by training and suggesting.

No part-of-speech tagger: word identity, rough stems and suffixes, shape,
membership in the grammar lists (and in the wider hand-written lists of words
for speaking and thinking), how often the word, its stem and its capitalised
or lowercase form were cues in training, neighbouring words, a particle at the
end of the clause, quotation context and the words that introduce reported
clauses ("dass", ":", Konjunktiv I) stand in for syntax. Both the cue tagger
and the source ranker are linear models over these string features, so this
module defines what the models can see; train.py and the suggester call the
same functions, so they cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache

from . import lexicon
from .tokens import QUOTE_MARKS, Token, quote_flags

_STEM_SUFFIXES = (
    "ungen",
    "eten",
    "test",
    "tet",
    "ten",
    "ete",
    "est",
    "en",
    "st",
    "te",
    "et",
    "t",
    "e",
    "n",
)


# Particles a finite verb leaves at the end of its clause.
_SEPARATED = lexicon.PARTICLES | frozenset(
    ["ab", "an", "auf", "aus", "bei", "durch", "ein", "fest", "fort", "her"]
    + ["herum", "hin", "los", "mit", "nach", "um", "vor", "vorbei", "weg"]
    + ["weiter", "zu", "zurück", "zusammen"]
)


@lru_cache(maxsize=1 << 16)
def stem(lower: str) -> str:
    """A crude stem: the participle "ge-" and one inflection suffix removed."""
    word = lower
    if word.startswith("ge") and len(word) > 6 and word.endswith(("t", "en")):
        word = word[2:]
    for suffix in _STEM_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def cased_key(lower: str, capitalised: bool) -> str:
    """A word's key in the cased counts (a word not first in its sentence)."""
    return ("^" if capitalised else "_") + lower


def _shape(text: str) -> str:
    first = text[0]
    if first.isdigit():
        return "d"
    if not first.isalnum():
        return "p"
    if text.isupper() and len(text) > 1:
        return "XX"
    if first.isupper():
        return "Xx-" if "-" in text else "Xx"
    return "x"


class Sentence:
    """One segment's tokens with the facts the features read, computed once."""

    __slots__ = (
        "tokens",
        "lower",
        "shape",
        "word",
        "cap",
        "quoted",
        "konj",
        "clause",
        "open_after",
        "has_quote",
        "has_konj",
        "category",
    )

    def __init__(self, tokens: list[Token], open_at_start: bool = False) -> None:
        self.tokens = tokens
        self.lower = [t.lower for t in tokens]
        self.shape = [_shape(t.text) for t in tokens]
        self.word = [s not in ("p",) for s in self.shape]
        self.cap = [s.startswith("X") for s in self.shape]
        self.quoted, self.open_after = quote_flags(tokens, open_at_start)
        self.has_quote = any(t.text in QUOTE_MARKS for t in tokens) or any(self.quoted)
        self.konj = [_is_konjunktiv(self.lower, i) for i in range(len(tokens))]
        self.has_konj = any(self.konj)
        self.category = [lexicon.category(w) for w in self.lower]
        # Clause number of each token: a new clause after , ; : – and quotes.
        clause = 0
        clauses = []
        for token in tokens:
            if token.text in ",;:–—()" or token.text in QUOTE_MARKS:
                clause += 1
            clauses.append(clause)
        self.clause = clauses


def _is_konjunktiv(lower: list[str], i: int) -> bool:
    word = lower[i]
    if word in lexicon.KONJUNKTIV_I_UNAMBIGUOUS:
        return True
    if word not in lexicon.KONJUNKTIV_I:
        return False
    # "ich habe", "habe ich": first-person indicative, not reported speech.
    return not (
        (i > 0 and lower[i - 1] == "ich")
        or (i + 1 < len(lower) and lower[i + 1] == "ich")
    )


def _bucket(distance: int) -> str:
    size = abs(distance)
    if size <= 3:
        label = str(size)
    elif size <= 6:
        label = "4-6"
    elif size <= 12:
        label = "7-12"
    else:
        label = "13+"
    return ("-" if distance < 0 else "+") + label


class CueWords:
    """What training knows about cue words: the words seen as cues (their
    stems, and compound heads such as "anträge" in "Beweisanträge") and how
    often each was a cue."""

    def __init__(
        self,
        vocab: frozenset[str],
        counts: dict[str, tuple[int, int]] | None = None,
        case_counts: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        self.vocab = vocab
        # The same by cased_key(): "Wissen" (a noun) apart from "wissen".
        self.case_counts = case_counts or {}
        self.stems = frozenset(stem(w) for w in vocab)
        self.heads = frozenset(w for w in vocab if len(w) >= 5)
        # (times a cue, times seen) per word that was a cue at least once, and
        # the same summed per stem: how reliable a word is as a cue.
        self.counts = counts or {}
        stem_counts: dict[str, list[int]] = {}
        for word, (cue, seen) in self.counts.items():
            total = stem_counts.setdefault(stem(word), [0, 0])
            total[0] += cue
            total[1] += seen
        self.stem_counts = {k: (v[0], v[1]) for k, v in stem_counts.items()}

    def ratio_features(self, word: str, cat: str, cased: str = "") -> list[str]:
        """Buckets of how often this word (and its stem, and its cased form
        ``cased`` when not first in the sentence) was a cue in training."""
        out = []
        tables = [("r", word, self.counts), ("rs", stem(word), self.stem_counts)]
        if cased:
            tables.append(("rc", cased, self.case_counts))
        for name, key, table in tables:
            cue, seen = table.get(key, (0, 0))
            if not cue:
                bucket = "none"
            else:
                ratio = cue / seen
                bucket = (
                    "<.1"
                    if ratio < 0.1
                    else "<.25"
                    if ratio < 0.25
                    else "<.5"
                    if ratio < 0.5
                    else "<.75"
                    if ratio < 0.75
                    else "<.9"
                    if ratio < 0.9
                    else "hi"
                )
                bucket += "|1" if seen == 1 else "|2-4" if seen < 5 else "|5+"
            out.append(name + "=" + bucket)
            out.append(name + "|cat=" + bucket + "|" + cat)
        return out

    def head(self, word: str) -> str:
        """The longest known cue word that ends this compound ("" if none)."""
        heads = self.heads
        for k in range(3, len(word) - 4):
            if word[k:] in heads:
                return word[k:]
        return ""

    def candidate(self, s: Sentence, i: int) -> str | None:
        """None when token i cannot be a cue, else its compound head or "".

        Every word of four letters or more is a candidate (the tagger learns
        from its suffixes, shape and context whether an unseen word is a
        cue); shorter ones only when seen as cues or in the grammar lists."""
        if not s.word[i]:
            return None
        word = s.lower[i]
        if word in self.vocab or s.category[i]:
            return ""
        if len(word) < 4:
            return None
        if len(word) >= 8 and stem(word) not in self.stems:
            return self.head(word)
        return ""


def cue_features(
    s: Sentence, i: int, head: str = "", words: CueWords | None = None
) -> list[str]:
    """All features of token ``i`` as a cue: those of the word itself and
    those of its context (the suggester caches the word's part)."""
    return cue_word_features(s, i, head, words) + cue_context_features(s, i)


def word_key(s: Sentence, i: int, head: str) -> tuple[str, str, str]:
    """What cue_word_features() depends on: word, shape (first or not), head."""
    return s.lower[i], s.shape[i] if i else "first-" + s.shape[i], head


def cue_word_features(
    s: Sentence, i: int, head: str = "", words: CueWords | None = None
) -> list[str]:
    w, shape, _ = word_key(s, i, head)
    cat = s.category[i]
    features = [
        "b",
        "w=" + w,
        "st=" + stem(w),
        "s3=" + w[-3:],
        "p3=" + w[:3],
        "sh=" + shape,
        "cat=" + cat,
        "cat|sh=" + cat + "|" + shape,
        "s4=" + w[-4:],
    ]
    if i:
        features.append("w|cap=" + w + ("|C" if s.cap[i] else "|l"))
    if words is not None:
        features += words.ratio_features(w, cat, cased_key(w, s.cap[i]) if i else "")
    if head:
        features.append("head=" + head)
        features.append("headst=" + stem(head))
    return features


def cue_context_features(s: Sentence, i: int) -> list[str]:
    lower = s.lower
    n = len(lower)
    w = lower[i]
    prev1 = lower[i - 1] if i > 0 else "<s>"
    prev2 = lower[i - 2] if i > 1 else "<s>"
    next1 = lower[i + 1] if i + 1 < n else "</s>"
    next2 = lower[i + 2] if i + 2 < n else "</s>"
    cat = s.category[i]
    features = [
        "w-1=" + prev1,
        "w+1=" + next1,
        "w-2=" + prev2,
        "w+2=" + next2,
        "w-1w=" + prev1 + "|" + w,
        "ww+1=" + w + "|" + next1,
        "cat|w+1=" + cat + "|" + next1,
        "cat|w-1=" + cat + "|" + prev1,
        "sh-1=" + (s.shape[i - 1] if i else "<s>"),
        "sh+1=" + (s.shape[i + 1] if i + 1 < n else "</s>"),
    ]
    if prev1 in lexicon.DETERMINERS:
        features.append("det-1")
    if s.quoted[i]:
        features.append("inquote")
    if s.has_quote:
        features.append("cat|sentquote=" + cat)
    if s.has_konj:
        features.append("cat|konj=" + cat)
    # What follows within the next tokens: a reported clause or a quotation.
    for j in range(i + 1, min(n, i + 5)):
        word = lower[j]
        if word in lexicon.SUBORDINATORS:
            features.append("dass_after")
            features.append("cat|dass_after=" + cat)
            break
        if word == ":":
            features.append("colon_after")
            features.append("cat|colon_after=" + cat)
            break
        if s.tokens[j].text in QUOTE_MARKS:
            features.append("quote_after")
            break
    for j in range(max(0, i - 3), i):
        if s.tokens[j].text in QUOTE_MARKS or lower[j] == ",":
            if j > 0 and s.quoted[j - 1]:
                features.append("after_quote")
                features.append("cat|after_quote=" + cat)
            break
    # A separated particle at the end of the clause ("schlage ... vor").
    if not s.cap[i] or not i:
        for j in range(i + 1, min(n, i + 25)):
            if not s.word[j]:
                if j > i + 1 and lower[j - 1] in _SEPARATED:
                    features.append("ptc=" + lower[j - 1])
                    features.append("w|ptc=" + w + "|" + lower[j - 1])
                break
    for j in range(max(0, i - 2), min(n, i + 3)):
        if j != i and lower[j] in lexicon.PERSONAL_PRONOUNS:
            features.append("pron_near=" + lower[j])
            features.append("pron_near|cat=" + cat)
    return features


def candidate_ok(s: Sentence, j: int, cue: frozenset[int]) -> bool:
    return s.word[j] and j not in cue


def source_features(s: Sentence, c: int, j: int) -> list[str]:
    """Features of token ``j`` as the source of the cue whose head is ``c``."""
    lower = s.lower
    n = len(lower)
    d = j - c
    direction = "L" if d < 0 else "R"
    bucket = _bucket(d)
    w = lower[j]
    cw = lower[c]
    prev1 = lower[j - 1] if j > 0 else "<s>"
    next1 = lower[j + 1] if j + 1 < n else "</s>"
    kind = (
        "pron"
        if w in lexicon.PERSONAL_PRONOUNS
        else "opron"
        if w in lexicon.OBJECT_PRONOUNS
        else "det"
        if w in lexicon.DETERMINERS
        else "cap"
        if s.cap[j] and j > 0
        else "capfirst"
        if s.cap[j]
        else "low"
    )
    low, high = (j, c) if j < c else (c, j)
    between = lower[low + 1 : high]
    comma = "," in between
    dass = any(word in lexicon.SUBORDINATORS for word in between)
    same_clause = s.clause[j] == s.clause[c]
    # Is j the nearest name-like token (capitalised or pronoun) on its side?
    nearest = True
    step = -1 if d < 0 else 1
    for k in range(c + step, j, step):
        if s.cap[k] or lower[k] in lexicon.PERSONAL_PRONOUNS:
            nearest = False
            break
    features = [
        "d=" + bucket,
        "k=" + kind,
        "k|d=" + kind + bucket,
        "w=" + w,
        "w|dir=" + w + direction,
        "cw|dir=" + cw + direction,
        "cw|k|dir=" + cw + "|" + kind + direction,
        "cst|k|d=" + stem(cw) + "|" + kind + bucket,
        "ccat|k|d=" + s.category[c] + "|" + kind + bucket,
        "csh|k|d=" + s.shape[c] + "|" + kind + bucket,
        "p=" + prev1,
        "n=" + next1,
        "p|dir=" + prev1 + direction,
        "n|dir=" + next1 + direction,
        "sh=" + s.shape[j],
        "s3=" + w[-3:],
    ]
    if nearest:
        features.append("nearest|k|dir=" + kind + direction)
    if comma:
        features.append("comma|dir=" + direction)
    if dass:
        features.append("dass|dir=" + direction)
    if same_clause:
        features.append("clause|k=" + kind)
    if s.quoted[j]:
        features.append("quoted")
    if s.quoted[j] != s.quoted[c]:
        features.append("quote_mismatch")
    if prev1 in lexicon.PREPOSITION_BEFORE_SOURCE:
        features.append("after_laut")
    if next1 in lexicon.PREPOSITION_AFTER_SOURCE:
        features.append("before_zufolge")
    if j == 0:
        features.append("first|k=" + kind)
    return features


def none_features(s: Sentence, c: int) -> list[str]:
    """Features of "this cue names no source in its sentence"."""
    cw = s.lower[c]
    has_pron = any(w in lexicon.PERSONAL_PRONOUNS for w in s.lower)
    features = [
        "NONE",
        "NONE|cw=" + cw,
        "NONE|cst=" + stem(cw),
        "NONE|csh=" + (s.shape[c] if c else "first-" + s.shape[c]),
        "NONE|ccat=" + s.category[c],
        "NONE|pron=" + str(has_pron),
        "NONE|w-1=" + (s.lower[c - 1] if c else "<s>"),
    ]
    if len(s.lower) < 6:
        features.append("NONE|short")
    return features
