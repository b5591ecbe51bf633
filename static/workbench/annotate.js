// The annotate screen. The page carries the whole article (segments, my labels,
// cue candidates, names; the JSON block #annotate-data), so moving to another
// segment never waits for the server: Enter puts the save into a queue and shows
// the next segment at once. The queue (localStorage, so it survives a reload)
// sends saves in order, one at a time, retries with backoff, and brings a refusal
// (422) or a conflict (409) back to the segment it belongs to. Keys are the
// whole interface; no field keeps them (Esc leaves any field, Enter saves from
// any field). No inline script (CSP): everything hangs off delegated listeners.
(() => {
  "use strict";

  const dataBlock = document.getElementById("annotate-data");
  if (!dataBlock) return;
  const DATA = JSON.parse(dataBlock.dataset.payload);
  const IDLE_MS = 60_000;
  const MAX_BACKOFF_MS = 30_000;
  const UNDO_DEPTH = 50;
  const TEXT_TYPES = new Set(["text", "search", "email", "url", "number", "password", "tel"]);
  const QUEUE_KEY = `wb-save-queue:v2:${DATA.user}`;
  const ARTICLE = DATA.article.id;

  const $ = (selector, scope = document) => scope.querySelector(selector);
  const $$ = (selector, scope = document) => Array.from(scope.querySelectorAll(selector));
  const root = () => document.getElementById("annotate-root");
  const form = () => document.getElementById("annotate-form");

  const segments = DATA.segments;
  const byPosition = new Map(segments.map((s) => [s.position, s]));
  const annotatable = segments.filter((s) => s.annotatable).map((s) => s.position);

  // What this page knows of each of my segments: the values shown, the revision
  // the server last confirmed, and whether it is saved, waiting or held.
  const local = new Map();
  for (const [position, row] of Object.entries(DATA.mine)) {
    local.set(Number(position), { values: row.values, revision: row.revision, saved: true });
  }

  const state = {
    position: Number(root().dataset.position),
    dirty: false,
    mode: null, // {kind: "stance", row} | {kind: "attr", index}
    activeMs: 0,
    lastTick: performance.now(),
    lastInput: Date.now(),
    undo: new Map(), // position -> [values before each change]
    typingPushed: false,
    pumping: false,
    retryTimer: null,
    backoff: 0,
    offline: "",
    projectDone: DATA.progress.project_done,
    projectTotal: DATA.progress.project_total,
    suggestTimer: null,
    remote: [], // names the server found for the source field's query
    dismissed: new Map(), // position -> how many suggestions were dismissed
  };
  // Browser-measured time from a key to the next segment being ready (tests and
  // the README's figures read it).
  window.__wb = { metrics: [] };

  // ================================================================ values <-> form

  function emptyValues() {
    return { labels: {}, primary: {}, attributions: [], stances: [], unsure: false, comment: "" };
  }

  function clone(values) {
    return JSON.parse(JSON.stringify(values || emptyValues()));
  }

  function attributionRows() {
    return $$("#attributions fieldset.attribution");
  }

  function field(row, name) {
    return $(`[name="attr-${row.dataset.index}-${name}"]`, row);
  }

  function radioValue(row, name) {
    const checked = $$(`input[name="attr-${row.dataset.index}-${name}"]`, row).find((i) => i.checked);
    return checked ? checked.value : "";
  }

  function parseSpans(text) {
    return String(text || "").split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
      const [a, b] = part.split("-").map((x) => Number(x.trim()));
      return [a, b];
    }).filter(([a, b]) => Number.isInteger(a) && Number.isInteger(b));
  }

  function valuesFromForm() {
    const f = form();
    const values = emptyValues();
    if (!f) return values;
    for (const input of $$('input[name^="dim-"]', f)) {
      if (!input.checked) continue;
      const dim = input.name.slice(4);
      (values.labels[dim] = values.labels[dim] || []).push(input.value);
    }
    for (const input of $$('input[name^="primary-"]', f)) {
      if (input.checked) values.primary[input.name.slice(8)] = input.value;
    }
    const rows = attributionRows().filter((row) => field(row, "source").value.trim());
    const indexOf = new Map(rows.map((row, i) => [row.dataset.index, i]));
    values.attributions = rows.map((row) => {
      const start = field(row, "source_start").value.trim();
      const end = field(row, "source_end").value.trim();
      return {
        source_text: field(row, "source").value.trim(),
        source_type: radioValue(row, "source_type"),
        form: radioValue(row, "form"),
        cue_text: field(row, "cue").value.trim(),
        source_span: start !== "" && end !== "" ? [Number(start), Number(end)] : null,
        cue_spans: parseSpans(field(row, "cue_spans").value),
        ...suggestionUse(row),
      };
    });
    for (const tr of $$(".stance-row", f)) {
      const checked = $$('input[type="radio"]', tr).find((i) => i.checked);
      if (!checked) continue;
      const holderRaw = ($(".holder-select", tr) || {}).value || "";
      const holder = holderRaw === "" ? null : indexOf.has(holderRaw) ? indexOf.get(holderRaw) : null;
      values.stances.push({ target: tr.dataset.target, polarity: checked.value, holder });
    }
    values.unsure = Boolean($("#unsure") && $("#unsure").checked);
    values.comment = $("#comment") ? $("#comment").value : "";
    return values;
  }

  function applyValues(values) {
    const f = form();
    if (!f) return;
    values = values || emptyValues();
    const labels = values.labels || {};
    const primary = values.primary || {};
    for (const input of $$('input[name^="dim-"]', f)) {
      input.checked = (labels[input.name.slice(4)] || []).includes(input.value);
    }
    for (const input of $$('input[name^="primary-"]', f)) {
      input.checked = primary[input.name.slice(8)] === input.value;
    }
    renderAttributions(values.attributions || []);
    const byTarget = new Map();
    for (const s of values.stances || []) {
      const known = byTarget.get(s.target);
      // One row per target: the author's stance first, else the first source's.
      if (!known || (known.holder !== null && known.holder !== undefined && (s.holder === null || s.holder === undefined))) byTarget.set(s.target, s);
    }
    updateHolders();
    for (const tr of $$(".stance-row", f)) {
      const stance = byTarget.get(tr.dataset.target);
      for (const radio of $$('input[type="radio"]', tr)) radio.checked = Boolean(stance && radio.value === stance.polarity);
      const select = $(".holder-select", tr);
      if (select) select.value = stance && stance.holder !== null && stance.holder !== undefined ? String(stance.holder) : "";
    }
    if ($("#unsure")) $("#unsure").checked = Boolean(values.unsure);
    if ($("#comment")) $("#comment").value = values.comment || "";
  }

  // ================================================================ attributions

  function newAttributionRow(index) {
    const template = $("#attribution-template");
    const html = template.innerHTML.replaceAll("__i__", String(index)).replaceAll("__n__", String(index + 1));
    const holder = document.createElement("div");
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  function renderAttributions(attributions) {
    const box = $("#attributions");
    if (!box) return;
    const rows = [...attributions, null].map((item, index) => {
      const row = newAttributionRow(index);
      if (item) {
        field(row, "source").value = item.source_text || "";
        for (const radio of $$(`input[name="attr-${index}-source_type"]`, row)) radio.checked = radio.value === item.source_type;
        for (const radio of $$(`input[name="attr-${index}-form"]`, row)) radio.checked = radio.value === item.form;
        field(row, "cue").value = item.cue_text || "";
        const span = item.source_span;
        field(row, "source_start").value = span ? span[0] : "";
        field(row, "source_end").value = span ? span[1] : "";
        field(row, "cue_spans").value = (item.cue_spans || []).map(([a, b]) => `${a}-${b}`).join(", ");
        field(row, "suggestion").value = item.suggestion || "";
        // The suggestion it came from (after a reload: found again by its source).
        const suggested = item.suggested || (item.suggestion && ((currentSegment() || {}).suggestions || [])
          .find((sug) => sug.source_text === item.source_text));
        if (suggested) row.dataset.suggested = JSON.stringify(suggested);
      } else {
        row.classList.add("attribution-new");
      }
      return row;
    });
    box.replaceChildren(...rows);
    syncAttrCount();
    for (const row of rows) {
      renderCues(row);
      showSpan(row);
    }
  }

  function syncAttrCount() {
    const input = $('input[name="attr-count"]');
    if (input) input.value = String(attributionRows().length);
  }

  function ensureTrailingEmptyRow() {
    const rows = attributionRows();
    const last = rows[rows.length - 1];
    if (!last || field(last, "source").value.trim()) {
      last && last.classList.remove("attribution-new");
      const row = newAttributionRow(rows.length);
      row.classList.add("attribution-new");
      $("#attributions").append(row);
      renderCues(row);
      syncAttrCount();
    }
  }

  function currentSegment() {
    return byPosition.get(state.position);
  }

  function renderCues(row) {
    const box = $(".cue-candidates", row);
    if (!box) return;
    const segment = currentSegment();
    const cues = segment ? segment.cues || [] : [];
    const chosen = field(row, "cue_spans").value.replace(/\s+/g, "");
    box.replaceChildren(...cues.map((cue, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "cue-chip";
      button.tabIndex = -1;
      button.dataset.cue = String(i);
      const spans = cue.spans.map(([a, b]) => `${a}-${b}`).join(",");
      if (spans === chosen) button.classList.add("chosen");
      const kbd = document.createElement("kbd");
      kbd.textContent = String(i + 1);
      button.append(kbd, document.createTextNode(` ${cue.text}`));
      button.title = `Cue ${i + 1}: ${cue.text}`;
      return button;
    }));
    box.hidden = !cues.length;
  }

  function chooseCue(row, i) {
    const segment = currentSegment();
    const cue = segment && segment.cues[i];
    if (!cue) return false;
    pushUndo();
    const spans = cue.spans.map(([a, b]) => `${a}-${b}`).join(", ");
    const current = field(row, "cue_spans").value.trim();
    if (current.replace(/\s+/g, "") === spans.replace(/\s+/g, "")) {
      field(row, "cue_spans").value = "";
      field(row, "cue").value = "";
    } else {
      field(row, "cue_spans").value = spans;
      field(row, "cue").value = cue.text;
      markSource(row, { keep: false });
    }
    renderCues(row);
    markDirty();
    return true;
  }

  // ---------------------------------------------------------------- source spans
  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function occurrences(text, name) {
    const words = name.trim().split(/\s+/).filter(Boolean);
    if (!words.length) return [];
    const found = [];
    const pattern = new RegExp(words.map(escapeRegExp).join("\\s+"), "giu");
    for (const match of text.matchAll(pattern)) found.push([match.index, match.index + match[0].length]);
    return found;
  }

  function spanCandidates(row) {
    const segment = currentSegment();
    const name = field(row, "source").value;
    if (!segment || !name.trim()) return [];
    let found = occurrences(segment.text, name);
    if (!found.length) {
      // "Marco Rubio" chosen where the sentence says "Rubio": mark the family name.
      const words = name.trim().split(/\s+/);
      if (words.length > 1) found = occurrences(segment.text, words[words.length - 1]);
    }
    return found;
  }

  function markSource(row, { keep = true, next = false } = {}) {
    const found = spanCandidates(row);
    const start = field(row, "source_start");
    const end = field(row, "source_end");
    if (!found.length) {
      if (!keep) { start.value = ""; end.value = ""; }
      showSpan(row);
      return;
    }
    const current = found.findIndex(([a, b]) => String(a) === start.value && String(b) === end.value);
    let chosen;
    if (next) {
      chosen = found[(current + 1) % found.length];
    } else if (keep && current >= 0) {
      chosen = found[current];
    } else {
      // The occurrence nearest the cue, else the first.
      const cue = parseSpans(field(row, "cue_spans").value)[0];
      chosen = found[0];
      if (cue) {
        const distance = ([a, b]) => (b <= cue[0] ? cue[0] - b : a >= cue[1] ? a - cue[1] : 0);
        chosen = found.reduce((best, span) => (distance(span) < distance(best) ? span : best), found[0]);
      }
    }
    start.value = String(chosen[0]);
    end.value = String(chosen[1]);
    showSpan(row);
  }

  function showSpan(row) {
    const display = $(".span-display", row);
    if (!display) return;
    const segment = currentSegment();
    const start = field(row, "source_start").value;
    const end = field(row, "source_end").value;
    const name = field(row, "source").value.trim();
    if (!name) { display.textContent = ""; return; }
    if (start !== "" && end !== "" && segment) {
      const all = spanCandidates(row);
      const at = all.findIndex(([a, b]) => String(a) === start && String(b) === end);
      const more = all.length > 1 ? ` · o: next (${at + 1} of ${all.length})` : "";
      display.textContent = `marked „${segment.text.slice(Number(start), Number(end))}“${more}`;
    } else {
      display.textContent = "not named in this sentence (no span)";
    }
    highlightSpans();
  }

  function highlightSpans() {
    const segment = currentSegment();
    const el = document.getElementById("current-segment");
    if (!segment || !el) return;
    const marks = [];
    for (const row of attributionRows()) {
      const start = field(row, "source_start").value;
      const end = field(row, "source_end").value;
      if (start !== "" && end !== "") marks.push([Number(start), Number(end), "mark-source"]);
      for (const [a, b] of parseSpans(field(row, "cue_spans").value)) marks.push([a, b, "mark-cue"]);
    }
    const sug = visibleSuggestion();
    if (sug) {
      if (sug.source_span) marks.push([sug.source_span[0], sug.source_span[1], "mark-suggested-source"]);
      for (const [a, b] of sug.cue_spans) marks.push([a, b, "mark-suggested-cue"]);
    }
    marks.sort((x, y) => x[0] - y[0]);
    const parts = [];
    let at = 0;
    for (const [a, b, css] of marks) {
      if (a < at || b > segment.text.length) continue;
      if (a > at) parts.push(document.createTextNode(segment.text.slice(at, a)));
      const mark = document.createElement("mark");
      mark.className = css;
      mark.textContent = segment.text.slice(a, b);
      parts.push(mark);
      at = b;
    }
    parts.push(document.createTextNode(segment.text.slice(at)));
    el.replaceChildren(...parts);
  }

  // ---------------------------------------------------------------- source field
  function sourceKey(name) {
    return String(name || "").normalize("NFKC").toLocaleLowerCase("de").split(/\s+/).filter(Boolean).join(" ");
  }

  function knownType(name) {
    const key = sourceKey(name);
    for (const position of annotatable) {
      if (position === state.position) continue;
      const entry = local.get(position);
      for (const a of (entry && entry.values.attributions) || []) {
        if (a.source_type && (sourceKey(a.source_text) === key || sourceKey(a.source) === key)) return a.source_type;
      }
    }
    for (const source of DATA.sources) {
      if (source.type && [source.name, ...source.aliases].some((n) => sourceKey(n) === key)) return source.type;
    }
    return "";
  }

  function suggestions(query) {
    const segment = currentSegment();
    const text = segment ? segment.text : "";
    const lowerText = sourceKey(text);
    const seen = new Set();
    const out = [];
    const add = (name, hint) => {
      const key = sourceKey(name);
      if (!key || seen.has(key)) return;
      seen.add(key);
      out.push({ name, hint });
    };
    const known = [
      ...DATA.names,
      ...DATA.sources.flatMap((s) => [s.name, ...s.aliases]),
      ...state.remote,
    ];
    // 1. Names this sentence contains, in text order.
    known.filter((n) => lowerText.includes(sourceKey(n)))
      .sort((a, b) => lowerText.indexOf(sourceKey(a)) - lowerText.indexOf(sourceKey(b)))
      .forEach((n) => add(n, "in this sentence"));
    // 2. My sources earlier in this article, the latest first.
    for (const position of [...annotatable].reverse()) {
      if (position >= state.position) continue;
      const entry = local.get(position);
      for (const a of (entry && entry.values.attributions) || []) add(a.source_text, "yours, earlier here");
    }
    // 3. The article's names, then my own and the project's list.
    DATA.names.forEach((n) => add(n, "in this article"));
    DATA.sources.forEach((s) => add(s.name, s.own ? "yours" : "project list"));
    state.remote.forEach((n) => add(n, "project list"));
    const q = sourceKey(query);
    if (!q) return out.slice(0, 8);
    const words = (name) => sourceKey(name).split(/[\s-]+/);
    const prefix = out.filter((s) => sourceKey(s.name).startsWith(q) || words(s.name).some((w) => w.startsWith(q)));
    const inside = out.filter((s) => !prefix.includes(s) && sourceKey(s.name).includes(q));
    return [...prefix, ...inside].slice(0, 8);
  }

  function listOf(input) {
    return document.getElementById(input.getAttribute("aria-controls"));
  }

  function showSuggestions(input) {
    const list = listOf(input);
    if (!list) return;
    const query = input.value;
    const items = suggestions(query);
    const q = sourceKey(query);
    // Highlight the first name when nothing is typed or a word of it starts with
    // what is typed; otherwise Tab/Enter take the text as typed.
    const highlight = items.length && (!q || sourceKey(items[0].name).split(/[\s-]+/).some((w) => w.startsWith(q)) || sourceKey(items[0].name).startsWith(q)) ? 0 : -1;
    list.replaceChildren(...items.map((item, i) => {
      const li = document.createElement("li");
      li.role = "option";
      li.id = `${list.id}-${i}`;
      li.dataset.name = item.name;
      li.className = i === highlight ? "active" : "";
      li.setAttribute("aria-selected", i === highlight ? "true" : "false");
      const name = document.createElement("span");
      name.textContent = item.name;
      const hint = document.createElement("small");
      hint.textContent = item.hint;
      li.append(name, hint);
      return li;
    }));
    list.hidden = !items.length;
    input.setAttribute("aria-expanded", items.length ? "true" : "false");
    if (highlight >= 0) input.setAttribute("aria-activedescendant", `${list.id}-0`);
    else input.removeAttribute("aria-activedescendant");
  }

  function hideSuggestions(input) {
    const list = listOf(input);
    if (list) list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function moveHighlight(input, step) {
    const list = listOf(input);
    if (!list || list.hidden) { showSuggestions(input); return; }
    const items = $$("li", list);
    if (!items.length) return;
    let at = items.findIndex((li) => li.classList.contains("active"));
    at = at < 0 ? (step > 0 ? 0 : items.length - 1) : (at + step + items.length) % items.length;
    items.forEach((li, i) => { li.classList.toggle("active", i === at); li.setAttribute("aria-selected", i === at ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", items[at].id);
  }

  // Takes the highlighted name (or the text as typed) into the row's source.
  function commitSource(input) {
    const list = listOf(input);
    const active = list && !list.hidden ? $("li.active", list) : null;
    const row = input.closest("fieldset.attribution");
    if (active) input.value = active.dataset.name;
    hideSuggestions(input);
    if (!input.value.trim()) return row;
    const typeRadios = $$(`input[name="attr-${row.dataset.index}-source_type"]`, row);
    if (!typeRadios.some((r) => r.checked)) {
      const type = knownType(input.value);
      for (const radio of typeRadios) radio.checked = radio.value === type;
    }
    markSource(row, { keep: false });
    ensureTrailingEmptyRow();
    updateHolders();
    markDirty();
    return row;
  }

  function fetchNames(input) {
    clearTimeout(state.suggestTimer);
    state.suggestTimer = setTimeout(async () => {
      const query = input.value.trim();
      if (query.length < 2) return;
      try {
        const response = await fetch(`${DATA.urls.sources}?q=${encodeURIComponent(query)}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        const json = await readJson(response);
        if (!json || document.activeElement !== input) return;
        state.remote = json.names || [];
        showSuggestions(input);
      } catch (_) { /* the page's own names still work */ }
    }, 200);
  }

  // ---------------------------------------------------------------- suggestions
  // A suggestion (the built-in suggester's, or a project's own model's) is shown
  // above the sources; "a" accepts it whole as a new source, "d" dismisses it.
  // An accepted source remembers the suggestion, so a save records whether it
  // was taken as it was ("accepted") or changed afterwards ("edited").
  function sameSpans(a, b) {
    return JSON.stringify(a || []) === JSON.stringify(b || []);
  }

  function suggestionUse(row) {
    const use = field(row, "suggestion");
    if (!use) return {};
    const raw = row.dataset.suggested;
    if (!raw) return use.value ? { suggestion: use.value } : {};
    const suggested = JSON.parse(raw);
    const start = field(row, "source_start").value;
    const end = field(row, "source_end").value;
    const span = start !== "" && end !== "" ? [Number(start), Number(end)] : null;
    const same = field(row, "source").value.trim() === suggested.source_text
      && radioValue(row, "form") === suggested.form
      && sameSpans(parseSpans(field(row, "cue_spans").value), suggested.cue_spans)
      && sameSpans(span, suggested.source_span);
    use.value = same ? "accepted" : "edited";
    return { suggestion: use.value, suggested };
  }

  function visibleSuggestion() {
    const segment = currentSegment();
    const list = (segment && segment.suggestions) || [];
    const skip = state.dismissed.get(state.position) || 0;
    const taken = attributionRows().filter((row) => row.dataset.suggested).map((row) => row.dataset.suggested);
    const open = list.filter((sug) => !taken.some((raw) => sameSpans(JSON.parse(raw).cue_spans, sug.cue_spans) && JSON.parse(raw).source_text === sug.source_text));
    return open[skip] || null;
  }

  function suggestionText(sug) {
    const segment = currentSegment();
    const cue = sug.cue_spans.map(([a, b]) => segment.text.slice(a, b)).join(" … ");
    const chip = sug.form ? $(`.keyed-form input[value="${CSS.escape(sug.form)}"]`) : null;
    const formName = chip ? $(".chip-name", chip.closest(".chip")).textContent : sug.form;
    const parts = [sug.source_text ? `„${sug.source_text}“` : "no source"];
    if (cue) parts.push(`cue „${cue}“`);
    if (formName) parts.push(formName.toLowerCase());
    const score = sug.score === null || sug.score === undefined ? "" : `, ${Math.round(sug.score * 100)} %`;
    return `${parts.join(" · ")} (${sug.origin}${score})`;
  }

  function renderSuggestion() {
    const box = $("#suggestion-box");
    if (!box) return;
    const sug = visibleSuggestion();
    box.hidden = !sug;
    if (sug) $("#suggestion-text").textContent = suggestionText(sug);
  }

  function acceptSuggestion() {
    const sug = visibleSuggestion();
    if (!sug) return false;
    pushUndo();
    const values = valuesFromForm();
    values.attributions.push({
      source_text: sug.source_text,
      source_type: knownType(sug.source_text),
      form: sug.form,
      cue_text: sug.cue_spans.map(([a, b]) => currentSegment().text.slice(a, b)).join(" … "),
      source_span: sug.source_span,
      cue_spans: sug.cue_spans,
      suggestion: "accepted",
      suggested: sug,
    });
    applyValues(values);
    const rows = attributionRows().filter((r) => field(r, "source").value.trim());
    markDirty();
    enterAttr(rows[rows.length - 1]);
    return true;
  }

  function dismissSuggestion() {
    if (!visibleSuggestion()) return false;
    state.dismissed.set(state.position, (state.dismissed.get(state.position) || 0) + 1);
    renderSuggestion();
    highlightSpans();
    return true;
  }

  // ---------------------------------------------------------------- mouse selection
  function selectionOffsets() {
    const segment = document.getElementById("current-segment");
    const selection = window.getSelection();
    if (!segment || !selection || !selection.rangeCount) return null;
    const range = selection.getRangeAt(0);
    if (!segment.contains(range.startContainer) || !segment.contains(range.endContainer)) return null;
    const before = document.createRange();
    before.selectNodeContents(segment);
    before.setEnd(range.startContainer, range.startOffset);
    const start = before.toString().length;
    const text = range.toString();
    if (!text.length) return null;
    return { start, end: start + text.length, text };
  }

  function markSelection(kind) {
    const span = selectionOffsets();
    if (!span) { setNote("Select words inside the highlighted segment first"); return; }
    pushUndo();
    const rows = attributionRows();
    const active = state.mode && state.mode.kind === "attr" ? attrRow(state.mode.index) : null;
    const row = active || rows.find((r) => field(r, "source").value.trim()) || rows[rows.length - 1];
    if (kind === "source") {
      field(row, "source_start").value = String(span.start);
      field(row, "source_end").value = String(span.end);
      if (!field(row, "source").value.trim()) field(row, "source").value = span.text.trim();
    } else {
      const spans = field(row, "cue_spans").value.trim();
      field(row, "cue_spans").value = spans ? `${spans}, ${span.start}-${span.end}` : `${span.start}-${span.end}`;
      const cue = field(row, "cue").value.trim();
      field(row, "cue").value = cue ? `${cue} … ${span.text.trim()}` : span.text.trim();
    }
    window.getSelection().removeAllRanges();
    row.classList.remove("attribution-new");
    ensureTrailingEmptyRow();
    updateHolders();
    renderCues(row);
    showSpan(row);
    markDirty();
    enterAttr(row);
  }

  // ================================================================ modes
  function showMode(text) {
    const mode = $("#mode-indicator");
    if (!mode) return;
    mode.textContent = text;
    mode.title = text;
    mode.hidden = !text;
  }

  function exitMode() {
    if (state.mode && state.mode.kind === "stance") state.mode.row.classList.remove("stance-active");
    if (state.mode && state.mode.kind === "attr") {
      const row = attrRow(state.mode.index);
      if (row) row.classList.remove("attr-active");
    }
    state.mode = null;
    showMode("");
  }

  function enterStance(row) {
    exitMode();
    state.mode = { kind: "stance", row };
    row.classList.add("stance-active");
    const name = row.querySelector("th").textContent.trim();
    const keys = $$('input[type="radio"]', row).map((i) => `${i.dataset.key} ${i.closest("label").title.split(": ").pop()}`);
    showMode(`Stance ${name}: ${keys.join(" · ")} · h holder · ⌫ clear · Esc`);
  }

  function attrRow(index) {
    return attributionRows().find((row) => Number(row.dataset.index) === index);
  }

  function enterAttr(row) {
    exitMode();
    if (!row) return;
    state.mode = { kind: "attr", index: Number(row.dataset.index) };
    row.classList.add("attr-active");
    const name = field(row, "source").value.trim() || "new source";
    showMode(`“${name}”: type, form keys · 1–9 cue · o next · + another · Del · Esc`);
  }

  function stanceKey(event) {
    const row = state.mode.row;
    const key = event.key;
    const polarity = $$('input[type="radio"]', row).find((i) => i.dataset.key === key);
    if (polarity) {
      pushUndo();
      polarity.checked = true;
      markDirty();
      flash(row);
      exitMode();
      return true;
    }
    if (key === "h") {
      const select = $(".holder-select", row);
      if (select && select.options.length > 1) {
        pushUndo();
        select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
        markDirty();
      }
      return true;
    }
    if (key === "Backspace" || key === "Delete") {
      pushUndo();
      for (const i of $$('input[type="radio"]', row)) i.checked = false;
      markDirty();
      exitMode();
      return true;
    }
    if (key === "Escape") { exitMode(); return true; }
    exitMode();
    return false;
  }

  function attrKey(event) {
    const row = attrRow(state.mode.index);
    if (!row) { exitMode(); return false; }
    const key = event.key;
    if (key === "Escape") { exitMode(); return true; }
    if (key === "/") { exitMode(); focusSource(row); return true; }
    if (key === "o") { markSource(row, { next: true }); markDirty(); return true; }
    if (key === "+") { exitMode(); ensureTrailingEmptyRow(); focusSource(attributionRows().slice(-1)[0]); return true; }
    if (key === "Delete" || key === "Backspace") { removeAttribution(row); return true; }
    if (/^[1-9]$/.test(key) && chooseCue(row, Number(key) - 1)) return true;
    for (const name of ["source_type", "form"]) {
      const radio = $$(`input[name="attr-${row.dataset.index}-${name}"]`, row).find((i) => i.dataset.key === key);
      if (radio) {
        pushUndo();
        radio.checked = !radio.checked;
        flash(radio.closest(".chip"));
        markDirty();
        return true;
      }
    }
    exitMode();
    return false;
  }

  function removeAttribution(row) {
    pushUndo();
    const values = valuesFromForm();
    const rows = attributionRows().filter((r) => field(r, "source").value.trim());
    const at = rows.indexOf(row);
    if (at >= 0) {
      values.attributions.splice(at, 1);
      // Stances held by the removed source go; later holders move up by one.
      values.stances = values.stances.filter((s) => s.holder !== at).map((s) => ({
        ...s, holder: s.holder !== null && s.holder > at ? s.holder - 1 : s.holder,
      }));
    }
    exitMode();
    applyValues(values);
    markDirty();
  }

  function focusSource(row) {
    const rows = attributionRows();
    const target = row || rows.find((r) => !field(r, "source").value.trim()) || rows[rows.length - 1];
    if (!target) return;
    const input = field(target, "source");
    input.focus();
    input.select();
    showSuggestions(input);
  }

  // ================================================================ dirty, undo
  function flash(el) {
    if (!el) return;
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  }

  function draftKey(position = state.position) {
    return `wb-draft:${DATA.user}:${ARTICLE}:${position}`;
  }

  function storeDraft() {
    try {
      localStorage.setItem(draftKey(), JSON.stringify({ values: valuesFromForm(), at: Date.now() }));
    } catch (_) { /* storage full or disabled: the page still holds the labels */ }
  }

  function clearDraft(position = state.position) {
    try { localStorage.removeItem(draftKey(position)); } catch (_) { /* ignore */ }
  }

  function readDraft(position) {
    try {
      const draft = JSON.parse(localStorage.getItem(draftKey(position)) || "null");
      return draft && draft.values ? draft.values : null;
    } catch (_) { return null; }
  }

  function markDirty() {
    state.dirty = true;
    storeDraft();
    updateHolders();
    renderSuggestion();
    highlightSpans();
    renderStatus();
  }

  function undoStack(position = state.position) {
    if (!state.undo.has(position)) state.undo.set(position, []);
    return state.undo.get(position);
  }

  // Call before a change: remembers how the segment was.
  function pushUndo() {
    const stack = undoStack();
    stack.push(valuesFromForm());
    if (stack.length > UNDO_DEPTH) stack.shift();
  }

  function undo() {
    const stack = undoStack();
    if (!stack.length) { setNote("Nothing to undo on this segment"); return; }
    const wasSaved = !state.dirty;
    const values = stack.pop();
    exitMode();
    applyValues(values);
    state.dirty = true;
    storeDraft();
    if (wasSaved) {
      // The change being undone was saved: the earlier version is saved anew.
      enqueue(state.position);
      setNote("Undone; the earlier version is being saved");
    } else {
      setNote("Undone");
    }
    renderStatus();
  }

  // ================================================================ save queue
  function loadQueue() {
    try { return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]"); } catch (_) { return null; }
  }

  // The queue lives in memory and in localStorage (so it survives a reload and
  // other tabs see it); reading it never parses storage on the hot path.
  let memoryQueue = loadQueue() || [];
  function queue() {
    return memoryQueue;
  }

  function storeQueue(q) {
    memoryQueue = q;
    try { localStorage.setItem(QUEUE_KEY, JSON.stringify(q)); } catch (_) { /* full or disabled: memory still has it */ }
  }

  function reloadQueue() {
    const stored = loadQueue();
    if (stored) memoryQueue = stored;
  }

  function token() {
    const input = $('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function formFields() {
    const f = form();
    const shown = $("#suggestions-shown");
    const segment = currentSegment();
    if (shown) shown.value = String(segment && segment.suggestions ? segment.suggestions.length : 0);
    const fields = [];
    for (const [name, value] of new FormData(f)) {
      if (["csrfmiddlewaretoken", "revision", "time_spent_ms", "go"].includes(name)) continue;
      fields.push([name, String(value)]);
    }
    return fields;
  }

  // Puts the current form of ``position`` into the queue; the page shows it as
  // saved from now on (the queue says when the server has it).
  function enqueue(position) {
    tick();
    const values = valuesFromForm();
    const fields = formFields();
    reloadQueue(); // read-modify-write: another tab may have changed it
    const q = queue();
    const same = q.filter((e) => e.article === ARTICLE && e.position === position);
    let expected;
    const held = same.filter((e) => e.held);
    if (held.length) {
      // A refused or conflicting save is replaced by this one, against the
      // revision that one was made for.
      expected = held[0].expected;
      for (const e of held) q.splice(q.indexOf(e), 1);
    } else if (same.length) {
      expected = "chain"; // after the save before it, against its new revision
    } else {
      const known = local.get(position);
      expected = known && known.revision ? known.revision : null;
    }
    const wasOpen = !local.has(position);
    q.push({
      id: `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
      article: ARTICLE,
      position,
      url: `${DATA.urls.segments}${position}/save/`,
      fields,
      values,
      expected,
      time: Math.round(state.activeMs),
      created: Date.now(),
      attempts: 0,
    });
    storeQueue(q);
    state.activeMs = 0;
    const entry = local.get(position) || { revision: null };
    local.set(position, { ...entry, values, saved: false });
    if (wasOpen) state.projectDone += 1;
    clearDraft(position);
    state.dirty = false;
    outlineState(position);
    renderProgress();
    renderHeld();
    pump();
  }

  function entriesOf(position, q = queue()) {
    return q.filter((e) => e.article === ARTICLE && e.position === position);
  }

  function firstSendable(q) {
    const blocked = new Set();
    for (const e of q) {
      const key = `${e.article}:${e.position}`;
      if (e.held) { blocked.add(key); continue; }
      if (blocked.has(key)) continue;
      return e;
    }
    return null;
  }

  async function pump() {
    if (state.pumping) return;
    state.pumping = true;
    clearTimeout(state.retryTimer);
    try {
      const run = async () => {
        reloadQueue(); // another tab may have added or sent some
        for (;;) {
          const entry = firstSendable(queue());
          if (!entry) break;
          const outcome = await send(entry);
          if (outcome === "wait") break;
        }
      };
      if (navigator.locks && navigator.locks.request) await navigator.locks.request("wb-save-queue", run);
      else await run();
    } finally {
      state.pumping = false;
      renderStatus();
    }
  }

  function scheduleRetry(ms) {
    clearTimeout(state.retryTimer);
    state.retryAt = Date.now() + ms;
    state.retryTimer = setTimeout(() => { state.retryAt = 0; pump(); }, ms);
  }

  async function readJson(response) {
    if (!response) return null;
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("application/json")) return null;
    try { return await response.json(); } catch (_) { return null; }
  }

  function updateEntry(id, change) {
    reloadQueue();
    const q = queue();
    const entry = q.find((e) => e.id === id);
    if (entry) { Object.assign(entry, change); storeQueue(q); }
    return entry;
  }

  async function send(entry) {
    const body = new FormData();
    for (const [name, value] of entry.fields) body.append(name, value);
    const expected = entry.expected === "chain" ? "" : entry.expected;
    body.set("revision", expected === null || expected === undefined ? "" : String(expected));
    body.set("time_spent_ms", String(entry.time || 0));
    body.set("go", "queue");
    state.sending = entry.id;
    renderStatus();
    let response = null;
    try {
      response = await fetch(entry.url, {
        method: "POST",
        body,
        credentials: "same-origin",
        redirect: "manual",
        headers: { Accept: "application/json", "X-CSRFToken": token() },
      });
    } catch (_) { response = null; }
    state.sending = null;
    const json = await readJson(response);
    const status = response ? response.status : 0;
    if (response && response.ok && json && json.status === "saved") {
      state.backoff = 0;
      state.offline = "";
      reloadQueue();
      const q = queue();
      const at = q.findIndex((e) => e.id === entry.id);
      if (at >= 0) q.splice(at, 1);
      for (const later of q) {
        if (later.article === entry.article && later.position === entry.position && later.expected === "chain") {
          later.expected = json.revision;
          break;
        }
      }
      storeQueue(q);
      if (entry.article === ARTICLE) {
        const known = local.get(entry.position) || { values: entry.values };
        const pending = entriesOf(entry.position, q).length > 0;
        local.set(entry.position, { ...known, revision: json.revision, saved: !pending });
        if (!pending && entry.position === state.position && !state.dirty) $("#revision") && ($("#revision").value = String(json.revision));
        outlineState(entry.position);
        state.projectDone = json.project_done;
        state.projectTotal = json.project_total;
        renderProgress();
        state.lastSaved = new Date();
      }
      return "sent";
    }
    if ((status === 422 || status === 409) && json) {
      state.backoff = 0;
      updateEntry(entry.id, {
        held: status === 422 ? "refused" : "conflict",
        errors: json.errors || [],
        conflict: status === 409 ? { mine: json.mine, stored: json.stored, stored_revision: json.stored_revision } : null,
      });
      if (entry.article === ARTICLE) {
        outlineState(entry.position);
        if (entry.position === state.position) showHeldHere();
      }
      renderHeld();
      return "held";
    }
    if (status === 403 || status === 404) {
      updateEntry(entry.id, { held: "refused", errors: [`You have no access to this article any more (HTTP ${status}).`] });
      renderHeld();
      return "held";
    }
    // No connection, the server or its database down (503 with Retry-After), or
    // the session ended (a redirect to the login page): wait and try again.
    updateEntry(entry.id, { attempts: (entry.attempts || 0) + 1 });
    const loggedOut = response && (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400) || (response.ok && !json));
    const retryAfter = response && Number(response.headers.get("Retry-After"));
    state.backoff = Math.min(MAX_BACKOFF_MS, state.backoff ? state.backoff * 2 : 1000);
    const wait = retryAfter > 0 ? Math.min(retryAfter * 1000, MAX_BACKOFF_MS) : state.backoff;
    state.offline = loggedOut
      ? "your session has ended: log in again in another tab"
      : status === 503 ? "the server is unavailable" : status ? `server error ${status}` : "no connection";
    scheduleRetry(wait);
    return "wait";
  }

  // ================================================================ held saves
  function heldEntries() {
    return queue().filter((e) => e.held);
  }

  function renderHeld() {
    const box = $("#held-saves");
    if (!box) return;
    const held = heldEntries().filter((e) => e.article === ARTICLE);
    const elsewhere = heldEntries().filter((e) => e.article !== ARTICLE);
    box.replaceChildren();
    if (!held.length && !elsewhere.length) { box.hidden = true; renderStatus(); return; }
    const p = document.createElement("p");
    p.textContent = `Not saved (${held.length + elsewhere.length}) — press b to go there:`;
    const ul = document.createElement("ul");
    for (const e of held) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `${DATA.urls.segments}${e.position}/`;
      a.className = "held-link";
      a.dataset.position = String(e.position);
      a.textContent = `Segment ${e.position + 1}`;
      li.append(a, document.createTextNode(e.held === "conflict" ? ": changed elsewhere" : `: ${(e.errors || []).join("; ")}`));
      ul.append(li);
    }
    for (const e of elsewhere) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = e.url.replace(/save\/$/, "");
      a.textContent = `Article ${e.article}, segment ${e.position + 1}`;
      li.append(a, document.createTextNode(e.held === "conflict" ? ": changed elsewhere" : `: ${(e.errors || []).join("; ")}`));
      ul.append(li);
    }
    box.append(p, ul);
    box.hidden = false;
    renderStatus();
  }

  function showHeldHere() {
    const held = entriesOf(state.position).find((e) => e.held);
    showErrors(held && held.held === "refused" ? held.errors : []);
    if (held && held.held === "conflict") showConflict(held);
  }

  function showErrors(messages) {
    const box = $("#save-errors");
    if (!box) return;
    box.replaceChildren();
    if (!messages || !messages.length) { box.hidden = true; return; }
    const p = document.createElement("p");
    p.textContent = "Not saved:";
    const ul = document.createElement("ul");
    for (const message of messages) {
      const li = document.createElement("li");
      li.textContent = message;
      ul.append(li);
    }
    box.append(p, ul);
    box.hidden = false;
  }

  // ---------------------------------------------------------------- conflicts
  function labelName(dim, code) {
    const input = $(`input[name="dim-${dim}"][value="${CSS.escape(code)}"]`);
    const name = input && input.closest(".chip") ? $(".chip-name", input.closest(".chip")) : null;
    return name ? name.textContent : code;
  }

  function targetName(code) {
    const row = $(`.stance-row[data-target="${CSS.escape(code)}"] th`);
    return row ? row.textContent.replace(/^\s*\S\s+/, "").trim() : code;
  }

  function summary(values) {
    if (!values) return ["(nothing stored)"];
    const lines = [];
    for (const [dim, codes] of Object.entries(values.labels || {})) {
      const legend = $(`fieldset.dim[data-dimension="${CSS.escape(dim)}"] legend`);
      const title = legend ? legend.firstChild.textContent.trim() : dim;
      const primary = (values.primary || {})[dim];
      lines.push(`${title}: ${codes.map((c) => labelName(dim, c) + (c === primary && codes.length > 1 ? " ★" : "")).join(", ")}`);
    }
    const attributions = values.attributions || [];
    for (const a of attributions) {
      const extra = [a.source_type, a.form].filter(Boolean).join(", ");
      lines.push(`Source: ${a.source_text}${extra ? ` (${extra})` : ""}${a.cue_text ? `, cue “${a.cue_text}”` : ""}`);
    }
    for (const s of values.stances || []) {
      const holder = s.holder === null || s.holder === undefined ? "author" : (attributions[s.holder] || {}).source_text || `source ${s.holder + 1}`;
      lines.push(`Stance ${targetName(s.target)}: ${s.polarity} (${holder})`);
    }
    if (values.unsure) lines.push("Unsure");
    if (values.comment) lines.push(`Comment: ${values.comment}`);
    return lines.length ? lines : ["(no labels)"];
  }

  function fillList(id, lines) {
    const ul = document.getElementById(id);
    ul.replaceChildren(...lines.map((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    }));
  }

  function showConflict(entry) {
    const dialog = $("#conflict-dialog");
    fillList("conflict-mine", summary(entry.values));
    fillList("conflict-stored", summary(entry.conflict && entry.conflict.stored));
    dialog.dataset.entry = entry.id;
    if (!dialog.open) dialog.showModal();
  }

  function resolveConflict(keep) {
    const dialog = $("#conflict-dialog");
    const q = queue();
    const entry = q.find((e) => e.id === dialog.dataset.entry);
    dialog.close();
    if (!entry) return;
    const stored = entry.conflict || {};
    if (keep) {
      // Mine replaces the stored version: sent again against its revision.
      entry.expected = stored.stored_revision === undefined ? null : stored.stored_revision;
      entry.held = "";
      entry.conflict = null;
      storeQueue(q);
      pump();
    } else {
      for (const e of entriesOf(entry.position, q)) q.splice(q.indexOf(e), 1);
      storeQueue(q);
      local.set(entry.position, { values: stored.stored || emptyValues(), revision: stored.stored_revision || null, saved: Boolean(stored.stored) });
      if (entry.position === state.position) { applyValues(local.get(entry.position).values); state.dirty = false; }
    }
    outlineState(entry.position);
    renderHeld();
    renderStatus();
  }

  // ================================================================ status
  function setNote(text) {
    state.note = text;
    state.noteAt = Date.now();
    renderStatus();
  }

  function renderStatus() {
    const el = $("#save-status");
    const queueEl = $("#queue-status");
    if (!el) return;
    const q = queue();
    const waiting = q.filter((e) => !e.held).length;
    const held = q.filter((e) => e.held).length;
    let kind;
    let text;
    if (held) { kind = "error"; text = `Not saved: ${held} need${held === 1 ? "s" : ""} you (b)`; }
    else if (state.offline && waiting) {
      kind = "error";
      const seconds = state.retryAt ? Math.max(0, Math.round((state.retryAt - Date.now()) / 1000)) : 0;
      text = `Not saved yet: ${state.offline}. ${waiting} waiting in this browser; retrying${seconds ? ` in ${seconds} s` : ""}`;
    } else if (state.sending || waiting) { kind = "saving"; text = waiting > 1 ? `Saving… ${waiting} waiting` : "Saving…"; }
    else if (state.dirty) { kind = "dirty"; text = "Unsaved changes"; }
    else if (!local.has(state.position)) { kind = "open"; text = "Not labelled yet"; }
    else {
      kind = "saved";
      const at = state.lastSaved ? ` ${state.lastSaved.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` : "";
      text = `Saved${at}`;
    }
    el.className = `save-status status-${kind}`;
    el.textContent = text;
    el.dataset.waiting = String(waiting);
    el.dataset.held = String(held);
    const retry = $("#retry-save");
    if (kind === "error" && state.offline && !retry) {
      const button = document.createElement("button");
      button.type = "button";
      button.id = "retry-save";
      button.className = "small";
      button.textContent = "Retry now";
      el.after(button);
    } else if (!(kind === "error" && state.offline) && retry) retry.remove();
    if (queueEl) {
      const note = state.note && Date.now() - state.noteAt < 4000 ? state.note : "";
      queueEl.textContent = note;
      queueEl.hidden = !note;
    }
  }

  function renderProgress() {
    const done = annotatable.filter((p) => local.has(p)).length;
    setProgress("article", done, annotatable.length);
    setProgress("project", state.projectDone, state.projectTotal);
  }

  function setProgress(which, done, total) {
    const bar = document.getElementById(`${which}-progress`);
    const text = document.getElementById(`${which}-progress-text`);
    if (bar) { bar.max = Math.max(total, 1); bar.value = Math.min(done, total); }
    if (text) text.textContent = `${done}/${total}`;
  }

  function segmentState(position) {
    const segment = byPosition.get(position);
    if (!segment || !segment.annotatable) return "skipped";
    const entries = entriesOf(position);
    if (entries.some((e) => e.held)) return "error";
    const known = local.get(position);
    if (!known) return "open";
    if (entries.length) return "queued";
    return known.values && known.values.unsure ? "unsure" : "labelled";
  }

  function outlineState(position) {
    const item = $(`.outline-item[data-position="${position}"]`);
    if (!item) return;
    const now = segmentState(position);
    item.classList.remove("state-open", "state-labelled", "state-unsure", "state-queued", "state-error");
    item.classList.add(`state-${now}`);
    const hidden = $(".visually-hidden", item);
    if (hidden) hidden.textContent = `${now}:`;
  }

  // ================================================================ showing a segment
  function paragraphsAround(position) {
    const current = byPosition.get(position);
    const order = [...new Set(segments.map((s) => s.paragraph))];
    const at = order.indexOf(current.paragraph);
    const of = (p) => segments.filter((s) => s.paragraph === p);
    return {
      before: at > 0 ? of(order[at - 1]) : [],
      paragraph: of(current.paragraph),
      after: at + 1 < order.length ? of(order[at + 1]) : [],
    };
  }

  function segmentNode(s, current) {
    if (s.position === current) {
      const span = document.createElement("span");
      span.id = "current-segment";
      span.className = `ctx-seg current state-${segmentState(s.position)}`;
      span.tabIndex = -1;
      span.textContent = s.text;
      return span;
    }
    if (!s.annotatable) {
      const span = document.createElement("span");
      span.className = "ctx-seg boilerplate";
      span.title = "Boilerplate: not annotated";
      span.textContent = s.text;
      return span;
    }
    const a = document.createElement("a");
    a.className = `ctx-seg state-${segmentState(s.position)}`;
    a.href = `${DATA.urls.segments}${s.position}/`;
    a.dataset.position = String(s.position);
    a.textContent = s.text;
    return a;
  }

  function renderContext(position) {
    const box = $("#context");
    if (!box) return;
    const { before, paragraph, after } = paragraphsAround(position);
    const para = (list, css) => {
      const p = document.createElement("p");
      p.className = css;
      list.forEach((s, i) => { if (i) p.append(" "); p.append(segmentNode(s, position)); });
      return p;
    };
    const nodes = [];
    if (before.length) nodes.push(para(before, "ctx-para ctx-around"));
    nodes.push(para(paragraph, `ctx-para ctx-current kind-${byPosition.get(position).kind}`));
    if (after.length) nodes.push(para(after, "ctx-para ctx-around"));
    box.replaceChildren(...nodes);
  }

  function neighbour(position, step) {
    const list = annotatable;
    if (step < 0) return [...list].reverse().find((p) => p < position);
    return list.find((p) => p > position);
  }

  function nextOpen(after) {
    const open = annotatable.filter((p) => !local.has(p));
    return open.find((p) => p > after) ?? open.find((p) => p !== after);
  }

  function renderNav(position) {
    const segment = byPosition.get(position);
    const counter = $(".segment-counter");
    if (counter) {
      counter.replaceChildren(document.createTextNode(`Segment ${position + 1} of ${segments.length} · `));
      const tag = document.createElement("span");
      tag.className = "kind-tag";
      tag.textContent = segment.kind;
      counter.append(tag);
    }
    const r = root();
    const previous = neighbour(position, -1);
    const next = neighbour(position, 1);
    r.dataset.prevUrl = previous === undefined ? "" : `${DATA.urls.segments}${previous}/`;
    r.dataset.nextUrl = next === undefined ? "" : `${DATA.urls.segments}${next}/`;
    for (const [id, target, text] of [["prev-link", previous, "Previous"], ["next-link", next, "Next"]]) {
      const link = document.getElementById(id);
      if (!link) continue;
      if (target === undefined) { link.classList.add("disabled"); link.setAttribute("aria-disabled", "true"); link.removeAttribute("href"); }
      else { link.classList.remove("disabled"); link.removeAttribute("aria-disabled"); link.href = `${DATA.urls.segments}${target}/`; }
      link.dataset.label = text;
    }
    for (const item of $$(".outline-item.current")) { item.classList.remove("current"); item.removeAttribute("aria-current"); }
    const item = $(`.outline-item[data-position="${position}"]`);
    if (item) {
      item.classList.add("current");
      item.setAttribute("aria-current", "true");
      const box = item.closest(".outline");
      if (box) {
        const top = item.offsetTop - box.clientHeight / 2;
        if (item.offsetTop < box.scrollTop || item.offsetTop > box.scrollTop + box.clientHeight - 40) box.scrollTop = Math.max(0, top);
      }
    }
  }

  // Shows ``position``: everything from the page's data, nothing from the server.
  function show(position, { push = true } = {}) {
    const segment = byPosition.get(position);
    if (!segment) return;
    if (segment.annotatable && !form()) {
      // This page was opened on a boilerplate segment: it has no label panel.
      window.location.assign(`${DATA.urls.segments}${position}/`);
      return;
    }
    exitMode();
    state.position = position;
    state.activeMs = 0; // active time counts toward the segment it was spent on
    state.lastTick = performance.now();
    const r = root();
    r.dataset.position = String(position);
    renderNav(position);
    renderContext(position);
    const known = local.get(position);
    const draft = readDraft(position);
    const labels = $("#annotate-form");
    const panel = $("#attribution-panel");
    for (const el of [labels, panel]) if (el) el.hidden = !segment.annotatable;
    const skipped = $("#skipped-notice");
    if (skipped) skipped.hidden = segment.annotatable;
    if (segment.annotatable) {
      applyValues(draft || (known ? known.values : emptyValues()));
      state.dirty = Boolean(draft);
      if ($("#revision")) $("#revision").value = known && known.revision ? String(known.revision) : "";
      r.dataset.revision = known && known.revision ? String(known.revision) : "";
      showErrors([]);
      showHeldHere();
      if (draft) setNote("Unsaved draft restored from this browser");
    }
    r.dataset.state = segmentState(position);
    renderSuggestion();
    if (push) history.pushState({ wb: position }, "", `${DATA.urls.segments}${position}/`);
    document.title = `${DATA.article.title.slice(0, 60)} · Segment ${position + 1}`;
    highlightSpans();
    renderStatus();
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  }

  // Leaves the current segment: what changed goes into the queue first.
  function leave() {
    if (state.dirty && byPosition.get(state.position).annotatable) enqueue(state.position);
  }

  function go(position, started) {
    if (position === undefined || position === null) return;
    leave();
    show(position);
    measure(started, position);
  }

  function measure(started, position) {
    if (started === undefined) return;
    const ms = performance.now() - started;
    window.__wb.metrics.push({ position, ms });
    root().dataset.lastNavMs = ms.toFixed(1);
  }

  // Enter: save (in the background) and show the next open segment at once.
  function saveAndNext(started) {
    const segment = byPosition.get(state.position);
    const completes = segment.annotatable && (state.dirty || !local.has(state.position));
    if (completes) enqueue(state.position);
    exitMode();
    // The next open segment; in an article already done, simply the next one.
    let next = nextOpen(state.position);
    if (next === undefined && !completes) next = neighbour(state.position, 1);
    if (next === undefined) {
      show(state.position, { push: false });
      measure(started, state.position);
      articleDone();
      return;
    }
    show(next);
    measure(started, next);
  }

  // ================================================================ article done
  function articleDone() {
    const dialog = $("#article-done");
    if (!dialog) return;
    const labelled = annotatable.filter((p) => local.has(p));
    const unsure = labelled.filter((p) => local.get(p).values && local.get(p).values.unsure).length;
    const sourced = labelled.filter((p) => ((local.get(p).values || {}).attributions || []).length).length;
    $("#article-done-summary").textContent = `All ${labelled.length} segments of this article are labelled: ${unsure} unsure, ${sourced} with a source.`;
    renderDoneWaiting();
    if (!dialog.open) dialog.showModal();
  }

  function renderDoneWaiting() {
    const el = $("#article-done-waiting");
    if (!el) return;
    const mine = queue().filter((e) => e.article === ARTICLE);
    const held = mine.filter((e) => e.held).length;
    el.textContent = held ? `${held} save${held === 1 ? "" : "s"} of this article need you first (Esc, then b).`
      : mine.length ? `${mine.length} save${mine.length === 1 ? "" : "s"} still on the way; the next article opens when they are in.` : "Everything is saved.";
  }

  async function nextArticle() {
    const button = $("#next-article");
    button.disabled = true;
    for (;;) {
      const mine = queue().filter((e) => e.article === ARTICLE);
      renderDoneWaiting();
      if (mine.some((e) => e.held)) { button.disabled = false; return; }
      if (!mine.length) break;
      pump();
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    window.location.assign(DATA.urls.continue);
  }

  // ================================================================ same as previous
  function previousValues() {
    const previous = neighbour(state.position, -1);
    if (previous === undefined) return null;
    const known = local.get(previous);
    return known ? clone(known.values) : null;
  }

  function withSpansHere(attribution) {
    // Spans of another sentence mean nothing here: the source is looked up in
    // this one, the cue is left to choose.
    return { ...attribution, cue_text: "", cue_spans: [], source_span: null };
  }

  function sameAsPrevious() {
    const values = previousValues();
    if (!values) { setNote("The previous segment has no labels to copy"); return; }
    pushUndo();
    values.attributions = (values.attributions || []).map(withSpansHere);
    values.comment = "";
    applyValues(values);
    for (const row of attributionRows()) if (field(row, "source").value.trim()) markSource(row, { keep: false });
    markDirty();
    setNote("Copied the previous segment's labels");
  }

  function previousAttribution() {
    const values = previousValues();
    const previous = values && (values.attributions || []).slice(-1)[0];
    if (!previous) { setNote("The previous segment has no source to copy"); return; }
    pushUndo();
    const now = valuesFromForm();
    if (!now.attributions.some((a) => sourceKey(a.source_text) === sourceKey(previous.source_text))) {
      now.attributions.push(withSpansHere(previous));
    }
    applyValues(now);
    const rows = attributionRows().filter((r) => field(r, "source").value.trim());
    const row = rows.find((r) => sourceKey(field(r, "source").value) === sourceKey(previous.source_text));
    if (row) { markSource(row, { keep: false }); enterAttr(row); }
    markDirty();
  }

  // ================================================================ holders
  function updateHolders() {
    const names = attributionRows().map((row) => ({ index: row.dataset.index, name: field(row, "source").value.trim() })).filter((a) => a.name);
    for (const select of $$(".holder-select")) {
      const selected = select.value;
      const options = [new Option("author", "")];
      for (const a of names) {
        const text = a.name.length > 24 ? `${a.name.slice(0, 23)}…` : a.name;
        options.push(new Option(text, a.index));
      }
      select.replaceChildren(...options);
      select.value = options.some((o) => o.value === selected) ? selected : "";
    }
  }

  // ================================================================ keyboard
  function isTyping(el) {
    if (!el) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA") return true;
    return el.tagName === "INPUT" && TEXT_TYPES.has(el.type);
  }

  function toggleGuidelines() {
    const dialog = $("#guidelines");
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  function toggleInput(input) {
    pushUndo();
    input.checked = !input.checked;
    afterLabelChange(input);
    flash(input.closest(".chip, .pol, tr"));
  }

  function afterLabelChange(input) {
    const fieldset = input.closest("fieldset.dim");
    if (fieldset && fieldset.dataset.allowsPrimary === "1") ensurePrimary(fieldset, input);
    markDirty();
  }

  // The first frame chosen is the primary one; unticking it passes primary on.
  function ensurePrimary(fieldset, changed) {
    const dim = fieldset.dataset.dimension;
    const chosen = $$(`input[name="dim-${dim}"]`, fieldset).filter((i) => i.checked);
    const primaries = $$(`input[name="primary-${dim}"]`, fieldset);
    if (changed && changed.name === `primary-${dim}` && changed.checked) {
      const label = $(`input[name="dim-${dim}"][value="${CSS.escape(changed.value)}"]`, fieldset);
      if (label && !label.checked) label.checked = true;
      return;
    }
    const current = primaries.find((p) => p.checked);
    const codes = chosen.map((i) => i.value);
    if (current && codes.includes(current.value)) return;
    for (const p of primaries) p.checked = false;
    if (codes.length) {
      const first = primaries.find((p) => p.value === codes[0]);
      if (first) first.checked = true;
    }
  }

  function onSourceKey(event, input) {
    const key = event.key;
    if (key === "ArrowDown" || key === "ArrowUp") { event.preventDefault(); moveHighlight(input, key === "ArrowDown" ? 1 : -1); return true; }
    if (key === "Tab" && !event.shiftKey) {
      event.preventDefault();
      const row = commitSource(input);
      input.blur();
      if (field(row, "source").value.trim()) enterAttr(row);
      return true;
    }
    if (key === "Enter") {
      event.preventDefault();
      commitSource(input);
      input.blur();
      saveAndNext(event.timeStamp);
      return true;
    }
    if (key === "Escape") {
      event.preventDefault();
      hideSuggestions(input);
      input.blur();
      if (input.value.trim()) commitSource(input);
      return true;
    }
    return false;
  }

  function onKeydown(event) {
    state.lastInput = Date.now();
    const openDialog = $("dialog[open]");
    if (openDialog) {
      if (event.key === "?" && openDialog.id === "guidelines") { event.preventDefault(); openDialog.close(); }
      if (openDialog.id === "article-done") {
        if (event.key === "Enter" || event.key === "n") { event.preventDefault(); nextArticle(); }
      }
      return; // Esc closes natively
    }
    const target = event.target;
    const undoKey = (event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "z" || event.key === "Z") && !event.shiftKey;
    if (isTyping(target)) {
      if (target.classList.contains("source-input") && onSourceKey(event, target)) return;
      if (event.key === "Escape") { event.preventDefault(); target.blur(); return; }
      if (event.key === "Enter" && !(target.tagName === "TEXTAREA" && event.shiftKey)) {
        event.preventDefault();
        target.blur();
        saveAndNext(event.timeStamp);
      }
      return; // every other key (Ctrl+Z too) belongs to the field
    }
    if (target && target.tagName === "SELECT") {
      // A select never keeps the keys: Enter saves, Esc leaves, others are shortcuts.
      if (event.key === "Escape" || event.key === "Enter" || event.key.length === 1) target.blur();
      if (event.key === "Escape") { event.preventDefault(); return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") return;
    }
    if (undoKey) { event.preventDefault(); undo(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!root()) return;
    if (state.mode && state.mode.kind === "stance" && stanceKey(event)) { event.preventDefault(); return; }
    if (state.mode && state.mode.kind === "attr" && attrKey(event)) { event.preventDefault(); return; }
    const key = event.key;
    if (key === "Enter") { event.preventDefault(); saveAndNext(event.timeStamp); return; }
    if (key === "ArrowRight" || key === "j") { event.preventDefault(); go(neighbour(state.position, 1), event.timeStamp); return; }
    if (key === "ArrowLeft" || key === "k") { event.preventDefault(); go(neighbour(state.position, -1), event.timeStamp); return; }
    if (key === "?") { event.preventDefault(); toggleGuidelines(); return; }
    if (key === "Escape") { exitMode(); if (document.activeElement) document.activeElement.blur(); return; }
    if (key === "b") {
      const held = queue().find((e) => e.held && e.article === ARTICLE);
      if (held) { event.preventDefault(); go(held.position, event.timeStamp); return; }
      const elsewhere = queue().find((e) => e.held);
      if (elsewhere) { event.preventDefault(); leave(); window.location.assign(elsewhere.url.replace(/save\/$/, "")); return; }
    }
    const f = form();
    if (!f || f.hidden) return;
    if (key === "/") { event.preventDefault(); focusSource(); return; }
    if (key === "a" && acceptSuggestion()) { event.preventDefault(); return; }
    if (key === "d" && dismissSuggestion()) { event.preventDefault(); return; }
    if (key === "=") { event.preventDefault(); sameAsPrevious(); return; }
    if (key === '"') { event.preventDefault(); previousAttribution(); return; }
    if (key === ";") { event.preventDefault(); $("#comment").focus(); return; }
    if (key === "!") { event.preventDefault(); toggleInput($("#unsure")); return; }
    const label = $$('input[name^="dim-"]', f).find((i) => i.dataset.key === key);
    if (label) { event.preventDefault(); toggleInput(label); return; }
    const row = $$(".stance-row", f).find((tr) => tr.dataset.key === key);
    if (row) { event.preventDefault(); enterStance(row); }
  }

  // ================================================================ time
  function tick() {
    const now = performance.now();
    if (!document.hidden && Date.now() - state.lastInput < IDLE_MS) state.activeMs += now - state.lastTick;
    state.lastTick = now;
  }

  // ================================================================ wiring
  function positionFromUrl(url) {
    const match = new URL(url, window.location.href).pathname.match(/\/segments\/(\d+)\/$/);
    return match ? Number(match[1]) : null;
  }

  document.addEventListener("keydown", onKeydown);
  document.addEventListener("change", (event) => {
    const el = event.target;
    if (!el.form || el.form.id !== "annotate-form") return;
    if (el.name && (el.name.startsWith("dim-") || el.name.startsWith("primary-"))) afterLabelChange(el);
    else markDirty();
    if (el.tagName === "SELECT") el.blur();
  });
  document.addEventListener("beforeinput", (event) => {
    const el = event.target;
    if (!el.form || el.form.id !== "annotate-form") return;
    if (!state.typingPushed) { pushUndo(); state.typingPushed = true; }
  });
  document.addEventListener("input", (event) => {
    const el = event.target;
    if (!el.form || el.form.id !== "annotate-form") return;
    if (el.type === "checkbox" || el.type === "radio" || el.tagName === "SELECT") return; // "change" handles them
    markDirty();
    if (el.classList.contains("source-input")) {
      const row = el.closest("fieldset.attribution");
      field(row, "source_start").value = "";
      field(row, "source_end").value = "";
      showSuggestions(el);
      fetchNames(el);
    }
  });
  document.addEventListener("focusin", (event) => {
    state.typingPushed = false;
    const el = event.target;
    if (el.classList && el.classList.contains("source-input")) { exitMode(); showSuggestions(el); }
  });
  document.addEventListener("focusout", (event) => {
    const el = event.target;
    if (el.classList && el.classList.contains("source-input")) setTimeout(() => hideSuggestions(el), 150);
  });
  document.addEventListener("submit", (event) => {
    const f = event.target;
    if (f.id !== "annotate-form") return;
    event.preventDefault();
    if (event.submitter && event.submitter.value === "stay") {
      if (state.dirty || !local.has(state.position)) enqueue(state.position);
      renderStatus();
    } else {
      saveAndNext(performance.now());
    }
  });
  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest && event.target.closest(".source-list li");
    if (!option) return;
    event.preventDefault();
    const list = option.closest(".source-list");
    const input = $(`[aria-controls="${list.id}"]`);
    for (const li of $$("li", list)) li.classList.toggle("active", li === option);
    const row = commitSource(input);
    input.blur();
    enterAttr(row);
  });
  document.addEventListener("click", (event) => {
    const el = event.target;
    const link = el.closest("a.outline-item, a.ctx-seg, #prev-link, #next-link, a.held-link");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      const position = link.dataset.position !== undefined ? Number(link.dataset.position) : positionFromUrl(link.href);
      if (position !== null && !Number.isNaN(position)) go(position, performance.now());
      return;
    }
    if (el.closest("#help-button")) { toggleGuidelines(); return; }
    if (el.closest("[data-close]")) { el.closest("dialog").close(); return; }
    if (el.closest("#retry-save")) { state.backoff = 0; pump(); return; }
    if (el.closest("#next-article")) { nextArticle(); return; }
    if (el.closest("#stay-article")) { $("#article-done").close(); return; }
    if (el.closest("#mark-source")) { markSelection("source"); return; }
    if (el.closest("#mark-cue")) { markSelection("cue"); return; }
    if (el.closest("#conflict-keep")) { resolveConflict(true); return; }
    if (el.closest("#conflict-take")) { resolveConflict(false); return; }
    const cue = el.closest(".cue-chip");
    if (cue) { chooseCue(cue.closest("fieldset.attribution"), Number(cue.dataset.cue)); return; }
    const remove = el.closest(".attr-remove");
    if (remove) { removeAttribution(remove.closest("fieldset.attribution")); return; }
    if (el.closest("#clear-stances")) {
      pushUndo();
      for (const i of $$('.stance-row input[type="radio"]')) i.checked = false;
      markDirty();
      return;
    }
    const fieldset = el.closest("fieldset.attribution");
    if (fieldset && el.closest(".keyed")) { enterAttr(fieldset); return; }
    const chip = el.closest("label.chip, label.pol");
    if (chip && !fieldset && el.tagName !== "INPUT") pushUndo();
  });
  // A second click on a chosen single-choice label clears it (like its key).
  document.addEventListener("pointerdown", (event) => {
    const chip = event.target.closest && event.target.closest("label.chip, label.pol");
    if (!chip) return;
    const input = $("input", chip);
    if (input && input.type === "radio") input.dataset.wasChecked = input.checked ? "1" : "";
  });
  document.addEventListener("click", (event) => {
    const input = event.target;
    if (input.tagName !== "INPUT" || input.type !== "radio" || input.dataset.wasChecked !== "1") return;
    input.dataset.wasChecked = "";
    input.checked = false;
    afterLabelChange(input);
  });
  for (const name of ["mousemove", "mousedown", "wheel", "touchstart"]) {
    document.addEventListener(name, () => { state.lastInput = Date.now(); }, { passive: true });
  }
  document.addEventListener("visibilitychange", () => {
    state.lastTick = performance.now();
    if (document.visibilityState === "hidden" && state.dirty) storeDraft();
  });
  window.addEventListener("beforeunload", (event) => {
    if (state.dirty) storeDraft();
    if (state.dirty || queue().some((e) => !e.held)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  window.addEventListener("popstate", () => {
    const position = positionFromUrl(window.location.href);
    if (position === null) return;
    leave();
    show(position, { push: false });
  });
  window.addEventListener("storage", (event) => {
    if (event.key === QUEUE_KEY) { reloadQueue(); renderHeld(); renderStatus(); }
  });
  window.addEventListener("online", () => { state.backoff = 0; pump(); });
  setInterval(() => { tick(); if (state.retryAt) renderStatus(); }, 1000);

  function setup() {
    document.documentElement.classList.add("js");
    // Saves of this article still waiting from an earlier visit: shown as mine.
    for (const entry of queue()) {
      if (entry.article !== ARTICLE) continue;
      const known = local.get(entry.position) || { revision: null };
      local.set(entry.position, { ...known, values: entry.values, saved: false });
    }
    for (const position of annotatable) outlineState(position);
    show(state.position, { push: false });
    history.replaceState({ wb: state.position }, "", `${DATA.urls.segments}${state.position}/`);
    renderProgress();
    renderHeld();
    const current = $(".outline-item.current");
    if (current) current.scrollIntoView({ block: "center" });
    pump();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
