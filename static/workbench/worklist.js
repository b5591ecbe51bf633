// The work list by keyboard: j/k (or the arrows) move through the articles, Enter
// opens the one marked, c continues labelling, / goes to the title filter, n/p
// to the next/previous page. No inline script (CSP).
(() => {
  "use strict";
  const rows = () => Array.from(document.querySelectorAll("table.worklist tbody tr")).filter((tr) => tr.querySelector("td.title-cell a"));
  let at = -1;

  function mark(index) {
    const list = rows();
    if (!list.length) return;
    at = Math.max(0, Math.min(list.length - 1, index));
    list.forEach((tr, i) => tr.classList.toggle("selected", i === at));
    const link = list[at].querySelector("td.title-cell a");
    link.focus({ preventScroll: true });
    list[at].scrollIntoView({ block: "nearest" });
  }

  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  function follow(selector) {
    const link = document.querySelector(selector);
    if (link && link.href) window.location.assign(link.href);
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    if (key === "j" || key === "ArrowDown") { event.preventDefault(); mark(at + 1); }
    else if (key === "k" || key === "ArrowUp") { event.preventDefault(); mark(at < 0 ? 0 : at - 1); }
    else if (key === "Enter" && at >= 0) { event.preventDefault(); window.location.assign(rows()[at].querySelector("td.title-cell a").href); }
    else if (key === "c") { event.preventDefault(); follow("#global-continue"); }
    else if (key === "/") { event.preventDefault(); const title = document.getElementById("id_title"); if (title) title.focus(); }
    else if (key === "n") { follow(".pagination .next a"); }
    else if (key === "p") { follow(".pagination .previous a"); }
  });
})();
