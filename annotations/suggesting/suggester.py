"""The run-time path: article text and segments in, attribution suggestions out.

Per segment: tokenise; score every token that could be a cue (every word of
four letters or more, shorter ones seen as cues or in the grammar lists) with
the cue tagger; join the tagged tokens into events (neighbours unless a verb
after a noun is an event of its own, learned pairs of words or stems in one
clause, a verb and its separated particle or reflexive, "ließ ...
durchblicken", "nach Angaben"); rank the
segment's words as the source of each event, against "no source here"; widen
the chosen word to its noun phrase; name the form from what surrounds the cue
(quotation marks, colon, "dass"/"ob"/w-clause, Konjunktiv I, prepositional
cue). A segment with no cue but in Konjunktiv I, or inside a quotation that an
attribution opened, continues the previous attribution (free indirect / direct).

Cost: one regex pass plus a few dict lookups per candidate token (the score
of a word's own features is cached, only its context is scored each time); the
source ranking runs only for tokens tagged as cues. No file is read after the
first call (the model is cached).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from . import lexicon
from .features import (
    CueWords,
    Sentence,
    candidate_ok,
    cue_context_features,
    cue_word_features,
    none_features,
    source_features,
    stem,
    word_key,
)
from .tokens import QUOTE_MARKS, tokenize

MODEL_PATH = Path(__file__).parent / "data" / "model.json"

# How far (in tokens) a separated particle or reflexive may stand from its verb.
PARTICLE_REACH = 25
# A free-indirect continuation looks this many segments back for an attribution.
CONTINUATION_REACH = 2
_CLAUSE_END = frozenset(",;:")
_NAME_STOP = frozenset(
    [
        "auch",
        "doch",
        "nun",
        "dann",
        "so",
        "aber",
        "und",
        "oder",
        "zudem",
        "jedoch",
        "bereits",
        "noch",
        "schon",
        "nur",
        "allerdings",
        "denn",
        "sondern",
        "sowie",
        "als",
        "wie",
        "wenn",
        "weil",
        "dass",
        "ob",
        "hier",
        "dort",
        "heute",
        "gestern",
        "morgen",
        "damit",
        "dabei",
        "daher",
        "deshalb",
        "trotzdem",
        "immer",
    ]
)
_REPORTATIVE = frozenset({"soll", "sollen", "solle", "sollten"})
_CLAUSE_START = frozenset(",;:–—(") | QUOTE_MARKS
_OPINION_NOUNS = frozenset({"meinung", "ansicht", "auffassung", "überzeugung"})
_SEIN = frozenset(
    ["bin", "bist", "ist", "sind", "seid", "war", "waren", "warst", "wart"]
)
_AUXILIARIES = frozenset(
    [
        "hat",
        "haben",
        "hatte",
        "hatten",
        "ist",
        "sind",
        "war",
        "waren",
        "wird",
        "werden",
        "wurde",
        "wurden",
        "muss",
        "müssen",
        "musste",
        "mussten",
        "soll",
        "sollen",
        "sollte",
        "sollten",
        "will",
        "wollen",
        "wollte",
        "wollten",
        "kann",
        "können",
        "konnte",
        "konnten",
        "dürfte",
        "würde",
        "würden",
        "könnte",
    ]
)
# A noun phrase opened by these is a dative or accusative object, not a subject.
_OBJECT_DETERMINERS = frozenset(
    [
        "dem",
        "den",
        "diesem",
        "diesen",
        "einem",
        "einen",
        "keinem",
        "keinen",
        "meinem",
        "meinen",
        "seinem",
        "seinen",
        "ihrem",
        "ihren",
        "unserem",
        "unseren",
        "jenem",
        "jenen",
    ]
)
_NOT_LAUT = frozenset({"sehr", "zu", "so", "ganz", "besonders", "recht", "ziemlich"})
_CONJUNCTIONS = frozenset({"und", "aber", "doch", "denn", "oder", "sondern"})
# "als erwartet", "wie erwartet": comparison idioms, not somebody's expectation.
_IDIOM_BEFORE = {"erwartet": frozenset({"als", "wie"}), "gedacht": frozenset({"als"})}
_FREE_CLAUSE_OPENERS = (
    lexicon.SUBORDINATORS
    | lexicon.W_WORDS
    | frozenset(
        {"wie", "weil", "da", "wenn", "als", "nachdem", "während", "obwohl", "was"}
    )
)
_VERB_CATEGORIES = frozenset({"verb", "particle_verb", "lassen", "preposition"})
# Words whose own cue score is kept between calls (then the cache restarts).
WORD_CACHE = 200_000
# Margin given to a cue that grammar alone names (the model did not tag it).
GRAMMAR_CUE_MARGIN = 4.0


@dataclass(frozen=True)
class Model:
    cue_weights: dict[str, float]
    cue_threshold: float
    cue_words: CueWords
    source_weights: dict[str, float]
    attachments: dict[str, frozenset[str]]  # cue word -> its particles/reflexives
    pairs: frozenset[tuple[str, str]]  # cue words that form one discontinuous cue
    calibration: tuple[float, float]  # score = sigmoid(a * margin + b)
    # verb -> (times one event with the cue noun right before it, times two)
    noun_verb: dict[str, tuple[int, int]]
    # word_key() -> score of the word's own cue features (filled at run time)
    word_scores: dict = field(default_factory=dict, compare=False, repr=False)


def model_from_dict(data: dict) -> Model:
    return Model(
        cue_weights=data["cue_weights"],
        cue_threshold=data["cue_threshold"],
        cue_words=CueWords(
            frozenset(data["cue_vocab"]),
            {word: (cue, seen) for word, (cue, seen) in data["cue_counts"].items()},
            {
                word: (cue, seen)
                for word, (cue, seen) in data.get("cue_case_counts", {}).items()
            },
        ),
        source_weights=data["source_weights"],
        attachments={k: frozenset(v) for k, v in data["attachments"].items()},
        pairs=frozenset(tuple(pair) for pair in data["pairs"]),
        calibration=tuple(data["calibration"]),
        noun_verb={k: (v[0], v[1]) for k, v in data.get("noun_verb", {}).items()},
    )


@cache
def load_model() -> Model:
    return model_from_dict(json.loads(MODEL_PATH.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Found:
    """One suggestion with what the evaluation and the continuation need."""

    cue_spans: tuple[tuple[int, int], ...]
    source_span: tuple[int, int] | None  # in this segment
    resolved_source: tuple[int, int] | None  # possibly in an earlier segment
    source_text: str
    form: str
    score: float


def _score(weights: dict[str, float], features: list[str]) -> float:
    get = weights.get
    return sum(get(f, 0.0) for f in features)


def _sigmoid(x: float) -> float:
    if x < -40:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


def analyse_article(
    text: str,
    segments: list[tuple[int, int]],
    model: Model | None = None,
    *,
    mentions: bool = False,
) -> list[list[Found]]:
    """Suggestions per segment. ``mentions=False`` (the workbench) keeps only
    attributions: a cue with a source in its sentence or with reported content
    after it (a "dass"/"ob"/w-clause, a colon, a quotation, Konjunktiv I).
    ``mentions=True`` also keeps bare mentions of speech events ("die
    Debatte", "der Antrag"), which SpkAtt-2023 annotates as events too."""
    model = model or load_model()
    out: list[list[Found]] = []
    quote_open = False
    recent: list[Found | None] = []  # last attribution with a source, per segment
    for start, end in segments:
        sentence = Sentence(tokenize(text, start, end), quote_open)
        found = _analyse_sentence(text, sentence, model, mentions)
        if not found:
            continuation = _continuation(sentence, quote_open, recent)
            if continuation is not None:
                found = [continuation]
        quote_open = sentence.open_after
        with_source = [f for f in found if f.resolved_source is not None]
        recent.append(with_source[-1] if with_source else None)
        out.append(found)
    return out


def _analyse_sentence(
    text: str, s: Sentence, model: Model, mentions: bool
) -> list[Found]:
    lower = s.lower
    words = model.cue_words
    candidate = words.candidate
    weights = model.cue_weights
    word_scores = model.word_scores
    if len(word_scores) > WORD_CACHE:
        word_scores.clear()
    tagged: dict[int, float] = {}
    for i in range(len(lower)):
        head = candidate(s, i)
        if head is None:
            continue
        key = word_key(s, i, head)
        own = word_scores.get(key)
        if own is None:
            own = word_scores[key] = _score(
                weights, cue_word_features(s, i, head, words)
            )
        margin = own + _score(weights, cue_context_features(s, i))
        if margin > model.cue_threshold:
            tagged[i] = margin
    for i in _grammar_cues(s):
        tagged.setdefault(i, GRAMMAR_CUE_MARGIN)
    for i in list(tagged):
        if i > 0 and lower[i - 1] in _IDIOM_BEFORE.get(lower[i], ()):
            del tagged[i]
    if not tagged:
        return []
    found = []
    a, b = model.calibration
    events = []
    claimed: set[int] = set()
    for group in _group(s, sorted(tagged), model):
        if claimed.intersection(group):
            continue  # "ließ ... durchblicken" tagged twice: one event
        cue = frozenset(_attach(s, group, model))
        claimed |= cue
        events.append((group, cue))
    verb_clauses = {
        s.clause[i]
        for group, _ in events
        for i in group
        if s.category[i] in ("verb", "particle_verb", "lassen")
    }
    kept = []
    for group, cue in events:
        head = group[0]
        margin = max(tagged.get(i, -math.inf) for i in group)
        grammar = _grammar_source(s, group, cue)
        source = grammar if grammar is not None else _source(s, head, cue, model)
        if not mentions and not _is_attribution(
            s, group, cue, source, grammar is not None, verb_clauses
        ):
            continue
        kept.append([group, cue, source, margin])
    if not mentions:
        kept = _merge_noun_into_verb(s, kept)
    for group, cue, source, margin in kept:
        source_span = None
        source_text = ""
        if source is not None:
            first, last = source
            source_span = (s.tokens[first].start, s.tokens[last].end)
            source_text = text[source_span[0] : source_span[1]]
        found.append(
            Found(
                cue_spans=_spans(s, cue),
                source_span=source_span,
                resolved_source=source_span,
                source_text=source_text,
                form=_form(s, cue, group[0]),
                score=round(_sigmoid(a * margin + b), 3),
            )
        )
    return found


def _merge_noun_into_verb(s: Sentence, kept: list[list]) -> list[list]:
    """ "Ihre Botschaft an Russland lautete: ...": a speech noun and a verb of
    saying in one clause are one attribution (cue of two parts, the source of
    whichever names one)."""
    out: list[list] = []
    for event in kept:
        group, cue, source, margin = event
        partner = next(
            (
                other
                for other in out
                if s.clause[other[0][0]] == s.clause[group[0]]
                and _is_noun_cue(s, other[0]) != _is_noun_cue(s, group)
            ),
            None,
        )
        if partner is None:
            out.append(event)
            continue
        partner[0] = sorted(set(partner[0]) | set(group))
        partner[1] = partner[1] | cue
        partner[2] = partner[2] if partner[2] is not None else source
        partner[3] = max(partner[3], margin)
    return out


def _grammar_cues(s: Sentence) -> list[int]:
    """Cues German grammar names whatever the model says: "ließ ...
    durchblicken", "laut X", "X zufolge", "nach Angaben", and a verb of
    saying right after its subject with a reported clause or quote after it."""
    lower = s.lower
    n = len(lower)
    out = []
    for i, word in enumerate(lower):
        category = s.category[i]
        if not category:
            continue
        if category == "lassen":
            for j in range(i + 1, min(n, i + PARTICLE_REACH)):
                if lower[j] in _CLAUSE_END:
                    break
                if lower[j] in lexicon.LASSEN_INFINITIVES:
                    out += [i, j]
                    break
        elif word in lexicon.PREPOSITION_BEFORE_SOURCE:
            k = i + 1
            if k < n and lower[k] in lexicon.DETERMINERS:
                k += 1
            if k < n and s.cap[k] and i > 0 and lower[i - 1] not in _NOT_LAUT:
                out.append(i)
        elif word in lexicon.PREPOSITION_AFTER_SOURCE:
            if (
                i > 0
                and s.word[i - 1]
                and (s.cap[i - 1] or lower[i - 1] in lexicon.OBJECT_PRONOUNS)
            ):
                out.append(i)
        elif category in ("verb", "particle_verb") and i > 0:
            if s.tokens[i - 1].text in QUOTE_MARKS or (
                i > 1 and lower[i - 1] == "," and s.tokens[i - 2].text in QUOTE_MARKS
            ):
                out.append(i)  # "„...“, sagte Selenskyj"
            elif (
                _name_like(s, i - 1)
                and _phrase_start_ok(s, _noun_phrase(s, i - 1, frozenset({i}))[0])
                and (
                    _has_content(s, frozenset({i}))
                    or (category == "particle_verb" and _particle_after(s, i))
                )
            ):
                out.append(i)  # "Peskow bestätigte, dass", "Merkel wies ... zurück"
        if word in lexicon.NACH_NOUNS and i > 0 and lower[i - 1] == "nach":
            out.append(i)
    return out


def _particle_after(s: Sentence, i: int) -> bool:
    """Whether the clause of finite verb ``i`` ends in one of its particles."""
    particles = lexicon.VERB_FORMS[s.lower[i]].particles
    for j in range(i + 1, min(len(s.lower), i + PARTICLE_REACH)):
        if s.lower[j] in _CLAUSE_END:
            return False
        if s.lower[j] in particles and (j + 1 == len(s.lower) or not s.word[j + 1]):
            return True
    return False


def _is_attribution(
    s: Sentence,
    group: list[int],
    cue: frozenset[int],
    source: tuple[int, int] | None,
    by_grammar: bool,
    verb_clauses: set[int],
) -> bool:
    """Whether an event is an attribution a news annotator wants suggested."""
    lower = s.lower
    if any(
        lower[i] in lexicon.PREPOSITION_BEFORE_SOURCE
        or lower[i] in lexicon.PREPOSITION_AFTER_SOURCE
        or (lower[i] in lexicon.NACH_NOUNS and i > 0 and lower[i - 1] == "nach")
        for i in group
    ):
        return source is not None
    if source is not None:
        words = range(source[0], source[1] + 1)
        if all(lower[k] in lexicon.DEMONSTRATIVES for k in words):
            return False  # "Dies deutet darauf hin, dass ...": evidence
        if not any(_holder_like(s, k) for k in words):
            source = None  # a bare article or a lowercase word names nobody
    if _is_noun_cue(s, group):
        if source is None and s.clause[group[0]] in verb_clauses:
            return False  # "bestätigte ... mit klaren Worten": the verb's event
        if _has_content(s, cue, reach=3):
            return True
        # Otherwise only with its own holder: "Ihre Botschaft", "die
        # Forderung der AfD", not "Gespräche zwischen Russland und ...". A
        # possessive alone makes an attribution of a noun of the grammar
        # lists only ("Ihre Botschaft", "unser Antrag"; a stance without
        # content, "seine Haltung", is not reported speech).
        if source is None:
            return False
        if (
            source[0] == source[1]
            and lower[source[0]] in lexicon.POSSESSIVES
            and s.category[group[0]] not in ("noun", "wnoun", "wtail")
        ):
            return False
        return by_grammar or _attached(s, group, source)
    if _has_content(s, cue):
        # A headline's colon after a verb with nobody saying it ("Putins
        # Strategie enthüllt: Telefonat mit Trump ...") is no reported speech.
        return source is not None or not (_colon_only(s, cue) and _headline(s))
    if source is None:
        return False
    if by_grammar or _has_content(s, cue, comma_clause=True):
        return True
    pronoun = any(lower[k] in lexicon.PERSONAL_PRONOUNS for k in words)
    lemmas = {
        lemma
        for i in group
        if lower[i] in lexicon.VERB_FORMS
        for lemma in lexicon.VERB_FORMS[lower[i]].lemmas
    }
    if not lemmas or lemmas & lexicon.NEEDS_CONTENT:
        # "ich finde", "wir fordern" yes; "Trump zu überzeugen", "Bedingungen
        # festzulegen" no.
        return pronoun
    return True


def _attached(s: Sentence, group: list[int], source: tuple[int, int]) -> bool:
    """Whether the source belongs to the noun's own phrase: a possessive or
    name before it (adjectives between) or a genitive / "von" after it."""
    first, last = source
    head = group[0]
    if last < head:
        return all(_is_adjective(s, k) for k in range(last + 1, head))
    end = group[-1]
    return (
        first <= end + 2
        and end + 1 < len(s.lower)
        and s.lower[end + 1]
        in (
            "des",
            "der",
            "von",
            "vom",
        )
    )


def _holder_like(s: Sentence, k: int) -> bool:
    """A word that can name who speaks: a name, a pronoun, a possessive
    ("Ihre Botschaft", "unser Antrag")."""
    return _name_like(s, k) or s.lower[k] in lexicon.POSSESSIVES


def _group(s: Sentence, tagged: list[int], model: Model) -> list[list[int]]:
    """Tagged tokens joined into events: neighbours, and learned pairs."""
    groups: list[list[int]] = []
    for i in tagged:
        if groups and (
            (i == groups[-1][-1] + 1 and not _two_events(s, i, model))
            or any((s.lower[j], s.lower[i]) in model.pairs for j in groups[-1])
            or any(
                # "Fragen ... gestellt", "stellen sich ... die Frage"
                ("~" + stem(s.lower[j]), "~" + stem(s.lower[i])) in model.pairs
                and s.clause[j] == s.clause[i]
                for j in groups[-1]
            )
            or (
                # "bin ... der Meinung", "ist ... überzeugt": one event
                all(s.lower[j] in _SEIN for j in groups[-1])
                and s.clause[groups[-1][-1]] == s.clause[i]
            )
        ):
            groups[-1].append(i)
        else:
            groups.append([i])
    # "nach Angaben", "aus Sicht": the preposition belongs to the noun's cue.
    for group in groups:
        first = group[0]
        if (
            first > 0
            and s.lower[first] in lexicon.NACH_NOUNS
            and s.lower[first - 1] in ("nach", "aus")
        ):
            group.insert(0, first - 1)
    return groups


def _two_events(s: Sentence, i: int, model: Model) -> bool:
    """Whether tagged verb ``i`` right after a tagged noun is an event of its
    own ("Ihr Antrag fordert", "den Antrag ablehnen"), not the noun's light
    verb ("Frage stellen", "Kenntnis nehmen")."""
    if i < 2 or not s.cap[i - 1] or s.cap[i]:
        return False
    same, apart = model.noun_verb.get(s.lower[i], (0, 0))
    if same or apart:
        return apart > same
    cue, seen = model.cue_words.counts.get(s.lower[i], (0, 0))
    return seen > 0 and cue >= 0.5 * seen


def _attach(s: Sentence, group: list[int], model: Model) -> list[int]:
    """The group plus separated particles, reflexives and "lassen" partners."""
    lower = s.lower
    cue = list(group)
    n = len(lower)
    for i in group:
        word = lower[i]
        wanted = set(model.attachments.get(word, ()))
        form = lexicon.VERB_FORMS.get(word)
        if form is not None:
            wanted |= form.particles
            if form.lemmas & lexicon.REFLEXIVE_LEMMAS:
                wanted |= lexicon.REFLEXIVES
        if word in lexicon.LASSEN_FORMS:
            wanted |= lexicon.LASSEN_INFINITIVES
        if wanted:
            limit = min(n, i + PARTICLE_REACH)
            for j in range(i + 1, limit):
                if lower[j] in _CLAUSE_END or s.tokens[j].text in QUOTE_MARKS:
                    break
                if lower[j] in wanted and j not in cue:
                    # A particle ends the clause; a reflexive follows closely.
                    closing = (
                        j + 1 >= n
                        or not s.word[j + 1]
                        or lower[j] in lexicon.REFLEXIVES
                    )
                    if closing:
                        cue.append(j)
                        break
        if word in lexicon.LASSEN_INFINITIVES:
            for j in range(i - 1, max(-1, i - PARTICLE_REACH), -1):
                if lower[j] in _CLAUSE_END:
                    break
                if lower[j] in lexicon.LASSEN_FORMS:
                    cue.append(j)
                    break
    return sorted(set(cue))


def _spans(s: Sentence, cue: frozenset[int]) -> tuple[tuple[int, int], ...]:
    """Contiguous cue tokens become one span ("nach Angaben")."""
    spans: list[list[int]] = []
    for i in sorted(cue):
        token = s.tokens[i]
        if spans and i - 1 in cue:
            spans[-1][1] = token.end
        else:
            spans.append([token.start, token.end])
    return tuple((a, b) for a, b in spans)


def _is_noun_cue(s: Sentence, group: list[int]) -> bool:
    """A speech-event noun ("die Gespräche", "der Antrag"), no verb, no "laut"."""
    return all(
        s.cap[i]
        and s.category[i] not in ("verb", "particle_verb", "preposition")
        and not (
            s.lower[i] in lexicon.NACH_NOUNS and i > 0 and s.lower[i - 1] == "nach"
        )
        for i in group
        if s.word[i] and s.lower[i] not in ("nach", "aus")
    )


def _has_content(
    s: Sentence, cue: frozenset[int], reach: int = 5, comma_clause: bool = False
) -> bool:
    """Whether a reported clause or a quotation follows the cue closely."""
    lower = s.lower
    n = len(lower)
    last = max(cue)
    if (
        comma_clause
        and last + 2 < n
        and lower[last + 1] == ","
        and (
            lower[last + 2] in lexicon.PERSONAL_PRONOUNS
            or lower[last + 2] in lexicon.DETERMINERS
        )
        and not (last > 0 and lower[last - 1] == "zu")
    ):
        return True  # "Ich glaube, wir müssen ...": a main clause after the cue
    for j in range(last + 1, min(n, last + reach)):
        word = lower[j]
        if word in lexicon.W_WORDS and lower[j - 1] == ",":
            return True  # "fragen, welche Rolle ..."
        if (
            word in lexicon.SUBORDINATORS
            or word == ":"
            or s.tokens[j].text in QUOTE_MARKS
        ):
            return True
    return False


def _colon_only(s: Sentence, cue: frozenset[int]) -> bool:
    """Whether the cue's content is announced by a colon right after it."""
    last = max(cue)
    return last + 1 < len(s.lower) and s.lower[last + 1] == ":"


def _headline(s: Sentence) -> bool:
    """A segment that ends in a word, without punctuation: a title."""
    return bool(s.tokens) and s.word[-1]


def _phrase_start_ok(s: Sentence, first: int) -> bool:
    """Whether a noun phrase starting at ``first`` opens its clause (after the
    sentence start, punctuation, a conjunction, "dass", "wie", "warum" ...)."""
    if first == 0:
        return True
    before = s.lower[first - 1]
    if before in _CLAUSE_START or s.tokens[first - 1].text in _CLAUSE_START:
        return True
    if before in _FREE_CLAUSE_OPENERS:
        return True
    if before in _AUXILIARIES or before in lexicon.REFLEXIVES:
        return True  # "hat Peskow gesagt", "muss sich Berlin fragen"
    return before in _CONJUNCTIONS and (
        first == 1 or s.lower[first - 2] in _CLAUSE_START
    )


def _name_like(s: Sentence, j: int) -> bool:
    word = s.lower[j]
    return word in lexicon.PERSONAL_PRONOUNS or (
        s.cap[j]
        and word not in _NAME_STOP
        and word not in lexicon.PREPOSITIONS
        and word not in lexicon.DETERMINERS
    )


def _grammar_source(
    s: Sentence, group: list[int], cue: frozenset[int]
) -> tuple[int, int] | None:
    """The source where German grammar names it plainly: after "laut", before
    "zufolge", after "nach Angaben von/des", the subject right before a verb
    of saying at the start of its clause, or right after it ("sagte Peskow")."""
    lower = s.lower
    n = len(lower)
    head = group[0]
    word = lower[head]
    if word in lexicon.PREPOSITION_BEFORE_SOURCE or (
        word in ("nach", "aus")
        and head + 1 < n
        and lower[head + 1] in lexicon.NACH_NOUNS
    ):
        start = max(cue) + 1
        if start < n and lower[start] in ("von", "vom"):
            start += 1
        for j in range(start, min(n, start + 4)):
            if not s.word[j]:
                break
            if _name_like(s, j):
                return _noun_phrase(s, j, cue)
        return None
    if word in lexicon.PREPOSITION_AFTER_SOURCE:
        j = head - 1
        if j >= 0 and _name_like(s, j):
            return _noun_phrase(s, j, cue)
        return None
    if head > 0 and s.cap[head] and s.category[head] not in _VERB_CATEGORIES:
        # "Ihre deutliche Botschaft", "unser Antrag": the possessive.
        k = head - 1
        while k > 0 and _is_adjective(s, k):
            k -= 1
        if lower[k] in lexicon.POSSESSIVES and k not in cue:
            return k, k
    if word in _OPINION_NOUNS and head > 0 and lower[head - 1] == "der":
        # "Ich bin (schon lange) der Meinung, dass ...": the subject of "sein".
        for j in range(head - 2, -1, -1):
            if s.clause[j] != s.clause[head]:
                break
            if lower[j] in _SEIN and j > 0 and _name_like(s, j - 1):
                return _noun_phrase(s, j - 1, cue)
            if lower[j] in _SEIN and j + 1 < n and _name_like(s, j + 1):
                return _noun_phrase(s, j + 1, cue)
        return None
    if s.category[head] not in ("verb", "particle_verb", "lassen"):
        return None
    j = head - 1
    if j >= 0 and j not in cue and _name_like(s, j):
        first, last = _noun_phrase(s, j, cue)
        if (
            last == j
            and _phrase_start_ok(s, first)
            and lower[first] not in _OBJECT_DETERMINERS
        ):
            return first, last
    if head > 0 and head + 1 < n and head + 1 not in cue:
        k = head + 1
        if lower[k] in lexicon.DETERMINERS and k + 1 < n and s.cap[k + 1]:
            k += 1
        if _name_like(s, k) or (k > head + 1 and s.cap[k]):
            before = lower[head - 1]
            if before in _CLAUSE_START or s.tokens[head - 1].text in QUOTE_MARKS:
                return _noun_phrase(s, k, cue)
    return None


def _source(
    s: Sentence, head: int, cue: frozenset[int], model: Model
) -> tuple[int, int] | None:
    weights = model.source_weights
    best = _score(weights, none_features(s, head))
    choice = None
    for j in range(len(s.tokens)):
        if not candidate_ok(s, j, cue):
            continue
        value = _score(weights, source_features(s, head, j))
        if value > best:
            best, choice = value, j
    if choice is None:
        return None
    return _noun_phrase(s, choice, cue)


def _is_adjective(s: Sentence, k: int) -> bool:
    word = s.lower[k]
    return (
        not s.cap[k]
        and word.endswith(("e", "er", "en", "es", "em"))
        and not word.endswith(("te", "ten"))
        and word not in lexicon.DETERMINERS
        and word not in lexicon.PREPOSITIONS
        and word not in lexicon.PERSONAL_PRONOUNS
        and word not in lexicon.VERB_FORMS
        and word not in _NAME_STOP
    )


def _noun_phrase(s: Sentence, j: int, cue: frozenset[int]) -> tuple[int, int]:
    """Token range of the noun phrase around the chosen word (names, titles,
    adjectives, a determiner; a genitive "des/der ..." after a noun)."""
    lower = s.lower
    if lower[j] in lexicon.PERSONAL_PRONOUNS or not s.cap[j]:
        return j, j
    first = j
    k = j - 1
    while k >= 0 and k not in cue and s.word[k]:
        word = lower[k]
        if word in lexicon.DETERMINERS:
            first = k
            break
        if (
            s.cap[k]
            and word not in _NAME_STOP
            and word not in lexicon.PREPOSITIONS
            or _is_adjective(s, k)
            and s.cap[k + 1]
        ):
            first = k
        else:
            break
        k -= 1
    if (
        first >= 2
        and lower[first - 1] == "und"
        and first - 1 not in cue
        and _name_like(s, first - 2)
        and first - 2 not in cue
    ):
        # "Steve Witkoff und Jared Kushner": both are the source.
        first -= 2
        while first > 0 and first - 1 not in cue and _name_like(s, first - 1):
            first -= 1
    last = j
    n = len(lower)
    k = j + 1
    while k < n and k not in cue and s.cap[k] and lower[k] not in _NAME_STOP:
        last = k
        k += 1
    if (
        last + 2 < n
        and lower[last + 1] in ("des", "der")
        and s.cap[last + 2]
        and last + 1 not in cue
        and last + 2 not in cue
    ):
        last += 2
        while last + 1 < n and s.cap[last + 1] and last + 1 not in cue:
            last += 1
    return first, last


def _form(s: Sentence, cue: frozenset[int], head: int) -> str:
    lower = s.lower
    words = [lower[i] for i in cue]
    if any(
        w in lexicon.PREPOSITION_BEFORE_SOURCE
        or w in lexicon.PREPOSITION_AFTER_SOURCE
        or w in lexicon.NACH_NOUNS
        for w in words
    ):
        return "indirect"
    n = len(lower)
    last = max(cue)
    quoted_words = sum(1 for i in range(n) if s.quoted[i] and s.word[i])
    clause_after = False
    for j in range(last + 1, min(n, last + 6)):
        if lower[j] in lexicon.SUBORDINATORS or lower[j] in lexicon.W_WORDS:
            clause_after = True
            break
        if lower[j] == ":":
            clause_after = not (j + 1 < n and s.tokens[j + 1].text in QUOTE_MARKS)
            break
    konj = s.has_konj
    # A quotation of three words or more is a direct quote (a shorter one is
    # a term or a scare quote).
    direct = quoted_words >= 3 and not s.quoted[head]
    if direct and (clause_after or konj):
        # Reported clause with a quoted part inside, or the cue after a quote.
        outside = sum(1 for i in range(n) if not s.quoted[i] and s.word[i])
        return "mixed" if outside > quoted_words else "direct"
    if direct:
        return "direct"
    if clause_after or konj:
        return "indirect"
    return "reported"


def _continuation(
    s: Sentence, quote_open: bool, recent: list[Found | None]
) -> Found | None:
    """A segment without a cue that continues the last attribution."""
    previous = next((f for f in reversed(recent[-CONTINUATION_REACH:]) if f), None)
    if previous is None or not s.tokens:
        return None
    if quote_open and s.quoted[0] or (quote_open and not s.tokens[0].text.isalnum()):
        form = "direct"
    elif s.has_konj or any(w in _REPORTATIVE for w in s.lower):
        if s.tokens[-1].text == "?":
            return None
        form = "free_indirect"
    else:
        return None
    return Found(
        cue_spans=(),
        source_span=None,
        resolved_source=previous.resolved_source,
        source_text=previous.source_text,
        form=form,
        score=round(previous.score * 0.6, 3),
    )
