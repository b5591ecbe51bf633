"""Hand-written German grammar lists (our own work; no dataset licence applies).

Verbs of saying, thinking and writing are given by their principal parts and
expanded here into every form a news sentence uses: present, past, Konjunktiv
I, participle, "zu"-infinitive, and for particle verbs both the joined forms
("mitgeteilt", "mitteilte") and the finite stem whose particle stands at the
end of the clause ("teilte ... mit"). The expansion is regular German
morphology; irregular verbs list their third-person present, past and
participle.

A wider circle of words (``_WIDE_VERBS``, ``_WIDE_NOUNS``) is no grammar
rule: it only gives the cue tagger a category for words it never saw in
training.

What was learned from SpkAtt-2023 (which words are cues how often, which
particle or reflexive a cue verb takes) is NOT here: it lives in
``data/model.json`` under the dataset's licence (``data/LICENSE-SpkAtt-2023.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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


# A wider circle of words for speaking, writing, thinking, judging, asking,
# demanding, agreeing and disputing, and the nouns of such acts and of the
# documents that carry them (our own lists, from general German usage). They
# are no grammar rule: the cue tagger sees them as a feature (categories
# "wverb", "wptc", "wnoun", "wtail") and learns from the training speeches how
# far to trust them, so a cue word it never saw can still be recognised.
_WIDE_VERBS = """
ab|sprechen=spricht,sprach,gesprochen be|sprechen=spricht,sprach,gesprochen
zu|sprechen=spricht,sprach,gesprochen nach|sprechen=spricht,sprach,gesprochen
dagegen|sprechen=spricht,sprach,gesprochen
mit|sprechen=spricht,sprach,gesprochen vor|sprechen=spricht,sprach,gesprochen
weiter|sagen dahin|sagen vorher|sagen voraus|sagen erzählen erwähnen
benennen=benennt,benannte,benannt betiteln bemerken an|merken vermerken äußern
bekunden beteuern wiederholen zusammen|fassen=fasst,fasste,gefasst
rekapitulieren zitieren vor|lesen=liest,las,gelesen
verlesen=verliest,verlas,verlesen vor|tragen=trägt,trug,getragen präsentieren
vor|stellen vor|legen ein|bringen=bringt,brachte,gebracht
vor|bringen=bringt,brachte,gebracht unterbreiten an|regen erläutern aus|führen
dar|legen dar|stellen schildern beschreiben=beschreibt,beschrieb,beschrieben
skizzieren umreißen=umreißt,umriss,umrissen an|reißen=reißt,riss,gerissen
auf|zeigen verdeutlichen veranschaulichen illustrieren klar|machen
deutlich|machen definieren formulieren aus|formulieren interpretieren deuten
aus|legen einordnen ein|ordnen bewerten beurteilen urteilen verurteilen
ein|schätzen prognostizieren vorher|sehen=sieht,sah,gesehen antworten
beantworten erwidern entgegnen kontern replizieren fragen nach|fragen an|fragen
befragen erfragen hinterfragen erkundigen bitten=bittet,bat,gebeten
erbitten=erbittet,erbat,erbeten an|flehen flehen betteln fordern ein|fordern
an|fordern heraus|verlangen verlangen beantragen an|mahnen ab|mahnen auf|fordern
appellieren auf|rufen=ruft,rief,gerufen zu|rufen=ruft,rief,gerufen drängen
pochen insistieren beharren raten=rät,riet,geraten ab|raten=rät,riet,geraten
empfehlen=empfiehlt,empfahl,empfohlen vor|schlagen=schlägt,schlug,geschlagen
ermutigen ermuntern überreden überzeugen warnen verwarnen mahnen ermahnen drohen
an|drohen bedrohen versprechen=verspricht,versprach,versprochen zu|sagen
zu|sichern versichern garantieren geloben schwören=schwört,schwor,geschworen
beschwören=beschwört,beschwor,beschworen bekräftigen bestätigen
bestreiten=bestreitet,bestritt,bestritten ab|streiten=streitet,stritt,gestritten
leugnen dementieren verneinen bejahen zu|geben=gibt,gab,gegeben ein|räumen
ein|gestehen=gesteht,gestand,gestanden zu|gestehen=gesteht,gestand,gestanden
bekennen=bekennt,bekannte,bekannt offenbaren enthüllen
verraten=verrät,verriet,verraten
verschweigen=verschweigt,verschwieg,verschwiegen verheimlichen verschleiern
beschönigen verharmlosen klein|reden schlecht|reden schön|reden kaputt|reden
herbei|reden zer|reden hinein|reden reden sprechen=spricht,sprach,gesprochen
plaudern schwatzen faseln schwadronieren philosophieren fabulieren polemisieren
lamentieren jammern klagen beklagen schimpfen beschimpfen meckern nörgeln
schreien=schreit,schrie,geschrien dazwischen|rufen=ruft,rief,gerufen
dazwischen|schreien=schreit,schrie,geschrien krakeelen brüllen flüstern tuscheln
loben preisen=preist,pries,gepriesen rühmen würdigen honorieren danken bedanken
gratulieren beglückwünschen begrüßen entschuldigen kritisieren bemängeln
beanstanden rügen tadeln monieren an|prangern geißeln attackieren
an|greifen=greift,griff,gegriffen vor|werfen=wirft,warf,geworfen beschuldigen
bezichtigen an|klagen unterstellen verleumden beleidigen verhöhnen verspotten
verunglimpfen diffamieren hetzen verunsichern protestieren
widersprechen=widerspricht,widersprach,widersprochen
ein|wenden=wendet,wandte,gewandt ab|lehnen zurück|weisen=weist,wies,gewiesen
verweigern weigern zu|stimmen bei|pflichten befürworten plädieren
werben=wirbt,warb,geworben ein|treten=tritt,trat,getreten argumentieren
begründen rechtfertigen verteidigen behaupten postulieren proklamieren
propagieren predigen unterstreichen=unterstreicht,unterstrich,unterstrichen
betonen hervor|heben=hebt,hob,gehoben heraus|stellen klar|stellen
richtig|stellen fest|stellen konstatieren diagnostizieren attestieren
bescheinigen bezeugen belegen beweisen=beweist,bewies,bewiesen
nach|weisen=weist,wies,gewiesen dokumentieren protokollieren notieren
auf|schreiben=schreibt,schrieb,geschrieben
nieder|schreiben=schreibt,schrieb,geschrieben
schreiben=schreibt,schrieb,geschrieben
fest|schreiben=schreibt,schrieb,geschrieben
vor|schreiben=schreibt,schrieb,geschrieben
hinein|schreiben=schreibt,schrieb,geschrieben verfassen veröffentlichen
publizieren verbreiten melden vermelden verkünden verlautbaren an|kündigen
bekannt|geben=gibt,gab,gegeben bekannt|machen informieren unterrichten
auf|klären hin|weisen=weist,wies,gewiesen verweisen=verweist,verwies,verwiesen
kommentieren erklären signalisieren an|deuten an|spielen suggerieren vor|gaukeln
vor|täuschen lügen=lügt,log,gelogen an|lügen=lügt,log,gelogen
belügen=belügt,belog,belogen übertreiben=übertreibt,übertrieb,übertrieben
hoch|stilisieren stilisieren übersetzen spekulieren mutmaßen vermuten ahnen
befürchten fürchten hoffen wünschen erwarten glauben meinen
denken=denkt,dachte,gedacht finden=findet,fand,gefunden überlegen
nach|denken=denkt,dachte,gedacht bedenken=bedenkt,bedachte,bedacht
erwägen=erwägt,erwog,erwogen ab|wägen=wägt,wog,gewogen
wissen=weiß,wusste,gewusst erkennen=erkennt,erkannte,erkannt
an|erkennen=erkennt,erkannte,erkannt ein|sehen=sieht,sah,gesehen
begreifen=begreift,begriff,begriffen verstehen=versteht,verstand,verstanden
wahr|nehmen=nimmt,nahm,genommen beobachten erfahren=erfährt,erfuhr,erfahren
vergegenwärtigen verinnerlichen zweifeln bezweifeln an|zweifeln bedauern
akzeptieren respektieren erlauben genehmigen verbieten=verbietet,verbot,verboten
untersagen an|ordnen verordnen befehlen=befiehlt,befahl,befohlen
an|weisen=weist,wies,gewiesen beschließen=beschließt,beschloss,beschlossen
vereinbaren verabreden aus|handeln verhandeln nach|verhandeln diskutieren
debattieren erörtern beraten=berät,beriet,beraten aus|diskutieren ab|stimmen
unterschreiben=unterschreibt,unterschrieb,unterschrieben unterzeichnen
ratifizieren kündigen an|hören zu|hören hören lesen=liest,las,gelesen
kommunizieren aus|drücken wieder|geben=gibt,gab,gegeben berichten
an|bieten=bietet,bot,geboten ein|laden=lädt,lud,geladen übermitteln posten
twittern prophezeien titulieren widerrufen=widerruft,widerrief,widerrufen
beschwichtigen bejubeln verreißen=verreißt,verriss,verrissen
schelten=schilt,schalt,gescholten brandmarken denunzieren verdächtigen ersuchen
insinuieren interviewen verhören vernehmen=vernimmt,vernahm,vernommen an|lasten
an|kreiden vor|halten=hält,hielt,gehalten negieren aus|rufen=ruft,rief,gerufen
"""

_WIDE_NOUNS = """
aussage äußerung erklärung mitteilung meldung nachricht bericht kommentar
anmerkung bemerkung hinweis=hinweise verweis=verweise zitat rede=reden ansprache
redebeitrag=redebeiträge wortbeitrag=wortbeiträge beitrag=beiträge
vortrag=vorträge debatte diskussion aussprache gespräch=gespräche unterhaltung
dialog verhandlung beratung anhörung befragung interview umfrage frage anfrage
zwischenfrage antwort kritik vorwurf=vorwürfe beschuldigung anschuldigung
bezichtigung anklage lob dank glückwunsch=glückwünsche gratulation
entschuldigung bitte appell aufruf aufforderung forderung wunsch=wünsche
antrag=anträge gesetzentwurf=gesetzentwürfe entwurf=entwürfe vorlage
vorschlag=vorschläge empfehlung ratschlag=ratschläge anregung warnung mahnung
ermahnung drohung androhung versprechen zusage absage zusicherung schwur=schwüre
bekenntnis=bekenntnisse geständnis=geständnisse dementi widerspruch=widersprüche
einwand=einwände einspruch=einsprüche protest ablehnung zustimmung absprache
vereinbarung abkommen vertrag=verträge beschluss=beschlüsse verordnung anordnung
anweisung weisung befehl verbot erlaubnis=erlaubnisse genehmigung gesetz
vorschrift bestimmung richtlinie urteil bescheid gutachten stellungnahme
positionspapier papier studie analyse prognose schätzung einschätzung bewertung
beurteilung meinung ansicht auffassung überzeugung eindruck=eindrücke vermutung
annahme befürchtung sorge hoffnung erwartung zweifel gedanke überlegung
erkenntnis=erkenntnisse einsicht kenntnis=kenntnisse beobachtung feststellung
fazit schlussfolgerung argument argumentation begründung behauptung these
darstellung beschreibung schilderung erzählung narrativ botschaft signal
ankündigung bekanntgabe verkündung veröffentlichung brief schreiben tweet
zwischenruf kurzintervention ordnungsruf hetze propaganda parole lüge
falschmeldung gerücht polemik beleidigung diffamierung rüge tadel klage
beschwerde petition votum plädoyer bekundung beteuerung versicherung
klarstellung richtigstellung rückmeldung auskunft=auskünfte information angabe
protokoll dokumentation aufzeichnung notiz mitschrift
koalitionsvertrag=koalitionsverträge regierungserklärung sondierung formulierung
wortlaut interpretation definition wortmeldung beschlussempfehlung
änderungsantrag=änderungsanträge gesetzesvorlage unterstellung verleumdung
beschimpfung einladung verlautbarung bekanntmachung telefonat unterredung
statement e-mail predigt
"""


def _noun_forms(entry: str) -> list[str]:
    """A noun's singular and plural with genitive and dative endings; the
    plural is given after "=" when it is not a regular one."""
    base, _, plural = entry.partition("=")
    if plural:
        plurals = [plural]
    elif base.endswith(("ung", "ion", "heit", "keit", "schaft", "tät", "ik")):
        plurals = [base + "en"]
    elif base.endswith(("e", "el", "er")):
        plurals = [base + "n"]
    else:
        plurals = [base + "e", base + "en", base + "s"]
    forms = [base, base + "s", base + "es"]
    for form in plurals:
        forms.append(form)
        if not form.endswith(("n", "s")):
            forms.append(form + "n")
    return forms


def _build_wide() -> tuple[dict[str, str], frozenset[str], frozenset[str]]:
    verbs: dict[str, str] = {}
    for entry in _WIDE_VERBS.split():
        for form, _, particle in _expand(entry):
            if not particle or verbs.get(form) == "wverb":
                verbs[form] = "wverb"
            else:
                verbs[form] = "wptc"
    nouns = frozenset(
        form for entry in _WIDE_NOUNS.split() for form in _noun_forms(entry)
    )
    tails = frozenset(
        form
        for form in (
            [f for f, kind in verbs.items() if kind == "wverb"]
            + [f for f, v in VERB_FORMS.items() if v.complete]
            + list(nouns)
            + list(SPEECH_NOUNS)
        )
        if len(form) >= 5
    )
    return verbs, nouns, tails


WIDE_VERB_FORMS, WIDE_NOUN_FORMS, _WIDE_TAILS = _build_wide()


@lru_cache(maxsize=65536)
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
    if lower in WIDE_VERB_FORMS:
        return WIDE_VERB_FORMS[lower]
    if lower in WIDE_NOUN_FORMS:
        return "wnoun"
    # A compound ending in one of those words: "Regierungserklärung",
    # "kleinreden", "Beistandsversprechen".
    tails = _WIDE_TAILS
    for k in range(3, len(lower) - 4):
        if lower[k:] in tails:
            return "wtail"
    return ""
