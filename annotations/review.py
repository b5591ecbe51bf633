"""The review screen's data: every annotator's labels of an article side by side,
the gold, the differences and a pre-filled adjudication form per segment; and the
disagreement counts of the dashboard and the reviewers' list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from html import escape
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import CharField, F, OuterRef, StringAgg, Subquery, Value
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

from .export.rows import vote_attribution
from .models import Annotation, Article, DimensionRole, Project, Segment
from .scheme import SchemeIndex
from .snapshot import (
    NO_STANCE,
    AttributionGroup,
    DimensionSpec,
    Identity,
    attribution_signature,
    canonical_source,
    group_attributions,
    value_of,
)

# The escaped form of the few strings a page repeats hundreds of times (label
# names, usernames, keys, css classes); free text goes through ``escape``.
escape_name = lru_cache(maxsize=4096)(escape)


@dataclass
class Choice:
    code: str
    name: str
    key: str
    checked: bool
    votes: int


@dataclass
class ChoiceGroup:
    """One dimension's inputs on the review form, majority (or gold) pre-selected."""

    spec: DimensionSpec
    choices: list[Choice]
    disagree: bool

    @property
    def field_name(self) -> str:
        return (
            f"stance-{self.spec.target}" if self.spec.target else f"dim-{self.spec.key}"
        )

    @property
    def chips(self) -> SafeString:
        """The group's inputs as HTML, one chip per label with its key and votes
        (the template draws the fieldset around them): some 40 chips per form
        were most of the form's template time."""
        spec = self.spec
        kind = "checkbox" if spec.multi else "radio"
        name = escape_name(self.field_name)
        out = []
        for choice in self.choices:
            key = escape_name(choice.key)
            if spec.target:
                data = f' data-stance-key="{key}"'
            else:
                data = f' data-key="{key}"' if key else ""
            if choice.checked:
                data += " checked"
            votes, voted = "", ""
            if choice.votes:
                voted = " voted"
                votes = (
                    f' <span class="votes" title="chosen by {choice.votes}">'
                    f"{choice.votes}</span>"
                )
            kbd = f"<kbd>{key}</kbd>" if key else ""
            out.append(
                f'<label class="chip{voted}"><input type="{kind}" name="{name}" '
                f'value="{escape_name(choice.code)}"{data}>'
                f"{kbd} {escape_name(choice.name)}{votes}</label>\n"
            )
        return mark_safe("".join(out))  # every value is escaped above


@dataclass
class ReviewRow:
    annotation: Annotation
    cells: list[tuple[str, bool]]  # (display text, differs from the others)


# ---------------------------------------------------------------------------
# Attributions: side by side per source, and the gold's attribution editor
# ---------------------------------------------------------------------------

# The columns of the attribution table: (snapshot key, heading, counts as a
# disagreement when the annotators who gave the source differ). A source some
# gave and others did not is a disagreement too (presence, or another source).
# Spelling and spans are highlighted, not counted.
ATTRIBUTION_FIELDS = (
    ("source_text", "As written", False),
    ("source", "Canonical", False),
    ("source_type", "Type", True),
    ("form", "Form", True),
    ("cue_text", "Cue", True),
    ("source_span", "Source span", False),
    ("cue_spans", "Cue spans", False),
)
# The editor's inputs per attribution (``forms.ReviewForm``: gattr-<i>-<name>).
GOLD_FIELDS = (
    "source",
    "source_type",
    "form",
    "cue",
    "source_start",
    "source_end",
    "cue_spans",
    "stances",
)
# What a key takes over from one version (review.js): the whole version, or one
# field: w(ritten) source, t(ype), f(orm), c(ue), s(pans).
TAKE_FIELDS = {
    "source": ("source",),
    "source_type": ("source_type",),
    "form": ("form",),
    "cue": ("cue",),
    "spans": ("source_start", "source_end", "cue_spans"),
}
MAX_NUMBERED = 9  # annotators 1-9 have a key


@dataclass
class AttributionCell:
    text: str
    css: str = ""  # differs | differs-minor | absent


@dataclass
class AttributionLine:
    """One annotator's (or the gold's) version of one attribution."""

    who: str
    key: str  # the key that takes this version in the editor: 1-9, g (gold)
    gold: bool
    cells: list[AttributionCell]
    held: str  # the stances this source holds in this version


@dataclass
class AttributionComparison:
    """One source (identity) of a segment across its annotators and the gold."""

    identity: Identity
    name: str
    votes: int  # annotators who gave it
    n: int  # annotators of the segment
    lines: list[AttributionLine]
    disagree: bool


@dataclass
class GoldOption:
    """A version the reviewer can take over into a gold attribution."""

    key: str
    who: str
    values: dict[str, str]  # GOLD_FIELDS -> input value


@dataclass
class GoldAttributionRow:
    """One attribution of the gold editor: pre-filled with the gold's version,
    else voted as segments mode votes (``export.rows.vote_attribution``);
    deleted (kept out of the gold unless restored) when at most half of the
    annotators gave it."""

    index: int
    group: int | None  # its AttributionComparison, None for a row the reviewer adds
    title: str
    votes: int
    n: int
    values: dict[str, str]
    deleted: bool = False
    options: list[GoldOption] = field(default_factory=list)
    alternatives: list[tuple[str, str, list[tuple[str, str]]]] = field(
        default_factory=list
    )  # (field, its key, [(option key, value shown)]) where the versions differ

    @property
    def blank(self) -> bool:
        return self.group is None and not self.values.get("source")


def _comparable(value: Any) -> Any:
    if value is None or value == "" or value == [] or value == ():
        return None
    if isinstance(value, list | tuple):
        return tuple(_comparable(part) for part in value)
    return value


def _span_text(span: Sequence[int] | None, text: str) -> str:
    if not span:
        return "–"
    start, end = span[0], span[1]
    marked = text[start:end] if 0 <= start < end <= len(text) else ""
    return f"„{marked}“ {start}–{end}" if marked else f"{start}–{end}"


def _attribution_text(
    key: str, attribution: dict, text: str, names: dict[str, dict[str, str]]
) -> str:
    value = attribution.get(key)
    if key in names:
        return names[key].get(value, value) if value else "–"
    if key == "source_span":
        return _span_text(value, text)
    if key == "cue_spans":
        return " + ".join(_span_text(part, text) for part in value or ()) or "–"
    return value or "–"


def _held(values: dict, position: int) -> list[tuple[str, str]]:
    """(target, polarity) of the stances the ``position``-th attribution holds."""
    return [
        (stance.get("target", ""), stance.get("polarity", ""))
        for stance in values.get("stances") or ()
        if stance.get("holder") == position
    ]


def _gold_values(attribution: dict, held: Iterable[tuple[str, str]]) -> dict[str, str]:
    """An attribution as the editor's inputs hold it."""
    span = attribution.get("source_span")
    return {
        "source": attribution.get("source_text") or "",
        "source_type": attribution.get("source_type") or "",
        "form": attribution.get("form") or "",
        "cue": attribution.get("cue_text") or "",
        "source_start": str(span[0]) if span else "",
        "source_end": str(span[1]) if span else "",
        "cue_spans": ", ".join(
            f"{start}-{end}" for start, end in attribution.get("cue_spans") or ()
        ),
        "stances": ";".join(f"{target}={polarity}" for target, polarity in held),
    }


@dataclass
class _Version:
    who: str
    key: str
    attribution: dict
    held: list[tuple[str, str]]


def _versions(
    own: Sequence[Annotation], gold: Annotation | None
) -> tuple[list[AttributionGroup], dict[int, dict[int, int]]]:
    """The segment's attributions grouped by identity (the gold is the last
    member when there is one) and, per member, each attribution's position in
    its own list (stance holders refer to it)."""
    lists = [(a.values or {}).get("attributions") or [] for a in own]
    if gold is not None:
        lists.append((gold.values or {}).get("attributions") or [])
    groups = group_attributions(lists)
    positions = {
        member: {
            id(attribution): position for position, attribution in enumerate(items)
        }
        for member, items in enumerate(lists)
    }
    return groups, positions


def _compare_attributions(
    item: ReviewSegment, names: dict[str, dict[str, str]], targets: dict[str, str]
) -> None:
    """Fill ``item.attributions`` (the table) from its annotations and gold."""
    own = item.own
    groups, positions = _versions(own, item.gold)
    item.attribution_groups = groups
    item.attribution_positions = positions
    n = len(own)
    text = item.segment.text
    comparisons = []
    for group in groups:
        givers = [i for i in group.members if i < n]
        differs = {
            key: len({_comparable(group.members[i].get(key)) for i in givers}) > 1
            for key, _heading, _counted in ATTRIBUTION_FIELDS
        }
        disagree = n > 1 and (
            0 < len(givers) < n
            or any(differs[key] for key, _h, counted in ATTRIBUTION_FIELDS if counted)
        )
        lines = []
        members = [(i, own[i].annotator.username, False) for i in range(n)]
        if item.gold is not None and n in group.members:
            members.append((n, "gold", True))
        for i, who, is_gold in members:
            key = "g" if is_gold else (str(i + 1) if i < MAX_NUMBERED else "")
            attribution = group.members.get(i)
            if attribution is None:
                absent = "absent differs" if givers else "absent"
                lines.append(
                    AttributionLine(
                        who, key, is_gold, [AttributionCell("not given", absent)], ""
                    )
                )
                continue
            values = (item.gold if is_gold else own[i]).values or {}
            held = _held(values, positions[i][id(attribution)])
            cells = [
                AttributionCell(
                    _attribution_text(key_, attribution, text, names),
                    ""
                    if is_gold or not differs[key_]
                    else ("differs" if counted else "differs-minor"),
                )
                for key_, _heading, counted in ATTRIBUTION_FIELDS
            ]
            lines.append(
                AttributionLine(
                    who,
                    key,
                    is_gold,
                    cells,
                    ", ".join(
                        f"{targets.get(target, target)}: {polarity}"
                        for target, polarity in held
                    ),
                )
            )
        first = group.members[min(group.members)]
        comparisons.append(
            AttributionComparison(
                group.identity,
                canonical_source(first),
                len(givers),
                n,
                lines,
                disagree,
            )
        )
    item.attributions = comparisons


@dataclass
class ReviewSegment:
    segment: Segment
    rows: list[ReviewRow] = field(default_factory=list)
    gold: Annotation | None = None
    gold_cells: list[str] = field(default_factory=list)
    columns: list[DimensionSpec] = field(default_factory=list)
    disagree: bool = False
    # Whether the page draws this segment's adjudication form. Every label of every
    # dimension and target for every segment was ~28,000 template nodes per article;
    # the form is drawn for the segment being adjudicated, the others load it on
    # demand (views.team.review_segment).
    editing: bool = False
    # Every source of the segment, each annotator's version side by side.
    attributions: list[AttributionComparison] = field(default_factory=list)
    attribution_groups: list[AttributionGroup] = field(default_factory=list)
    attribution_positions: dict[int, dict[int, int]] = field(default_factory=dict)
    # The annotations the gold was adjudicated from: (username, changed since).
    gold_from: list[tuple[str, bool]] = field(default_factory=list)
    # The scheme's columns (``SchemeIndex.specs``): the form's groups are built
    # from them when asked for, i.e. for the segment whose form is drawn or saved.
    specs: list[DimensionSpec] = field(default_factory=list, repr=False)
    # Where review.js fetches the form (``views.team.review_segment``).
    form_url: str = ""

    @cached_property
    def groups(self) -> list[ChoiceGroup]:
        """The form's inputs per dimension and target, the majority (or the
        gold) pre-selected; none for a segment that is not annotatable."""
        if not self.annotatable:
            return []
        snapshots = [a.values or {} for a in self.own]
        gold = self.gold.values if self.gold else None
        return [_choice_group(spec, snapshots, gold) for spec in self.specs]

    @cached_property
    def base_id(self) -> int | None:
        """Whose sources (attributions) the gold takes over."""
        return _base_annotation(self.own, self.groups)

    @cached_property
    def comparison(self) -> SafeString:
        """The side-by-side tables (labels, then sources) as HTML."""
        return _comparison_html(self)

    @property
    def section_start(self) -> SafeString:
        """The segment's ``<section>`` up to its form: the opening tag, the text,
        the comparison and, unless the form is drawn, where it is loaded from
        (review.js fetches ``data-form-url`` on focus; without JavaScript the
        link reloads the page with it). The template adds the form and closes
        the section."""
        segment = self.segment
        css = "review-seg"
        if self.disagree:
            css += " disagree"
        if self.gold:
            css += " has-gold"
        if not self.annotatable:
            css += " skipped"
        pk = segment.pk
        loads = self.annotatable and not self.editing
        form_url = f' data-form-url="{escape(self.form_url)}"' if loads else ""
        out = [
            f'<section class="{css}" id="seg-{pk}" tabindex="-1" '
            f'aria-label="Segment {segment.position}"{form_url}>\n'
            f'<p class="seg-text"><span class="pos">{segment.position}</span> '
            f'<span class="kind">{escape_name(segment.kind)}</span> '
            f"{escape(segment.text)}</p>\n"
        ]
        if self.annotatable:
            out.append(self.comparison)
        if loads:
            action = "Edit gold" if self.gold else "Adjudicate"
            link = f'<a href="?segment={pk}#seg-{pk}">{action}</a>'
            out.append(f'<p class="edit-gold">{link}</p>\n')
        return mark_safe("".join(out))  # every value is escaped above

    @property
    def annotatable(self) -> bool:
        return self.segment.is_annotatable

    @property
    def own(self) -> list[Annotation]:
        return [row.annotation for row in self.rows]

    @property
    def numbers(self) -> list[tuple[str, str]]:
        """(key, username) of the annotators whose versions a key takes over."""
        return [
            (str(i + 1), a.annotator.username)
            for i, a in enumerate(self.own[:MAX_NUMBERED])
        ]

    @cached_property
    def gold_rows(self) -> list[GoldAttributionRow]:
        """The gold editor's attributions, with one blank row to add one (the
        form's ``gattr-count`` counts it)."""
        own, gold, n = self.own, self.gold, len(self.rows)
        groups, positions = self.attribution_groups, self.attribution_positions
        rows: list[GoldAttributionRow] = []

        def options_of(group: AttributionGroup) -> list[GoldOption]:
            options = []
            for i, attribution in sorted(group.members.items()):
                is_gold = i == n
                values = (gold if is_gold else own[i]).values or {}
                if not is_gold and i >= MAX_NUMBERED:
                    continue
                options.append(
                    GoldOption(
                        "g" if is_gold else str(i + 1),
                        "gold" if is_gold else own[i].annotator.username,
                        _gold_values(
                            attribution, _held(values, positions[i][id(attribution)])
                        ),
                    )
                )
            return options

        def add(index: int, values: dict[str, str], deleted: bool) -> None:
            group = groups[index]
            votes = sum(1 for i in group.members if i < n)
            options = options_of(group)
            rows.append(
                GoldAttributionRow(
                    index=len(rows),
                    group=index,
                    title=canonical_source(group.members[min(group.members)]),
                    votes=votes,
                    n=n,
                    values=values,
                    deleted=deleted,
                    options=options,
                    alternatives=_alternatives(options),
                )
            )

        if gold is not None:
            # The gold's attributions in its order, then the sources it left out.
            order = sorted(
                (i for i, g in enumerate(groups) if n in g.members),
                key=lambda i: positions[n][id(groups[i].members[n])],
            )
            for index in order:
                group = groups[index]
                mine = group.members[n]
                held = _held(gold.values or {}, positions[n][id(mine)])
                add(index, _gold_values(mine, held), False)
            for index, group in enumerate(groups):
                if n not in group.members:
                    add(index, self._voted(group), True)
        else:
            for index, group in enumerate(groups):
                votes = len(group.members)
                add(index, self._voted(group), votes * 2 <= n)
        rows.append(
            GoldAttributionRow(
                index=len(rows), group=None, title="", votes=0, n=n, values={}
            )
        )
        return rows

    def _voted(self, group: AttributionGroup) -> dict[str, str]:
        """A source as segments mode would export it from the annotators who
        gave it, with the stances more than half of them let it hold."""
        n = len(self.rows)
        givers = [(i, a) for i, a in sorted(group.members.items()) if i < n]
        held: Counter[tuple[str, str]] = Counter()
        for i, attribution in givers:
            position = self.attribution_positions[i][id(attribution)]
            held.update(set(_held(self.own[i].values or {}, position)))
        kept = [pair for pair, votes in held.items() if votes * 2 > len(givers)]
        return _gold_values(vote_attribution([a for _i, a in givers]), kept)


# ---------------------------------------------------------------------------
# The comparison as HTML
# ---------------------------------------------------------------------------

# Built in one pass per segment rather than in the template: a 50-segment
# article has some 5,000 cells, and the template engine's per-node cost made them
# most of the page's time. Every value is escaped as the template would.
ATTRIBUTION_HEAD = (
    '<thead><tr><th scope="col">Source</th><th scope="col">Annotator</th>'
    + "".join(
        f'<th scope="col">{escape(heading)}</th>'
        for _key, heading, _counted in ATTRIBUTION_FIELDS
    )
    + '<th scope="col">Holds</th></tr></thead>'
)
DIFFERS = '<td class="differs">'
UNSURE = ' <span class="unsure" title="marked unsure">?</span>'
CHANGED = (
    ' <span class="changed" title="changed after the gold was saved">'
    "(changed since)</span>"
)


def _comparison_html(item: ReviewSegment) -> SafeString:
    """The labels side by side (differences marked, comments, the gold with who
    saved it when and from whose annotations) and the sources table."""
    if not item.rows and not item.gold:
        return mark_safe('<p class="hint">Nobody has labelled this segment yet.</p>')
    out = ['<table class="review-labels">\n<thead><tr><th scope="col">Annotator</th>']
    out += [f'<th scope="col">{escape_name(spec.name)}</th>' for spec in item.columns]
    out.append("</tr></thead>\n<tbody>\n")
    width = len(item.columns)
    for row in item.rows:
        annotation = row.annotation
        out.append(
            f'<tr><th scope="row">{escape_name(annotation.annotator.username)}'
            f"{UNSURE if annotation.unsure else ''}</th>"
        )
        out += [
            (DIFFERS if differs else "<td>") + escape_name(text) + "</td>"
            for text, differs in row.cells
        ]
        out.append("</tr>\n")
        if annotation.comment:
            out.append(
                f'<tr class="comment"><td></td><td colspan="{width}">'
                f"“{escape(annotation.comment)}”</td></tr>\n"
            )
    if item.gold:
        gold = item.gold
        when = date_format(template_localtime(gold.updated_at), "SHORT_DATETIME_FORMAT")
        who = escape_name(gold.annotator.username)
        out.append(
            '<tr class="gold-row"><th scope="row">Gold <span class="hint gold-by">by '
            f"{who}, {escape(when)}, rev. {gold.revision}"
        )
        if item.gold_from:
            out.append(", from ")
            out.append(
                ", ".join(
                    escape_name(who) + (CHANGED if changed else "")
                    for who, changed in item.gold_from
                )
            )
        out.append("</span></th>")
        out += [f"<td>{escape_name(text)}</td>" for text in item.gold_cells]
        out.append("</tr>\n")
    out.append("</tbody>\n</table>\n")
    if item.attributions:
        out.append(
            '<table class="review-attributions">\n<caption>Sources</caption>\n'
            + ATTRIBUTION_HEAD
            + "\n"
        )
        for comparison in item.attributions:
            disagree = " disagree" if comparison.disagree else ""
            out.append(f'<tbody class="attribution{disagree}">\n')
            for number, line in enumerate(comparison.lines):
                out.append('<tr class="gold-row">' if line.gold else "<tr>")
                if not number:
                    votes, n = comparison.votes, comparison.n
                    out.append(
                        f'<th scope="rowgroup" rowspan="{len(comparison.lines)}">'
                        f"{escape(comparison.name)} "
                        f'<span class="votes" title="given by {votes} of {n} '
                        f'annotators">{votes}/{n}</span></th>'
                    )
                key = f"<kbd>{escape_name(line.key)}</kbd> " if line.key else ""
                out.append(f'<th scope="row">{key}{escape_name(line.who)}</th>')
                if len(line.cells) == 1:
                    (cell,) = line.cells
                    out.append(
                        f'<td colspan="8" class="{escape_name(cell.css)}">'
                        f"{escape(cell.text)}</td>"
                    )
                else:
                    out += [
                        f'<td class="{escape_name(cell.css)}">{escape(cell.text)}</td>'
                        if cell.css
                        else f"<td>{escape(cell.text)}</td>"
                        for cell in line.cells
                    ]
                    out.append(f"<td>{escape(line.held)}</td>")
                out.append("</tr>\n")
            out.append("</tbody>\n")
        out.append("</table>\n")
    return mark_safe("".join(out))  # every value is escaped above


def _shown(name: str, values: dict[str, str]) -> str:
    """One version's value of a field group, as the alternatives show it."""
    if name == "spans":
        parts = []
        if values["source_start"] or values["source_end"]:
            parts.append(f"{values['source_start']}-{values['source_end']}")
        if values["cue_spans"]:
            parts.append(f"cue {values['cue_spans']}")
        return ", ".join(parts) or "none"
    return values[name] or "–"


def _alternatives(
    options: list[GoldOption],
) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Per field group whose versions differ, each version's value (what the
    keys t / f / c / w / s then a number take over)."""
    keys = {"source": "w", "source_type": "t", "form": "f", "cue": "c", "spans": "s"}
    out = []
    for name, fields in TAKE_FIELDS.items():
        shown = [(option.key, _shown(name, option.values)) for option in options]
        if len({tuple(o.values[f] for f in fields) for o in options}) > 1:
            out.append((name, keys[name], shown))
    return out


def _display(value: Any, spec: DimensionSpec) -> str:
    names = {code: name for code, name, _key in spec.labels}
    if value is None:
        return "–"
    if isinstance(value, frozenset):
        ordered = [code for code, _n, _k in spec.labels if code in value]
        ordered += sorted(value - set(ordered))
        return ", ".join(names.get(code, code) for code in ordered) or "–"
    if spec.target and value == NO_STANCE:
        return "–"
    return names.get(value, value)


def _choice_group(
    spec: DimensionSpec, own: list[dict], gold: dict | None
) -> ChoiceGroup:
    values = [value_of(v, spec) for v in own]
    votes: Counter[str] = Counter()
    for value in values:
        if isinstance(value, frozenset):
            votes.update(value)
        elif value is not None:
            votes[value] += 1
    half = len(own) / 2
    if gold is not None:
        current = value_of(gold, spec)
        selected = set(current) if isinstance(current, frozenset) else {current}
    elif spec.multi:
        selected = {code for code, n in votes.items() if n > half}
    else:
        # A strict majority only: a tie is the reviewer's call, nothing is pre-chosen.
        top = votes.most_common(2)
        winner = top[0][0] if top and (len(top) == 1 or top[0][1] > top[1][1]) else None
        selected = {winner} if winner is not None and votes[winner] > half else set()
    if spec.target and not selected:
        selected = {NO_STANCE}
    choices = [
        Choice(code, name, key, code in selected, votes[code])
        for code, name, key in spec.labels
    ]
    return ChoiceGroup(spec, choices, _differs(values, spec))


def _differs(values: Sequence[Any], spec: DimensionSpec) -> bool:
    """Whether the annotators' values (``value_of``) of one dimension differ: a
    missing label is no answer, except for stances (untouched is ``none``)."""
    if len(values) < 2:
        return False
    comparable = values if spec.target else [v for v in values if v is not None]
    return len(set(comparable)) > 1


def review_segments(
    article: Article, *, index: SchemeIndex, segment_ids: Iterable[int] | None = None
) -> list[ReviewSegment]:
    """Every segment with each annotator's labels and attributions, the gold and
    the differences; the form's groups (``ReviewSegment.groups``) when asked for.

    Two queries at any length and team size (segments; all annotations of the
    article with their annotators' names, each gold with the ids of the
    annotations it was adjudicated from in a subquery column), given the scheme
    index. The work grows with the article, not with the project.
    """
    specs = index.specs()
    names = _attribution_label_names(index)
    targets = {code: target.name for code, target in index.targets.items()}
    segments = article.segments.order_by("position")
    through = Annotation.adjudicated_from.through
    adjudicated_from = (
        through.objects.filter(from_annotation=OuterRef("pk"))
        .values("from_annotation")
        .annotate(
            ids=StringAgg(Cast("to_annotation_id", CharField()), delimiter=Value(","))
        )
        .values("ids")
    )
    annotations = Annotation.objects.filter(article=article).annotate(
        annotator_username=F("annotator__username"),
        adjudicated_from_ids=Subquery(adjudicated_from),
    )
    if segment_ids is not None:
        segment_ids = list(segment_ids)
        segments = segments.filter(pk__in=segment_ids)
        annotations = annotations.filter(segment_id__in=segment_ids)
    by_segment: dict[int, list[Annotation]] = defaultdict(list)
    gold: dict[int, Annotation] = {}
    # The page shows the annotators' names only: a user row (its username, the
    # rest deferred) per annotator, not one per annotation as select_related
    # would build (a third of the query's time).
    user_model = get_user_model()
    cache_annotator = Annotation.annotator.field.set_cached_value
    users: dict[int, Any] = {}
    for annotation in annotations.order_by("annotator__username", "pk"):
        user = users.get(annotation.annotator_id)
        if user is None:
            user = users[annotation.annotator_id] = user_model.from_db(
                annotations.db,
                ["id", "username"],
                (annotation.annotator_id, annotation.annotator_username),
            )
        cache_annotator(annotation, user)
        if annotation.is_gold:
            gold[annotation.segment_id] = annotation
        else:
            by_segment[annotation.segment_id].append(annotation)
    # A cell's text per (column, value), computed once per page: most values
    # repeat from segment to segment.
    texts: dict[tuple[int, Any], str] = {}

    def text(i: int, value: Any) -> str:
        try:
            return texts[i, value]
        except KeyError:
            shown = texts[i, value] = _display(value, specs[i])
            return shown

    stance_columns = [i for i, spec in enumerate(specs) if spec.target]
    form_url = _form_urls(article.pk)
    result = []
    for segment in segments:
        item = ReviewSegment(segment=segment, gold=gold.get(segment.pk), specs=specs)
        result.append(item)
        if not segment.is_annotatable:
            continue
        item.form_url = form_url(segment.pk)
        own = by_segment.get(segment.pk, [])
        item.rows = [ReviewRow(a, []) for a in own]
        table = [[value_of(a.values or {}, spec) for spec in specs] for a in own]
        differs = [
            _differs([values[i] for values in table], spec)
            for i, spec in enumerate(specs)
        ]
        gold_values = (
            [value_of(item.gold.values, spec) for spec in specs] if item.gold else None
        )
        # Stance columns only where someone took a stance: six empty columns per
        # segment would bury the ones that matter.
        everyone = table + [gold_values] if gold_values else table
        hidden = {
            i
            for i in stance_columns
            if all(values[i] == NO_STANCE for values in everyone)
        }
        shown = [i for i in range(len(specs)) if i not in hidden]
        item.columns = [specs[i] for i in shown]
        for row, values in zip(item.rows, table, strict=True):
            row.cells = [(text(i, values[i]), differs[i]) for i in shown]
        if gold_values:
            item.gold_cells = [text(i, gold_values[i]) for i in shown]
        _compare_attributions(item, names, targets)
        item.disagree = any(differs) or any(
            comparison.disagree for comparison in item.attributions
        )
        if item.gold is not None:
            item.gold_from = _gold_from(item.gold, own)
    return result


def _form_urls(article_id: int) -> Callable[[int], str]:
    """The URL of ``views.team.review_segment`` per segment of the article,
    reversed once (a reverse per segment was some 2 ms of the page): the segment's
    number is the last number in the URL."""
    marker = 987654321
    url = reverse("annotations:review_segment", args=[article_id, marker])
    head, _marker, tail = url.rpartition(f"/{marker}/")
    return lambda segment_id: f"{head}/{segment_id}/{tail}"


def _attribution_label_names(index: SchemeIndex) -> dict[str, dict[str, str]]:
    """Snapshot key -> code -> English name, for the type and form columns."""
    names: dict[str, dict[str, str]] = {}
    for key, role in (
        ("source_type", DimensionRole.SOURCE_TYPE),
        ("form", DimensionRole.FORM),
    ):
        dimension = index.by_role.get(role)
        names[key] = {
            code: label.name_en
            for (dimension_code, code), label in index.labels.items()
            if dimension is not None and dimension_code == dimension.code
        }
    return names


def attribution_choices(index: SchemeIndex) -> dict[str, list[tuple[str, str]]]:
    """The editor's choices for type and form: (code, name) in scheme order,
    inactive labels marked (saving one is refused, as on the annotate screen)."""
    choices: dict[str, list[tuple[str, str]]] = {}
    for key, role in (
        ("source_type", DimensionRole.SOURCE_TYPE),
        ("form", DimensionRole.FORM),
    ):
        dimension = index.by_role.get(role)
        choices[key] = [
            (code, label.name_en + ("" if label.active else " (inactive)"))
            for (dimension_code, code), label in index.labels.items()
            if dimension is not None and dimension_code == dimension.code
        ]
    return choices


def _gold_from(gold: Annotation, own: list[Annotation]) -> list[tuple[str, bool]]:
    """Whose annotations the gold was adjudicated from, each with whether it
    changed after the gold was saved."""
    ids = {
        int(pk)
        for pk in (getattr(gold, "adjudicated_from_ids", "") or "").split(",")
        if pk
    }
    return [
        (a.annotator.username, a.updated_at > gold.updated_at)
        for a in own
        if a.pk in ids
    ]


def _base_annotation(own: list[Annotation], groups: list[ChoiceGroup]) -> int | None:
    """The annotation whose attributions the gold takes over by default: the one that
    matches the pre-selected claim (first by username), else the first one."""
    if not own:
        return None
    for group in groups:
        if group.spec.key == "claim" or (
            group.spec.dimension and not group.spec.multi and not group.spec.target
        ):
            chosen = next((c.code for c in group.choices if c.checked), None)
            for annotation in own:
                if value_of(annotation.values or {}, group.spec) == chosen:
                    return annotation.pk
            break
    return own[0].pk


def disagreements_per_article(
    project: Project, *, index: SchemeIndex | None = None
) -> dict[int, int]:
    """Article id -> segments whose annotators disagree on any dimension or on
    their attributions (presence, canonical source, type, form or cue:
    ``snapshot.attribution_signature``).

    One streamed query over the snapshots (plus the scheme index unless given).
    """
    index = index or SchemeIndex.for_project(project)
    specs = index.specs()
    seen: dict[int, set[tuple]] = defaultdict(set)
    article_of: dict[int, int] = {}
    rows = (
        Annotation.objects.own()
        .filter(article__project=project)
        .values_list("article_id", "segment_id", "values")
        .iterator(chunk_size=2000)
    )
    for article_id, segment_id, values in rows:
        article_of[segment_id] = article_id
        values = values or {}
        seen[segment_id].add(
            (
                tuple(value_of(values, spec) for spec in specs),
                attribution_signature(values.get("attributions") or ()),
            )
        )
    result: Counter[int] = Counter()
    for segment_id, signatures in seen.items():
        if len(signatures) > 1:
            result[article_of[segment_id]] += 1
    return dict(result)
