"""The annotate form: turns a POST (from annotate.js or a plain browser form) into an
``services.AnnotationInput``. Types and shapes are checked here; the scheme rules
(which labels exist, are active, belong to the project) stay in ``save_annotation``,
so every write path shares them.

Field names (stable, annotate.js and the tests use them):
``dim-<dimension code>`` (one value, or several for multi-choice), ``primary-<code>``,
``stance-<target code>`` (polarity code or empty), ``holder-<target code>`` (empty for
the author, else the attribution's index), ``attr-<i>-source|source_type|form|cue|
source_start|source_end|cue_spans`` for i < ``attr-count``, ``unsure``, ``comment``,
``time_spent_ms``, ``revision`` (the revision the page loaded, empty if none).
"""

from __future__ import annotations

import re

from django import forms

from .services import (
    MAX_COMMENT_CHARS,
    MAX_TIME_SPENT_MS,
    AnnotationInput,
    AttributionInput,
    StanceInput,
)

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


def values_from_input(payload: AnnotationInput) -> dict:
    """An unsaved submission in the same shape as ``Annotation.values`` (conflicts)."""
    return {
        "labels": {dim: list(codes) for dim, codes in payload.labels.items()},
        "primary": dict(payload.primary),
        "attributions": [
            {
                "source_text": item.source_text,
                "source_type": item.source_type,
                "form": item.form,
                "cue_text": item.cue_text,
                "source_span": list(item.source_span) if item.source_span else None,
                "cue_spans": [list(span) for span in item.cue_spans],
            }
            for item in payload.attributions
        ],
        "stances": [
            {"target": s.target, "polarity": s.polarity, "holder": s.holder}
            for s in payload.stances
        ],
        "unsure": payload.unsure,
        "comment": payload.comment,
    }
