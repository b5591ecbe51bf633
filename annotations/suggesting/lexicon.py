"""Hand-written German grammar lists (our own work; no dataset licence applies).

Verbs of saying, thinking and writing are given by their principal parts and
expanded here into every form a news sentence uses: present, past, Konjunktiv
I, participle, "zu"-infinitive, and for particle verbs both the joined forms
("mitgeteilt", "mitteilte") and the finite stem whose particle stands at the
end of the clause ("teilte ... mit"). The expansion is regular German
morphology; irregular verbs list their third-person present, past and
participle.

What was learned from SpkAtt-2023 (which words are cues how often, which
particle or reflexive a cue verb takes) is NOT here: it lives in
``data/model.json`` under the dataset's licence (``data/LICENSE-SpkAtt-2023.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

# Verbs of saying, reporting, thinking, writing. "|" marks a separable
# particle. Irregular verbs: "infinitive=3sg present,3sg past,participle".
_VERBS = """
sagen ab|sagen an|sagen aus|sagen zu|sagen vorher|sagen nach|sagen
erklären bestätigen betonen berichten ergänzen behaupten meinen glauben
denken=denkt,dachte,gedacht nach|denken=denkt,dachte,gedacht
bekräftigen unterstreichen=unterstreicht,unterstrich,unterstrichen
versichern warnen mahnen kritisieren fordern verlangen ankündigen
an|kündigen mit|teilen bekannt|geben=gibt,gab,gegeben an|geben=gibt,gab,gegeben
zu|geben=gibt,gab,gegeben wieder|geben=gibt,gab,gegeben
ein|räumen hinzu|fügen fest|stellen klar|stellen dar|stellen heraus|stellen
in|frage|stellen
hervor|heben=hebt,hob,gehoben
hin|weisen=weist,wies,gewiesen zurück|weisen=weist,wies,gewiesen
ab|lehnen dementieren widersprechen=widerspricht,widersprach,widersprochen
bestreiten=bestreitet,bestritt,bestritten
beteuern vermuten
an|nehmen=nimmt,nahm,genommen
schätzen ein|schätzen befürchten fürchten hoffen erwarten bezweifeln zweifeln
beklagen bemängeln loben begrüßen verurteilen bedauern
fragen nach|fragen antworten beantworten entgegnen erwidern kontern
melden vermelden verkünden verlauten äußern an|deuten signalisieren
erläutern aus|führen präzisieren zitieren
schreiben=schreibt,schrieb,geschrieben
beschreiben=beschreibt,beschrieb,beschrieben
sprechen=spricht,sprach,gesprochen
versprechen=verspricht,versprach,versprochen
an|sprechen=spricht,sprach,gesprochen
aus|sprechen=spricht,sprach,gesprochen
reden nennen=nennt,nannte,genannt
bezeichnen rufen=ruft,rief,gerufen auf|rufen=ruft,rief,gerufen
an|rufen=ruft,rief,gerufen
wissen=weiß,wusste,gewusst
finden=findet,fand,gefunden
heißen=heißt,hieß,geheißen
raten=rät,riet,geraten
empfehlen=empfiehlt,empfahl,empfohlen
verraten=verrät,verriet,verraten
vor|schlagen=schlägt,schlug,geschlagen
vor|werfen=wirft,warf,geworfen
drohen an|drohen
zeigen=zeigt,zeigte,gezeigt
überzeugen
unterrichten informieren
argumentieren kommentieren prognostizieren resümieren
spekulieren befürworten
ein|gestehen=gesteht,gestand,gestanden
gestehen=gesteht,gestand,gestanden
zu|stimmen bei|pflichten
ein|wenden=wendet,wandte,gewandt
klagen an|klagen beschuldigen
vor|rechnen nach|weisen=weist,wies,gewiesen
zu|sichern
ermahnen
mut|maßen
bekennen=bekennt,bekannte,bekannt
beharren insistieren
auf|fordern
ab|streiten=streitet,stritt,gestritten
ein|fordern
"""

# Verbs of saying that take a reflexive ("äußerte sich", "sprach sich ... aus").
REFLEXIVE_LEMMAS = frozenset(
    [
        "äußern",
        "aussprechen",
        "beschweren",
        "erkundigen",
        "berufen",
        "zeigen",
        "einsetzen",
        "wenden",
        "beklagen",
    ]
)

# "ließ ... durchblicken": lassen with these infinitives is a cue of two parts.
LASSEN_FORMS = frozenset(
    [
        "lassen",
        "lässt",
        "ließ",
        "ließen",
        "ließe",
        "ließest",
        "lasse",
        "last",
        "läßt",
        "ließt",
        "gelassen",
    ]
)
LASSEN_INFINITIVES = frozenset(
    [
        "durchblicken",
        "wissen",
        "verlauten",
        "erkennen",
        "ausrichten",
        "mitteilen",
        "verkünden",
    ]
)

# Prepositional cues: the source follows "laut" and "nach Angaben/Ansicht ...",
# precedes "zufolge".
PREPOSITION_BEFORE_SOURCE = frozenset({"laut", "gemäß"})
PREPOSITION_AFTER_SOURCE = frozenset({"zufolge"})
NACH_NOUNS = frozenset(
    [
        "angaben",
        "ansicht",
        "auffassung",
        "einschätzung",
        "meinung",
        "worten",
        "informationen",
        "darstellung",
        "aussage",
        "aussagen",
        "überzeugung",
        "berechnungen",
        "schätzungen",
        "erkenntnissen",
    ]
)

# Nouns that name a speech or thought event ("Forderung", "Kritik").
SPEECH_NOUNS = frozenset(
    [
        "aussage",
        "aussagen",
        "äußerung",
        "äußerungen",
        "erklärung",
        "erklärungen",
        "mitteilung",
        "forderung",
        "forderungen",
        "kritik",
        "warnung",
        "warnungen",
        "ankündigung",
        "appell",
        "vorwurf",
        "vorwürfe",
        "angaben",
        "ansicht",
        "auffassung",
        "meinung",
        "einschätzung",
        "behauptung",
        "behauptungen",
        "bericht",
        "berichte",
        "zitat",
        "interview",
        "rede",
        "stellungnahme",
        "dementi",
        "frage",
        "fragen",
        "antwort",
        "zusage",
        "versprechen",
        "vorschlag",
        "botschaft",
        "drohung",
    ]
)

# Verbs of thinking and perceiving that attribute something only together
# with their content ("ich finde, dass ..."); without it they are other
# senses ("fand statt", "Beachtung finden", "Trump zu überzeugen").
NEEDS_CONTENT = frozenset(
    [
        "finden",
        "glauben",
        "denken",
        "nachdenken",
        "meinen",
        "wissen",
        "erwarten",
        "hoffen",
        "fürchten",
        "befürchten",
        "zeigen",
        "überzeugen",
        "heißen",
        "schätzen",
        "annehmen",
        "vermuten",
    ]
)
DEMONSTRATIVES = frozenset(["dies", "das", "dieses", "diese", "dieser", "es", "was"])

SUBORDINATORS = frozenset({"dass", "daß", "ob"})
W_WORDS = frozenset(
    [
        "wer",
        "was",
        "wie",
        "wo",
        "wann",
        "warum",
        "weshalb",
        "wieso",
        "welche",
        "welcher",
        "welches",
        "welchen",
        "wohin",
        "woher",
        "inwiefern",
        "wieviel",
    ]
)

PERSONAL_PRONOUNS = frozenset(
    ["ich", "du", "er", "sie", "es", "wir", "ihr", "man", "jemand", "niemand", "wer"]
)
OBJECT_PRONOUNS = frozenset(
    ["mich", "mir", "dich", "dir", "ihn", "ihm", "uns", "euch", "ihnen"]
)
REFLEXIVES = frozenset(["sich", "mich", "mir", "uns", "dich", "dir", "euch"])
DETERMINERS = frozenset(
    [
        "der",
        "die",
        "das",
        "des",
        "dem",
        "den",
        "ein",
        "eine",
        "einer",
        "eines",
        "einem",
        "einen",
        "kein",
        "keine",
        "keiner",
        "keines",
        "keinem",
        "keinen",
        "dieser",
        "diese",
        "dieses",
        "diesem",
        "diesen",
        "jener",
        "jene",
        "mein",
        "meine",
        "meiner",
        "meines",
        "meinem",
        "meinen",
        "unser",
        "unsere",
        "unserer",
        "unseres",
        "unserem",
        "unseren",
        "sein",
        "seine",
        "seiner",
        "seines",
        "seinem",
        "seinen",
        "ihr",
        "ihre",
        "ihrer",
        "ihres",
        "ihrem",
        "ihren",
    ]
)
POSSESSIVES = frozenset(
    [
        "mein",
        "meine",
        "meiner",
        "meines",
        "meinem",
        "meinen",
        "unser",
        "unsere",
        "unserer",
        "unseres",
        "unserem",
        "unseren",
        "sein",
        "seine",
        "seiner",
        "seines",
        "seinem",
        "seinen",
        "ihr",
        "ihre",
        "ihrer",
        "ihres",
        "ihrem",
        "ihren",
        "dein",
        "deine",
        "euer",
        "eure",
    ]
)
PREPOSITIONS = frozenset(
    [
        "an",
        "auf",
        "aus",
        "bei",
        "bis",
        "durch",
        "für",
        "gegen",
        "in",
        "mit",
        "nach",
        "ohne",
        "seit",
        "über",
        "um",
        "unter",
        "von",
        "vor",
        "zu",
        "zum",
        "zur",
        "zwischen",
        "im",
        "am",
        "ins",
        "vom",
        "beim",
        "trotz",
        "wegen",
        "während",
    ]
)

# Third-person Konjunktiv I forms that differ from the indicative, most
# frequent first; "sei" and "seien" are the clearest signs of reported speech.
KONJUNKTIV_I = frozenset(
    [
        "sei",
        "seien",
        "seiest",
        "habe",
        "werde",
        "könne",
        "müsse",
        "solle",
        "wolle",
        "dürfe",
        "möge",
        "wisse",
        "gebe",
        "liege",
        "stehe",
        "gehe",
        "komme",
        "bleibe",
        "fehle",
        "brauche",
        "zeige",
        "halte",
        "sehe",
        "trage",
        "lasse",
        "führe",
        "mache",
        "plane",
        "arbeite",
        "erwarte",
        "verfüge",
        "gelte",
        "diene",
        "bestehe",
        "drohe",
        "betrage",
        "spiele",
        "stelle",
        "setze",
        "handle",
        "handele",
        "lege",
        "bringe",
        "finde",
        "nehme",
        "treffe",
        "sitze",
        "wachse",
        "falle",
        "laufe",
        "beginne",
        "bedeute",
        "erfordere",
        "unterstütze",
        "verhindere",
        "versuche",
        "verstoße",
        "wünsche",
        "hoffe",
        "denke",
        "glaube",
        "erkläre",
        "kenne",
        "gehöre",
        "entspreche",
        "spreche",
    ]
)
# These are also first-person indicative ("ich habe"): Konjunktiv I only
# without "ich" next to them. "sei", "seien" are never indicative.
KONJUNKTIV_I_UNAMBIGUOUS = frozenset({"sei", "seien", "seiest"})

_INSEPARABLE = ("be", "er", "ver", "ent", "zer", "ge", "emp", "miss", "über", "unter")


@dataclass(frozen=True)
class VerbForm:
    lemmas: frozenset[str]
    # Particles this finite form may leave at the end of its clause ("gab ...
    # bekannt", "gab ... zu"); empty for a form that is never separated.
    particles: frozenset[str]
    complete: bool  # a cue on its own too ("sprach" as well as "sprach ... an")


def _weak_forms(stem: str, prefixed: bool) -> tuple[list[str], list[str], str]:
    joint = "e" if stem.endswith(("t", "d", "chn", "gn", "ffn")) else ""
    present = [stem + "e", stem + joint + "st", stem + joint + "t", stem + "en"]
    past_stem = stem + joint + "te"
    past = [past_stem, past_stem + "n", past_stem + "st", past_stem + "t"]
    participle = ("" if prefixed else "ge") + stem + joint + "t"
    return present, past, participle


def _expand(entry: str) -> list[tuple[str, str, str]]:
    """(form, lemma, particle left at the clause end or "") for one entry."""
    head, _, irregular = entry.partition("=")
    parts = head.split("|")
    particle = "".join(parts[:-1])
    base = parts[-1]
    lemma = particle + base
    stem = base[:-2] if base.endswith("en") else base[:-1]
    prefixed = base.startswith(_INSEPARABLE) or base.endswith("ieren")
    if irregular:
        present3, past3, participle = irregular.split(",")
        if participle.startswith("ge") and prefixed and not base.startswith("ge"):
            participle = participle[2:]
        past_plural = past3 + ("n" if past3.endswith("e") else "en")
        present = [stem + "e", present3, base, stem + "t"]
        if present3.endswith("t"):
            present.append(present3[:-1] + "st")
        past = [past3, past_plural, past3 + "st", past3 + "t"]
    else:
        present, past, participle = _weak_forms(stem, prefixed)
        present.append(base)
    finite = present + past
    if not particle:
        return [(form, lemma, "") for form in [*finite, participle, "zu" + base]]
    joined = [particle + form for form in finite]
    joined += [particle + base, particle + "zu" + base, particle + participle]
    return [(form, lemma, particle) for form in finite] + [
        (form, lemma, "") for form in joined
    ]


def _build_verbs() -> dict[str, VerbForm]:
    lemmas: dict[str, set[str]] = {}
    particles: dict[str, set[str]] = {}
    complete: dict[str, bool] = {}
    for entry in _VERBS.split():
        for form, lemma, particle in _expand(entry):
            lemmas.setdefault(form, set()).add(lemma)
            particles.setdefault(form, set())
            if particle:
                particles[form].add(particle)
            else:
                complete[form] = True
    return {
        form: VerbForm(
            frozenset(lemmas[form]),
            frozenset(particles[form]),
            complete.get(form, False),
        )
        for form in lemmas
    }


VERB_FORMS: dict[str, VerbForm] = _build_verbs()
# Particles that a finite cue verb may leave at the end of its clause.
PARTICLES = frozenset(p for form in VERB_FORMS.values() for p in form.particles)


def category(lower: str) -> str:
    """The grammar list a lowercase word belongs to ("" when none)."""
    if lower in VERB_FORMS:
        return "verb" if VERB_FORMS[lower].complete else "particle_verb"
    if lower in PREPOSITION_BEFORE_SOURCE or lower in PREPOSITION_AFTER_SOURCE:
        return "preposition"
    if lower in SPEECH_NOUNS:
        return "noun"
    if lower in LASSEN_FORMS:
        return "lassen"
    return ""
