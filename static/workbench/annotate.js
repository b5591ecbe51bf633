// The annotate screen: keyboard shortcuts, saving without reloading the page, drafts
// kept in localStorage until the server has them, retries, conflicts, active time.
// No inline script (CSP): everything hangs off delegated listeners on the document.
(() => {
  "use strict";

  const IDLE_MS = 60_000;
  const MAX_ATTEMPTS = 6;
  const TEXT_TYPES = new Set(["text", "search", "email", "url", "number", "password", "tel"]);

  const state = {
    dirty: false,
    saving: false,
    changes: 0, // bumped on every edit; a save only clears "dirty" if none came since
    stanceRow: null,
    activeMs: 0,
    lastTick: performance.now(),
    lastInput: Date.now(),
    attempt: 0,
    retryTimer: null,
    pendingGo: "next",
    lastGo: "next",
    attrIndex: 0,
    suggestTimer: null,
  };

  const $ = (selector, scope = document) => scope.querySelector(selector);
  const $$ = (selector, scope = document) => Array.from(scope.querySelectorAll(selector));
  const root = () => document.getElementById("annotate-root");
  const form = () => document.getElementById("annotate-form");

  // ---------------------------------------------------------------- drafts
  function draftKey() {
    const r = root();
    return r ? `wb-draft:${r.dataset.article}:${r.dataset.position}` : null;
  }

  function formEntries() {
    const f = form();
    if (!f) return [];
    const entries = [];
    for (const el of f.elements) {
      if (!el.name || el.name === "csrfmiddlewaretoken" || el.name === "time_spent_ms") continue;
      if (el.type === "submit" || el.type === "button") continue;
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) continue;
      entries.push([el.name, el.value]);
    }
    return entries;
  }

  function storeDraft() {
    const key = draftKey();
    if (!key) return;
    try {
      localStorage.setItem(key, JSON.stringify({
        revision: $("#revision") ? $("#revision").value : "",
        entries: formEntries(),
        at: Date.now(),
      }));
    } catch (_) { /* storage full or disabled: the page still holds the labels */ }
  }

  function clearDraft() {
    const key = draftKey();
    if (!key) return;
    try { localStorage.removeItem(key); } catch (_) { /* ignore */ }
  }

  function restoreDraft() {
    const key = draftKey();
    const f = form();
    if (!key || !f) return false;
    let draft = null;
    try { draft = JSON.parse(localStorage.getItem(key) || "null"); } catch (_) { draft = null; }
    if (!draft || !Array.isArray(draft.entries)) return false;
    const has = new Map();
    for (const [name, value] of draft.entries) {
      if (!has.has(name)) has.set(name, []);
      has.get(name).push(value);
    }
    for (const el of f.elements) {
      if (!el.name || el.name === "csrfmiddlewaretoken" || el.name === "time_spent_ms") continue;
      if (el.type === "submit" || el.type === "button") continue;
      const values = has.get(el.name) || [];
      if (el.type === "checkbox" || el.type === "radio") el.checked = values.includes(el.value);
      else if (el.name !== "attr-count" && values.length) el.value = values[0];
    }
    // The draft was made against this revision: saving it against a newer stored
    // version answers "changed elsewhere" instead of overwriting silently.
    if ($("#revision")) $("#revision").value = draft.revision || "";
    return true;
  }

  // ---------------------------------------------------------------- status
  function setStatus(kind, text) {
    const el = $("#save-status");
    if (!el) return;
    el.className = `save-status status-${kind}`;
    el.textContent = text;
    const retry = $("#retry-save");
    if (retry) retry.remove();
    if (kind === "error" && state.retryable) {
      const button = document.createElement("button");
      button.type = "button";
      button.id = "retry-save";
      button.className = "small";
      button.textContent = "Retry now";
      el.after(button);
    }
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

  function markDirty() {
    state.dirty = true;
    state.changes += 1;
    storeDraft();
    if (!state.saving) setStatus("dirty", "Unsaved changes");
    updateHolders();
  }

  // ---------------------------------------------------------------- labels
  function toggleInput(input) {
    if (input.type === "radio") input.checked = !input.checked;
    else input.checked = !input.checked;
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

  function flash(el) {
    if (!el) return;
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  }

  function updateHolders() {
    const names = $$(".attribution").map((fs) => ({
      index: fs.dataset.index,
      name: ($(".source-input", fs) || {}).value || "",
    })).filter((a) => a.name.trim());
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

  // ---------------------------------------------------------------- stance mode
  function enterStance(row) {
    exitStance();
    state.stanceRow = row;
    row.classList.add("stance-active");
    const name = row.querySelector("th").textContent.trim();
    const keys = $$('input[type="radio"]', row).map((i) => `${i.dataset.key} ${i.closest("label").title.split(": ").pop()}`);
    const mode = $("#mode-indicator");
    if (mode) {
      mode.textContent = `Stance: ${name} — ${keys.join(" · ")} · h holder · ⌫ clear · Esc cancel`;
      mode.hidden = false;
    }
  }

  function exitStance() {
    if (state.stanceRow) state.stanceRow.classList.remove("stance-active");
    state.stanceRow = null;
    const mode = $("#mode-indicator");
    if (mode) mode.hidden = true;
  }

  function stanceKey(event) {
    const row = state.stanceRow;
    const key = event.key;
    const polarity = $$('input[type="radio"]', row).find((i) => i.dataset.key === key);
    if (polarity) {
      polarity.checked = true;
      markDirty();
      flash(row);
      exitStance();
      return true;
    }
    if (key === "h") {
      const select = $(".holder-select", row);
      if (select && select.options.length > 1) {
        select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
        markDirty();
      }
      return true;
    }
    if (key === "Backspace" || key === "Delete") {
      for (const i of $$('input[type="radio"]', row)) i.checked = false;
      markDirty();
      exitStance();
      return true;
    }
    if (key === "Escape") { exitStance(); return true; }
    exitStance();
    return false;
  }

  // ---------------------------------------------------------------- saving
  function token() {
    const input = $('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  async function save(go = "next") {
    const f = form();
    if (!f) {
      if (go === "next") await navigate(root().dataset.nextOpenUrl);
      return true;
    }
    if (state.saving) { state.pendingGo = go; return false; }
    // Already saved and unchanged: Enter just moves on (no empty new revision).
    if (!state.dirty && root().dataset.state !== "open") {
      if (go === "next") await navigate(root().dataset.nextOpenUrl);
      return true;
    }
    clearTimeout(state.retryTimer);
    state.lastGo = go;
    state.saving = true;
    state.retryable = false;
    const changesAtStart = state.changes;
    tick(); // count the active time since the last tick too
    const body = new FormData(f);
    body.set("time_spent_ms", String(Math.round(state.activeMs)));
    body.set("go", go);
    const url = root().dataset.saveUrl;
    setStatus("saving", "Saving…");
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": token() },
      });
    } catch (_) {
      response = null;
    }
    state.saving = false;
    const json = await readJson(response);
    if (response && response.ok && json && json.status === "saved") {
      state.attempt = 0;
      state.activeMs = 0;
      if (state.changes === changesAtStart) {
        state.dirty = false;
        clearDraft();
      }
      applySaved(json);
      showErrors([]);
      if (go === "next") {
        if (json.article_complete) window.location.assign(json.next_url);
        else await load(json.next_url, { push: true });
      } else if (state.changes === changesAtStart && newSourceTyped()) {
        // The new source is stored: show it as a row of its own with an empty
        // row below for the next one, as the server renders it.
        await load(window.location.href, { push: false });
      }
      return true;
    }
    if (response && response.status === 422 && json) {
      state.attempt = 0;
      showErrors(json.errors);
      setStatus("error", "Not saved: see the problems listed");
      return false;
    }
    if (response && response.status === 409 && json) {
      state.attempt = 0;
      showConflict(json, go);
      setStatus("error", "Not saved: changed elsewhere");
      return false;
    }
    if (response && (response.status === 403 || response.status === 404)) {
      setStatus("error", `Not saved: you have no access to this article (HTTP ${response.status})`);
      return false;
    }
    // Network down, server error, or an expired session (redirect to the login page).
    state.retryable = true;
    storeDraft();
    const expired = response && (response.redirected || (response.ok && !json));
    if (expired) {
      setStatus("error", "Not saved: your session has ended. Log in again in another tab, then retry. Your labels are kept in this browser.");
      return false;
    }
    state.attempt += 1;
    if (state.attempt >= MAX_ATTEMPTS) {
      setStatus("error", "Save did not go through. Your labels are kept in this browser (not yet in the database).");
      return false;
    }
    const delay = Math.min(30_000, 1000 * 2 ** (state.attempt - 1));
    setStatus("error", `Not saved: ${response ? `server error ${response.status}` : "no connection"}. Retrying in ${Math.round(delay / 1000)} s (attempt ${state.attempt} of ${MAX_ATTEMPTS - 1})…`);
    state.retryTimer = setTimeout(() => save(go), delay);
    return false;
  }

  function newSourceTyped() {
    const input = $(".attribution-new .source-input");
    return Boolean(input && input.value.trim());
  }

  async function readJson(response) {
    if (!response) return null;
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("application/json")) return null;
    try { return await response.json(); } catch (_) { return null; }
  }

  function applySaved(json) {
    const r = root();
    r.dataset.revision = String(json.revision);
    r.dataset.state = json.state;
    if ($("#revision")) $("#revision").value = String(json.revision);
    const item = $(`.outline-item[data-position="${json.position}"]`);
    if (item) {
      item.classList.remove("state-open", "state-labelled", "state-unsure");
      item.classList.add(`state-${json.state}`);
    }
    setProgress("article", json.article_done, json.article_total);
    setProgress("project", json.project_done, json.project_total);
    const time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (!state.dirty) setStatus("saved", `Saved ${time}`);
  }

  function setProgress(which, done, total) {
    const bar = document.getElementById(`${which}-progress`);
    const text = document.getElementById(`${which}-progress-text`);
    if (bar) { bar.max = Math.max(total, 1); bar.value = done; }
    if (text) text.textContent = `${done}/${total}`;
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

  function showConflict(json, go) {
    const dialog = $("#conflict-dialog");
    fillList("conflict-mine", summary(json.mine));
    fillList("conflict-stored", summary(json.stored));
    dialog.dataset.storedRevision = json.stored_revision === null ? "" : String(json.stored_revision);
    dialog.dataset.go = go;
    if (!dialog.open) dialog.showModal();
  }

  // ---------------------------------------------------------------- navigation
  async function navigate(url) {
    if (!url) return;
    // A save in flight (Enter pressed just before) finishes first.
    while (state.saving) await new Promise((resolve) => setTimeout(resolve, 50));
    if (state.dirty) {
      const ok = await save("stay");
      if (!ok) {
        const leave = window.confirm("This segment's changes were not saved. They stay as a draft in this browser. Move on anyway?");
        if (!leave) return;
      }
    }
    await load(url, { push: true });
  }

  async function load(url, { push = true } = {}) {
    let response = null;
    try {
      response = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    } catch (_) { response = null; }
    if (!response || !response.ok || response.redirected) {
      window.location.assign(url);
      return;
    }
    const html = await response.text();
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const fresh = template.content.getElementById("annotate-root");
    if (!fresh) { window.location.assign(url); return; }
    root().replaceWith(fresh);
    if (push) history.pushState({ wb: true }, "", url);
    setup();
    window.scrollTo({ top: 0 });
  }

  // ---------------------------------------------------------------- spans
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

  function attributionRow() {
    return $(`.attribution[data-index="${state.attrIndex}"]`) || $(".attribution");
  }

  function markSpan(kind) {
    const span = selectionOffsets();
    if (!span) {
      setStatus(state.dirty ? "dirty" : "saved", "Select words inside the highlighted segment first");
      return;
    }
    const row = attributionRow();
    const i = row.dataset.index;
    const field = (name) => $(`[name="attr-${i}-${name}"]`);
    if (kind === "source") {
      field("source_start").value = span.start;
      field("source_end").value = span.end;
      if (!field("source").value.trim()) field("source").value = span.text.trim();
    } else {
      const spans = field("cue_spans").value.trim();
      field("cue_spans").value = spans ? `${spans}, ${span.start}-${span.end}` : `${span.start}-${span.end}`;
      const cue = field("cue").value.trim();
      field("cue").value = cue ? `${cue} … ${span.text.trim()}` : span.text.trim();
    }
    window.getSelection().removeAllRanges();
    markDirty();
  }

  // ---------------------------------------------------------------- suggestions
  function suggest(input) {
    clearTimeout(state.suggestTimer);
    state.suggestTimer = setTimeout(async () => {
      const url = `${root().dataset.sourcesUrl}?q=${encodeURIComponent(input.value)}`;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        const json = await readJson(response);
        if (!json) return;
        const list = $("#source-suggestions");
        list.replaceChildren(...json.names.map((name) => new Option(name, name)));
      } catch (_) { /* suggestions are a convenience */ }
    }, 150);
  }

  // ---------------------------------------------------------------- keyboard
  function isTyping(el) {
    if (!el) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && TEXT_TYPES.has(el.type);
  }

  function toggleGuidelines() {
    const dialog = $("#guidelines");
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  function onKeydown(event) {
    state.lastInput = Date.now();
    const openDialog = $("dialog[open]");
    if (openDialog) {
      if (event.key === "?" && openDialog.id === "guidelines") { event.preventDefault(); openDialog.close(); }
      return; // Esc closes natively
    }
    const target = event.target;
    if (isTyping(target)) {
      if (event.key === "Escape") { event.preventDefault(); target.blur(); }
      else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); save("next"); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!root()) return;
    if (state.stanceRow && stanceKey(event)) { event.preventDefault(); return; }
    const key = event.key;
    const r = root();
    if (key === "Enter") { event.preventDefault(); exitStance(); save("next"); return; }
    if (key === "ArrowRight" || key === "j") { event.preventDefault(); navigate(r.dataset.nextUrl); return; }
    if (key === "ArrowLeft" || key === "k") { event.preventDefault(); navigate(r.dataset.prevUrl); return; }
    if (key === "?") { event.preventDefault(); toggleGuidelines(); return; }
    if (key === "Escape") { exitStance(); if (document.activeElement) document.activeElement.blur(); return; }
    const f = form();
    if (!f) return;
    if (key === "/") {
      event.preventDefault();
      const inputs = $$(".source-input");
      const input = inputs.find((i) => !i.value.trim()) || inputs[0];
      if (input) input.focus();
      return;
    }
    if (key === ";") { event.preventDefault(); $("#comment").focus(); return; }
    if (key === "!") { event.preventDefault(); toggleInput($("#unsure")); return; }
    const label = $$('input[name^="dim-"]', f).find((i) => i.dataset.key === key);
    if (label) { event.preventDefault(); toggleInput(label); return; }
    const row = $$(".stance-row", f).find((tr) => tr.dataset.key === key);
    if (row) { event.preventDefault(); enterStance(row); }
  }

  // ---------------------------------------------------------------- time
  function tick() {
    const now = performance.now();
    if (!document.hidden && Date.now() - state.lastInput < IDLE_MS) state.activeMs += now - state.lastTick;
    state.lastTick = now;
  }

  // ---------------------------------------------------------------- wiring
  function setup() {
    exitStance();
    state.dirty = false;
    state.changes = 0;
    state.activeMs = 0;
    state.attempt = 0;
    state.attrIndex = 0;
    state.lastTick = performance.now();
    clearTimeout(state.retryTimer);
    if (restoreDraft()) {
      state.dirty = true;
      setStatus("dirty", "Unsaved draft restored from this browser (not in the database yet)");
      updateHolders();
    }
    const current = $(".outline-item.current");
    if (current) current.scrollIntoView({ block: "center" });
    const segment = document.getElementById("current-segment");
    if (segment) segment.scrollIntoView({ block: "nearest" });
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  }

  document.addEventListener("keydown", onKeydown);
  document.addEventListener("change", (event) => {
    const el = event.target;
    if (!el.form || el.form.id !== "annotate-form") return;
    if (el.name && (el.name.startsWith("dim-") || el.name.startsWith("primary-"))) afterLabelChange(el);
    else markDirty();
  });
  document.addEventListener("input", (event) => {
    const el = event.target;
    if (!el.form || el.form.id !== "annotate-form") return;
    if (el.type === "checkbox" || el.type === "radio" || el.tagName === "SELECT") return; // "change" handles them
    markDirty();
    if (el.classList.contains("source-input")) suggest(el);
  });
  document.addEventListener("focusin", (event) => {
    const row = event.target.closest && event.target.closest(".attribution");
    if (row) state.attrIndex = Number(row.dataset.index);
  });
  document.addEventListener("submit", (event) => {
    const f = event.target;
    if (f.id !== "annotate-form") return;
    event.preventDefault();
    const go = event.submitter && event.submitter.value === "stay" ? "stay" : "next";
    save(go);
  });
  document.addEventListener("click", (event) => {
    const el = event.target;
    const link = el.closest("a.outline-item, a.ctx-seg, #prev-link, #next-link");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      navigate(link.href);
      return;
    }
    if (el.closest("#help-button")) { toggleGuidelines(); return; }
    if (el.closest("[data-close]")) { el.closest("dialog").close(); return; }
    if (el.closest("#retry-save")) { state.attempt = 0; save(state.lastGo || "stay"); return; }
    if (el.closest("#mark-source")) { markSpan("source"); return; }
    if (el.closest("#mark-cue")) { markSpan("cue"); return; }
    if (el.closest("#clear-stances")) {
      for (const i of $$('.stance-row input[type="radio"]')) i.checked = false;
      markDirty();
      return;
    }
    if (el.closest("#conflict-keep")) {
      const dialog = $("#conflict-dialog");
      $("#revision").value = dialog.dataset.storedRevision;
      dialog.close();
      save(dialog.dataset.go || "stay");
      return;
    }
    if (el.closest("#conflict-take")) {
      $("#conflict-dialog").close();
      clearDraft();
      state.dirty = false;
      load(window.location.href, { push: false });
    }
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
  document.addEventListener("visibilitychange", () => { state.lastTick = performance.now(); });
  window.addEventListener("beforeunload", (event) => {
    if (state.dirty || state.saving) {
      storeDraft();
      event.preventDefault();
      event.returnValue = "";
    }
  });
  window.addEventListener("popstate", async () => {
    // The form still belongs to the segment being left: save it before leaving.
    if (state.dirty) await save("stay");
    load(window.location.href, { push: false });
  });
  setInterval(tick, 1000);

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
