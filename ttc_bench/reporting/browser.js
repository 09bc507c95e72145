/* The sample browser of report.html: reads the JSON the report embeds (id "sb-data"; the
   format is described in ttc_bench/report/browser.py) and renders it with DOM calls only:
   model output is always set as text, never parsed as HTML. The view lives in the URL
   hash (#samples?run=0&task=...&level=...&budget=...&show=wrong&q=...), so table cells link
   to it and a view can be bookmarked. Served by `ttc-bench view`, cells whose samples are
   not embedded are fetched per item from the server. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("sb-data").textContent);
  var root = document.getElementById("sb-root");
  var PAGE = 25;
  var SERVED = location.protocol === "http:" || location.protocol === "https:";
  var FILTERS = [
    ["all", "all samples"], ["wrong", "wrong (incl. unparsed)"], ["unparsed", "unparsed"],
    ["cutoff", "cut off"], ["errored", "errored"], ["split", "split votes"], ["flip", "vote flips"]
  ];
  var HELP = {
    wrong: "samples not scored correct (unparsed answers included; errors excluded)",
    split: "items whose samples do not all give the same answer",
    flip: "items the majority vote gets right while most samples are wrong, or the reverse"
  };
  var NOUNS = {  // what the count line counts, singular and plural
    all: ["sample", "samples"], wrong: ["wrong sample (unparsed included)", "wrong samples (unparsed included)"],
    unparsed: ["unparsed sample", "unparsed samples"], cutoff: ["cut-off sample", "cut-off samples"],
    errored: ["errored sample", "errored samples"], split: ["sample of items with split votes", "samples of items with split votes"],
    flip: ["sample of items whose majority vote flips the verdict", "samples of items whose majority vote flips the verdict"]
  };
  var state = { run: 0, task: "", level: "", budget: "", show: "all", q: "", limit: PAGE };
  var fetched = {};  // "run/cell" -> {rows, prompt} loaded from `ttc-bench view`, or "loading"/"failed"
  var indexes = [];

  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "text") node.textContent = props[k];
      else if (k === "className") node.className = props[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), props[k]);
      else node.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function plain(text) { return text === null || text === undefined ? "" : (typeof text === "string" ? text : text[0] + text[2]); }
  function chars(text) { return typeof text === "string" ? text.length : text[0].length + text[1] + text[2].length; }

  function index(r) {
    if (indexes[r]) return indexes[r];
    var run = DATA.runs[r], byCell = {};
    (run.sample_rows || []).forEach(function (s) { (byCell[s.cell] = byCell[s.cell] || []).push(s); });
    indexes[r] = { byCell: byCell, hay: {} };
    return indexes[r];
  }
  function rowsOf(r, c) {
    var cell = DATA.runs[r].cells[c];
    if (cell.embedded) return index(r).byCell[c] || [];
    var got = fetched[r + "/" + c];
    return got && got.rows ? got.rows : null;
  }
  function hay(r, s) {
    var h = index(r).hay, key = s.cell + "/" + s.sample;
    if (!(key in h)) h[key] = [s.answer, plain(s.response), plain(s.reasoning), plain(s.error), s.finish].join("\n").toLowerCase();
    return h[key];
  }
  function cellCount(cell, show) {
    switch (show) {
      case "wrong": return cell.n - cell.errors - cell.correct;
      case "unparsed": return cell.unparsed;
      case "cutoff": return cell.cut_off;
      case "errored": return cell.errors;
      case "split": return cell.split ? cell.n : 0;
      case "flip": return cell.flip ? cell.n : 0;
      default: return cell.n;
    }
  }
  function sampleShown(s, show) {
    switch (show) {
      case "wrong": return s.verdict === "wrong" || s.verdict === "unparsed";
      case "unparsed": return s.verdict === "unparsed";
      case "cutoff": return s.cut_off;
      case "errored": return s.verdict === "error";
      default: return true;
    }
  }
  function inView(run, cell) {
    var item = run.items[cell.item];
    return item.task === state.task && (!state.level || item.level === state.level) &&
      (!state.budget || run.budgets[cell.budget] === state.budget);
  }

  /* The matching cells, grouped by item, and how many samples match. */
  function compute() {
    var r = state.run, run = DATA.runs[r], q = state.q.trim().toLowerCase();
    var groups = [], samples = 0, counts = {}, searched = 0;
    FILTERS.forEach(function (f) { counts[f[0]] = 0; });
    run.cells.forEach(function (cell, c) {
      if (!inView(run, cell)) return;
      FILTERS.forEach(function (f) { counts[f[0]] += cellCount(cell, f[0]); });
      var count = cellCount(cell, state.show), hits = null;
      if (!count) return;
      if (q) {
        var rows = rowsOf(r, c), item = run.items[cell.item];
        if (!rows) return;
        searched += 1;
        var itemHit = (item.id + "\n" + (item.gold || "")).toLowerCase().indexOf(q) >= 0;
        hits = rows.filter(function (s) { return sampleShown(s, state.show) && (itemHit || hay(r, s).indexOf(q) >= 0); });
        count = hits.length;
        if (!count) return;
      }
      var last = groups[groups.length - 1];
      if (!last || last.item !== cell.item) groups.push(last = { item: cell.item, cells: [] });
      last.cells.push({ c: c, count: count, hits: hits });
      samples += count;
    });
    return { groups: groups, samples: samples, counts: counts };
  }

  function textBlock(text) {
    if (typeof text === "string") return el("pre", { text: text });
    return el("pre", {}, [text[0], el("span", { className: "sb-cut", text: "\n[… " + fmt(text[1]) +
      " characters not shown here: the full text is in samples.jsonl …]\n" }), text[2]]);
  }
  function collapsible(title, text, open) {
    if (text === null || text === undefined || chars(text) === 0) return null;
    var d = el("details", { className: "sb-text" }, [el("summary", { text: title + " (" + fmt(chars(text)) + " characters)" }), textBlock(text)]);
    if (open) d.open = true;
    return d;
  }
  function sampleView(s) {
    var t = s.tokens || [], bits = [];
    // A model that does not separate its reasoning still has reasoning tokens (the text
    // before a forced answer): say where that text is instead of promising a pane.
    var where = (s.reasoning === null || s.reasoning === undefined) ? " of them reasoning, in the response" : " reasoning";
    bits.push(fmt(t[1] || 0) + " tokens" + (t[2] ? " (" + fmt(t[2]) + where + ")" : "") + ", prompt " + fmt(t[0] || 0));
    if (s.finish) bits.push("finish " + s.finish);
    // Budget forcing: the reasoning was cut and ttc-bench asked for the answer in a further
    // turn, after its answer cue ("Time is up, ..."), which the response therefore contains.
    if (s.cut_off) bits.push(s.turns > 1 ? "cut off, then asked for the answer (the response holds ttc-bench's answer cue)" : "cut off");
    if (s.turns > 1) bits.push(s.turns + " turns");
    // attempts counts every request, turns included: only the repeats are retries.
    if (s.attempts > (s.turns || 1)) bits.push((s.attempts - (s.turns || 1)) + " retries");
    if (s.latency !== null && s.latency !== undefined) bits.push(s.latency.toFixed(1) + " s");
    if (s.partial !== undefined) bits.push("partial credit " + Math.round(100 * s.partial) + "%");
    var head = el("div", { className: "sb-line" }, [
      el("span", { className: "sb-badge v-" + s.verdict, text: s.verdict }), " #" + s.sample + " ",
      s.answer === null ? el("span", { className: "sb-muted", text: "no answer" }) : el("code", { text: s.answer }),
      el("span", { className: "sb-muted", text: " · " + bits.join(" · ") })
    ]);
    return el("div", { className: "sb-sample" }, [
      head,
      s.error ? el("div", { className: "sb-error" }, ["error: ", textBlock(s.error)]) : null,
      s.shown ? el("div", { className: "sb-muted", text: "shown as: " + JSON.stringify(s.shown) }) : null,
      collapsible("reasoning", s.reasoning, false),
      collapsible("response", s.response, s.reasoning === null || s.reasoning === undefined)
    ]);
  }
  function votesView(cell) {
    var rows = cell.votes.map(function (v) { return [v[0], v[1], v[2] ? "ok" : "bad"]; });
    if (cell.unparsed) rows.push(["(unparsed)", cell.unparsed, "none"]);
    if (cell.errors) rows.push(["(errors)", cell.errors, "none"]);
    return el("div", { className: "sb-votes" }, rows.map(function (v) {
      var bar = el("span", { className: "sb-bar " + v[2] });
      bar.style.width = Math.max(2, Math.round(160 * v[1] / cell.n)) + "px";
      return el("div", { className: "sb-vote" }, [el("code", { className: "sb-label", text: v[0], title: v[0] }), bar,
        el("span", { text: " " + v[1] + (v[2] === "ok" ? " correct" : "") })]);
    }));
  }
  function load(r, c, item, budget) {
    var key = r + "/" + c;
    if (fetched[key]) return;
    fetched[key] = "loading";
    var url = "samples?run=" + r + "&item=" + encodeURIComponent(item.id) + "&budget=" + encodeURIComponent(budget);
    fetch(url).then(function (res) { if (!res.ok) throw new Error(res.status); return res.json(); }).then(function (body) {
      body.samples.forEach(function (s) { s.cell = c; });  // as embedded rows carry it (the search cache keys on it)
      fetched[key] = { rows: body.samples, prompt: body.prompt };
      render(false);
    }).catch(function () { fetched[key] = "failed"; render(false); });
  }
  function cellView(r, m) {
    var run = DATA.runs[r], cell = run.cells[m.c], item = run.items[cell.item], budget = run.budgets[cell.budget];
    var scored = cell.n - cell.errors, majText;
    if (cell.maj === null) majText = "no vote";
    else majText = cell.maj === 1 ? "right" : cell.maj === 0 ? "wrong" : "a tie (" + Math.round(100 * cell.maj) + "% credit)";
    var facts = [cell.correct + " of " + scored + " correct", "majority vote " + majText];
    if (cell.cut_off) facts.push(cell.cut_off + " cut off");
    var body = [el("div", { className: "sb-cellhead" }, [el("b", { text: budget }), " " + facts.join(" · ")]), votesView(cell)];
    var rows = rowsOf(r, m.c);
    if (rows) {
      var shown = m.hits || rows.filter(function (s) { return sampleShown(s, state.show); });
      var what = shown.length === rows.length ? rows.length + " samples" : shown.length + " of " + rows.length + " samples";
      var d = el("details", { className: "sb-samples" }, [el("summary", { text: what })].concat(shown.map(sampleView)));
      if (state.show !== "all" || state.q) d.open = true;
      body.push(d);
    } else {
      var status = fetched[r + "/" + m.c];
      if (SERVED && !status) load(r, m.c, item, budget);
      body.push(el("p", { className: "sb-muted", text: status === "failed" ? "could not load these samples from the server" :
        SERVED ? "loading the samples…" : "samples not embedded in this page (it holds " + fmt(run.embedded) + " of " +
        fmt(run.samples) + "): they are in samples.jsonl; ttc-bench view on the run folder loads them" }));
    }
    return el("div", { className: "sb-cell" }, body);
  }
  function promptView(r, g) {
    var run = DATA.runs[r], item = run.items[g.item], prompt = item.prompt;
    g.cells.forEach(function (m) { var got = fetched[r + "/" + m.c]; if (!prompt && got && got.prompt) prompt = got.prompt; });
    if (!prompt) {
      var why = (run.prompt_notes || {})[item.task];
      return el("p", { className: "sb-muted", text: "prompt: " + (why ? "not rebuilt (" + why + ")" : run.prompt_note || "not embedded") });
    }
    return el("details", { className: "sb-text" }, [el("summary", { text: "prompt (" + prompt.length + " message" + (prompt.length === 1 ? "" : "s") + ")" })]
      .concat(prompt.map(function (msg) { return el("div", {}, [el("b", { text: msg.role }), textBlock(msg.content)]); })));
  }
  function itemView(r, g) {
    var item = DATA.runs[r].items[g.item];
    return el("article", { className: "sb-item" }, [
      el("h4", {}, [el("code", { text: item.id }), el("span", { className: "sb-muted", text: "  gold " }), el("code", { text: item.gold === null ? "-" : item.gold })]),
      promptView(r, g)
    ].concat(g.cells.map(function (m) { return cellView(r, m); })));
  }

  var controls = {};
  function select(name, options, label) {
    var s = el("select", { "aria-label": label, onchange: function () {
      state[name] = s.value;
      if (name === "run") state.task = "";
      if (name === "run" || name === "task") state.level = "";
      changed();
    } });
    options.forEach(function (o) { s.appendChild(el("option", { value: o[0], text: o[1] })); });
    controls[name] = s;
    return el("label", {}, [label + " ", s]);
  }
  function changed() {
    state.limit = PAGE;
    history.replaceState(null, "", hashOf());
    render(true);
  }
  function hashOf() {
    var p = new URLSearchParams();
    ["run", "task", "level", "budget", "show", "q"].forEach(function (k) {
      if (state[k] !== "" && !(k === "show" && state[k] === "all") && !(k === "run" && +state[k] === 0)) p.set(k, state[k]);
    });
    return "#samples?" + p.toString();
  }
  function fromHash() {
    var h = location.hash;
    if (h.indexOf("#samples") !== 0) return false;
    var p = new URLSearchParams(h.slice(h.indexOf("?") + 1 || h.length));
    state.run = Math.min(Math.max(parseInt(p.get("run") || "0", 10) || 0, 0), DATA.runs.length - 1);
    state.task = p.get("task") || "";
    state.level = p.get("level") || "";
    state.budget = p.get("budget") || "";
    state.show = p.get("show") || "all";
    state.q = p.get("q") || "";
    state.limit = PAGE;
    return true;
  }

  var panel, countLine, list, more, filterBar, notes, searchBox;
  function build() {
    var runOptions = DATA.runs.map(function (run, i) { return [String(i), run.label]; });
    filterBar = el("div", { className: "sb-filters" });
    searchBox = el("input", { type: "search", placeholder: "search answers, responses, reasoning, errors", "aria-label": "search" });
    var timer = null;
    searchBox.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.q = searchBox.value; changed(); }, 200);
    });
    notes = el("div", { className: "sb-notes" });
    countLine = el("p", { id: "sb-count", className: "sb-count" });
    list = el("div", { id: "sb-list" });
    more = el("button", { type: "button", text: "show more items", onclick: function () { state.limit += PAGE; render(false); } });
    panel = el("div", { className: "sb-controls" }, [
      DATA.runs.length > 1 ? select("run", runOptions, "run") : null,
      el("span", { id: "sb-selects" }), searchBox
    ]);
    root.appendChild(panel);
    root.appendChild(filterBar);
    root.appendChild(notes);
    root.appendChild(countLine);
    root.appendChild(list);
    root.appendChild(more);
  }
  function refreshSelects() {
    var run = DATA.runs[state.run], holder = document.getElementById("sb-selects");
    if (!run.tasks.some(function (t) { return t.name === state.task; })) state.task = run.tasks.length ? run.tasks[0].name : "";
    var task = run.tasks.filter(function (t) { return t.name === state.task; })[0] || { levels: [] };
    holder.textContent = "";
    holder.appendChild(select("task", run.tasks.map(function (t) { return [t.name, t.name]; }), "task"));
    holder.appendChild(select("level", [["", "all levels"]].concat(task.levels.map(function (l) { return [l, l]; })), "level"));
    holder.appendChild(select("budget", [["", "all budgets"]].concat(run.budgets.map(function (b) { return [b, b]; })), "budget"));
    ["run", "task", "level", "budget"].forEach(function (k) { if (controls[k]) controls[k].value = String(state[k]); });
    if (searchBox.value !== state.q) searchBox.value = state.q;
  }
  function render(reselect) {
    if (DATA.runs[state.run].missing) {
      list.textContent = "";
      countLine.textContent = DATA.runs[state.run].label + ": " + DATA.runs[state.run].missing;
      return;
    }
    if (reselect) refreshSelects();
    var run = DATA.runs[state.run], result = compute();
    filterBar.textContent = "";
    FILTERS.forEach(function (f) {
      var b = el("button", { type: "button", className: f[0] === state.show ? "on" : "", "data-show": f[0], title: HELP[f[0]] || "",
        text: f[1] + " (" + fmt(result.counts[f[0]]) + ")", onclick: function () { state.show = f[0]; changed(); } });
      filterBar.appendChild(b);
    });
    notes.textContent = "";
    if (run.embedded < run.samples) {
      notes.appendChild(el("p", { className: "sb-muted", text: "This page embeds " + fmt(run.embedded) + " of the run's " + fmt(run.samples) +
        " samples (whole items, the first of each task, level and budget; texts over " + fmt(run.text_chars) +
        " characters shortened); the rest are in samples.jsonl" + (SERVED ? " and load from the server as you browse." :
        ". Vote histograms and counts cover every sample; ttc-bench view on the run folder shows them all.") }));
    }
    if (state.q) notes.appendChild(el("p", { className: "sb-muted", text: "Search looks through the samples on this page" + (SERVED ? " and those loaded so far." : ".") }));
    if (run.skipped) notes.appendChild(el("p", { className: "sb-muted", text: fmt(run.skipped) + " rows of samples.jsonl could not be read as samples and are not counted." }));
    var items = result.groups.length;
    countLine.setAttribute("data-samples", result.samples);
    countLine.setAttribute("data-items", items);
    countLine.textContent = fmt(result.samples) + " " + (NOUNS[state.show] || NOUNS.all)[result.samples === 1 ? 0 : 1] + " in " +
      fmt(items) + " item" + (items === 1 ? "" : "s") + (state.q ? " matching the search" : "") +
      (items > state.limit ? "; showing the first " + fmt(state.limit) + " items" : "");
    list.textContent = "";
    result.groups.slice(0, state.limit).forEach(function (g) { list.appendChild(itemView(state.run, g)); });
    more.hidden = items <= state.limit;
  }
  function go(scroll) {
    if (fromHash()) {
      render(true);
      if (scroll) document.getElementById("samples").scrollIntoView();
    }
  }
  build();
  if (!fromHash()) state.task = "";
  render(true);
  if (location.hash.indexOf("#samples") === 0) document.getElementById("samples").scrollIntoView();
  window.addEventListener("hashchange", function () { go(true); });
  document.body.setAttribute("data-sb-ready", String(Math.round(performance.now())));
})();
