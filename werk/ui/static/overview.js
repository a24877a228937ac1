// The overview: cards and summary come from the server (htmx swaps the SSE fragment into #live); this script
// keeps the selected card, the connector chips and the chart.
//
// The chart draws the data as they are: a signal sent on change (a state, a counter, a setpoint) holds its value
// until the next one, so it is drawn as steps and held up to the end of the range; a sampled signal's line breaks
// where two points are further apart than the series' gap_s (no data there) and at a BAD sample (a connector's
// placeholder, not a measurement). It reaches the newest sample of the range (/api/series always includes it).
// Several signals share the time axis, each unit on its own y axis. The selection and range live in the URL's
// hash (#s=<path>,<path>&last=<seconds> or &from=<iso>&to=<iso>), so a chart can be linked to.
"use strict";

(() => {
  const { t, $, el } = werk;
  const MAX_SIGNALS = 6;
  const LIMIT = 1600; // points per signal and request; more are downsampled by the server
  const COLOURS = ["chart-1", "chart-2", "chart-3", "chart-4", "chart-5", "chart-6"];
  let selectedAsset = null;
  let catalog = new Map(); // path -> signal info (asset, name, unit, kind, dtype)
  let signals = []; // paths on the chart
  let range = { last: 600 }; // or { from: Date, to: Date }
  let plot = null;
  let plotShape = "";
  let xRange = [0, 1];
  let timer = null;
  let drawing = 0;

  // --- the URL's hash holds what the chart shows ----------------------------------------------------------------
  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    const s = (h.get("s") || "").split(",").filter(Boolean);
    if (s.length) signals = s.slice(0, MAX_SIGNALS);
    const from = Date.parse(h.get("from") || ""), to = Date.parse(h.get("to") || "");
    if (Number.isFinite(from) && Number.isFinite(to) && from < to) range = { from: new Date(from), to: new Date(to) };
    else if (Number(h.get("last")) > 0) range = { last: Number(h.get("last")) };
    return s.length > 0;
  }
  function writeHash() {
    const h = new URLSearchParams();
    h.set("s", signals.join(","));
    if (range.last) h.set("last", String(range.last));
    else { h.set("from", range.from.toISOString()); h.set("to", range.to.toISOString()); }
    history.replaceState(null, "", `#${h.toString().replace(/%2F/g, "/").replace(/%2C/g, ",")}`);
  }

  // --- cards ----------------------------------------------------------------------------------------------------
  function markSelected() {
    for (const card of document.querySelectorAll("#assets .card")) card.classList.toggle("selected", card.dataset.asset === selectedAsset);
  }

  /** A card's click: the chart shows that asset's load (or its first numeric signal). */
  function selectAsset(name) {
    selectedAsset = name;
    markSelected();
    const mine = [...catalog.values()].filter((s) => s.asset === name && plottable(s));
    const want = mine.find((s) => s.name === "load") || mine[0];
    if (want) show([want.path]);
  }

  // --- the signal list: every plottable signal of every asset ---------------------------------------------------
  const plottable = (s) => s.dtype === "float" || s.dtype === "int" || s.dtype === "bool";
  const labelOf = (s) => `${s.asset || s.path.split("/").slice(-2, -1)[0]} · ${werk.signal(s.name)}${s.unit ? ` (${s.unit})` : ""}`;

  async function loadCatalog() {
    const list = await werk.getJSON("/api/signals/catalog");
    catalog = new Map(list.filter(plottable).map((s) => [s.path, s]));
    const sel = $("#signal-select");
    const keep = sel.value;
    const groups = new Map();
    for (const s of catalog.values()) {
      const g = s.asset || t("other signals");
      if (!groups.has(g)) groups.set(g, el("optgroup"));
      const o = el("option", null, labelOf(s)); o.value = s.path;
      groups.get(g).label = g; groups.get(g).append(o);
    }
    sel.replaceChildren(...groups.values());
    sel.value = keep || signals[0] || "";
    // the second list adds to the chart: the same signals after its "+ add a signal" line
    const add = $("#signal-add");
    add.replaceChildren(add.options[0], ...[...groups.values()].map((g) => g.cloneNode(true)));
    add.value = "";
  }

  function show(paths) {
    signals = [...new Set(paths)].slice(0, MAX_SIGNALS);
    if (signals[0]) $("#signal-select").value = signals[0];
    writeHash();
    renderChips();
    draw();
  }

  function renderChips() {
    const box = $("#chart-signals");
    box.replaceChildren();
    signals.forEach((p, i) => {
      const s = catalog.get(p);
      const chip = el("span", "chip"); chip.dataset.path = p;
      const swatch = el("i"); swatch.style.background = werk.cssVar(COLOURS[i % COLOURS.length]);
      const x = el("button", null, "×"); x.type = "button";
      x.title = t("remove from the chart"); x.setAttribute("aria-label", t("remove from the chart"));
      x.addEventListener("click", () => show(signals.filter((q) => q !== p)));
      chip.append(swatch, s ? labelOf(s) : p, x);
      box.append(chip);
    });
    $("#signal-add").disabled = signals.length >= MAX_SIGNALS;
  }

  function renderRange() {
    for (const b of document.querySelectorAll(".range button")) b.classList.toggle("active", Number(b.dataset.last) === range.last);
    const [a, z] = window_();
    $("#range-from").value = werk.toLocal(a);
    $("#range-to").value = werk.toLocal(z);
  }

  const window_ = () => (range.last ? [new Date(Date.now() - range.last * 1000), new Date()] : [range.from, range.to]);

  // --- drawing --------------------------------------------------------------------------------------------------
  const number = (v) => (typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : null);

  /**
   * One series as uPlot columns: a null where its line must break (a BAD sample; a gap wider than gap_s), and,
   * for a signal sent on change, its last good value held to the end of the range. Counts what it broke.
   */
  function columnsOf(s, end) {
    const xs = [], ys = [];
    let breaks = 0, bad = 0;
    let prev = null;
    for (const p of s.points) {
      const x = Date.parse(p.ts) / 1000;
      if (s.gap_s && prev !== null && x - prev > s.gap_s) { xs.push((x + prev) / 2); ys.push(null); breaks += 1; }
      const y = p.quality === "bad" ? null : number(p.value);
      if (p.quality === "bad") bad += 1;
      xs.push(x); ys.push(y);
      prev = x;
    }
    const last = s.points[s.points.length - 1];
    const newest = last ? Date.parse(last.ts) / 1000 : null;
    if (s.kind === "on_change" && last && last.quality !== "bad" && end > newest) { xs.push(end); ys.push(number(last.value)); }
    return { xs, ys, breaks, bad, newest };
  }

  async function draw() {
    const box = $("#chart");
    const ticket = ++drawing;
    if (!signals.length) {
      if (plot) { plot.destroy(); plot = null; plotShape = ""; }
      box.replaceChildren(el("div", "chart-empty", t("pick a signal")));
      $("#chart-note").textContent = ""; $("#chart-value").textContent = "";
      return;
    }
    const [a, z] = window_();
    const q = signals.map((p) => `path=${encodeURIComponent(p)}`).join("&");
    let body;
    try {
      body = await werk.getJSON(`/api/series/set?${q}&start=${encodeURIComponent(a.toISOString())}&end=${encodeURIComponent(z.toISOString())}&limit=${LIMIT}`);
    } catch (e) {
      if (ticket === drawing) $("#chart-note").textContent = String(e.message || e);
      return;
    }
    if (ticket !== drawing) return; // a newer request is on its way
    const x0 = Date.parse(body.start) / 1000, x1 = Date.parse(body.end) / 1000;
    const cols = body.series.map((s) => columnsOf(s, x1));
    // each unit its own scale and axis, left and right in turn
    const units = [...new Set(body.series.map((s) => s.unit || ""))];
    const scaleOf = (unit) => `u${units.indexOf(unit)}`;
    xRange = [x0, x1];
    const scales = { x: { time: true, range: () => xRange } };
    for (const u of units) scales[scaleOf(u)] = { auto: true };
    const axes = [{}, ...units.map((u, i) => ({ scale: scaleOf(u), side: i % 2 ? 1 : 3, size: 64, label: u || t("no unit"), labelSize: 18, grid: { show: i === 0 } }))];
    const series = body.series.map((s, i) => {
      const info = catalog.get(s.path);
      return { label: info ? labelOf(info) : s.path, color: COLOURS[i % COLOURS.length], scale: scaleOf(s.unit || ""), steps: s.kind === "on_change", unit: s.unit, digits: info && info.dtype !== "float" ? 0 : 2 };
    });
    // one time axis: a series has no point where another has one (undefined: uPlot joins over it), and null where
    // its own line breaks
    const data = uPlot.join(cols.map((c) => [c.xs, c.ys]), cols.map(() => [1]));
    // the same signals again (the range moved on): new data in the same chart, so the legend and the reader's
    // cursor stay; other signals: a new chart
    const shape = JSON.stringify([series, units]);
    if (plot && shape === plotShape) plot.setData(data);
    else {
      if (plot) plot.destroy();
      plot = werk.chart(box, { series, data, scales, axes, height: 300 });
      plotShape = shape;
    }
    box.plot = plot; // for whoever checks what is drawn (the browser tests)
    box.dataset.series = JSON.stringify(body.series.map((s, i) => ({
      path: s.path, newest: cols[i].newest, breaks: cols[i].breaks, bad: cols[i].bad, total: s.total, shown: s.points.length, kind: s.kind, gap_s: s.gap_s,
    })));
    box.dataset.end = String(x1);
    note(body.series, cols);
    const first = body.series[0], c0 = cols[0];
    const lastY = [...c0.ys].reverse().find((y) => y != null);
    $("#chart-value").textContent = lastY == null ? "" : `${werk.num(lastY, 2)}${first.unit ? `\u00a0${first.unit}` : ""}`;
    werk.stamp();
  }

  /** What the lines show and leave out: downsampling, breaks, BAD samples, an empty range. */
  function note(series, cols) {
    const parts = [];
    series.forEach((s, i) => {
      const info = catalog.get(s.path);
      const name = info ? `${info.asset || ""} · ${werk.signal(info.name)}` : s.path;
      const c = cols[i];
      const bits = [];
      if (!s.total) bits.push(t("no data in this range"));
      else if (s.downsampled) bits.push(t("{shown} of {total} samples (lowest, highest and BAD of each interval)", { shown: werk.int(s.points.length), total: werk.int(s.total) }));
      else bits.push(t("samples: {n}", { n: werk.int(s.total) }));
      if (s.kind === "on_change") bits.push(t("sent on change: drawn as steps"));
      // a gap threshold under a few seconds in tenths (a rounded "0 s" would say nothing)
      const gap = s.gap_s < 10 ? werk.unit(s.gap_s, "s", 1) : werk.dur(s.gap_s);
      if (c.breaks) bits.push(t("gaps longer than {gap}: {n}", { n: werk.int(c.breaks), gap }));
      if (c.bad) bits.push(t("BAD samples left out: {n}", { n: werk.int(c.bad) }));
      if (c.newest) bits.push(t("newest {time}", { time: werk.time(c.newest * 1000) }));
      parts.push(`${name}: ${bits.join(", ")}`);
    });
    $("#chart-note").textContent = parts.join(" · ");
  }

  function schedule() {
    clearInterval(timer);
    // a moving range follows the clock, more slowly the longer it is; a fixed one stays
    if (range.last) timer = setInterval(draw, Math.max(5, range.last / 120) * 1000);
  }

  // --- connectors -----------------------------------------------------------------------------------------------
  async function renderConnectors() {
    const list = await werk.getJSON("/api/connectors");
    const box = $("#connectors");
    box.replaceChildren();
    for (const c of list) {
      const chip = el("span", `conn ${c.connected ? "up" : "down"}`);
      chip.dataset.connector = c.name;
      const lines = [c.endpoint, t("{samples} samples, {errors} errors, {dropped} dropped, {spooled} waiting on disk",
        { samples: werk.int(c.samples), errors: werk.int(c.errors), dropped: werk.int(c.dropped), spooled: werk.int(c.spooled) })];
      if (c.last_error) lines.push(t("last error: {error}", { error: c.last_error }));
      chip.title = lines.join("\n");
      const parts = [c.name, c.type, c.connected ? t("{rate}/s", { rate: werk.int(Math.round(c.rate)) }) : t("down")];
      if (c.errors) parts.push(t("{n} errors", { n: werk.int(c.errors) }));
      if (c.spooled) parts.push(t("{n} spooled", { n: werk.int(c.spooled) }));
      const bad = Object.keys(c.bad_bindings || {}).length;
      if (bad) parts.push(t("{n} bad bindings", { n: werk.int(bad) }));
      chip.append(el("i", "dot"), parts.join(" · "));
      box.append(chip);
    }
  }

  function link(up) {
    const l = $("#link");
    l.textContent = up ? t("live") : t("reconnecting…");
    l.className = `link ${up ? "up" : "down"}`;
  }

  async function start() {
    const live = $("#live");
    live.addEventListener("click", (e) => { const card = e.target.closest(".card"); if (card) selectAsset(card.dataset.asset); });
    live.addEventListener("keydown", (e) => { const card = e.target.closest(".card"); if (card && e.key === "Enter") selectAsset(card.dataset.asset); });
    live.addEventListener("htmx:sseOpen", () => link(true));
    live.addEventListener("htmx:sseError", () => link(false));
    live.addEventListener("htmx:afterSwap", () => { markSelected(); werk.stamp(); });
    $("#signal-select").addEventListener("change", (e) => show([e.target.value]));
    $("#signal-add").addEventListener("change", (e) => { const p = e.target.value; e.target.value = ""; if (p) show([...signals, p]); });
    for (const b of document.querySelectorAll(".range button")) {
      b.addEventListener("click", () => { range = { last: Number(b.dataset.last) }; writeHash(); renderRange(); schedule(); draw(); });
    }
    $("#custom-range").addEventListener("submit", (e) => {
      e.preventDefault();
      const a = werk.fromLocal($("#range-from").value), z = werk.fromLocal($("#range-to").value);
      if (!a || !z || a >= z) { $("#chart-note").textContent = t("the range must start before it ends"); return; }
      range = { from: a, to: z }; writeHash(); renderRange(); schedule(); draw();
    });
    renderConnectors();
    setInterval(renderConnectors, 5000);
    const linked = readHash();
    await loadCatalog();
    renderRange();
    schedule();
    if (linked) show(signals);
    else { const first = $("#assets .card"); if (first) selectAsset(first.dataset.asset); }
  }

  start();
})();
