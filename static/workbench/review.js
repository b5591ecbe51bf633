// Review screen: keyboard-first adjudication. Without this file the page still works
// as plain form posts (one form per segment). Keys as on the annotate screen: claim
// 1-4, frame letters; a target key then f/a/n for stance; Enter accepts the current
// selection as gold and moves on to the next disagreement; j/k/n move.
// Sources of the gold: a / A arm the next / previous source row; then 1-9 (g) take
// that annotator's (the gold's) whole version, t f c w s then a number take only the
// type, form, cue, source as written or spans, x leaves the source out (or takes it
// back), e edits its fields, + adds a source, Esc leaves the sources.
// The server draws one segment's adjudication form (drawing every form cost ~28,000
// template nodes per article); a segment without one carries data-form-url, and its
// form is fetched when it gets focus. Keys typed meanwhile wait and then apply.
(function () {
  "use strict";
  var list = document.getElementById("review-list");
  if (!list) return;
  var current = null;
  var armedTarget = null; // the stance fieldset chosen by its target key
  var pending = []; // keys typed while the current segment's form is loading
  var loading = {}; // segment id -> true while its form is being fetched
  var attrRow = null; // the gold attribution row armed by "a"
  var attrField = null; // after t/f/c/w/s: the next number takes only this field
  var FIELD_KEYS = { t: "source_type", f: "form", c: "cue", w: "source", s: "spans" };
  var TAKE = {
    source: ["source"], source_type: ["source_type"], form: ["form"], cue: ["cue"],
    spans: ["source_start", "source_end", "cue_spans"]
  };
  var ALL_FIELDS = ["source", "source_type", "form", "cue", "source_start", "source_end", "cue_spans", "stances"];

  function needsForm(section) {
    return section && section.hasAttribute("data-form-url") && !section.querySelector("form.gold-form");
  }

  function loadForm(section) {
    if (!needsForm(section) || loading[section.id]) return;
    var id = section.id;
    loading[id] = true;
    section.classList.add("loading");
    fetch(section.getAttribute("data-form-url"), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("form not loaded: " + response.status);
        return response.text();
      })
      .then(function (html) {
        var old = document.getElementById(id);
        var box = document.createElement("template");
        box.innerHTML = html.trim();
        var fresh = box.content.querySelector(".review-seg");
        if (!old || !fresh) return;
        var wasCurrent = old === current;
        old.replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh);
        if (wasCurrent) {
          current = fresh;
          fresh.classList.add("current");
          fresh.focus({ preventScroll: true });
          var keys = pending;
          pending = [];
          keys.forEach(function (key) { handle(key, fresh); });
        }
      })
      .catch(function () {
        // The "Adjudicate" link still leads to the form (a full page load).
        var stale = document.getElementById(id);
        if (stale) stale.classList.remove("loading");
        pending = [];
      })
      .then(function () { delete loading[id]; });
  }

  function disarm() {
    if (armedTarget) armedTarget.classList.remove("armed");
    armedTarget = null;
  }

  // -- the gold's sources --------------------------------------------------

  function attrRows(section) {
    return section ? Array.prototype.slice.call(section.querySelectorAll("fieldset.gattr")) : [];
  }

  function setTaking(field) {
    attrField = field;
    if (!attrRow) return;
    if (field) attrRow.setAttribute("data-taking", field);
    else attrRow.removeAttribute("data-taking");
  }

  function disarmAttr() {
    if (attrRow) { attrRow.classList.remove("armed"); attrRow.removeAttribute("data-taking"); }
    attrRow = null;
    attrField = null;
  }

  function armAttr(row) {
    disarm();
    disarmAttr();
    if (!row) return false;
    var editor = row.closest("details.gold-editor");
    if (editor) editor.open = true;
    attrRow = row;
    row.classList.add("armed");
    var fresh = row.querySelector("details.gattr-new");
    if (fresh) fresh.open = true;
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  function stepAttr(offset) {
    var rows = attrRows(current);
    if (!rows.length) return false;
    var index = attrRow ? rows.indexOf(attrRow) + offset : (offset > 0 ? 0 : rows.length - 1);
    if (index >= rows.length) index = 0;
    if (index < 0) index = rows.length - 1;
    return armAttr(rows[index]);
  }

  function setDeleted(row, deleted) {
    var box = row.querySelector(".gattr-delete");
    if (box) box.checked = deleted;
    row.classList.toggle("deleted", deleted);
  }

  // Take one version (a "take-version" button's data) into the row: every field,
  // or only those of one field group.
  function take(row, key, field) {
    var version = row.querySelector('button.take-version[data-take="' + CSS.escape(key) + '"]');
    if (!version) return false;
    (field ? TAKE[field] : ALL_FIELDS).forEach(function (name) {
      var input = row.querySelector('[data-field="' + name + '"]');
      if (input) input.value = version.getAttribute("data-" + name) || "";
    });
    setDeleted(row, false);
    row.classList.add("touched");
    return true;
  }

  // A new source: the blank row the server draws, or a copy of the last row with
  // the next index (gattr-count counts it).
  function addRow(section) {
    var rows = attrRows(section);
    var last = rows[rows.length - 1];
    var count = section && section.querySelector('input[name="gattr-count"]');
    if (!last || !count) return null;
    var source = last.querySelector('[data-field="source"]');
    if (last.classList.contains("blank") && source && !source.value.trim()) {
      armAttr(last);
      return last;
    }
    var index = parseInt(count.value, 10) || rows.length;
    var fresh = last.cloneNode(true);
    fresh.setAttribute("data-index", String(index));
    fresh.classList.remove("deleted", "armed", "touched");
    fresh.classList.add("blank");
    fresh.removeAttribute("data-taking");
    Array.prototype.forEach.call(fresh.querySelectorAll(".gattr-take, .gattr-alternatives"), function (node) { node.remove(); });
    Array.prototype.forEach.call(fresh.querySelectorAll("[name]"), function (input) {
      input.name = input.name.replace(/^gattr-\d+-/, "gattr-" + index + "-");
      if (input.type === "checkbox") input.checked = false;
      else input.value = "";
    });
    var legend = fresh.querySelector("legend");
    if (legend) legend.textContent = "New source";
    last.after(fresh);
    count.value = String(index + 1);
    armAttr(fresh);
    return fresh;
  }

  // A key while a source row is armed; true if it was used (every key is: the
  // sources mode keeps letters from toggling frames until Esc).
  function handleAttr(key) {
    if (!attrRow.isConnected) { disarmAttr(); return false; }
    if (key === "Escape") { disarmAttr(); return true; }
    if (attrField === null && FIELD_KEYS[key]) { setTaking(FIELD_KEYS[key]); return true; }
    if (/^[1-9g]$/.test(key)) {
      var field = attrField;
      setTaking(null);
      take(attrRow, key, field);
      return true;
    }
    setTaking(null);
    if (key === "x" || key === "Delete") {
      var box = attrRow.querySelector(".gattr-delete");
      setDeleted(attrRow, !(box && box.checked));
      return true;
    }
    if (key === "a") return stepAttr(1);
    if (key === "A") return stepAttr(-1);
    if (key === "e" || key === "+") {
      var row = key === "+" ? addRow(current) : attrRow;
      var input = row && row.querySelector('[data-field="source"]');
      if (input) input.focus();
      return true;
    }
    return true;
  }

  function segments() { return Array.prototype.slice.call(list.querySelectorAll(".review-seg:not(.skipped)")); }

  function focusSegment(section, scroll) {
    if (!section) return;
    if (current) current.classList.remove("current");
    current = section;
    pending = [];
    disarm();
    disarmAttr();
    section.classList.add("current");
    section.focus({ preventScroll: true });
    if (scroll !== false) section.scrollIntoView({ block: "start" });
    if (history.replaceState) history.replaceState(null, "", "#" + section.id);
    loadForm(section);
  }

  function step(offset, onlyDisagree) {
    var all = segments();
    var index = current ? all.indexOf(current) : -1;
    for (var i = index + offset; i >= 0 && i < all.length; i += offset) {
      var section = all[i];
      if (!onlyDisagree || (section.classList.contains("disagree") && !section.classList.contains("has-gold"))) {
        focusSegment(section);
        return true;
      }
    }
    return false;
  }

  function choose(section, selector) {
    var input = section.querySelector(selector);
    if (!input) return false;
    var editor = section.querySelector("details.gold-editor");
    if (editor) editor.open = true;
    if (input.type === "checkbox") input.checked = !input.checked;
    else input.checked = true;
    input.closest("label").classList.add("touched");
    return true;
  }

  // One key on the current segment (which has its form); true if it was used.
  function handle(key, target) {
    if (key === "Enter") {
      var form = current.querySelector("form.gold-form");
      if (form) { form.requestSubmit(); return true; }
      return false;
    }
    if (key === " " && target.matches && target.matches("input, button, summary")) return false;
    if (key === " ") {
      var editor = current.querySelector("details.gold-editor");
      if (editor) { editor.open = !editor.open; return true; }
      return false;
    }
    if (attrRow && handleAttr(key)) return true;
    if (key === "Escape") { disarm(); return false; }
    if (armedTarget) {
      var stance = armedTarget.querySelector('input[data-stance-key="' + CSS.escape(key) + '"]');
      armedTarget.classList.remove("armed");
      armedTarget = null;
      if (stance) { choose(current, 'input[name="' + stance.name + '"][value="' + stance.value + '"]'); return true; }
      return false;
    }
    // "A" only inside the sources: outside it is a technique key.
    if (key === "a") return stepAttr(1);
    if (key === "+") {
      var added = addRow(current);
      var source = added && added.querySelector('[data-field="source"]');
      if (source) source.focus();
      return Boolean(added);
    }
    var fieldset = current.querySelector('fieldset[data-target-key="' + CSS.escape(key) + '"]');
    if (fieldset) {
      armedTarget = fieldset;
      fieldset.classList.add("armed");
      var editor2 = current.querySelector("details.gold-editor");
      if (editor2) editor2.open = true;
      return true;
    }
    return choose(current, 'input[data-key="' + CSS.escape(key) + '"]');
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target.matches && target.matches("input[type=text], textarea, select")) {
      // Esc leaves a field for the keys again (a source row stays armed).
      if (event.key === "Escape" && current && current.contains(target)) {
        target.blur();
        current.focus({ preventScroll: true });
        event.preventDefault();
      }
      return;
    }
    var key = event.key;
    if (key === "j" || key === "ArrowDown") { step(1, false); event.preventDefault(); return; }
    if (key === "k" || key === "ArrowUp") { step(-1, false); event.preventDefault(); return; }
    if (!current) { if (key === "Enter" || key === "n") { step(1, true) || step(1, false); event.preventDefault(); } return; }
    if (key === "n" && !armedTarget) { step(1, true); event.preventDefault(); return; }
    if (needsForm(current)) {
      // The form is on its way: keep the key for it (Enter included) instead of losing it.
      if (key !== "Escape" && key.length === 1 || key === "Enter") { pending.push(key); loadForm(current); event.preventDefault(); }
      return;
    }
    if (handle(key, target)) event.preventDefault();
  });

  // Without JS the link reloads the page with this segment's form; with JS the
  // segment gets focus, which fetches the form in place.
  list.addEventListener("click", function (event) {
    var link = event.target.closest(".edit-gold a");
    if (!link) return;
    var section = link.closest(".review-seg");
    if (!section || !needsForm(section)) return;
    event.preventDefault();
    if (section !== current) focusSegment(section, false);
    else loadForm(section);
  }, true);

  list.addEventListener("click", function (event) {
    var section = event.target.closest(".review-seg:not(.skipped)");
    if (section && section !== current) focusSegment(section, false);
    var button = event.target.closest("button.take");
    if (button) {
      var row = button.closest("fieldset.gattr");
      take(row, button.getAttribute("data-take"), button.getAttribute("data-take-field"));
      event.preventDefault();
    }
  });

  list.addEventListener("change", function (event) {
    if (event.target.matches(".gattr-delete")) {
      event.target.closest("fieldset.gattr").classList.toggle("deleted", event.target.checked);
    }
  });

  // htmx 2 does not swap 4xx answers by default; the server's 422 (refused) and
  // 409 (another reviewer saved first) carry the segment with the message, so swap.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 422 || status === 409) { event.detail.shouldSwap = true; event.detail.isError = false; }
  });

  // afterSettle, not afterSwap: htmx keeps the old element's classes on the new one
  // until it settles, so "has-gold" only shows then.
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var section = event.detail.target;
    if (!section || !section.id) return;
    var fresh = document.getElementById(section.id);
    var counter = document.getElementById("n-disagree");
    if (counter) counter.textContent = list.querySelectorAll(".review-seg.disagree:not(.has-gold)").length;
    var golds = document.getElementById("n-gold");
    if (golds) golds.textContent = list.querySelectorAll(".review-seg.has-gold").length;
    current = fresh;
    if (fresh && fresh.querySelector(".saved")) {
      if (!step(1, true)) focusSegment(fresh, false);
    } else {
      focusSegment(fresh);
    }
  });

  var start = location.hash && document.getElementById(location.hash.slice(1));
  if (start && start.classList.contains("review-seg")) focusSegment(start);
  else step(1, true);
})();
