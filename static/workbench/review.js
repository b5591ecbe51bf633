// Review screen: keyboard-first adjudication. Without this file the page still works
// as plain form posts (one form per segment). Keys as on the annotate screen: claim
// 1-4, frame letters; a target key then f/a/n for stance; Enter accepts the current
// selection as gold and moves on to the next disagreement; j/k/n move.
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

  function segments() { return Array.prototype.slice.call(list.querySelectorAll(".review-seg:not(.skipped)")); }

  function focusSegment(section, scroll) {
    if (!section) return;
    if (current) current.classList.remove("current");
    current = section;
    pending = [];
    disarm();
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
    if (key === "Escape") { disarm(); return false; }
    if (armedTarget) {
      var stance = armedTarget.querySelector('input[data-stance-key="' + CSS.escape(key) + '"]');
      armedTarget.classList.remove("armed");
      armedTarget = null;
      if (stance) { choose(current, 'input[name="' + stance.name + '"][value="' + stance.value + '"]'); return true; }
      return false;
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
    if (target.matches && target.matches("input[type=text], textarea, select")) return;
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
