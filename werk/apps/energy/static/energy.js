// The energy page: the current 15-minute window, the load curve with the peak line, where the energy goes (site to
// area to machine), idle energy, energy per part against target, the monthly report and what was held back.
"use strict";

(() => {
  const { t, $, el } = werk;
  const KIND = { glitch: t("glitch"), jump: t("jump"), drop: t("drop"), pending: t("unconfirmed"), unmeasured: t("unmeasured") };
  // a palette readable on the light and the dark theme
  const COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"];
  const TARGET_DASH = [6, 4];
  const QUARTER_MS = 900e3;
  let loadPlot = null;
  let enpiPlot = null;
  // a cost in the tariff's currency, when the report names one
  const money = (v, currency) => (currency ? werk.unit(v, currency, 2) : werk.num(v, 2));

  function stat(label, value, cls) {
    const s = el("div", `stat${cls ? ` ${cls}` : ""}`);
    s.append(el("div", "muted", label), el("div", "big", value));
    return s;
  }

  async function renderWindow() {
    const live = await werk.getJSON("/api/energy/live");
    const w = live.window || {};
    const box = $("#window"); box.replaceChildren();
    box.append(
      stat(t("so far"), werk.unit(w.energy_kwh, "kWh", 2)),
      stat(t("power now"), werk.unit(w.power_kw, "kW", 1)),
      stat(t("projected mean"), werk.unit(w.projected_kw, "kW", 1)),
      stat(t("peak limit"), w.peak_limit_kw == null ? t("none set") : werk.unit(w.peak_limit_kw, "kW", 0)),
    );
    $("#peak-warning").hidden = !w.warning;
    const note = $("#simulated");
    note.hidden = !(w.acceleration > 1);
    if (!note.hidden) note.textContent = t("The virtual factory runs {n} times faster than the clock: its meters count {n} kWh for every kWh its power shows, so the window's energy and means are {n} times the power now.", { n: w.acceleration });
  }

  async function renderLoad() {
    let load = await werk.getJSON("/api/energy/load?hours=24");
    // a record shorter than an hour is drawn per minute (a line needs points); a fresh plant shows its hour,
    // not 23 empty ones
    // a viewer of part of the plant gets no site curve (total_kw all null): its machines' curves are drawn instead
    const curves = (l) => (l.total_kw.some((v) => v != null) || !Object.keys(l.assets).length
      ? [[t("site"), l.total_kw]] : Object.entries(l.assets));
    const points = (l) => Math.max(0, ...curves(l).map(([, ys]) => ys.filter((v) => v != null).length));
    if (points(load) < 4) load = await werk.getJSON("/api/energy/load?hours=2&step_s=60");
    if (points(load) < 4) load = await werk.getJSON("/api/energy/load?hours=0.25&step_s=10");
    const STEP = { 900: t("15-minute mean power, last 24 hours"), 60: t("mean power per minute, last 2 hours"), 10: t("mean power per 10 seconds, last 15 minutes") };
    $("#load-step").textContent = STEP[load.step_s];
    const lines = curves(load);
    const firsts = lines.map(([, ys]) => ys.findIndex((v) => v != null)).filter((i) => i >= 0);
    const from = firsts.length ? Math.min(...firsts) : load.starts.length;
    const xs = load.starts.slice(from).map((s) => Date.parse(s) / 1000);
    const series = lines.map(([name], i) => ({ label: name, color: `chart-${(i % 6) + 1}`, digits: 1 }));
    const data = [xs, ...lines.map(([, ys]) => ys.slice(from))];
    if (load.peak_limit_kw != null) {
      series.push({ label: t("peak limit"), color: "fault", width: 1, digits: 0, dash: TARGET_DASH });
      data.push(xs.map(() => load.peak_limit_kw));
    }
    if (loadPlot) loadPlot.destroy();
    loadPlot = null;
    await renderLoadNote(load);
    if (!xs.length) { $("#load").replaceChildren(el("div", "chart-empty", t("no meter readings in the last 24 hours yet"))); return; }
    loadPlot = werk.chart($("#load"), { height: 240, series, data });
  }

  // what the red line is, and the quarter hours whose mean went over it: the limit is on 15-minute means, so a
  // finer curve may cross it while no quarter hour does (and a quarter hour may exceed it below a 24-hour curve)
  async function renderLoadNote(load) {
    const note = $("#load-note");
    const limit = load.peak_limit_kw;
    note.hidden = limit == null || !load.total_kw.some((v) => v != null);
    if (note.hidden) return;
    const quarters = load.step_s === 900 ? load : await werk.getJSON("/api/energy/load?hours=24&step_s=900");
    const now = Date.now();
    const over = quarters.starts.map((s, i) => [Date.parse(s), quarters.total_kw[i]])
      .filter(([s, kw]) => kw != null && kw > limit && s + QUARTER_MS <= now).reverse();
    const parts = [t("Dashed red line: the contracted peak limit, {limit}, on the mean power of each quarter hour.", { limit: werk.unit(limit, "kW", 0) })];
    if (load.step_s !== 900) parts.push(t("A curve of shorter means may cross it while no quarter hour does."));
    if (!over.length) parts.push(t("No complete quarter hour over it in the last 24 hours."));
    else {
      const shown = over.slice(0, 6).map(([s, kw]) => `${werk.hhmm(s)}–${werk.hhmm(s + QUARTER_MS)} (${werk.unit(kw, "kW", 0)})`);
      parts.push(t("Quarter hours over it in the last 24 hours, newest first ({n} in all): {list}", { n: over.length, list: shown.join(", ") }));
    }
    note.textContent = parts.join(" ");
    note.classList.toggle("over", over.length > 0);
  }

  function flowRows(rows) {
    // site -> area -> machine: one bar per level, each segment a part of the one above
    const box = $("#flow"); box.replaceChildren();
    const assets = rows.filter((r) => r.level === "asset" && r.unit === "kWh");
    const total = assets.reduce((s, r) => s + r.energy, 0);
    if (!total) { box.append(el("div", "chart-empty", t("no energy booked this month yet"))); return; }
    const areas = new Map();
    for (const r of rows.filter((r) => r.level === "area")) areas.set(r.scope, r.energy);
    const bar = (items, title) => {
      const line = el("div", "flow-row");
      line.append(el("div", "muted flow-label", title));
      const b = el("div", "flow-bar");
      items.forEach(([name, v], i) => {
        const seg = el("div", "flow-seg", v / total > 0.06 ? name : "");
        seg.style.width = `${(100 * v) / total}%`;
        seg.style.background = COLOURS[i % COLOURS.length];
        seg.title = `${name}: ${werk.unit(v, "kWh", 1)} (${werk.pct(v / total, 0)})`;
        b.append(seg);
      });
      line.append(b);
      box.append(line);
    };
    // a viewer of part of the plant gets no site rows: no bar names its machines' sum as the site's
    if (rows.some((r) => r.level === "site")) bar([[t("site"), total]], t("site"));
    bar([...areas.entries()].map(([p, v]) => [p.split("/").pop(), v]), t("areas"));
    bar(assets.map((r) => [r.scope, r.energy]), t("machines"));
  }

  async function renderMonth() {
    const rep = await werk.getJSON("/api/energy/report?period=month");
    flowRows(rep.rows);
    const body = $("#report tbody"); body.replaceChildren();
    const order = { site: 0, area: 1, line: 2, asset: 3 };
    const rows = [...rep.rows].sort((a, b) => order[a.level] - order[b.level] || a.scope.localeCompare(b.scope));
    for (const r of rows) {
      const tr = el("tr");
      const name = r.level === "asset" ? r.scope : r.scope.split("/").slice(1).join(" / ");
      tr.append(el("td", r.level === "asset" ? null : "muted", name));
      const cells = [
        werk.num(r.energy, 1), money(r.cost, rep.currency), werk.num(r.co2_kg, 1), r.peak_kw == null ? "–" : werk.num(r.peak_kw, 1),
        r.parts == null ? "–" : werk.int(r.parts), r.kwh_per_part == null ? "–" : werk.num(r.kwh_per_part, 3),
        r.target_kwh_per_part == null ? "–" : werk.num(r.target_kwh_per_part, 3), werk.pct(r.coverage, r.coverage != null && r.coverage < 0.1 ? 1 : 0),
      ];
      for (const c of cells) tr.append(el("td", "num", c));
      body.append(tr);
    }
    if (!rows.length) body.append(werk.emptyRow(9, t("no metered assets")));
    const an = $("#anomalies tbody"); an.replaceChildren();
    for (const a of rep.anomalies) {
      const tr = el("tr");
      tr.append(el("td", null, a.asset), el("td", null, KIND[a.kind] || a.kind), el("td", null, werk.dateTime(Date.parse(a.start))),
        el("td", null, werk.dateTime(Date.parse(a.end))), el("td", "num", a.amount == null ? "–" : werk.num(a.amount, 3)));
      an.append(tr);
    }
    if (!rep.anomalies.length) an.append(werk.emptyRow(5, t("nothing held back this month")));
  }

  async function renderIdle() {
    const rows = await werk.getJSON("/api/energy/idle");
    const body = $("#idle tbody"); body.replaceChildren();
    for (const r of rows) {
      const tr = el("tr");
      tr.append(el("td", null, r.asset), el("td", "num", werk.num(r.idle_kwh, 2)), el("td", "num", money(r.idle_cost, r.currency)),
        el("td", "num", r.idle_share == null ? "–" : werk.pct(r.idle_share, 0)));
      body.append(tr);
    }
    if (!rows.length) body.append(werk.emptyRow(4, t("no metered assets")));
  }

  async function renderEnpi() {
    // by day over the month; while the month has fewer than three days of data, by hour over today
    const since = (h) => encodeURIComponent(new Date(Date.now() - h * 3600e3).toISOString());
    const seen = (rep) => new Set(rep.rows.filter((r) => r.level === "asset" && r.parts).map((r) => r.period)).size;
    let rep = await werk.getJSON("/api/energy/report?period=day&states=false");
    if (seen(rep) < 3) rep = await werk.getJSON(`/api/energy/report?period=hour&states=false&start=${since(24)}`);
    if (seen(rep) < 3) rep = await werk.getJSON(`/api/energy/report?period=15min&states=false&start=${since(3)}`);
    if (seen(rep) < 3) rep = await werk.getJSON(`/api/energy/report?period=minute&states=false&start=${since(0.5)}`);
    const STEP = { day: t("per day, this month"), hour: t("per hour, last 24 hours"), "15min": t("per 15 minutes, last 3 hours"), minute: t("per minute, last 30 minutes") };
    $("#enpi-step").textContent = STEP[rep.period] || "";
    const assets = [...new Set(rep.rows.filter((r) => r.level === "asset" && r.parts != null).map((r) => r.scope))];
    // from the first period with parts
    const withParts = rep.rows.filter((r) => r.level === "asset" && r.parts).map((r) => r.start).sort();
    const days = [...new Set(rep.rows.map((r) => r.start))].sort().filter((d) => withParts.length && d >= withParts[0]);
    const xs = days.map((d) => Date.parse(d) / 1000);
    const series = [];
    const data = [xs];
    const typical = []; // per machine: twice its median, the most a period with ordinary running shows
    const off = []; // [asset, start, value] above the axis
    assets.forEach((a, i) => {
      const byDay = new Map(rep.rows.filter((r) => r.level === "asset" && r.scope === a).map((r) => [r.start, r.kwh_per_part]));
      series.push({ label: a, color: COLOURS[i % COLOURS.length], digits: 3, unit: "kWh" });
      const ys = days.map((d) => byDay.get(d) ?? null);
      data.push(ys);
      const sorted = ys.filter((v) => v != null).sort((x, y) => x - y);
      if (sorted.length) typical.push(2 * sorted[Math.floor(sorted.length / 2)]);
      const target = rep.rows.find((r) => r.scope === a && r.target_kwh_per_part != null);
      if (target) {
        // dashed, in its machine's colour, and named in the legend: told apart from the machine's own line
        series.push({ label: t("target {asset}", { asset: a }), color: COLOURS[i % COLOURS.length], width: 1, digits: 3, unit: "kWh", dash: TARGET_DASH });
        data.push(days.map(() => target.target_kwh_per_part));
        typical.push(1.25 * target.target_kwh_per_part);
      }
    });
    // a short period in which a machine stood still books the stop's energy on its few parts: one such spike would
    // flatten every other line, so the axis ends above ordinary periods and the note names what lies above it
    const top = typical.length ? Math.max(...typical) : null;
    assets.forEach((a, i) => {
      const ys = data[1 + series.findIndex((s) => s.label === a)];
      ys.forEach((v, k) => { if (top != null && v != null && v > top) off.push([a, xs[k], v]); });
    });
    const note = $("#enpi-note");
    note.hidden = !off.length;
    if (off.length) {
      off.sort((x, y) => y[1] - x[1]);
      const list = off.slice(0, 6).map(([a, x, v]) => `${a} ${werk.unit(v, "kWh", 3)} (${werk.dateTime(x * 1000)})`).join(", ");
      note.textContent = t("Above the chart's top, {n} in all: {list}. A period in which a machine stood still spreads the stop's energy over its few parts.", { n: off.length, list });
    }
    if (enpiPlot) enpiPlot.destroy();
    enpiPlot = null;
    if (!assets.length || !xs.length) { $("#enpi").replaceChildren(el("div", "chart-empty", t("no parts counted this month yet"))); return; }
    if (xs.length < 2) { $("#enpi").replaceChildren(el("div", "chart-empty", t("not enough periods with parts for a trend yet"))); return; }
    const scales = off.length ? { y: { range: (u, lo) => [Math.min(0, lo ?? 0), top] } } : {};
    enpiPlot = werk.chart($("#enpi"), { height: 220, series, data, scales });
  }

  async function refresh() {
    await Promise.all([renderWindow(), renderLoad(), renderMonth(), renderIdle(), renderEnpi()].map((p) => p.catch((e) => console.error(e))));
  }
  refresh();
  setInterval(renderWindow, 5000);
  setInterval(refresh, 60000);
})();
