"""The default annotation scheme (shared/label-scheme.md) as data. No Django import.

``services.load_scheme`` writes it into the database; managers edit it in the admin
afterwards. Codes are stable (the export uses them); ``mappings`` name the matching
label of each published dataset so the codebook can line the data up with them.
Keys: claim 1-4, frames letters (j/k/? stay free for navigation and help), stance
and attribution keys are used after a target or attribution is chosen, so they only
need to be unique inside their own dimension.
"""

from __future__ import annotations

SCHEME_SLUG = "default"
SCHEME_VERSION = "1"
SCHEME_NAME = "Claim, source, stance and frames (default)"

# (code, name_de, name_en, key, definition, example, mappings)
CLAIM_LABELS = [
    (
        "checkworthy",
        "Prüfwürdig",
        "Check-worthy claim",
        "1",
        "A verifiable statement of fact that the public would want checked "
        "(numbers, events, who did/said what, causal claims).",
        "Am 10. Mai trafen führende Politiker aus Frankreich ... in Kiew ein.",
        {"claimbuster": "CFS", "checkthat": "yes"},
    ),
    (
        "factual",
        "Faktisch",
        "Factual, not check-worthy",
        "2",
        "A verifiable statement of fact, but trivial or not of public interest.",
        "Die Sitzung beginnt um 9.30 Uhr.",
        {"claimbuster": "UFS", "checkthat": "no"},
    ),
    (
        "opinion",
        "Meinung",
        "Opinion",
        "3",
        "An evaluation, prediction, speculation, demand or rhetorical statement; "
        "not verifiable as stated.",
        "Es scheint, als würde sich die öffentliche Wahrnehmung nun drehen.",
        {"claimbuster": "NFS", "checkthat": "no"},
    ),
    (
        "none",
        "Keine Behauptung",
        "No claim",
        "4",
        "No claim: questions, headings without a proposition, meta text.",
        "Schauen wir uns die Details an.",
        {"claimbuster": "NFS", "checkthat": "no"},
    ),
]

SOURCE_TYPE_LABELS = [
    (
        "author",
        "Autor",
        "Author",
        "a",
        "The article's own voice, first person included; "
        "the default when nothing is cited.",
        "Ich bin schon lange der Meinung ...",
        {},
    ),
    (
        "person",
        "Person",
        "Person",
        "p",
        "A named individual (politician, expert, witness).",
        "US-Außenminister Marco Rubio bestätigte ...",
        {},
    ),
    (
        "institution",
        "Institution",
        "Institution",
        "i",
        "A government, ministry, party, army, company, NGO, or its spokesperson acting "
        "for it.",
        "Der Kreml teilte mit ...",
        {},
    ),
    (
        "media",
        "Medium",
        "Media",
        "m",
        "Another news outlet.",
        "Die Financial Times berichtete ...",
        {},
    ),
    (
        "document",
        "Dokument",
        "Document",
        "d",
        "A report, study, law, treaty, statistics, leak, social-media post.",
        "Laut dem Bericht ...",
        {},
    ),
    (
        "anonymous",
        "Anonym",
        "Anonymous",
        "n",
        "Unnamed or vague sources (Berichte, Insider, Experten, es heißt, man).",
        "Die seit Monaten kursierenden Berichte ...",
        {},
    ),
]

# Keys: the annotate screen takes type and form keys in one mode, so they differ
# from the source type keys (a p i m d n): q quote (direct), k Konjunktiv
# (indirect), f free indirect, r reported, x mixed.
FORM_LABELS = [
    (
        "direct",
        "Direkt",
        "Direct",
        "q",
        "The source's words verbatim, usually in „…“, »…«, “…”.",
        "„Wir werden das schaffen“, sagte sie.",
        {"spkatt2023": "Direct"},
    ),
    (
        "indirect",
        "Indirekt",
        "Indirect",
        "k",
        "Paraphrase governed by a cue: dass/ob/w-clause, colon, Konjunktiv I, "
        '"laut X", "X zufolge", "nach Angaben von X".',
        "Rubio erklärte, dass die Sicherheitsgarantien ... vorsehen würden.",
        {"spkatt2023": "Indirect"},
    ),
    (
        "free_indirect",
        "Frei indirekt",
        "Free indirect",
        "f",
        'No cue in the sentence; Konjunktiv I or reportative "sollen" continuing an '
        "earlier attribution.",
        "Der einzige Streitpunkt sei Donezk.",
        {"spkatt2023": "FreeIndirect"},
    ),
    (
        "reported",
        "Berichtet",
        "Reported",
        "r",
        "A speech act mentioned or summarised without its content.",
        "X forderte eine Waffenruhe.",
        {"spkatt2023": "Reported"},
    ),
    (
        "mixed",
        "Gemischt",
        "Mixed",
        "x",
        "Indirect paraphrase containing a partial direct quotation.",
        "Er sprach von einer “historischen Chance”, die man nutzen müsse.",
        {"spkatt2023": "Indirect+Direct"},
    ),
]

STANCE_LABELS = [
    (
        "favor",
        "Dafür",
        "Favor",
        "f",
        "The holder supports the target, directly or by supporting its allies / "
        "opposing its opponents.",
        "",
        {"semeval2016": "FAVOR"},
    ),
    (
        "against",
        "Dagegen",
        "Against",
        "a",
        "The holder opposes or discredits the target, directly or indirectly.",
        "",
        {"semeval2016": "AGAINST"},
    ),
    (
        "none",
        "Keine",
        "None",
        "n",
        "Neither can be inferred (the target is merely mentioned, or not at all).",
        "",
        {"semeval2016": "NONE"},
    ),
]

FRAME_LABELS = [
    (
        "economic",
        "Wirtschaft",
        "Economic",
        "e",
        "Costs, benefits, financial implications.",
        "1.0",
        "Economic",
    ),
    (
        "capacity_resources",
        "Kapazität und Ressourcen",
        "Capacity and resources",
        "r",
        "Availability or lack of resources (weapons, money, people, time).",
        "2.0",
        "Capacity_and_resources",
    ),
    (
        "morality",
        "Moral",
        "Morality",
        "m",
        "Religious or ethical implications, duty, honour.",
        "3.0",
        "Morality",
    ),
    (
        "fairness_equality",
        "Fairness und Gleichheit",
        "Fairness and equality",
        "g",
        "Balance of rights, equal or unequal treatment.",
        "4.0",
        "Fairness_and_equality",
    ),
    (
        "legality",
        "Rechtmäßigkeit",
        "Legality",
        "l",
        "Laws, rights, constitutionality, court rulings, legal obligations.",
        "5.0",
        "Legality_Constitutionality_and_jurisprudence",
    ),
    (
        "policy",
        "Politikgestaltung",
        "Policy prescription",
        "o",
        "Policy proposals and evaluation of whether policies work.",
        "6.0",
        "Policy_prescription_and_evaluation",
    ),
    (
        "crime_punishment",
        "Kriminalität und Strafe",
        "Crime and punishment",
        "c",
        "Violation of law, enforcement, sanctions as punishment.",
        "7.0",
        "Crime_and_punishment",
    ),
    (
        "security_defense",
        "Sicherheit und Verteidigung",
        "Security and defence",
        "s",
        "Threats to security and defence, military action, protection.",
        "8.0",
        "Security_and_defense",
    ),
    (
        "health_safety",
        "Gesundheit und Sicherheit",
        "Health and safety",
        "h",
        "Health care, casualties, public safety.",
        "9.0",
        "Health_and_safety",
    ),
    (
        "quality_of_life",
        "Lebensqualität",
        "Quality of life",
        "q",
        "Effects on people's wealth, mobility, daily life.",
        "10.0",
        "Quality_of_life",
    ),
    (
        "cultural_identity",
        "Kulturelle Identität",
        "Cultural identity",
        "i",
        "Traditions, customs, values of a group or nation.",
        "11.0",
        "Cultural_identity",
    ),
    (
        "public_opinion",
        "Öffentliche Meinung",
        "Public opinion",
        "u",
        "Attitudes of the public, polls, protests, headlines dominating.",
        "12.0",
        "Public_opinion",
    ),
    (
        "political",
        "Politik und Macht",
        "Political",
        "p",
        "Political strategy, power, negotiation, partisanship, diplomacy as contest.",
        "13.0",
        "Political",
    ),
    (
        "external_reputation",
        "Außenwirkung und Beziehungen",
        "External reputation",
        "x",
        "A country's standing and relations with other nations, alliances.",
        "14.0",
        "External_regulation_and_reputation",
    ),
    ("other", "Sonstiges", "Other", "z", "None of the above.", "15.0", ""),
]

# (code, group, SemEval-2023 label)
TECHNIQUES = [
    ("name_calling", "Attack on reputation", "Name_Calling-Labeling"),
    ("guilt_by_association", "Attack on reputation", "Guilt_by_Association"),
    ("doubt", "Attack on reputation", "Doubt"),
    ("appeal_to_hypocrisy", "Attack on reputation", "Appeal_to_Hypocrisy"),
    ("questioning_reputation", "Attack on reputation", "Questioning_the_Reputation"),
    ("flag_waving", "Justification", "Flag_Waving"),
    ("appeal_to_authority", "Justification", "Appeal_to_Authority"),
    ("appeal_to_popularity", "Justification", "Appeal_to_Popularity"),
    ("appeal_to_values", "Justification", "Appeal_to_Values"),
    ("appeal_to_fear", "Justification", "Appeal_to_Fear-Prejudice"),
    ("straw_man", "Distraction", "Straw_Man"),
    ("red_herring", "Distraction", "Red_Herring"),
    ("whataboutism", "Distraction", "Whataboutism"),
    ("causal_oversimplification", "Simplification", "Causal_Oversimplification"),
    ("false_dilemma", "Simplification", "False_Dilemma-No_Choice"),
    (
        "consequential_oversimplification",
        "Simplification",
        "Consequential_Oversimplification",
    ),
    ("slogans", "Call", "Slogans"),
    ("conversation_killer", "Call", "Conversation_Killer"),
    ("appeal_to_time", "Call", "Appeal_to_Time"),
    ("loaded_language", "Manipulative wording", "Loaded_Language"),
    ("obfuscation", "Manipulative wording", "Obfuscation-Vagueness-Confusion"),
    ("exaggeration_minimisation", "Manipulative wording", "Exaggeration-Minimisation"),
    ("repetition", "Manipulative wording", "Repetition"),
]
# Techniques are chosen inside their panel (T opens it); A-W, uppercase, so they
# never collide with the frame keys.
TECHNIQUE_KEYS = "ABCDEFGHIJKLMNOPQRSTUVW"

SUBJECTIVITY_LABELS = [
    (
        "subj",
        "Subjektiv",
        "Subjective",
        "v",
        "The sentence expresses its author's subjective view.",
        "",
        {"checkthat_subjectivity": "SUBJ"},
    ),
    (
        "obj",
        "Objektiv",
        "Objective",
        "b",
        "The sentence presents the topic objectively.",
        "",
        {"checkthat_subjectivity": "OBJ"},
    ),
]

# Stance targets proposed for the seed corpus (X-Stance style yes/no questions).
SEED_STANCE_TARGETS = [
    ("russia", "Russland/Putin", "Unterstützt der Text Russland bzw. Putin?", "5"),
    (
        "ukraine",
        "Ukraine/Selenskyj",
        "Unterstützt der Text die Ukraine bzw. Selenskyj?",
        "6",
    ),
    ("usa", "USA/Trump", "Unterstützt der Text die USA bzw. Trump?", "7"),
    ("europe", "Westeuropa/EU", "Unterstützt der Text Westeuropa bzw. die EU?", "8"),
    ("nato", "NATO", "Unterstützt der Text die NATO?", "9"),
    ("germany", "Deutschland", "Unterstützt der Text Deutschland?", "0"),
]


def _plain(labels: list[tuple]) -> list[dict]:
    return [
        {
            "code": code,
            "name_de": name_de,
            "name_en": name_en,
            "key": key,
            "definition": definition,
            "example": example,
            "mappings": mappings,
        }
        for code, name_de, name_en, key, definition, example, mappings in labels
    ]


def default_scheme() -> dict:
    """The whole scheme as one plain dict (dimensions in display order)."""
    frames = [
        {
            "code": code,
            "name_de": name_de,
            "name_en": name_en,
            "key": key,
            "definition": definition,
            "example": "",
            "mappings": {"mfc": mfc, **({"semeval2023": semeval} if semeval else {})},
        }
        for code, name_de, name_en, key, definition, mfc, semeval in FRAME_LABELS
    ]
    techniques = [
        {
            "code": code,
            "name_de": semeval.replace("_", " "),
            "name_en": semeval.replace("_", " "),
            "key": key,
            "definition": f"{group}: {semeval.replace('_', ' ')} "
            "(SemEval-2023 Task 3).",
            "example": "",
            "mappings": {"semeval2023": semeval, "group": group},
        }
        for (code, group, semeval), key in zip(TECHNIQUES, TECHNIQUE_KEYS, strict=True)
    ]
    return {
        "slug": SCHEME_SLUG,
        "version": SCHEME_VERSION,
        "name": SCHEME_NAME,
        "description": "ClaimBuster/CheckThat! claims, PARC/SpkAtt-2023 attribution, "
        "SemEval-2016 stance, Media Frames Corpus frames, SemEval-2023 techniques, "
        "CheckThat! subjectivity.",
        "dimensions": [
            {
                "code": "claim",
                "role": "claim",
                "name_de": "Behauptung",
                "name_en": "Claim",
                "kind": "single",
                "required": True,
                "labels": _plain(CLAIM_LABELS),
            },
            {
                "code": "frames",
                "role": "frames",
                "name_de": "Frames",
                "name_en": "Frames",
                "kind": "multi",
                "allows_primary": True,
                "labels": frames,
            },
            {
                "code": "source_type",
                "role": "source_type",
                "name_de": "Quellentyp",
                "name_en": "Source type",
                "kind": "single",
                "labels": _plain(SOURCE_TYPE_LABELS),
            },
            {
                "code": "form",
                "role": "form",
                "name_de": "Redewiedergabe",
                "name_en": "Form",
                "kind": "single",
                "labels": _plain(FORM_LABELS),
            },
            {
                "code": "stance",
                "role": "stance",
                "name_de": "Haltung",
                "name_en": "Stance",
                "kind": "single",
                "labels": _plain(STANCE_LABELS),
            },
            {
                "code": "techniques",
                "role": "extra",
                "name_de": "Überzeugungstechniken",
                "name_en": "Persuasion techniques",
                "kind": "multi",
                "off_by_default": True,
                "labels": techniques,
            },
            {
                "code": "subjectivity",
                "role": "extra",
                "name_de": "Subjektivität",
                "name_en": "Subjectivity",
                "kind": "single",
                "off_by_default": True,
                "labels": _plain(SUBJECTIVITY_LABELS),
            },
        ],
    }
