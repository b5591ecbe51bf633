"""Reading attribution suggestions made elsewhere (an external model or tool), for
``manage.py import_suggestions`` and the admin upload. Plain Python, no Django.

Two formats, told apart by the first character of the file:

- **JSON lines** (the workbench's own shape, as ``suggest_attributions`` prints
  it): one object per line, ``{"article": <article id>, "position": <segment
  position>, "cue_spans": [[start, end], ...], "source_span": [start, end] | null,
  "source_text": "...", "form": "indirect", "score": 0.9}``; offsets into the
  article's stored text (the coordinates of ``manage.py segment``).
- **A Label Studio predictions export** (a JSON array of tasks): each task's
  ``data`` names ``article`` and ``position`` (``data.text`` is the segment), its
  ``predictions`` hold ``labels`` regions named ``Source`` or ``Cue`` (offsets
  into the segment's text) and optionally a ``choices`` result with the form;
  a ``relation`` from a cue to a source pairs them, otherwise they pair in order.

A file is read whole and checked row by row; every problem is reported with its
line (or task) number, and nothing is stored unless there is none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_BYTES = 50 * 2**20
# Nesting of a row or a task (a Label Studio task is about 8 deep); deeper JSON
# is refused before it is parsed: Python's parser recurses.
MAX_DEPTH = 12


class SuggestionsRefused(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:5]))
        self.errors = errors


@dataclass(frozen=True)
class ExternalSuggestion:
    article: int
    position: int
    cue_spans: tuple[tuple[int, int], ...]
    source_span: tuple[int, int] | None
    source_text: str
    form: str
    score: float | None
    # True: the offsets are into the segment's text (Label Studio), else into
    # the article's.
    segment_offsets: bool = False
    where: str = ""


def parse_suggestions(data: bytes, *, name: str) -> list[ExternalSuggestion]:
    """Every suggestion of the file, or ``SuggestionsRefused`` with all problems."""
    if len(data) > MAX_BYTES:
        raise SuggestionsRefused([f"{name}: more than {MAX_BYTES:,} bytes"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SuggestionsRefused([f"{name}: not UTF-8 text"]) from None
    if not text.strip():
        raise SuggestionsRefused([f"{name}: the file is empty"])
    if text.lstrip().startswith("["):
        return _label_studio(text, name=name)
    return _json_lines(text, name=name)


def _too_deep(text: str) -> bool:
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _loads(text: str, where: str, errors: list[str]):
    if _too_deep(text):
        errors.append(f"{where}: nested deeper than {MAX_DEPTH} levels")
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        errors.append(f"{where}: not valid JSON ({getattr(error, 'msg', error)})")
        return None


def _int(value, what: str, where: str, errors: list[str]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    errors.append(f"{where}: {what} must be a whole number >= 0, got {value!r}")
    return None


def _span(value, what: str, where: str, errors: list[str]):
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 0 <= value[0] < value[1]
    ):
        return (value[0], value[1])
    errors.append(f"{where}: {what} must be [start, end] with start < end")
    return None


def _score(value, where: str, errors: list[str]) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (0 <= value <= 1)
    ):
        return float(value)
    errors.append(f"{where}: score must be a number from 0 to 1, got {value!r}")
    return None


def _text(value, what: str, where: str, errors: list[str], limit: int = 300) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(f"{where}: {what} must be text")
        return ""
    if len(value) > limit:
        errors.append(f"{where}: {what} is longer than {limit} characters")
    return value.strip()


def _json_lines(text: str, *, name: str) -> list[ExternalSuggestion]:
    found: list[ExternalSuggestion] = []
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}, line {number}"
        row = _loads(line, where, errors)
        if row is None:
            continue
        if not isinstance(row, dict):
            errors.append(f"{where}: a line must be a JSON object")
            continue
        article = _int(row.get("article"), "article", where, errors)
        position = _int(row.get("position"), "position", where, errors)
        raw_cues = row.get("cue_spans") or []
        if not isinstance(raw_cues, list):
            errors.append(f"{where}: cue_spans must be a list of [start, end]")
            raw_cues = []
        cues = [_span(span, "a cue span", where, errors) for span in raw_cues]
        source = row.get("source_span")
        source_span = _span(source, "source_span", where, errors) if source else None
        source_text = _text(row.get("source_text"), "source_text", where, errors)
        form = _text(row.get("form"), "form", where, errors, limit=60)
        score = _score(row.get("score"), where, errors)
        if not cues and source_span is None and not source_text:
            errors.append(f"{where}: names neither a cue nor a source")
        if None in (article, position) or None in cues:
            continue
        found.append(
            ExternalSuggestion(
                article,
                position,
                tuple(cues),
                source_span,
                source_text,
                form,
                score,
                where=where,
            )
        )
    if errors:
        raise SuggestionsRefused(errors)
    if not found:
        raise SuggestionsRefused([f"{name}: no suggestion in the file"])
    return found


def _label_studio(text: str, *, name: str) -> list[ExternalSuggestion]:
    errors: list[str] = []
    tasks = _loads(text, name, errors)
    if tasks is None:
        raise SuggestionsRefused(errors)
    if not isinstance(tasks, list):
        raise SuggestionsRefused([f"{name}: a Label Studio export is a list of tasks"])
    found: list[ExternalSuggestion] = []
    for number, task in enumerate(tasks, start=1):
        where = f"{name}, task {number}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            errors.append(f"{where}: a task needs its data")
            continue
        data = task["data"]
        article = _int(data.get("article"), "data.article", where, errors)
        position = _int(data.get("position"), "data.position", where, errors)
        for prediction in task.get("predictions") or []:
            if not isinstance(prediction, dict):
                errors.append(f"{where}: a prediction must be an object")
                continue
            score = _score(prediction.get("score"), where, errors)
            origin_rows = prediction.get("result") or []
            pairs = _ls_pairs(origin_rows, where, errors)
            for cue, source, form in pairs:
                if article is None or position is None:
                    continue
                found.append(
                    ExternalSuggestion(
                        article,
                        position,
                        (cue,) if cue else (),
                        source[0] if source else None,
                        source[1] if source else "",
                        form,
                        score,
                        segment_offsets=True,
                        where=where,
                    )
                )
    if errors:
        raise SuggestionsRefused(errors)
    if not found:
        raise SuggestionsRefused([f"{name}: no prediction with a Source or Cue"])
    return found


def _ls_pairs(results, where: str, errors: list[str]):
    """(cue span, (source span, text), form) per attribution of one prediction."""
    if not isinstance(results, list):
        errors.append(f"{where}: result must be a list")
        return []
    regions: dict[str, tuple[str, tuple[int, int], str]] = {}
    order: list[str] = []
    relations: list[tuple[str, str]] = []
    form = ""
    for index, result in enumerate(results):
        if not isinstance(result, dict):
            errors.append(f"{where}: a result must be an object")
            continue
        value = result.get("value") or {}
        kind = result.get("type")
        if kind == "relation":
            relations.append((str(result.get("from_id")), str(result.get("to_id"))))
        elif kind == "choices":
            choices = value.get("choices") or []
            if choices:
                form = _text(choices[0], "the form choice", where, errors, limit=60)
        elif kind == "labels":
            labels = [str(label).lower() for label in value.get("labels") or []]
            role = "source" if "source" in labels else "cue" if "cue" in labels else ""
            if not role:
                continue
            span = _span(
                [value.get("start"), value.get("end")],
                f"a {role} region",
                where,
                errors,
            )
            if span is None:
                continue
            key = str(result.get("id", index))
            regions[key] = (role, span, str(value.get("text") or ""))
            order.append(key)
    cues = [k for k in order if regions[k][0] == "cue"]
    sources = [k for k in order if regions[k][0] == "source"]
    paired: dict[str, str] = {}
    for a, b in relations:
        if (
            a in regions
            and b in regions
            and {regions[a][0], regions[b][0]}
            == {
                "cue",
                "source",
            }
        ):
            cue, source = (a, b) if regions[a][0] == "cue" else (b, a)
            paired[cue] = source
    pairs = []
    used: set[str] = set(paired.values())
    spare = [s for s in sources if s not in used]
    for cue in cues:
        source = paired.get(cue) or (spare.pop(0) if spare else None)
        pairs.append(
            (
                regions[cue][1],
                (regions[source][1], regions[source][2].strip()) if source else None,
                form,
            )
        )
    pairs += [(None, (regions[s][1], regions[s][2].strip()), form) for s in spare]
    return pairs
