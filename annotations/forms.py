"""Every form of the workbench: annotate, review (adjudication), assign, export,
the admin's import and source forms.

The annotate and review forms turn a POST into a ``snapshot.AnnotationInput``.
Types and shapes are checked here; the scheme rules (which labels exist, are
active, belong to the project) stay in ``services.save_annotation``, so every
write path shares them and an unknown label is refused there with its name.

The annotate form's field names
(stable, annotate.js and the tests use them):
``dim-<dimension code>`` (one value, or several for multi-choice), ``primary-<code>``,
``stance-<target code>`` (polarity code or empty), ``holder-<target code>`` (empty for
the author, else the attribution's index), ``attr-<i>-source|source_type|form|cue|
source_start|source_end|cue_spans|suggestion`` for i < ``attr-count``, ``unsure``,
``comment``, ``time_spent_ms``, ``suggestions_shown``, ``revision`` (the revision the
page loaded, empty if none).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django import forms
from django.db.models import Q, QuerySet

from .models import Annotation, Article, Membership, Project, Source
from .review import GOLD_FIELDS, GoldAttributionRow
from .services import MAX_COMMENT_CHARS, MAX_TIME_SPENT_MS, AnnotationRefused
from .snapshot import (
    NO_STANCE,
    AnnotationInput,
    AttributionInput,
    StanceInput,
    source_key,
)

if TYPE_CHECKING:
    from .review import ReviewSegment

MAX_ATTRIBUTIONS = 20
# A generous bound on what a browser sends for a source/cue: the service refuses
# anything over its own limit (300) with a clear message, this only stops abuse.
MAX_FIELD_CHARS = 2000
_SPAN_RE = re.compile(r"^\s*(\d{1,7})\s*-\s*(\d{1,7})\s*$")


def parse_spans(text: str) -> tuple[tuple[int, int], ...]:
    """``"3-9, 14-20"`` -> ((3, 9), (14, 20)); raises ValueError on anything else."""
    spans = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = _SPAN_RE.match(part)
        if match is None:
            raise ValueError(part)
        spans.append((int(match[1]), int(match[2])))
    return tuple(spans)


def format_spans(spans) -> str:
    return ", ".join(f"{start}-{end}" for start, end in spans or ())


class AnnotationForm(forms.Form):
    revision = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    unsure = forms.BooleanField(required=False)
    comment = forms.CharField(
        required=False, strip=False, max_length=MAX_COMMENT_CHARS, widget=forms.Textarea
    )
    time_spent_ms = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_TIME_SPENT_MS,
        widget=forms.HiddenInput,
    )
    attr_count = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_ATTRIBUTIONS,
        widget=forms.HiddenInput,
    )
    suggestions_shown = forms.IntegerField(
        required=False, min_value=0, max_value=100, widget=forms.HiddenInput
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Renamed so the POST name can carry a dash like the other fields.
        self.fields["attr-count"] = self.fields.pop("attr_count")

    def clean(self) -> dict:
        cleaned = super().clean()
        data = self.data
        labels: dict[str, tuple[str, ...]] = {}
        primary: dict[str, str] = {}
        for name in data:
            # Unknown dimensions are passed on so the service refuses them by name.
            if name.startswith("dim-"):
                codes = tuple(
                    code.strip() for code in data.getlist(name) if code.strip()
                )
                if codes:
                    labels[name[4:]] = codes
            elif name.startswith("primary-") and data.get(name, "").strip():
                primary[name[8:]] = data[name].strip()
        attributions = self._attributions(cleaned.get("attr-count") or 0)
        stances = []
        for name in data:
            if not name.startswith("stance-"):
                continue
            target = name[7:]
            polarity = data.get(name, "").strip()
            if not polarity:
                continue
            holder_text = data.get(f"holder-{target}", "").strip()
            holder = None
            if holder_text:
                if not holder_text.isdigit():
                    self.add_error(
                        None, f"stance toward {target}: holder must be a number"
                    )
                    continue
                holder = int(holder_text)
            stances.append(StanceInput(target=target, polarity=polarity, holder=holder))
        cleaned["payload"] = AnnotationInput(
            labels=labels,
            primary=primary,
            attributions=tuple(attributions),
            stances=tuple(stances),
            unsure=bool(cleaned.get("unsure")),
            comment=cleaned.get("comment") or "",
            time_spent_ms=cleaned.get("time_spent_ms") or 0,
            suggestions_shown=cleaned.get("suggestions_shown") or 0,
        )
        return cleaned

    def _attributions(self, count: int) -> list[AttributionInput]:
        data = self.data
        result = []
        for i in range(count):
            prefix = f"attr-{i}-"
            source = data.get(prefix + "source", "")
            cue = data.get(prefix + "cue", "")
            if len(source) > MAX_FIELD_CHARS or len(cue) > MAX_FIELD_CHARS:
                self.add_error(
                    None, f"attribution {i + 1}: source or cue is far too long"
                )
                continue
            if not source.strip():
                # An empty row (the form always offers one) is not an attribution.
                continue
            try:
                span = self._span(
                    data.get(prefix + "source_start", ""),
                    data.get(prefix + "source_end", ""),
                )
                cue_spans = parse_spans(data.get(prefix + "cue_spans", ""))
            except ValueError:
                self.add_error(
                    None, f"attribution {i + 1}: a span is not of the form start-end"
                )
                continue
            result.append(
                AttributionInput(
                    source_text=source,
                    source_type=data.get(prefix + "source_type", "").strip(),
                    form=data.get(prefix + "form", "").strip(),
                    cue_text=cue,
                    source_span=span,
                    cue_spans=cue_spans,
                    suggestion=data.get(prefix + "suggestion", "").strip(),
                )
            )
        return result

    @staticmethod
    def _span(start: str, end: str) -> tuple[int, int] | None:
        start, end = start.strip(), end.strip()
        if not start and not end:
            return None
        if not (start.isdigit() and end.isdigit()):
            raise ValueError(start)
        return (int(start), int(end))


# ---------------------------------------------------------------------------
# Review: the reviewer's gold for one segment
# ---------------------------------------------------------------------------


class CodesField(forms.Field):
    """Every value of a multi-valued field (checkboxes), as posted. Codes are
    not checked against a list here: ``save_annotation`` refuses unknown ones by
    name, as for every other write path."""

    widget = forms.CheckboxSelectMultiple

    def to_python(self, value) -> tuple[str, ...]:
        return tuple(value or ())


class ReviewForm(forms.Form):
    """The reviewer's choices for one segment (``review.ReviewSegment``): one field
    per dimension and stance target, named as the review template names them
    (``dim-<code>``, ``stance-<target>``), the gold's attributions, ``unsure``,
    ``comment`` and the ``revision`` of the gold the page showed.

    The gold's attributions: ``gattr-count`` rows, row ``i`` with
    ``gattr-<i>-source`` (as written; empty: no attribution), ``-source_type``,
    ``-form`` (codes), ``-cue``, ``-source_start``, ``-source_end`` (digits or
    both empty), ``-cue_spans`` (``"4-8, 20-31"``), ``-stances`` (the stances the
    source holds, ``"russia=against;nato=favor"``), ``-delete`` (present: left
    out) and ``-group`` (the source it was proposed for, to redraw it after a
    refusal). A post without ``gattr-count`` takes the attributions and their
    stances from one annotation as before: ``sources`` (an annotation id,
    ``gold`` or ``none``; default the one matching the pre-selected claim).
    Codes are judged by ``services.save_annotation``; malformed spans or
    stances are refused here with ``AnnotationRefused``, nothing stored."""

    revision = forms.CharField(required=False)
    sources = forms.CharField(required=False)
    unsure = forms.BooleanField(required=False)
    comment = forms.CharField(required=False, strip=True)

    def __init__(self, data, *, item: ReviewSegment) -> None:
        super().__init__(data)
        self.item = item
        for group in item.groups:
            if group.spec.multi:
                self.fields[group.field_name] = CodesField(required=False)
            else:
                self.fields[group.field_name] = forms.CharField(
                    required=False, strip=False
                )

    def clean_revision(self) -> int | None:
        # A missing or garbled revision is "no gold seen": a stale one is refused
        # by save_annotation as a conflict.
        return _int(self.cleaned_data.get("revision"))

    def payload(self) -> AnnotationInput:
        """The choices as an ``AnnotationInput``: the gold attributions from the
        editor's rows (``gattr-*``), or, without them, taken over with the
        stances they hold from the annotation chosen by ``sources``."""
        data = self.cleaned_data
        labels: dict[str, tuple[str, ...]] = {}
        stances: list[StanceInput] = []
        for group in self.item.groups:
            spec = group.spec
            value = data.get(group.field_name)
            if spec.target:
                polarity = value if group.field_name in self.data else NO_STANCE
                if polarity and polarity != NO_STANCE:
                    stances.append(StanceInput(target=spec.target, polarity=polarity))
            elif spec.multi:
                if value:
                    labels[spec.dimension] = value
            elif value:
                labels[spec.dimension] = (value,)
        if "gattr-count" in self.data:
            attributions, held = self.gold_attributions()
            return AnnotationInput(
                labels=labels,
                primary=self._primary(labels),
                attributions=attributions,
                stances=tuple(stances + held),
                unsure=bool(data.get("unsure")),
                comment=data.get("comment") or "",
            )
        base = self.sources_from()
        values = base.values if base is not None else {}
        attributions = tuple(
            AttributionInput(
                source_text=a.get("source_text", ""),
                source_type=a.get("source_type", ""),
                form=a.get("form", ""),
                cue_text=a.get("cue_text", ""),
                source_span=tuple(a["source_span"]) if a.get("source_span") else None,
                cue_spans=tuple(tuple(span) for span in a.get("cue_spans", ())),
            )
            for a in values.get("attributions", ())
        )
        stances += [
            StanceInput(target=s["target"], polarity=s["polarity"], holder=s["holder"])
            for s in values.get("stances", ())
            if s.get("holder") is not None
        ]
        primary = {
            dimension: code
            for dimension, code in values.get("primary", {}).items()
            if code in labels.get(dimension, ())
        }
        return AnnotationInput(
            labels=labels,
            primary=primary,
            attributions=attributions,
            stances=tuple(stances),
            unsure=bool(data.get("unsure")),
            comment=data.get("comment") or "",
        )

    def _primary(self, labels: dict[str, tuple[str, ...]]) -> dict[str, str]:
        """The primary frame of the annotation the attributions default to,
        when the reviewer kept it (the review form has no primary choice)."""
        base = next((a for a in self.item.own if a.pk == self.item.base_id), None)
        chosen = (base.values or {}).get("primary", {}) if base else {}
        if self.item.gold is not None:
            chosen = (self.item.gold.values or {}).get("primary", {})
        return {
            dimension: code
            for dimension, code in chosen.items()
            if code in labels.get(dimension, ())
        }

    def _rows(self) -> list[dict[str, str]]:
        """The posted editor rows as text, ``delete`` and ``group`` included."""
        data = self.data
        try:
            count = int(data.get("gattr-count") or 0)
        except ValueError:
            count = -1
        if not 0 <= count <= MAX_ATTRIBUTIONS + 1:
            raise AnnotationRefused(
                [f"the gold takes at most {MAX_ATTRIBUTIONS} attributions"]
            )
        rows = []
        for i in range(count):
            prefix = f"gattr-{i}-"
            row = {name: data.get(prefix + name, "") for name in GOLD_FIELDS}
            row["delete"] = data.get(prefix + "delete", "")
            row["group"] = data.get(prefix + "group", "")
            rows.append(row)
        return rows

    def gold_attributions(
        self,
    ) -> tuple[tuple[AttributionInput, ...], list[StanceInput]]:
        """The editor's rows that are kept (not deleted, a source given) and the
        stances they hold, each held by its row's place among the kept ones."""
        errors: list[str] = []
        attributions: list[AttributionInput] = []
        held: list[StanceInput] = []
        for number, row in enumerate(self._rows(), start=1):
            if row["delete"] or not row["source"].strip():
                continue
            where = f"gold attribution {number}"
            if any(len(row[name]) > MAX_FIELD_CHARS for name in GOLD_FIELDS):
                errors.append(f"{where}: a field is far too long")
                continue
            try:
                span = AnnotationForm._span(row["source_start"], row["source_end"])
                cue_spans = parse_spans(row["cue_spans"])
            except ValueError:
                errors.append(f"{where}: a span is not of the form start-end")
                continue
            stances = []
            for part in filter(None, (p.strip() for p in row["stances"].split(";"))):
                target, _, polarity = part.partition("=")
                if not target.strip() or not polarity.strip():
                    errors.append(f"{where}: stance {part!r} is not target=polarity")
                    continue
                stances.append((target.strip(), polarity.strip()))
            holder = len(attributions)
            held += [
                StanceInput(target=target, polarity=polarity, holder=holder)
                for target, polarity in stances
            ]
            attributions.append(
                AttributionInput(
                    source_text=row["source"],
                    source_type=row["source_type"].strip(),
                    form=row["form"].strip(),
                    cue_text=row["cue"],
                    source_span=span,
                    cue_spans=cue_spans,
                )
            )
        if len(attributions) > MAX_ATTRIBUTIONS:
            errors.append(f"the gold takes at most {MAX_ATTRIBUTIONS} attributions")
        if errors:
            raise AnnotationRefused(errors)
        return tuple(attributions), held

    def sources_from(self) -> Annotation | None:
        choice = self.cleaned_data.get("sources") or ""
        if choice == "gold":
            return self.item.gold
        if choice == "none":
            return None
        wanted = _int(choice) or self.item.base_id
        return next((a for a in self.item.own if a.pk == wanted), None)

    def keep_choices(self) -> None:
        """After a refused save, show what the reviewer had chosen, not the
        majority: the labels and the editor's rows as posted."""
        for group in self.item.groups:
            chosen = set(self.data.getlist(group.field_name))
            for choice in group.choices:
                choice.checked = choice.code in chosen
        if "gattr-count" not in self.data:
            return
        try:
            posted = self._rows()
        except AnnotationRefused:
            return
        proposed = {
            row.group: row for row in self.item.gold_rows if row.group is not None
        }
        rows = []
        for index, row in enumerate(posted):
            base = proposed.get(_int(row["group"]))
            rows.append(
                GoldAttributionRow(
                    index=index,
                    group=base.group if base else None,
                    title=base.title if base else "",
                    votes=base.votes if base else 0,
                    n=base.n if base else len(self.item.rows),
                    values={name: row[name] for name in GOLD_FIELDS},
                    deleted=bool(row["delete"]),
                    options=base.options if base else [],
                    alternatives=base.alternatives if base else [],
                )
            )
        if not rows or not rows[-1].blank:
            rows.append(
                GoldAttributionRow(
                    index=len(rows),
                    group=None,
                    title="",
                    votes=0,
                    n=len(self.item.rows),
                    values={},
                )
            )
        self.item.gold_rows = rows


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# Assignment (managers)
# ---------------------------------------------------------------------------


class AssignForm(forms.Form):
    MODE_CHOICES = [
        ("auto", "Automatically: each article by k of the chosen annotators, balanced"),
        ("hand", "By hand: every chosen annotator gets every chosen article"),
    ]
    mode = forms.ChoiceField(
        choices=MODE_CHOICES, initial="auto", widget=forms.RadioSelect
    )
    overlap = forms.IntegerField(
        min_value=1,
        max_value=50,
        initial=2,
        required=False,
        help_text="k: how many annotators label each article.",
    )
    annotators = forms.ModelMultipleChoiceField(
        queryset=Membership.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    all_articles = forms.BooleanField(
        required=False, label="All articles of the project (ignores the selection)"
    )
    articles = forms.ModelMultipleChoiceField(
        queryset=Article.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["annotators"].queryset = (
            Membership.objects.filter(project=project)
            .select_related("user")
            .order_by("user__username")
        )
        self.fields["annotators"].label_from_instance = lambda m: (
            f"{m.user.username} ({m.role})"
        )
        self.fields["articles"].queryset = Article.objects.filter(project=project)
        if not kwargs.get("data"):
            self.fields["overlap"].initial = project.overlap

    def clean(self) -> dict:
        data = super().clean()
        chosen = data.get("annotators") or []
        if data.get("mode") == "auto":
            overlap = data.get("overlap")
            if overlap is None:
                self.add_error("overlap", "Give k, the annotators per article.")
            elif chosen and overlap > len(chosen):
                self.add_error(
                    "overlap", f"k can be at most the {len(chosen)} annotators chosen."
                )
        else:
            data["overlap"] = len(chosen)
        if not data.get("all_articles") and not data.get("articles"):
            self.add_error("articles", "Choose articles, or tick 'All articles'.")
        return data


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------

MODE_CHOICES = [
    ("annotations", "Annotations: one row per segment and annotator"),
    ("segments", "Segments: one row per segment, gold or majority label"),
]
FORMAT_CHOICES = [
    ("csv", "CSV for spreadsheets (UTF-8 with BOM, formulas neutralised)"),
    ("csv-raw", "CSV, raw values (for scripts and pandas)"),
    ("jsonl", "JSONL (one JSON object per line, raw values)"),
]


# A date input's value is ISO 8601 whatever the locale shows (HTML standard).
ISO_DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ExportForm(forms.Form):
    # Radio buttons, not selects: every choice and what it means is visible at once.
    mode = forms.ChoiceField(
        choices=MODE_CHOICES, initial="annotations", widget=forms.RadioSelect
    )
    format = forms.ChoiceField(
        choices=FORMAT_CHOICES, initial="csv", widget=forms.RadioSelect
    )
    annotators = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: everyone.",
    )
    outlet = forms.ChoiceField(required=False)
    title = forms.CharField(required=False, max_length=200, label="Title contains")
    published_from = forms.DateField(required=False, widget=ISO_DATE_INPUT)
    published_to = forms.DateField(required=False, widget=ISO_DATE_INPUT)
    include_unlabelled = forms.BooleanField(
        required=False,
        label_suffix="",
        label="Include unlabelled segments (boilerplate too: the "
        "article text can be rebuilt from the rows)",
    )
    pseudonymise = forms.BooleanField(
        required=False,
        label_suffix="",
        label="Pseudonymise annotators (stable ann_… names)",
    )

    def __init__(
        self,
        *args,
        project: Project,
        members: list[tuple[str, int]],
        outlets: list[str],
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.members = members
        self.fields["annotators"].choices = [
            (name, f"{name} · {count:,} annotation{'' if count == 1 else 's'}")
            for name, count in members
        ]
        self.fields["outlet"].choices = [("", "All outlets")] + [
            (outlet, outlet) for outlet in outlets
        ]

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("published_from"), data.get("published_to")
        if start and end and start > end:
            raise forms.ValidationError("“Published from” is after “published to”.")
        return data

    def articles(self):
        """The articles chosen by the filters; None when no filter is set (all)."""
        data = self.cleaned_data
        filters = {}
        if data.get("outlet"):
            filters["outlet"] = data["outlet"]
        if data.get("title"):
            filters["title__icontains"] = data["title"]
        if data.get("published_from"):
            filters["published__gte"] = data["published_from"]
        if data.get("published_to"):
            filters["published__lte"] = data["published_to"]
        return (
            Article.objects.filter(project=self.project, **filters) if filters else None
        )


# ---------------------------------------------------------------------------
# Admin: import articles, the source list
# ---------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class ProjectUploadForm(forms.Form):
    """An upload into one of ``projects`` (those the user manages); the only one is
    chosen already, as a manager of one project has nothing to pick."""

    project = forms.ModelChoiceField(queryset=Project.objects.none())

    def __init__(self, *args, projects: QuerySet, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects
        first_two = list(projects[:2])
        if len(first_two) == 1:
            self.fields["project"].initial = first_two[0]


class ImportArticlesForm(ProjectUploadForm):
    files = MultipleFileField(
        help_text=".txt/.md (one article per file), .jsonl/.csv (one article per row)"
    )


class SourceAdminForm(forms.ModelForm):
    """A name or alias names one curated source of a project, whatever its case,
    spacing or Unicode form (``snapshot.source_key``); an annotator's own names
    are unique among their own. A second entry with the same spelling would make
    matching a save's names ambiguous."""

    class Meta:
        model = Source
        fields = ["project", "name", "aliases", "source_type"]

    def clean(self) -> dict:
        data = super().clean()
        project = data.get("project") or getattr(self.instance, "project", None)
        if project is None or "name" not in data:
            return data
        aliases = data.get("aliases") or []
        if not isinstance(aliases, list) or not all(
            isinstance(alias, str) for alias in aliases
        ):
            raise forms.ValidationError(
                'Aliases are a JSON list of names, e.g. ["Selenski", "Zelensky"].'
            )
        owner_id = self.instance.owner_id if self.instance.pk else None
        taken: dict[str, str] = {}
        others = (
            Source.objects.filter(project=project)
            .filter(Q(owner__isnull=True) | Q(owner_id=owner_id))
            .exclude(pk=self.instance.pk)
        )
        for other in others.only("name", "aliases"):
            for spelling in [other.name, *other.aliases]:
                if isinstance(spelling, str):
                    taken.setdefault(source_key(spelling), other.name)
        for spelling in [data["name"], *aliases]:
            owner = taken.get(source_key(spelling))
            if owner is not None:
                raise forms.ValidationError(
                    f"“{spelling}” already names the source “{owner}” (as its name "
                    "or an alias). To make them one, merge the two sources "
                    "(action “Merge selected sources into one”)."
                )
        return data


class ImportSuggestionsForm(ProjectUploadForm):
    origin = forms.CharField(
        max_length=100,
        help_text="The model's or tool's name; annotators see it beside each "
        "suggestion.",
    )
    file = forms.FileField(
        help_text="JSON lines (as suggest_attributions prints them) or a Label "
        "Studio predictions export."
    )
    replace = forms.BooleanField(
        required=False,
        label="Replace this origin's earlier suggestions for the same segments",
    )
