"""The codebook of an export: every column and label with its meaning, the
published datasets' names for each label, label counts and agreement. Plain Python,
no Django; ``queries.codebook`` feeds it from the database.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .. import agreement
from ..snapshot import (
    ATTRIBUTION_FORM,
    ATTRIBUTION_PRESENCE,
    ATTRIBUTION_SOURCE,
    ATTRIBUTION_TYPE,
    CUE_SPANS,
    SOURCE_SPANS,
)
from .columns import ExportPlan, column_docs
from .rows import Counts

MAPPING_NAMES = {
    "claimbuster": "ClaimBuster",
    "checkthat": "CheckThat!",
    "mfc": "Media Frames Corpus",
    "semeval2023": "SemEval-2023 Task 3",
    "spkatt2023": "SpkAtt-2023 Form",
    "semeval2016": "SemEval-2016 Task 6",
    "checkthat_subjectivity": "CheckThat! subjectivity",
    "group": "technique group",
}

AgreementFn = Callable[[Counts, ExportPlan], dict[str, dict[str, Any]]]

# What the attribution figures are called in the codebook (and how alpha
# compares their values).
ATTRIBUTION_FIGURES = {
    ATTRIBUTION_PRESENCE: ("attribution presence (any attribution: yes/no)", False),
    ATTRIBUTION_SOURCE: ("attribution canonical sources (set per segment)", True),
    ATTRIBUTION_TYPE: ("attribution source type (matched attributions)", False),
    ATTRIBUTION_FORM: ("attribution form (matched attributions)", False),
}
SPAN_FIGURES = {SOURCE_SPANS: "source spans", CUE_SPANS: "cue spans"}


def codebook_data(
    plan: ExportPlan,
    counts: Counts,
    *,
    generated: datetime,
    agreement: AgreementFn | None = None,
) -> dict[str, Any]:
    """The codebook as plain data (JSON-ready); ``codebook_markdown`` renders it."""
    return {
        "project": plan.project,
        "scheme": {"name": plan.scheme_name, "version": plan.scheme_version},
        "mode": plan.mode,
        "generated": generated.isoformat(),
        "rows": counts.rows,
        "labelled_rows": counts.labelled_rows,
        "columns": [{"name": n, "description": d} for n, d in column_docs(plan)],
        "dimensions": [
            {
                "code": d.code,
                "role": d.role,
                "name_en": d.name_en,
                "name_de": d.name_de,
                "kind": "multi" if d.multi else "single",
                "exported": d.exported,
                "description": d.description,
                "labels": [
                    {
                        "code": label.code,
                        "name_en": label.name_en,
                        "name_de": label.name_de,
                        "definition": label.definition,
                        "mappings": label.mappings,
                        "active": label.active,
                        "count": counts.labels.get(d.code, Counter()).get(
                            label.code, 0
                        ),
                    }
                    for label in d.labels
                ],
            }
            for d in plan.dimensions
        ],
        "stance_targets": [
            {"code": t.code, "name": t.name, "question": t.question}
            for t in plan.targets
        ],
        "agreement": agreement(counts, plan) if agreement is not None else None,
        "span_agreement": span_figures(counts) if agreement is not None else None,
    }


def _md(text: Any) -> str:
    """A table cell: pipes escaped, line breaks flattened."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _figure(value: Any) -> str:
    return (
        "n/a"
        if value is None
        else f"{value:.3f}"
        if isinstance(value, float)
        else str(value)
    )


def codebook_markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# Codebook: {data['project']}",
        "",
        f"Scheme **{_md(data['scheme']['name'])}** (`{data['scheme']['version']}`); "
        f"export mode `{data['mode']}`, {data['rows']} rows "
        f"({data['labelled_rows']} labelled), generated {data['generated']}.",
        "",
        "Data columns hold label **codes**; the tables below give each code's names, "
        "definition, the matching label of the published datasets, and how often it "
        "occurs in this export. Lists in CSV are `;`-joined (a literal `;` or `\\` "
        "inside an item is escaped with `\\`); JSONL has JSON arrays.",
        "",
        "## Columns",
        "",
        "| column | meaning |",
        "|---|---|",
        *(f"| `{c['name']}` | {_md(c['description'])} |" for c in data["columns"]),
        "",
    ]
    if data["stance_targets"]:
        lines += [
            "## Stance targets",
            "",
            "Polarity codes are those of the stance dimension below (SemEval-2016 "
            "FAVOR / AGAINST / NONE).",
            "",
            "| code | target | question (yes = favor) |",
            "|---|---|---|",
            *(
                f"| `{t['code']}` | {_md(t['name'])} | {_md(t['question'])} |"
                for t in data["stance_targets"]
            ),
            "",
        ]
    lines += ["## Labels", ""]
    for d in data["dimensions"]:
        known = list(MAPPING_NAMES)
        keys = sorted(
            {k for label in d["labels"] for k in label["mappings"]},
            key=lambda k: (known.index(k) if k in known else len(known), k),
        )
        state = "" if d["exported"] else " (optional, not enabled in this project)"
        lines += [
            f"### {_md(d['name_en'])} (`{d['code']}`, {d['kind']} choice){state}",
            "",
        ]
        if d["description"]:
            lines += [_md(d["description"]), ""]
        header = [
            "code",
            "name (en)",
            "name (de)",
            "definition",
            *(MAPPING_NAMES.get(k, k) for k in keys),
            "count",
        ]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for label in d["labels"]:
            inactive = " (inactive)" if not label["active"] else ""
            cells = [
                f"`{label['code']}`{inactive}",
                _md(label["name_en"]),
                _md(label["name_de"]),
                _md(label["definition"]),
                *(_md(label["mappings"].get(k, "")) for k in keys),
                str(label["count"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    agreement = data.get("agreement")
    lines += ["## Agreement", ""]
    if not agreement:
        lines += [
            "No agreement figures: no segment in this export was labelled by two "
            "or more of the selected annotators.",
            "",
        ]
    else:
        lines += [
            "Annotators' own labels on segments two or more of them labelled "
            "(the double-annotated overlap). Krippendorff's alpha: nominal for single "
            "choice, MASI distance for multiple choice; >= 0.800 reliable, 0.667-0.800 "
            "tentative conclusions only.",
            "",
            "| dimension | alpha | reading | Fleiss' kappa | agreement (share) "
            "| items | annotators | ratings |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, report in agreement.items():
            lines.append(
                f"| {_md(name)} | {_figure(report['alpha'])} | "
                f"{_md(report['interpretation'] or 'n/a')} | "
                f"{_figure(report['fleiss'])} | "
                f"{_figure(report['percent'])} | {report['n_items']} | "
                f"{report['n_coders']} | {report['n_ratings']} |"
            )
        lines.append("")
        pair_lines = []
        for name, report in agreement.items():
            for pair in report["pairwise"]:
                pair_lines.append(
                    f"| {_md(name)} | {_md(pair['a'])} | {_md(pair['b'])} | "
                    f"{_figure(pair['kappa'])} | {_figure(pair['percent'])} | "
                    f"{pair['n_items']} |"
                )
        if pair_lines:
            lines += [
                "Cohen's kappa per annotator pair:",
                "",
                "| dimension | annotator | annotator | kappa | agreement (share) "
                "| items |",
                "|---|---|---|---|---|---|",
                *pair_lines,
                "",
            ]
    spans = data.get("span_agreement")
    if agreement and spans:
        lines += [
            "Attributions: presence is nominal per segment (did the annotator give "
            "any attribution); the canonical sources are compared as the set of "
            "sources per segment (MASI distance) between annotators who both gave "
            "one; type and form are nominal on matched attributions (the same "
            "canonical source in the same segment; an attribution without a type "
            "or form is a missing rating).",
            "",
            "Span agreement (source and cue spans), pairwise by character overlap: "
            "a span of annotator A counts as found by B when it shares a character "
            "with one of B's spans in the same segment (the parts of a "
            "discontinuous cue count as one span). Precision: A's spans found by B "
            "(B as reference); recall: B's spans found by A; F1 their harmonic mean "
            "(symmetric); the overall F1 is the mean over annotator pairs.",
            "",
            "| spans | annotator A | annotator B | precision | recall | F1 | A's "
            "spans | B's spans | segments |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, report in spans.items():
            lines.append(
                f"| {_md(name)} | all pairs | | | | {_figure(report['f1'])} | | | "
                f"{report['n_items']} |"
            )
            for pair in report["pairwise"]:
                lines.append(
                    f"| {_md(name)} | {_md(pair['a'])} | {_md(pair['b'])} | "
                    f"{_figure(pair['precision'])} | {_figure(pair['recall'])} | "
                    f"{_figure(pair['f1'])} | {pair['units_a']} | "
                    f"{pair['units_b']} | {pair['n_items']} |"
                )
        lines.append("")
    return "\n".join(lines)


def codebook_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


def agreement_figures(counts: Counts, plan: ExportPlan) -> dict[str, dict[str, Any]]:
    """Agreement per dimension from the ratings collected during the export pass.

    Stance is reported per target (``stance:<target>``). Uses
    ``agreement.dimension_report``; coders are already pseudonymised if asked.
    """
    multi = {d.code: d.multi for d in plan.dimensions}
    multi.update({key: is_set for key, (_n, is_set) in ATTRIBUTION_FIGURES.items()})
    names = {key: name for key, (name, _s) in ATTRIBUTION_FIGURES.items()}
    figures: dict[str, dict[str, Any]] = {}
    for key, triples in counts.ratings.items():
        ratings = [
            agreement.Rating(item, coder, value) for item, coder, value in triples
        ]
        report = agreement.dimension_report(ratings, multi=multi.get(key, False))
        figures[names.get(key, key)] = {
            "alpha": report.alpha,
            "interpretation": report.interpretation,
            "fleiss": report.fleiss,
            "percent": report.percent,
            "n_items": report.n_items,
            "n_coders": report.n_coders,
            "n_ratings": report.n_ratings,
            "pairwise": [
                {
                    "a": str(a),
                    "b": str(b),
                    "kappa": pair.kappa,
                    "percent": pair.percent,
                    "n_items": pair.n_items,
                }
                for (a, b), pair in sorted(report.pairwise.items(), key=str)
            ],
        }
    return figures


def span_figures(counts: Counts) -> dict[str, dict[str, Any]]:
    """Span agreement (``agreement.span_agreement``) of the source and cue spans
    collected during the export pass; coders already pseudonymised if asked."""
    figures: dict[str, dict[str, Any]] = {}
    for key, name in SPAN_FIGURES.items():
        report = agreement.span_agreement(
            agreement.Rating(item, coder, units)
            for item, coder, units in counts.spans.get(key, ())
        )
        figures[name] = {
            "f1": report.f1,
            "n_items": report.n_items,
            "n_coders": report.n_coders,
            "n_spans": report.n_units,
            "pairwise": [
                {
                    "a": str(a),
                    "b": str(b),
                    "precision": pair.precision,
                    "recall": pair.recall,
                    "f1": pair.f1,
                    "found_a": pair.found_a,
                    "units_a": pair.units_a,
                    "found_b": pair.found_b,
                    "units_b": pair.units_b,
                    "n_items": pair.n_items,
                }
                for (a, b), pair in sorted(report.pairwise.items(), key=str)
            ],
        }
    return figures
