"""Pieces of the annotate page made outside its template, for speed (the page
is drawn on every open of an article): what depends on the scheme alone is
rendered once per scheme index and kept with it, and the outline's 50 links are
made in Python. The markup of the chips, stance cells, guidelines and blank source
stays in ``annotate.html`` (its partials)."""

from __future__ import annotations

from html import escape

from django.template.loader import get_template, render_to_string
from django.utils.safestring import mark_safe

from annotations.annotate_data import panel
from annotations.models import Segment
from annotations.scheme import SchemeIndex
from annotations.services import MAX_SOURCE_CHARS, MAX_SOURCE_NAME_CHARS

PAGE = "annotations/annotate.html"


def scheme_html(index: SchemeIndex) -> dict:
    """The parts of the page that depend on the scheme alone, rendered once per
    index and kept with it (``derived``), so once per process and scheme
    revision: the guidelines overlay, the blank source annotate.js copies, and
    every label chip (``chips``, by dimension, label, ticked, primary) and
    stance cell (``stance_cells``, by target, polarity, ticked) in each state a
    page can show it in. A page then only picks its pieces."""
    parts = index.derived.get("annotate_page_html")
    if parts is not None:
        return parts
    blank = panel(index, {})
    context = {
        "panel": blank,
        "max_source_name": MAX_SOURCE_NAME_CHARS,
        "max_cue": MAX_SOURCE_CHARS,
    }
    parts = {
        name.replace("-", "_"): render_to_string(f"{PAGE}#{name}", context)
        for name in ("guidelines", "attribution-template")
    }
    chip = get_template(f"{PAGE}#label-chip")
    parts["chips"] = {
        (entry["dimension"].code, row["label"].code, checked, primary): chip.render(
            {"d": entry, "row": {**row, "checked": checked, "primary": primary}}
        )
        for entry in blank["dimensions"]
        for row in entry["labels"]
        for checked in (False, True)
        for primary in (False, True)
    }
    cell = get_template(f"{PAGE}#stance-cell")
    parts["stance_cells"] = {
        (target["target"].code, polarity["label"].code, checked): cell.render(
            {"t": target, "p": polarity, "checked": checked}
        )
        for target in blank["targets"]
        for polarity in blank["polarities"]
        for checked in (False, True)
    }
    # The empty source row a page ends its sources with, by its number: drawn on
    # first use (usually 0, a segment without sources).
    parts["blank_attributions"] = {}
    index.derived["annotate_page_html"] = parts
    return parts


def panel_html(index: SchemeIndex, values: dict) -> dict:
    """``panel`` with each label row's chip, each target's stance cells and the
    empty source row picked from ``scheme_html``."""
    shown = panel(index, values)
    parts = scheme_html(index)
    chips, cells = parts["chips"], parts["stance_cells"]
    for entry in shown["dimensions"]:
        code = entry["dimension"].code
        for row in entry["labels"]:
            row["html"] = chips[
                (code, row["label"].code, row["checked"], row["primary"])
            ]
    for target in shown["targets"]:
        target["cells"] = [
            cells[
                (
                    target["target"].code,
                    p["label"].code,
                    target["polarity"] == p["label"].code,
                )
            ]
            for p in shown["polarities"]
        ]
    blank = shown["attributions"][-1]  # panel() ends them with an empty row
    drawn = parts["blank_attributions"]
    if blank["index"] not in drawn:
        drawn[blank["index"]] = render_to_string(
            "annotations/_attribution.html",
            {
                "a": blank,
                "index": blank["index"],
                "number": blank["index"] + 1,
                "source_types": shown["source_types"],
                "forms": shown["forms"],
                "max_source_name": MAX_SOURCE_NAME_CHARS,
                "max_cue": MAX_SOURCE_CHARS,
            },
        )
    blank["html"] = drawn[blank["index"]]
    return shown


def outline_html(segments: list[Segment], position: int) -> str:
    """The outline's items, one link per segment. Made here rather than in the
    template, where 50 segments were 600 variables (a third of the page's
    rendering); every string in it is escaped as the template escapes it."""
    items = []
    for s in segments:
        text = escape(s.outline_text)
        if not s.is_annotatable:
            items.append(
                '<li> <span class="outline-item state-skipped" title="Boilerplate: '
                'not annotated"> <span class="state-dot" aria-hidden="true"></span>'
                f'<span class="outline-text">{text}</span> </span> </li>'
            )
            continue
        state = escape(s.state)
        current = s.position == position
        items.append(
            f'<li> <a class="outline-item state-{state} kind-{escape(s.kind)}'
            f'{" current" if current else ""}" href="{escape(s.url)}" '
            f'data-position="{s.position}" title="{state}: '
            f'{escape(s.outline_title)}"{' aria-current="true"' if current else ""}>'
            ' <span class="state-dot" aria-hidden="true"></span> '
            f'<span class="visually-hidden">{state}:</span> '
            f'<span class="outline-text">{text}</span> </a> </li>'
        )
    return mark_safe("\n      ".join(items))  # noqa: S308 (every value escaped)
