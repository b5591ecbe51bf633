"""What the annotate screen offers while an annotator enters a source by hand:
the cue candidates of a segment (offered by number) and the names in an article's
text (offered in the source field). Plain Python, text only: nothing here knows
who labelled what, so blind annotation holds.

- ``cue_candidates``: verbs of saying, thinking and writing in any form (with a
  separated particle as a second part: "teilte ... mit", "ließ ...
  durchblicken"), the prepositional cues "laut", "gemäß", "zufolge", "nach
  Angaben", speech nouns ("Erklärung", "Kritik"), and a colon before a
  quotation; plus whatever cue the suggester finds. In text order.
- ``article_names``: the sources the suggester finds anywhere in the article,
  then names of people, organisations and media (runs of capitalised words such
  as "Dmitri Peskow", "Financial Times", with a role before them such as
  "Kreml-Sprecher Dmitri Peskow" and a determiner such as "Die Financial
  Times"), acronyms ("NATO") and the family names of the people named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import lexicon
from .tokens import QUOTE_MARKS, Token, tokenize

MAX_CUES = 9
# Words that end a clause for a separated particle's search.
_CLAUSE_END = frozenset(",;:.!?")
# Capitalised words that start sentences or name no one.
_NOT_NAMES = frozenset(
    {
        "ich",
        "wir",
        "sie",
        "er",
        "es",
        "man",
        "doch",
        "aber",
        "und",
        "oder",
        "auch",
        "nun",
        "dann",
        "dabei",
        "damit",
        "zudem",
        "jedoch",
        "laut",
        "nach",
        "wie",
        "wenn",
        "als",
        "so",
        "was",
        "wer",
        "wo",
        "warum",
        "ob",
        "am",
        "im",
        "in",
        "an",
        "auf",
        "für",
        "mit",
        "von",
        "vor",
        "bei",
        "zu",
        "um",
        "über",
        "unter",
        "seit",
        "trotz",
        "während",
        "gegen",
        "ohne",
        "herr",
        "frau",
    }
)
# Role nouns that may stand before a name ("Kreml-Sprecher Dmitri Peskow").
_ROLE_ENDINGS = (
    "sprecher",
    "sprecherin",
    "minister",
    "ministerin",
    "präsident",
    "präsidentin",
    "kanzler",
    "kanzlerin",
    "chef",
    "chefin",
    "berater",
    "beraterin",
    "gesandter",
    "gesandte",
    "botschafter",
    "botschafterin",
    "vorsitzende",
    "vorsitzender",
    "sekretär",
    "sekretärin",
    "diplomat",
    "diplomatin",
    "experte",
    "expertin",
    "analyst",
    "analystin",
    "abgeordnete",
    "abgeordneter",
    "general",
    "generalin",
    "senator",
    "senatorin",
    "unterhändler",
    "unterhändlerin",
)
_MEDIA_DETERMINERS = frozenset({"die", "der", "das"})
# Endings of German nouns that are never part of a name ("Strategie",
# "Bedingungen", "Unterstützung"), and words of time that follow names.
_NOUN_ENDINGS = (
    "ung",
    "ungen",
    "heit",
    "heiten",
    "keit",
    "keiten",
    "schaft",
    "schaften",
    "tion",
    "tionen",
    "sion",
    "sionen",
    "ität",
    "itäten",
    "ismus",
    "ie",
    "ien",
    "nis",
    "nisse",
    "ment",
    "mente",
    "gespräch",
    "gespräche",
)
_TIME_WORDS = frozenset(
    {
        "anfang",
        "ende",
        "mitte",
        "januar",
        "februar",
        "märz",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "dezember",
        "montag",
        "dienstag",
        "mittwoch",
        "donnerstag",
        "freitag",
        "samstag",
        "sonntag",
    }
)


@dataclass(frozen=True)
class CueCandidate:
    spans: tuple[tuple[int, int], ...]  # offsets into the text given
    text: str  # the parts as written, joined with " … "


def cue_candidates(
    text: str,
    start: int = 0,
    end: int | None = None,
    *,
    extra: Sequence[Sequence[tuple[int, int]]] = (),
) -> list[CueCandidate]:
    """The cue candidates of ``text[start:end]`` (offsets into ``text``), at most
    ``MAX_CUES``, in text order. ``extra``: cue spans found elsewhere (the
    suggester's), merged in."""
    end = len(text) if end is None else end
    tokens = tokenize(text, start, end)
    found: dict[tuple[tuple[int, int], ...], None] = {}
    for spans in extra:
        found[tuple((int(a), int(b)) for a, b in spans)] = None
    skip: set[int] = set()
    for i, token in enumerate(tokens):
        if i in skip:
            continue
        lower = token.lower
        category = lexicon.category(lower)
        if category in ("verb", "particle_verb"):
            spans = [(token.start, token.end)]
            particle = _particle(tokens, i, lexicon.VERB_FORMS[lower].particles)
            if particle is not None:
                spans.append(particle)
            elif category == "particle_verb":
                continue  # "teilte" without its "mit" is no cue
            found[tuple(spans)] = None
        elif category in ("preposition", "noun"):
            found[((token.start, token.end),)] = None
        elif category == "lassen":
            verb = _lassen_infinitive(tokens, i)
            if verb is not None:
                found[((token.start, token.end), verb)] = None
        elif lower == "nach" and i + 1 < len(tokens):
            following = tokens[i + 1]
            if following.lower in lexicon.NACH_NOUNS:
                found[((token.start, following.end),)] = None
                # The noun on its own is the same cue.
                found.pop(((following.start, following.end),), None)
                skip.add(i + 1)
        elif token.text == ":" and _quote_follows(tokens, i):
            found[((token.start, token.end),)] = None
    ordered = sorted(found, key=lambda spans: spans[0])
    return [
        CueCandidate(spans, " … ".join(text[a:b] for a, b in spans))
        for spans in ordered[:MAX_CUES]
    ]


def _particle(
    tokens: list[Token], i: int, particles: frozenset[str]
) -> tuple[int, int] | None:
    """The span of a separated particle of the verb at ``i`` at its clause's end."""
    if not particles:
        return None
    for token in tokens[i + 1 :]:
        if token.text in _CLAUSE_END or token.text in QUOTE_MARKS:
            break
        if token.lower in particles:
            following = tokens[tokens.index(token) + 1 :][:1]
            if not following or following[0].text in _CLAUSE_END:
                return (token.start, token.end)
    return None


def _lassen_infinitive(tokens: list[Token], i: int) -> tuple[int, int] | None:
    for token in tokens[i + 1 :]:
        if token.text in _CLAUSE_END:
            break
        if token.lower in lexicon.LASSEN_INFINITIVES:
            return (token.start, token.end)
    return None


def _quote_follows(tokens: list[Token], i: int) -> bool:
    return any(token.text in QUOTE_MARKS for token in tokens[i + 1 : i + 3])


# ---------------------------------------------------------------------------
# Names in an article
# ---------------------------------------------------------------------------


def _capitalised(token: Token) -> bool:
    """A capitalised word that may be part of a name."""
    return (
        token.text[0].isupper()
        and token.lower not in _NOT_NAMES
        and token.lower not in _TIME_WORDS
        and not token.lower.endswith(_NOUN_ENDINGS)
    )


def _is_acronym(token: Token) -> bool:
    letters = token.text.replace("-", "")
    return 2 <= len(letters) <= 6 and letters.isalpha() and letters.isupper()


def _is_role(token: Token) -> bool:
    return token.text[0].isupper() and token.lower.endswith(_ROLE_ENDINGS)


def article_names(
    text: str,
    segments: Sequence[tuple[int, int]],
    *,
    sources: Sequence[str] = (),
) -> list[str]:
    """Names in the article, first seen first: ``sources`` (the suggester's, but
    pronouns), then runs of two or more capitalised words (with a role noun or a
    capitalised determiner before them too), acronyms, and a person's family
    name on its own where the text uses it alone ("Rubio erklärte"). Single
    capitalised words are left out otherwise: German capitalises every noun."""
    names: dict[str, None] = {}
    for source in sources:
        source = source.strip()
        if source and source.lower() not in _PRONOUNS:
            names[source] = None
    runs: list[str] = []
    for start, end in segments:
        tokens = tokenize(text, start, end)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if _is_acronym(token):
                runs.append(token.text)
                i += 1
                continue
            if not (token.text[0].isalpha() and _capitalised(token)):
                i += 1
                continue
            j = i
            while j < len(tokens) and tokens[j].text[0].isalpha():
                word = tokens[j]
                if not _capitalised(word) or word.lower in lexicon.DETERMINERS:
                    break
                j += 1
            if j > i:
                runs += _names_of_run(tokens, i, j, text)
            i = max(j, i + 1)
    for name in runs:
        names[name] = None
    return list(names)


_PRONOUNS = lexicon.PERSONAL_PRONOUNS | lexicon.OBJECT_PRONOUNS | lexicon.DETERMINERS


def _names_of_run(tokens: list[Token], i: int, j: int, text: str) -> list[str]:
    run = tokens[i:j]
    found: list[str] = []
    role = _is_role(run[0])
    person = run[1:] if role else run
    if len(run) >= 2:
        before = tokens[i - 1] if i > 0 else None
        words = " ".join(t.text for t in run)
        if (
            before is not None
            and before.lower in _MEDIA_DETERMINERS
            and (before.text[0].isupper())
        ):
            found.append(f"{before.text} {words}")
        found.append(words)
    if role and person:
        found.append(" ".join(t.text for t in person))
    if len(person) >= 3:
        # "Amtskollegen Donald Trump": a role we do not know, then a name.
        found.append(" ".join(t.text for t in person[-2:]))
    if len(person) >= 2 or (role and person):
        family = person[-1].text
        # The family name alone, where the text uses it alone.
        whole = " ".join(t.text for t in person)
        if text.count(family) > text.count(whole):
            found.append(family)
    return found
