// Draws the class page from the JSON in #data. Everything from the results goes into the page as text
// (textContent), never as markup: a program's output can hold anything.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const OUTCOMES = ["pass", "fail", "timeout", "crash", "limit", "not-run"];
  const MARK = { pass: "✓", fail: "✗", timeout: "T", crash: "C", limit: "L", "not-run": "–" };
  const RANK = { pass: 0, "not-selected": 1, "not-run": 2, timeout: 3, limit: 4, crash: 5, fail: 6, unfinished: 7, "not-graded": 8, unreadable: 9 };
  const state = { assignment: null, outcome: null, sortKey: null, sortDir: 1, selected: null };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }
  const points = (p) => (p == null ? "" : Number.isInteger(p) ? String(p) : p.toFixed(2));
  const percent = (x) => Math.round(x * 100) + "%";
  const cellClass = (word) => (MARK[word] && word !== "not-run" ? word : "other");

  // Columns of the matrix: the student, points per assignment, total, required, modes, then the checks.
  function allColumns() {
    const cols = [{ key: "student", label: "Student", group: "", value: (s) => s.id, kind: "student" }];
    data.assignments.forEach((a, i) => {
      cols.push({ key: "points:" + i, label: a.name, group: "points", assignment: i, kind: "num",
        title: a.name + ": points of " + points(a.max), value: (s) => s.points[i] });
    });
    cols.push({ key: "total", label: "Total", group: "", kind: "num", title: "points over every assignment",
      value: (s) => s.total });
    cols.push({ key: "required", label: "Required", group: "", kind: "num",
      title: "required checks passed", value: (s) => s.required_passed, show: (s) => s.required_passed + "/" + s.required_total });
    data.assignments.forEach((a, i) => {
      if (a.has_mode) cols.push({ key: "mode:" + i, label: a.name + " mode", group: "", assignment: i, kind: "text",
        title: "server mode detected", value: (s) => s.modes[i] || "" });
    });
    data.columns.forEach((c, j) => {
      cols.push({ key: "check:" + j, label: c.short, group: data.assignments[c.assignment].name, assignment: c.assignment,
        kind: "check", check: j, title: c.id + (c.required ? " (required)" : " (information)") + ": " + c.requirement,
        value: (s) => RANK[s.cells[j]] ?? 9 });
    });
    return cols;
  }
  const columns = allColumns();
  const visible = (col) => state.assignment === null || col.assignment === undefined || col.assignment === state.assignment;

  function rowMatches(s) {
    if (state.outcome === null) return true;
    return data.columns.some((c, j) => visible(columns.find((k) => k.check === j)) && s.cells[j] === state.outcome);
  }

  function sortedStudents() {
    const rows = data.students.map((s, i) => ({ s, i })).filter(({ s }) => rowMatches(s));
    const col = columns.find((c) => c.key === state.sortKey);
    if (!col) return rows;
    const cmp = (x, y) => {
      const a = col.value(x.s), b = col.value(y.s);
      if (a == null && b == null) return x.i - y.i;
      if (a == null) return 1;
      if (b == null) return -1;
      const order = typeof a === "number" ? a - b : String(a).localeCompare(String(b), undefined, { numeric: true });
      return order * state.sortDir || x.i - y.i;
    };
    return rows.sort(cmp);
  }

  function drawMatrix() {
    const table = document.getElementById("matrix");
    table.replaceChildren();
    const shown = columns.filter(visible);
    const thead = el("thead");
    const groups = el("tr", { class: "groups" });
    let last = null, span = null;
    for (const col of shown) {
      const name = col.kind === "check" ? col.group : "";
      if (span && name === last) span.colSpan += 1;
      else { span = el("th", { text: name, class: col.kind === "student" ? "student" : "" }); groups.append(span); last = name; }
    }
    const names = el("tr", { class: "names" });
    for (const col of shown) {
      const th = el("th", { class: col.kind === "check" ? "check" : col.kind, title: col.title || col.label,
        "data-key": col.key, onclick: () => sortBy(col.key) }, col.kind === "check" ? el("span", { text: col.label }) : col.label);
      if (state.sortKey === col.key) th.setAttribute("aria-sort", state.sortDir > 0 ? "ascending" : "descending");
      names.append(th);
    }
    thead.append(groups, names);
    const tbody = el("tbody");
    for (const { s, i } of sortedStudents()) {
      const tr = el("tr", { "data-student": s.id, class: s.notes.length ? "note" : "" });
      for (const col of shown) {
        if (col.kind === "student") tr.append(el("td", { class: "student", text: s.id || "(this program)", title: s.notes.join("\n") || s.id }));
        else if (col.kind === "check") tr.append(cellFor(s, i, col.check));
        else tr.append(el("td", { class: col.kind === "num" ? "num" : "", text: col.show ? col.show(s) : col.kind === "num" ? points(col.value(s)) : col.value(s) }));
      }
      tbody.append(tr);
    }
    const rates = el("tr", { class: "rates" });
    for (const col of shown) {
      if (col.kind === "student") rates.append(el("td", { class: "student", text: "pass rate" }));
      else if (col.kind === "check") { const r = passRate(col.check); rates.append(el("td", { text: r === null ? "" : percent(r), title: data.columns[col.check].id })); }
      else rates.append(el("td"));
    }
    const tfoot = el("tfoot", {}, rates);
    table.append(thead, tbody, tfoot);
  }

  function cellFor(s, i, j) {
    const word = s.cells[j];
    const dim = state.outcome !== null && word !== state.outcome;
    const td = el("td", { class: "cell " + cellClass(word) + (dim ? " dim" : "") });
    const button = el("button", { type: "button", text: MARK[word] || "?", "data-outcome": word,
      "data-check": data.columns[j].id, title: data.columns[j].short + ": " + word, "aria-label": (s.id || "program") + " " + data.columns[j].id + " " + word,
      onclick: () => showEvidence(i, j) });
    if (state.selected && state.selected[0] === i && state.selected[1] === j) button.classList.add("selected");
    td.append(button);
    return td;
  }

  function passRate(j) {
    const ran = data.students.filter((s) => OUTCOMES.includes(s.cells[j]));
    if (!ran.length) return null;
    return ran.filter((s) => s.cells[j] === "pass").length / ran.length;
  }

  function sortBy(key) {
    if (state.sortKey === key) state.sortDir = -state.sortDir;
    else { state.sortKey = key; state.sortDir = key.startsWith("check:") ? -1 : 1; }
    drawMatrix();
  }

  function showEvidence(i, j) {
    const s = data.students[i], c = data.columns[j], e = s.evidence[j], word = s.cells[j];
    state.selected = [i, j];
    const box = document.getElementById("evidence");
    box.replaceChildren();
    box.append(el("h2", {}, el("span", { text: (s.id ? s.id + " · " : "") + data.assignments[c.assignment].name + " · " + c.short }),
      el("button", { class: "close", type: "button", title: "close", text: "×", onclick: () => { box.hidden = true; state.selected = null; drawMatrix(); } })));
    box.append(el("p", {}, el("span", { class: "verdict " + cellClass(word), text: e ? e.outcome : word.toUpperCase() }),
      " · " + (c.required ? "required" : "information only") + " (" + c.level + ")" + (e ? " · " + e.points + " points · " + e.duration : "")));
    const facts = el("dl");
    const fact = (label, text) => { if (text) facts.append(el("dt", { text: label }), el("dd", { text })); };
    fact("check", c.id);
    fact("requirement", c.requirement);
    fact("concept", c.concept);
    if (e) { fact("why", e.message); fact("program", e.program); if (e.differs_at != null) fact("differs", "first at byte " + e.differs_at); }
    else fact("why", word === "not-graded" ? "no result stored: not graded yet" : word === "unreadable" ? "the stored result could not be read" : word);
    box.append(facts);
    const block = (label, text, cls) => { if (text) box.append(el("div", { class: "muted", text: label }), el("pre", { class: cls || "", text })); };
    if (e) {
      for (const [label, shown, cls] of [["minimal failing input", e.input, "input"], ["expected", e.expected, "expected"], ["actual", e.actual, "actual"]]) {
        if (shown) { block(label + " (" + shown.about + ")", shown.text, cls); block(label + ", hex", shown.hex); }
      }
      block("replay", e.replay, "replay");
      block("wire transcript", e.wire.join("\n"), "wire");
      block("stderr (last lines)", e.stderr.join("\n"), "stderr");
      block("this assignment", e.summary);
    }
    if (s.notes.length) block("notes", s.notes.join("\n"));
    box.hidden = false;
    drawMatrix();
  }

  function drawFilters() {
    const byAssignment = document.getElementById("assignment-filter");
    byAssignment.replaceChildren(el("span", { class: "label", text: "Assignment" }));
    const choice = (label, pressed, onclick, attrs) => el("button", Object.assign({ type: "button", "aria-pressed": String(pressed), text: label, onclick }, attrs || {}));
    byAssignment.append(choice("all", state.assignment === null, () => { state.assignment = null; redraw(); }, { "data-assignment": "" }));
    data.assignments.forEach((a, i) => byAssignment.append(choice(a.name, state.assignment === i, () => { state.assignment = i; redraw(); }, { "data-assignment": a.name })));
    const byOutcome = document.getElementById("outcome-filter");
    byOutcome.replaceChildren(el("span", { class: "label", text: "Outcome" }));
    const present = new Set(data.students.flatMap((s) => s.cells));
    byOutcome.append(choice("all", state.outcome === null, () => { state.outcome = null; redraw(); }, { "data-outcome": "" }));
    for (const word of Object.keys(RANK).filter((w) => present.has(w))) {
      byOutcome.append(choice(word, state.outcome === word, () => { state.outcome = word; redraw(); }, { "data-outcome": word }));
    }
  }

  function drawInsights() {
    const hardest = document.getElementById("hardest");
    const rated = data.columns.map((c, j) => ({ c, r: passRate(j) })).filter((x) => x.r !== null && x.r < 1);
    rated.sort((x, y) => x.r - y.r || x.c.id.localeCompare(y.c.id));
    const list = el("ol");
    for (const { c, r } of rated.slice(0, 10)) {
      const bar = el("span", { class: "rate" }, el("i", { style: "width:" + percent(r) }));
      list.append(el("li", { title: c.requirement }, bar, percent(r) + " passed · ", el("strong", { text: data.assignments[c.assignment].name + "/" + c.short }), el("div", { class: "muted", text: c.requirement })));
    }
    hardest.replaceChildren(el("h2", { text: "Checks the class failed most" }), rated.length ? list : el("p", { class: "muted", text: "Every check that ran passed for every student." }));
    const dist = document.getElementById("distribution");
    const bins = new Array(11).fill(0);
    for (const s of data.students) if (s.max > 0) bins[Math.floor((s.total / s.max) * 10 + 1e-9)] += 1;
    const top = Math.max(1, ...bins);
    const bars = el("div", { class: "bars" });
    const axis = el("div", { class: "axis" });
    bins.forEach((n, b) => {
      bars.append(el("div", { class: "bar", style: "height:" + Math.round((n / top) * 100) + "%", title: n + " student(s) at " + (b * 10) + (b < 10 ? "–" + (b * 10 + 9) : "") + "%" }, el("b", { text: n ? String(n) : "" })));
      axis.append(el("span", { text: b * 10 + "%" }));
    });
    dist.replaceChildren(el("h2", { text: "Distribution of scores" }), bars, axis);
  }

  function redraw() { drawFilters(); drawMatrix(); }

  document.getElementById("class-name").textContent = data.class;
  const n = data.students.length;
  const mean = n ? data.students.reduce((t, s) => t + (s.max ? s.total / s.max : 0), 0) / n : 0;
  document.getElementById("overview").textContent = n + " student(s) · " + data.assignments.length + " assignment(s): " +
    data.assignments.map((a) => a.name + " (" + a.suite + ", seed " + a.seed + ")").join(", ") + " · mean score " + percent(mean) +
    " · sockspec " + data.sockspec_version + " · click a cell for its evidence, a heading to sort";
  redraw();
  drawInsights();
})();
