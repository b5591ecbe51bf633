"""Split a news article into annotation units with exact character offsets.

The unit of annotation is one segment: the title, a byline, a heading, a
sentence, or a block of web chrome (boilerplate). Every segment keeps the
``start``/``end`` offsets into the text it came from, so an annotation can
always be traced back to the exact characters of the stored article.

Sentence boundaries come from sentencex (Wikimedia, MIT; a compiled Rust
library, ~500,000 sentences/s here), which was measured against pysbd, syntok
and two Punkt variants on the project's 60 hard cases (see
``docs/segmenter-choice.md``). sentencex gets 48 of the 60 right on its own
(74 of the 103 hard cases there are now); the repair layer below fixes the
rest. Each repair is a named function whose comment says which failure of the
base segmenter it repairs.

Internally a sentence split is a set of *cuts*: the offsets where a new
sentence starts. Segments are the stretches between consecutive cuts with
surrounding whitespace stripped, so by construction the segments are ordered,
never overlap and cover every non-whitespace character exactly once, whatever
the base segmenter or a repair does.

Language: everything language-specific (abbreviations, words that start a
sentence, bylines, web chrome) lives in a :class:`LanguageRules` table.
``"de"`` is the tuned table, ``"en"`` a smaller one; any other code gets the
generic table, which trusts the base segmenter wherever it would otherwise
need to know the language.

The module is plain Python: no Django import, no model import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import sentencex

SEGMENT_KINDS = ("title", "byline", "heading", "sentence", "boilerplate")

# A block whose longest line is at most this long is taken to be hard-wrapped
# prose (editors and mail clients wrap at 72-100 columns); one with a longer
# line is a one-paragraph-per-line text, whose paragraphs are whole lines.
WRAP_WIDTH_MAX = 120
# In hard-wrapped prose every line but a paragraph's last runs close to the
# wrap width; a line shorter than this share of the block's longest line was
# ended on purpose (a heading, a byline, the end of a paragraph).
SHORT_LINE_SHARE = 0.6
# Headings are short: at most this many characters and words.
HEADING_MAX_CHARS = 120
HEADING_MAX_WORDS = 15
# A line ending in "?" is a heading only when it is this short
# ("NATO-Truppen als Sicherheitsgarantie?"); a longer one is a question.
QUESTION_HEADING_MAX_WORDS = 8
BYLINE_MAX_CHARS = 80
BYLINE_MAX_WORDS = 9
# Related-article teasers run longer than chrome lines, but not much.
TEASER_MAX_CHARS = 300

_OPENING = "„“\"»«‚‘‹›'([{"
_CLOSING = "“”\"»«’‘‹›')]}"
# Characters that end a sentence, Latin and CJK.
_TERMINAL = frozenset(".!?…‼⁇⁈⁉。！？")
# Characters that, at the end of a line or paragraph, say "more follows".
_UNFINISHED = frozenset(".!;,:…")
# What a byline never ends with.
_BYLINE_NEVER_ENDS = _TERMINAL | _UNFINISHED
# Sentence ends that a heading may not contain (a "?" it may).
_STATEMENT_END = frozenset(".!…")


@dataclass(frozen=True, slots=True)
class SegmentSpan:
    """One annotation unit: ``text == article[start:end]`` always."""

    position: int  # 0..n-1
    kind: str  # one of SEGMENT_KINDS
    paragraph: int  # 0-based paragraph (block) index; the title is paragraph 0
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class LanguageRules:
    """What the segmenter must know about one language.

    Abbreviations are written as in the text with the spaces removed and
    without the final period ("z. B." -> "z.B"); they are matched
    case-sensitively, because lowercasing turns nouns and verbs into
    abbreviations ("Art", "mag").
    """

    base_language: str  # the code passed to sentencex
    # Never end a sentence: "z. B. die SPD", "Dr. Anna Schmidt".
    abbreviations: frozenset[str]
    # Can end a sentence; they do when a sentence starter follows ("usw. Dann").
    ending_abbreviations: frozenset[str]
    # Abbreviations only when a number follows ("Art. 5", "S. 12"); otherwise
    # the same letters are a word ("eine neue Art. Die ...").
    number_abbreviations: frozenset[str]
    # Endings that make a compound such an abbreviation ("Hauptstr. 5").
    number_abbreviation_endings: tuple[str, ...]
    # Closed-class words (articles, pronouns, conjunctions, adverbs,
    # prepositions) that typically start a sentence. After an ambiguous period
    # (ordinal number, initial, ending abbreviation) the next word decides:
    # "Platz 3. Der Trainer" splits, "im 20. Jahrhundert" does not.
    # Empty: the language is unknown, so the base segmenter decides.
    sentence_starters: frozenset[str]
    # Words that are never abbreviations (pronouns, "nicht"): a period after
    # them ends the sentence before any capitalised word or number. The base
    # segmenter's lists hold some of them ("mich" is Michigan in sentencex's
    # English list, which its German rules also consult).
    never_abbreviations: frozenset[str]
    # German-style ordinals written with a period ("am 10. Mai").
    ordinal_dot: bool
    # Words before a number that make it an ordinal ("am", "im", "der").
    ordinal_determiners: frozenset[str]
    # A number followed by a month name is a date, never a sentence end.
    months: frozenset[str]
    # "Von Sergei Poletajew": the first word of a byline ...
    byline_prefixes: frozenset[str]
    # ... and the lower-case words a name may contain ("von der Leyen").
    name_connectors: frozenset[str]
    # Whole paragraphs that are web chrome ("Schreibe einen Kommentar").
    boilerplate_line: re.Pattern[str]
    # Paragraph openings of teasers and credits ("Weitere Informationen – ...").
    boilerplate_prefix: re.Pattern[str]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Chrome that any language's page may carry: copyright lines and credits.
_GENERIC_CHROME = r"©.*|\(c\)\s.*|copyright\b.*"

_GERMAN = LanguageRules(
    base_language="de",
    abbreviations=_words(
        "z.B z.b Z.B z.T z.Zt d.h D.h u.a U.a u.U v.a i.d.R s.o s.u o.g m.E "
        "bzw Bzw ca Ca rd Dr Prof St vgl Vgl hrsg Hrsg ggf Ggf evtl Evtl inkl Inkl "
        "exkl mind sog ebd gem lt vs zzgl abzgl insb bspw bzgl dt frz ital russ "
        "allg kath ev ehem geb gegr gest stv stellv Präs Hr Hrn Fr Frl Dipl Ing med "
        "phil jur rer nat Univ a.D i.R Gebr Mr Mrs Ms Jr Sr Dir Kfm Stv"
    ),
    ending_abbreviations=_words(
        "usw etc usf u.ä u.Ä o.ä o.Ä u.v.m u.a.m Jh Jhd Jhdt Jahrh Mio Mrd Tsd "
        "Chr v.Chr n.Chr e.V e.G Co U.S U.S.A f ff Min Std Sek Aufl engl Engl "
        "Jan Feb Febr Mär Mrz Apr Jun Jul Aug Sep Sept Okt Nov Dez"
    ),
    number_abbreviations=_words(
        "Art Abs Nr No Tab Abb Kap Bd S Ziff Tel Str Pkt Rn Rz Bl Fn Anm Jg Hausnr "
        "max min Abschn Anl Jahrg Ausg Rdnr Pos Abt Kl Gr Zi Bsp Fig Vers Tz "
        "Nrn Az Sp Vol Drucks Anh Mo Di Mi Do Sa So"
    ),
    number_abbreviation_endings=("str",),
    sentence_starters=_words(
        "Der Die Das Den Dem Des Ein Eine Einen Einem Einer Eines Kein Keine "
        "Keinen Keinem Keiner Er Sie Es Wir Ich Du Ihr Ihre Ihren Ihrem Man Sein "
        "Seine Seinen Seinem Seiner Unser Unsere Mein Meine Dies Diese Dieser "
        "Dieses Diesem Diesen Jene Jener Jenes Dabei Dadurch Dafür Dagegen Daher "
        "Damals Damit Danach Daneben Dann Darauf Daraus Darin Darum Darüber Davon "
        "Davor Dazu Demnach Dennoch Deshalb Deswegen Doch Dort Ebenso Ebenfalls "
        "Eigentlich Erst Erstmals Etwa Gestern Heute Morgen Hier Hingegen Hinzu "
        "Immerhin Indes Inzwischen Jedoch Jetzt Kaum Künftig Letztlich "
        "Mittlerweile Nun Nur Noch Schließlich Schon Seither Sogar So Später "
        "Stattdessen Trotzdem Vielleicht Vielmehr Zudem Zuletzt Zunächst Zuvor "
        "Zwar Außerdem Allerdings Also Auch Aber Und Oder Denn Sondern Sowie Bis "
        "Als Wenn Weil Da Obwohl Während Nachdem Bevor Seit Seitdem Sobald "
        "Solange Falls Ob Wer Was Wo Wie Warum Wann Wieso Weshalb Welche Welcher "
        "Welches Alle Alles Andere Beide Einige Manche Mehrere Viele Wenige "
        "Jeder Jede Jedes Niemand Nichts Jemand Etwas Ja Nein Nicht Selbst "
        "Gleichzeitig Zugleich Insgesamt Insbesondere Besonders Vor Nach In Im "
        "Am An Auf Aus Bei Beim Mit Von Vom Zu Zum Zur Für Gegen Ohne Um Über "
        "Unter Laut Trotz Wegen Neben Hinter Zwischen Angesichts Dass"
    ),
    never_abbreviations=_words(
        "mich dich sich ihn ihm ihr uns euch mir dir ihnen Ihnen es nicht"
    ),
    ordinal_dot=True,
    ordinal_determiners=_words(
        "der die das dem den des am im zum zur vom beim ins ans aufs ab bis seit "
        "und oder sein seine seinem seinen seiner seines ihr ihre ihrem ihren "
        "ihrer ihres unser unsere unserem unseren unserer dieser diese diesem "
        "diesen dieses jeder jede jedem jeden jedes ein eine einem einen einer "
        "eines"
    ),
    months=_words(
        "Januar Jänner Februar März April Mai Juni Juli August September Oktober "
        "November Dezember Jan Feb Febr Mär Mrz Apr Jun Jul Aug Sep Sept Okt Nov "
        "Dez"
    ),
    byline_prefixes=_words("Von VON"),
    name_connectors=_words("und u. & von van der de den zu la le di da dos al bin"),
    boilerplate_line=re.compile(
        r"(?:schreibe einen kommentar|kommentar (?:schreiben|verfassen)"
        r"|kommentare?(?: \(\d+\))?|antworten abbrechen|antwort(?:en)?"
        r"|(?:artikel )?teilen(?: auf \w+)?|drucken|zum seitenanfang|nach oben"
        r"|newsletter abonnieren|jetzt abonnieren|anzeige|werbung"
        r"|mehr zum thema|weitere informationen|lesen sie (?:auch|mehr)"
        r"|auch interessant|das könnte sie auch interessieren|alle rechte vorbehalten"
        rf"|{_GENERIC_CHROME})\W*",
        re.IGNORECASE,
    ),
    boilerplate_prefix=re.compile(
        r"(?:weitere informationen|mehr zum thema|lesen sie (?:auch|mehr)"
        r"|auch interessant|das könnte sie auch interessieren|siehe auch|zum thema"
        r"|(?:titel)?(?:foto|bild)(?:quelle)?|quelle)\s*[:–—-]",
        re.IGNORECASE,
    ),
)

_ENGLISH = LanguageRules(
    base_language="en",
    abbreviations=_words(
        "Mr Mrs Ms Dr Prof St Mt Gen Sen Rep Gov Lt Col Sgt Capt Jr Sr e.g i.e "
        "E.g I.e vs cf approx Rev Hon"
    ),
    ending_abbreviations=_words(
        "etc Inc Ltd Corp Co U.S U.K U.N a.m p.m Jan Feb Mar Apr Jun Jul Aug Sep "
        "Sept Oct Nov Dec"
    ),
    number_abbreviations=_words("No Nos p pp Fig Vol Ch Sec Art"),
    number_abbreviation_endings=(),
    sentence_starters=_words(
        "The A An He She It We They I You This That These Those There Here But "
        "And Or So Yet If When While After Before As Since Although Because In "
        "On At For From With Without By Of To What Who Why How Where Which His "
        "Her Its Their Our My No Not Then Now Today Yesterday Meanwhile However "
        "Still Also Some Many Most All Both Each Every"
    ),
    never_abbreviations=frozenset(),
    ordinal_dot=False,
    ordinal_determiners=frozenset(),
    months=_words(
        "January February March April May June July August September October "
        "November December"
    ),
    byline_prefixes=_words("By BY"),
    name_connectors=_words("and & of de van von der da di la le al bin"),
    boilerplate_line=re.compile(
        r"(?:leave a (?:comment|reply)|comments?(?: \(\d+\))?|reply|share(?: this)?"
        r"|print|advertisement|subscribe(?: to our newsletter)?|read more"
        r"|related(?: articles)?|more on this|back to top|all rights reserved"
        rf"|{_GENERIC_CHROME})\W*",
        re.IGNORECASE,
    ),
    boilerplate_prefix=re.compile(
        r"(?:read more|related|see also|more on this|read also"
        r"|(?:photo|image)(?: credit)?|source)\s*[:–—-]",
        re.IGNORECASE,
    ),
)

_GENERIC = LanguageRules(
    base_language="en",
    abbreviations=_words("Dr Prof St Mr Mrs z.B e.g i.e vs ca"),
    ending_abbreviations=_words("etc"),
    number_abbreviations=_words("No Nr Art"),
    number_abbreviation_endings=(),
    sentence_starters=frozenset(),
    never_abbreviations=frozenset(),
    ordinal_dot=False,
    ordinal_determiners=frozenset(),
    months=frozenset(),
    byline_prefixes=frozenset(),
    name_connectors=frozenset(),
    boilerplate_line=re.compile(rf"(?:{_GENERIC_CHROME})\W*", re.IGNORECASE),
    boilerplate_prefix=re.compile(r"(?!)"),
)

LANGUAGE_RULES: dict[str, LanguageRules] = {"de": _GERMAN, "en": _ENGLISH}


def rules_for(language: str) -> LanguageRules:
    """The rules for a language code such as "de" or "de-AT"; generic if unknown."""
    code = language.lower().replace("_", "-").split("-")[0] if language else ""
    rules = LANGUAGE_RULES.get(code)
    if rules is not None:
        return rules
    # The base segmenter knows many more languages than our tables do.
    return replace(_GENERIC, base_language=code or "en")


# --- public API -------------------------------------------------------------


def normalise_text(raw: str) -> str:
    """Drop a leading BOM and turn CR LF and lone CR into LF; nothing else.

    Offsets are stored against the normalised text, so this must stay minimal
    and predictable: no Unicode normalisation, no whitespace squeezing.
    """
    return raw.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def split_sentences(text: str, *, language: str = "de") -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of one paragraph or plain text.

    Spans are stripped of surrounding whitespace and together cover every
    non-whitespace character once. A blank line always ends a sentence (it is
    a paragraph break); single newlines are line wraps inside a sentence.
    """
    rules = rules_for(language)
    spans: list[tuple[int, int]] = []
    for start, end in _chunks_between_blank_lines(text):
        spans.extend(_sentence_spans(text, start, end, rules))
    return spans


def segment_article(text: str, *, language: str = "de") -> list[SegmentSpan]:
    """Segment a whole (already normalised) article.

    Paragraphs: the first non-empty line is the title (paragraph 0, never
    split). The rest is cut into blocks at blank lines; a text without blank
    lines is one block. Inside a block:

    * if any line is longer than ``WRAP_WIDTH_MAX`` (120) characters, the
      block is one-paragraph-per-line text: every line is a paragraph;
    * otherwise the block is hard-wrapped prose: its lines are rejoined into
      one paragraph (segments then contain the ``"\\n"``), except that a line
      shorter than 60 % of the block's longest line ends its paragraph (a
      heading or byline typed directly above the text, or a paragraph end),
      and a short unterminated line after a terminated one starts a new one.

    So blank-line-separated files give one paragraph per block, and
    line-per-paragraph files (long lines, no blank lines) one per line.

    Kinds, per paragraph: web chrome is ``boilerplate`` (one segment); "Von
    <Name>" is a ``byline``; a short line without final punctuation (a final
    "?" allowed when very short) is a ``heading``; everything else is split
    into ``sentence`` segments.
    """
    rules = rules_for(language)
    segments: list[SegmentSpan] = []
    for paragraph, (start, end) in enumerate(_paragraph_spans(text)):
        if paragraph == 0:
            kind, spans = "title", [(start, end)]
        else:
            kind = _paragraph_kind(text, start, end, rules)
            if kind == "sentence":
                spans = _sentence_spans(text, start, end, rules)
            else:
                spans = [(start, end)]
        for span_start, span_end in spans:
            segments.append(
                SegmentSpan(
                    position=len(segments),
                    kind=kind,
                    paragraph=paragraph,
                    start=span_start,
                    end=span_end,
                    text=text[span_start:span_end],
                )
            )
    return segments


# --- paragraphs -------------------------------------------------------------


def _stripped_lines(text: str) -> list[tuple[int, int] | None]:
    """Each line's span without surrounding whitespace; None for a blank line."""
    lines: list[tuple[int, int] | None] = []
    position = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            start = position + len(line) - len(line.lstrip())
            lines.append((start, start + len(stripped)))
        else:
            lines.append(None)
        position += len(line) + 1
    return lines


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Paragraph spans in order; the first is the title line. See segment_article."""
    paragraphs: list[tuple[int, int]] = []
    block: list[tuple[int, int]] = []
    for line in _stripped_lines(text):
        if line is None:
            paragraphs.extend(_block_paragraphs(text, block))
            block = []
        elif not paragraphs and not block:
            paragraphs.append(line)  # the title: the first non-empty line
        else:
            block.append(line)
    paragraphs.extend(_block_paragraphs(text, block))
    return paragraphs


def _block_paragraphs(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Paragraphs of one block of consecutive non-blank lines."""
    if not lines:
        return []
    width = max(end - start for start, end in lines)
    if len(lines) == 1 or width > WRAP_WIDTH_MAX:
        return lines
    short_limit = width * SHORT_LINE_SHARE
    paragraphs = []
    first = lines[0]
    for before, after in zip(lines, lines[1:], strict=False):
        before_short = before[1] - before[0] < short_limit
        starts_heading = (
            after[1] - after[0] < short_limit
            and _last_visible(text, before[0], before[1]) in _TERMINAL
            and _last_visible(text, after[0], after[1]) not in _UNFINISHED
        )
        if before_short or starts_heading:
            paragraphs.append((first[0], before[1]))
            first = after
    paragraphs.append((first[0], lines[-1][1]))
    return paragraphs


def _chunks_between_blank_lines(text: str) -> list[tuple[int, int]]:
    """Spans of the text between blank lines (for split_sentences)."""
    chunks: list[tuple[int, int]] = []
    chunk_start: int | None = None
    chunk_end = 0
    for line in _stripped_lines(text):
        if line is None:
            if chunk_start is not None:
                chunks.append((chunk_start, chunk_end))
            chunk_start = None
        else:
            if chunk_start is None:
                chunk_start = line[0]
            chunk_end = line[1]
    if chunk_start is not None:
        chunks.append((chunk_start, chunk_end))
    return chunks


# --- paragraph kinds ----------------------------------------------------------


def _last_visible(text: str, start: int, end: int) -> str:
    """The last character before any closing quotes or brackets ('' if none)."""
    while end > start and text[end - 1] in _CLOSING:
        end -= 1
    return text[end - 1] if end > start else ""


def _paragraph_kind(text: str, start: int, end: int, rules: LanguageRules) -> str:
    """boilerplate, byline, heading or sentence (the default) for one paragraph."""
    paragraph = text[start:end]
    if _is_boilerplate(paragraph, rules):
        return "boilerplate"
    if _is_byline(paragraph, rules):
        return "byline"
    if _is_heading(text, start, end, rules):
        return "heading"
    return "sentence"


def _is_boilerplate(paragraph: str, rules: LanguageRules) -> bool:
    """Web chrome, teasers, credits, and decoration lines such as "***"."""
    if not any(character.isalnum() for character in paragraph):
        return True
    if len(paragraph) > TEASER_MAX_CHARS:
        return False
    return bool(
        rules.boilerplate_line.fullmatch(paragraph)
        or rules.boilerplate_prefix.match(paragraph)
    )


def _is_byline(paragraph: str, rules: LanguageRules) -> bool:
    """A byline such as "Von Sergei Poletajew", not "Von der Leyen besucht Kiew"."""
    if len(paragraph) > BYLINE_MAX_CHARS or "\n" in paragraph:
        return False
    words = paragraph.split()
    if not 2 <= len(words) <= BYLINE_MAX_WORDS or words[0] not in rules.byline_prefixes:
        return False
    if _last_visible(paragraph, 0, len(paragraph)) in _BYLINE_NEVER_ENDS:
        return False
    names = [word.strip(",;()") for word in words[1:]]
    if not any(name[:1].isupper() for name in names):
        return False
    return all(
        not name or name[:1].isupper() or name in rules.name_connectors
        for name in names
    )


def _is_heading(text: str, start: int, end: int, rules: LanguageRules) -> bool:
    """A short single line without final punctuation ("Istanbul im Rampenlicht").

    A final "?" is allowed when the line is very short
    ("NATO-Truppen als Sicherheitsgarantie?"); a line with a sentence break
    after "." or "!" inside is prose, not a heading.
    """
    paragraph = text[start:end]
    if len(paragraph) > HEADING_MAX_CHARS or "\n" in paragraph:
        return False
    word_count = len(paragraph.split())
    last = _last_visible(text, start, end)
    if word_count > HEADING_MAX_WORDS or not last or last in _UNFINISHED:
        return False
    if last in _TERMINAL and (last != "?" or word_count > QUESTION_HEADING_MAX_WORDS):
        return False
    return all(
        _last_visible(text, start, _rstrip_position(text, cut)) not in _STATEMENT_END
        for cut in _sentence_cuts(text, start, end, rules)
    )


# --- sentences ----------------------------------------------------------------


def _sentence_spans(
    text: str, start: int, end: int, rules: LanguageRules
) -> list[tuple[int, int]]:
    """Stripped sentence spans of text[start:end]; cover it without gaps."""
    spans: list[tuple[int, int]] = []
    edges = [start, *sorted(_sentence_cuts(text, start, end, rules)), end]
    for piece_start, piece_end in zip(edges, edges[1:], strict=False):
        while piece_start < piece_end and text[piece_start].isspace():
            piece_start += 1
        while piece_end > piece_start and text[piece_end - 1].isspace():
            piece_end -= 1
        if piece_start < piece_end:
            spans.append((piece_start, piece_end))
    return spans


def _sentence_cuts(text: str, start: int, end: int, rules: LanguageRules) -> set[int]:
    """Offsets in (start, end) where a new sentence begins.

    The base segmenter proposes cuts; the repairs add the ones it misses and
    drop the false ones. The order matters: the general filters (lowercase
    continuation, unterminated cut) run last so that no repair can bring back
    a cut they rule out.
    """
    if start >= end:
        return set()
    cuts = _base_cuts(text, start, end, rules)
    if _QUOTE_CHARS.search(text, start, end):
        cuts |= _split_inside_quotations(text, start, end, rules)
    chunk = text[start:end]
    if "…" in chunk or "..." in chunk or ". . ." in chunk:
        cuts |= _split_after_ellipsis(text, start, end)
    if ")" in chunk or "]" in chunk:
        cuts |= _split_after_parenthesised_sentence(text, start, end)
    if rules.sentence_starters and ("!" in chunk or "?" in chunk):
        cuts |= _split_before_number_after_exclamation(text, start, end)
    _repair_period_cuts(text, start, end, rules, cuts)
    return {
        cut
        for cut in cuts
        if start < cut < end
        and not _continues_in_lowercase(text, cut, end)
        and _is_terminated(text, start, cut)
        and not _follows_omission_mark(text, start, cut)
    }


_SURROGATE = re.compile("[\ud800-\udfff]")
_FALLBACK_CUT = re.compile(r"[.!?…。！？][\"“”»«’')\]]*\s+")


def _base_cuts(text: str, start: int, end: int, rules: LanguageRules) -> set[int]:
    """Sentence starts proposed by sentencex, moved past any whitespace."""
    chunk = text[start:end]
    # sentencex is Rust: a lone surrogate (legal in a Python str) cannot cross
    # into it. Replacing it one-for-one keeps every offset valid.
    if _SURROGATE.search(chunk):
        chunk = _SURROGATE.sub("\ufffd", chunk)
    try:
        boundaries = sentencex.get_sentence_boundaries(rules.base_language, chunk)
        offsets = [boundary["start_index"] for boundary in boundaries[1:]]
    except Exception:  # noqa: BLE001 - segmentation must never fail an import
        offsets = [match.end() for match in _FALLBACK_CUT.finditer(chunk)]
    cuts = set()
    for offset in offsets:
        cut = start + offset
        while cut < end and text[cut].isspace():
            cut += 1
        if start < cut < end:
            cuts.add(cut)
    return cuts


_QUOTE_CHARS = re.compile('[„“”»«"]')
_QUOTATION = re.compile(
    r"„([^„“”]+)[“”]|“([^“”„]+)”|»([^»«]+)«|«([^«»]+)»|\"([^\"]+)\""
)
_INNER_BREAK = re.compile(r"[.!?…]\s")


def _split_inside_quotations(
    text: str, start: int, end: int, rules: LanguageRules
) -> set[int]:
    """Repairs: sentencex never splits inside a quotation, so a quoted speech
    of several sentences ("Er sagte: „Wir sind bereit. Die Gespräche können
    beginnen.“") came out as one sentence. The house convention splits it,
    the closing quote staying with the sentence it closes; the base segmenter
    run on the quotation's inside finds the breaks with its own abbreviation
    knowledge."""
    cuts: set[int] = set()
    for match in _QUOTATION.finditer(text, start, end):
        group = match.lastindex or 0
        inner_start, inner_end = match.start(group), match.end(group)
        if _INNER_BREAK.search(text, inner_start, inner_end):
            cuts |= _base_cuts(text, inner_start, inner_end, rules)
    return cuts


_ELLIPSIS_BREAK = re.compile(
    r"(?<![\[(])(?:…|(?<!\.)\.{3,}|\. \. \.)[\"“”»«’')\]]*\s+"
    r"(?=[„“\"»«‚‘(\[]*[^\W\d_])"
)


def _split_after_ellipsis(text: str, start: int, end: int) -> set[int]:
    """Repairs: sentencex does not end a sentence at "…" (the single
    character), so "Und dann kam alles anders … Die Regierung trat zurück."
    stayed one sentence. An ellipsis followed by a capital starts a new
    sentence; one followed by lower case ("Er zögerte … und sagte") does not
    (the lowercase filter drops that cut), and "[…]" marks an omission."""
    return {match.end() for match in _ELLIPSIS_BREAK.finditer(text, start, end)}


_PARENTHESIS_BREAK = re.compile(r"[.!?…][)\]]+[\"“”»«’']*\s+(?=[„“\"»«‚‘(\[]*[^\W\d_])")


def _split_after_parenthesised_sentence(text: str, start: int, end: int) -> set[int]:
    """Repairs: sentencex does not split after a whole sentence in
    parentheses, so "(Die Zahlen sind vorläufig.) Eine Prognose folgt." stayed
    one sentence. A ")" right after final punctuation ends the sentence."""
    return {match.end() for match in _PARENTHESIS_BREAK.finditer(text, start, end)}


_EXCLAMATION_BEFORE_NUMBER = re.compile(r"[!?][\"“”»«’')\]]*\s+(?=[„“\"»«‚‘(\[]*\d)")


def _split_before_number_after_exclamation(text: str, start: int, end: int) -> set[int]:
    """Repairs: sentencex never starts a sentence with a digit, not even after
    "!" or "?": "mehr Zuzug brauchen! 170 000 Senioren suchen" and "ein
    echter Return? 60 Millionen Menschen" stayed one sentence. (After a
    period the word before decides; see :func:`_period_ends_sentence`.)"""
    return {
        match.end() for match in _EXCLAMATION_BEFORE_NUMBER.finditer(text, start, end)
    }


_PERIOD_CANDIDATE = re.compile(
    r"(?<![.\s])\.(?!\.)[\"“”»«’')\]]*\s+(?=[„“\"»«‚‘(\[]*\w)"
)
# The word before a period, with any single- to three-letter dotted parts
# before it ("z. B", "J. R. R", "U.S", "v. Chr").
_TOKEN_BEFORE = re.compile(r"((?:\b[^\W\d_]{1,3}\.\s?)*)([^\W_]+)$")
_WORD_AT = re.compile(r"[„“\"»«‚‘(\[]*(\w[^\W_]*)")
_WORD_BEFORE = re.compile(r"([^\W\d_]+)$")
_ROMAN = re.compile(r"[IVXLC]{2,6}")
# Long enough for any table entry plus its dotted parts ("J. R. R", "v. Chr");
# a longer word is cut to a suffix that matches nothing, which is harmless.
_TOKEN_WINDOW = 24


def _repair_period_cuts(
    text: str, start: int, end: int, rules: LanguageRules, cuts: set[int]
) -> None:
    """Repairs periods that sentencex gets wrong, in place.

    sentencex splits after ordinal numbers ("Im 20. | Jahrhundert", "am 15. |
    Jan. 2025") and unknown abbreviations ("12. Jh. | und"), and does not
    split after an abbreviation, initial or number that really ends a sentence
    ("Birnen usw. | Dann", "3,5 Mio. | Die", "Thomas M. | Er"). For every
    period followed by a word, :func:`_period_ends_sentence` decides from the
    word before and the word after; where it has no opinion the base
    segmenter's choice stands.
    """
    for match in _PERIOD_CANDIDATE.finditer(text, start, end):
        cut = match.end()
        verdict = _period_ends_sentence(text, start, match.start(), cut, rules)
        if verdict is True:
            cuts.add(cut)
        elif verdict is False:
            cuts.discard(cut)


def _period_ends_sentence(
    text: str, start: int, period: int, next_start: int, rules: LanguageRules
) -> bool | None:
    """Does the period at ``period`` end a sentence? None: let the base decide."""
    token = _TOKEN_BEFORE.search(text, max(start, period - _TOKEN_WINDOW), period)
    next_word = _WORD_AT.match(text, next_start)
    if token is None or next_word is None:
        return None
    dotted, word = token.group(1), token.group(2)
    key = _abbreviation_key(dotted, word, rules)
    following = next_word.group(1)
    is_initial = len(word) == 1 and word.isupper()
    is_number = word.isdecimal() and len(word) <= 4
    is_roman = rules.ordinal_dot and bool(_ROMAN.fullmatch(word))
    if following[0].isdecimal():
        # "S. 12", "Nr. 5", "am 15. Jan. 2025", "3. 10. 1990": a number follows
        # an abbreviation or a date part.
        known = (
            key in rules.abbreviations
            or key in rules.ending_abbreviations
            or key in rules.number_abbreviations
        )
        if known or is_initial or is_number:
            return False
        # Repairs: sentencex never starts a sentence with a digit, but news often
        # does: "nahm 300 Personen fest. 17 Menschen wurden verletzt", "Er kam um
        # 10 Uhr. 10 Minuten später ging er.", "gewählt. 2021 trat er zurück".
        # After a word that no table knows and that does not look like an
        # abbreviation either, the number starts a sentence.
        if rules.sentence_starters and not dotted and _looks_like_a_word(word, rules):
            return True
        return None
    if key in rules.abbreviations:
        return False
    starter = _starts_sentence(following, rules)
    # "Art." and "S." abbreviate only before a number; before a sentence
    # starter they are a word or an initial that ends the sentence.
    if (
        key in rules.ending_abbreviations
        or key in rules.number_abbreviations
        or is_initial
        or is_roman
    ):
        return starter
    if is_number and rules.ordinal_dot:
        if following in rules.months:
            return False
        if starter:
            return True
        if _is_ordinal_context(text, start, token.start(2), rules):
            return False
        return None
    if dotted or not following[0].isupper():
        return None
    return _word_ends_sentence(word, following, starter, rules)


def _word_ends_sentence(
    word: str, following: str, starter: bool | None, rules: LanguageRules
) -> bool | None:
    """Repairs: a period after a word that our tables do not know as an
    abbreviation, before a capitalised word. sentencex consults its own lists
    (German plus English), so it took "überrascht mich. Dann" ("mich":
    Michigan) and "sprach mit der FR. Die" ("fr") for abbreviations.

    * A word that is never an abbreviation ("mich", "uns", "nicht") ends the
      sentence before any capitalised word.
    * An acronym in capitals ("FR", "SPD", "EU") ends it before a capitalised
      word that is not itself in capitals ("DR. MÜLLER" in an all-caps line
      stays whole); German writes acronyms without a period.
    * Any other word ends it before a sentence starter ("Die", "Dann").
    """
    if word in rules.never_abbreviations:
        return True
    if len(word) >= 2 and word.isupper():
        return True if not following.isupper() else None
    return True if starter else None


_VOWELS = frozenset("aeiouyäöüàáâãåæèéêëìíîïòóôõøùúûýAEIOUYÄÖÜ")


def _looks_like_a_word(word: str, rules: LanguageRules) -> bool:
    """Could ``word`` end a sentence, although it is followed by a number?

    Not a lone letter ("s. 5", "v. 12.3."), not a compound with an
    abbreviation ending ("Hauptstr. 12"), and not without a vowel: "Drs.
    19/83", "Stk. 3", "BGBl. 2019" are abbreviations the tables miss, while an
    acronym in capitals ("SPD. 17 Abgeordnete") is a word.
    """
    if len(word) < 2 or word.endswith(rules.number_abbreviation_endings):
        return False
    return word.isupper() or not _VOWELS.isdisjoint(word)


def _abbreviation_key(dotted: str, word: str, rules: LanguageRules) -> str:
    """The longest dotted sequence ending in ``word`` that the tables know.

    "z. B" gives "z.B"; in "usw. Dr" the "usw." belongs to the sentence
    before, so the key is "Dr"; without a known one it is ``word``.
    """
    if not dotted:
        return word
    parts = [part.strip() for part in dotted.split(".")]
    parts = [part for part in parts if part] + [word]
    for first in range(len(parts) - 1):
        key = ".".join(parts[first:])
        if (
            key in rules.abbreviations
            or key in rules.ending_abbreviations
            or key in rules.number_abbreviations
        ):
            return key
    return word


def _starts_sentence(word: str, rules: LanguageRules) -> bool | None:
    """Is the word a typical sentence opener? None if the language is unknown."""
    if not rules.sentence_starters:
        return None
    return word in rules.sentence_starters


def _is_ordinal_context(
    text: str, start: int, number_start: int, rules: LanguageRules
) -> bool:
    """Is the number before a period an ordinal ("am 10.", "Der 2.", "zum 5.")?

    Only after an article, a contracted preposition or a possessive, or at
    the very start: after other words a number usually counts something
    ("Platz 3.", "stieg auf 12.") and may well end the sentence.
    """
    if number_start > start:
        glued_to = text[number_start - 1]
        if not glued_to.isspace() and glued_to not in _OPENING:
            return False  # "2:1.", "3,5.", "2020/21." count something
    window_start = max(start, number_start - _TOKEN_WINDOW)
    before = text[window_start:number_start].rstrip().rstrip(_OPENING).rstrip()
    if not before:
        return window_start == start  # the paragraph starts with it
    word = _WORD_BEFORE.search(before)
    if word is None:
        return before[-1] in _TERMINAL  # a sentence starts with it
    return word.group(1).lower() in rules.ordinal_determiners


def _continues_in_lowercase(text: str, cut: int, end: int) -> bool:
    """Repairs cuts before a lower-case word ("aus dem 12. Jh. | und wurde"):
    a sentence never starts in lower case in the languages we tune for."""
    position = cut
    while position < end and text[position] in _OPENING:
        position += 1
    return position < end and text[position].islower()


_OMISSION_MARKS = ("[…]", "[...]", "(…)", "(...)")


def _follows_omission_mark(text: str, start: int, cut: int) -> bool:
    """Repairs cuts after an omission mark inside a quotation ("„Wir werden
    […] Verantwortung übernehmen“"): sentencex takes the "…" for a sentence
    end, but the bracketed ellipsis only marks words left out."""
    return text[max(start, cut - 8) : _rstrip_position(text, cut)].endswith(
        _OMISSION_MARKS
    )


def _rstrip_position(text: str, position: int) -> int:
    while position > 0 and text[position - 1].isspace():
        position -= 1
    return position


def _is_terminated(text: str, start: int, cut: int) -> bool:
    """Repairs cuts where nothing ends the sentence before them: colons,
    semicolons and spaced dashes never end a sentence, and a hard line wrap
    inside a paragraph is not a boundary."""
    return _last_visible(text, start, _rstrip_position(text, cut)) in _TERMINAL
