// The downtime & OEE page: live KPI tiles, state timeline, Pareto, stops to classify, shift report.
"use strict";

(() => {
  const { t, $, el, pct, dur, time, cssVar } = werk;
  let reasons = [];
  // stops without a reason yet, as the Pareto groups them
  const PENDING = { unqualified: t("not yet classified"), open: t("open (still stopped)") };

  // a KPI's bar, its value, and its target as a tick on the bar (green when met, red when not)
  function kpiRow(letter, title, v, target) {
    const row = el("div", "kpi"); row.title = title;
    const b = el("div", "b"); const f = el("div"); f.style.width = `${Math.min(100, (v || 0) * 100)}%`; b.append(f);
    if (target) {
      const tick = el("i", `target ${target.met === false ? "missed" : "met"}`); tick.style.left = `${Math.min(100, target.target * 100)}%`;
      b.append(tick);
      const goal = t("target {value}", { value: pct(target.target, 0) });
      row.title = `${title} · ${goal}`;
    }
    row.append(el("span", null, letter), b, el("span", "n", pct(v)));
    return row;
  }

  // what werk saw of the period: coverage, and the time it is of
  // a share as small as a few seconds of a shift still says werk saw something: never "0 %" for that
  function coveragePct(x) {
    if (x == null) return pct(x);
    if (x > 0 && x < 0.001) return `< ${pct(0.001, 1)}`;
    return pct(x, x < 0.1 ? 1 : 0);
  }

  function coverageRow(r, several) {
    const line = el("div", `coverage${r.low_coverage ? " low" : ""}`);
    line.dataset.value = r.coverage == null ? "" : String(r.coverage);
    line.dataset.observed = String(r.time.observed_s);
    // a line's or the plant's planned time is its machines' added up
    const seen = several
      ? t("{seen} of {planned} machine time seen", { seen: dur(r.time.observed_s), planned: dur(r.time.pbt_s) })
      : t("{seen} of {planned} seen", { seen: dur(r.time.observed_s), planned: dur(r.time.pbt_s) });
    line.append(el("div", null, t("coverage {value}", { value: coveragePct(r.coverage) })), el("div", "muted seen", seen));
    line.title = r.low_coverage
      ? t("werk saw too little of this period for these figures to stand for it: they are over the {seen} it saw", { seen: dur(r.time.observed_s) })
      : t("the KPIs are over the time werk saw; the rest of the planned busy time is not counted as lost");
    return line;
  }

  function tile(name, label, r, cls, unmapped) {
    const tl = el("div", `tile ${cls || ""}${r.low_coverage ? " low" : ""}`); tl.dataset.scope = name;
    const head = el("div", "name", label);
    if (r.low_coverage) { const b = el("span", "badge low", t("low coverage")); head.append(b); }
    // an OEE that cannot be right is marked, and meets no target
    const wrong = (r.flags || []).some((f) => f.kpi === "oee");
    const big = el("div", `oee${wrong ? " implausible" : ""}`, `${wrong ? "\u26a0 " : ""}${pct(r.oee)}`); big.dataset.value = r.oee == null ? "" : String(r.oee);
    const tg = (r.targets || {}).oee;
    if (tg) {
      const g = el("span", `goal ${wrong ? "" : tg.met === false ? "missed" : tg.met ? "met" : ""}`, t("target {value}", { value: pct(tg.target, 0) }));
      big.append(g);
    }
    const targets = r.targets || {};
    tl.append(head, big,
      kpiRow(t("A"), t("availability"), r.availability, targets.availability),
      kpiRow(t("E"), t("effectiveness"), r.effectiveness, targets.effectiveness),
      kpiRow(t("Q"), t("quality"), r.quality_ratio, targets.quality_ratio),
      coverageRow(r, name === "plant"));
    // one line per likely cause: the first flag of a cause explains it (the others only repeat "above 100 %")
    const causes = new Set();
    for (const f of r.flags || []) {
      if (causes.has(f.cause)) continue;
      causes.add(f.cause);
      const w = el("div", "warn", `\u26a0 ${f.text || f.message}`); w.title = f.text || f.message; w.dataset.cause = f.cause;
      tl.append(w);
    }
    for (const u of unmapped || []) {
      const w = el("div", "warn", t("unmapped state value {value} ({n}\u00d7): counted as unknown", { value: JSON.stringify(u.value), n: werk.int(u.count) }));
      w.title = t("{signal} sent {value}, which the asset's states do not map; map it in the plant file", { signal: u.signal, value: JSON.stringify(u.value) });
      w.dataset.unmapped = String(u.value);
      tl.append(w);
    }
    return tl;
  }

  // state values an app could not map, per asset, from whichever app reports them
  async function unmappedValues() {
    const assets = await werk.getJSON("/api/assets");
    const out = {};
    for (const a of assets) out[a.name] = Object.values(a.apps || {}).flatMap((v) => (Array.isArray(v.unmapped) ? v.unmapped : []));
    return out;
  }

  // the last shift may have been days ago (a Monday morning looks back at Friday): it says its date
  const shiftText = (s, dated) => t("{shift} · {start} – {end}", { shift: s.name, start: dated ? werk.dayTime(s.start) : werk.hhmm(s.start), end: werk.hhmm(s.end) });

  /**
   * In a shift: its KPIs up to now (the live view, the same figures as the shift report). Outside every shift:
   * the page says so, and shows the last shift's report as "Last shift", never as the current one.
   */
  async function renderLive() {
    const [live, unmapped] = await Promise.all([werk.getJSON("/api/oee/live"), unmappedValues()]);
    if (!live.now) return null;
    const note = $("#shift-note");
    let kpis = null, win = null, shift = null;
    if (live.in_shift && live.plant) {
      kpis = { plant: live.plant, assets: live.assets };
      shift = live.shift; win = live.window;
      $("#shift-title").textContent = t("Current shift");
      note.hidden = true; note.textContent = "";
    } else {
      $("#shift-title").textContent = t("Last shift");
      const next = live.next_shift ? t("Next shift: {shift} on {when}.", { shift: live.next_shift.name, when: werk.dateTime(live.next_shift.start) }) : "";
      const outside = t("Outside every shift: no production is planned now.");
      note.textContent = `${outside} ${next}`.trim();
      note.hidden = false;
      shift = live.previous_shift;
      if (shift) {
        const q = `start=${encodeURIComponent(shift.start)}&end=${encodeURIComponent(shift.end)}`;
        const rep = await werk.getJSON(`/api/oee/report?period=shift&${q}`);
        const plant = rep.rows.find((r) => r.level === "plant");
        if (plant) kpis = { plant, assets: Object.fromEntries(rep.rows.filter((r) => r.level === "asset").map((r) => [r.scope, r])) };
        win = { start: shift.start, end: shift.end };
      }
    }
    document.body.dataset.shift = live.in_shift ? "current" : "last";
    $("#shift").textContent = shift ? shiftText(shift, !live.in_shift) : "";
    $("#shift").dataset.key = shift ? shift.key : "";
    const scope = live.in_shift ? t("current shift") : shift ? t("last shift") : "";
    $("#timeline-scope").textContent = scope ? `(${scope})` : "";
    const box = $("#tiles");
    if (!kpis) { box.replaceChildren(el("div", "muted", t("no shift yet"))); return null; }
    box.dataset.end = win ? win.end : "";
    box.replaceChildren(tile("plant", t("plant"), kpis.plant, "plant"));
    for (const [name, r] of Object.entries(kpis.assets)) box.append(tile(name, name, r, "", unmapped[name]));
    return win;
  }

  async function renderTimeline(win) {
    const q = win ? `start=${encodeURIComponent(win.start)}&end=${encodeURIComponent(win.end)}` : "minutes=60";
    const tl = await werk.getJSON(`/api/timeline?${q}`);
    const a = Date.parse(tl.start), z = Date.parse(tl.end), span = Math.max(1, z - a);
    const box = $("#timeline"); box.replaceChildren();
    for (const [name, segs] of Object.entries(tl.assets)) {
      const row = el("div", "row"); const strip = el("div", "strip"); strip.dataset.asset = name;
      for (const s of segs) {
        const seg = el("div", "seg"); const x0 = (Date.parse(s.start) - a) / span, x1 = (Date.parse(s.end) - a) / span;
        seg.style.left = `${x0 * 100}%`; seg.style.width = `${Math.max(0.1, (x1 - x0) * 100)}%`;
        seg.style.background = cssVar(s.state) || cssVar("unknown");
        seg.title = `${werk.state(s.state)} ${time(s.start)}–${time(s.end)}`;
        strip.append(seg);
      }
      row.append(el("span", null, name), strip); box.append(row);
    }
    const axis = el("div", "row axis"); const ticks = el("div", "ticks");
    ticks.append(el("span", null, werk.hhmm(tl.start)), el("span", null, werk.hhmm(tl.end)));
    axis.append(el("span"), ticks); box.append(axis);
  }

  async function renderPareto() {
    const rows = await werk.getJSON("/api/downtime/pareto");
    const box = $("#pareto"); box.replaceChildren();
    const max = Math.max(1, ...rows.map((r) => r.duration_s));
    for (const r of rows) {
      const line = el("div", "par"); line.dataset.reason = r.reason;
      const b = el("div", "b"); b.style.width = `${(r.duration_s / max) * 100}%`;
      if (r.reason === "unqualified" || r.reason === "open") b.style.background = cssVar("idle");
      const label = r.reason in PENDING ? PENDING[r.reason] : t(r.label || r.reason);
      line.append(el("span", null, label), b, el("span", "num", `${dur(r.duration_s)} · ${werk.int(r.count)}\u00d7`));
      box.append(line);
    }
    if (!rows.length) box.append(el("div", "muted", t("no stops today")));
  }

  async function renderStops() {
    const [unq, open] = await Promise.all([werk.getJSON("/api/downtime?status=unqualified"), werk.getJSON("/api/downtime?status=open")]);
    const body = $("#stops tbody"); body.replaceChildren();
    // newest first, the running ones among them
    const stops = [...unq, ...open].sort((x, y) => Date.parse(y.start) - Date.parse(x.start));
    for (const s of stops.slice(0, 50)) {
      const tr = el("tr"); tr.dataset.stop = s.id; tr.dataset.status = s.status; tr.dataset.start = s.start;
      const sel = el("select"); sel.setAttribute("aria-label", t("reason"));
      const none = el("option", null, t("reason…")); none.value = ""; sel.append(none);
      for (const [code, label] of reasons) { const o = el("option", null, label); o.value = code; sel.append(o); }
      const btn = el("button", null, t("Classify"));
      btn.addEventListener("click", () => classify(s.id, sel.value));
      const td = el("td"); td.append(sel);
      const tdb = el("td"); tdb.append(btn);
      tr.append(el("td", null, s.asset), el("td", null, time(s.start)), el("td", "num", dur(s.duration_s)), el("td", null, werk.state(s.first_state)), td, tdb);
      body.append(tr);
    }
    if (!body.rows.length) body.append(werk.emptyRow(6, t("no stops to classify")));
  }

  async function classify(id, reason) {
    if (!reason) { $("#msg").textContent = t("pick a reason first"); return; }
    const res = await werk.send("POST", `/api/downtime/${encodeURIComponent(id)}/reason`, { reason });
    $("#msg").textContent = res.ok
      ? t("classified {asset} stop as {reason}", { asset: res.body.asset, reason: t(res.body.reason_label) })
      : t("refused: {detail}", { detail: werk.detail(res) });
    await Promise.all([renderStops(), renderPareto()]);
  }

  async function renderReport() {
    const rep = await werk.getJSON("/api/oee/report?period=shift");
    const body = $("#report tbody"); body.replaceChildren();
    // a shift werk saw nothing of is one line that says so, not a table of dashes
    const unseen = new Set(rep.rows.filter((x) => x.level === "plant" && !x.coverage).map((x) => x.period));
    for (const r of rep.rows.filter((x) => x.level !== "asset" || rep.rows.length < 60)) {
      if (unseen.has(r.period)) {
        if (r.level !== "plant") continue;
        const tr = el("tr", "unseen"); tr.dataset.period = r.period; tr.dataset.scope = r.scope;
        const td = el("td", "muted", t("werk saw nothing of this shift: no figures")); td.colSpan = 11;
        tr.append(el("td", null, r.period), td);
        body.append(tr);
        continue;
      }
      const tr = el("tr", `${r.level}${r.low_coverage ? " low" : ""}`); tr.dataset.period = r.period; tr.dataset.scope = r.scope;
      const flags = (r.flags || []).map((f) => f.text || f.message);
      const target = (k) => (r.targets || {})[k];
      const withTarget = (k, v) => { const g = target(k); return g ? `${pct(v)} / ${pct(g.target, 0)}` : pct(v); };
      const cells = [[r.period], [r.level === "plant" ? t("plant") : r.scope],
        [`${r.low_coverage ? "\u26a0 " : ""}${coveragePct(r.coverage)}`, 1, r.low_coverage ? t("low coverage: read these figures with care") : ""],
        [withTarget("availability", r.availability), 1], [withTarget("effectiveness", r.effectiveness), 1], [withTarget("quality_ratio", r.quality_ratio), 1],
        [`${flags.length ? "\u26a0 " : ""}${withTarget("oee", r.oee)}`, 1, flags.join("\n")], [werk.int(r.gq), 1], [werk.int(r.sq), 1], [dur(r.mtbf_s), 1], [withTargetDur(r, "mttr_s"), 1], [dur(r.time.unknown_s), 1]];
      for (const [v, isNum, title] of cells) { const td = el("td", isNum ? "num" : null, String(v)); if (title) td.title = title; tr.append(td); }
      body.append(tr);
    }
  }

  function withTargetDur(r, k) {
    const g = (r.targets || {})[k];
    return g ? `${dur(r[k])} / ${dur(g.target)}` : dur(r[k]);
  }

  function flatten(tree, out) {
    for (const [code, r] of Object.entries(tree)) { out.push([code, t(r.label || code)]); flatten(r.children || {}, out); }
    return out;
  }

  async function refresh() {
    try {
      const win = await renderLive();
      await Promise.all([renderTimeline(win), renderPareto(), renderReport()]);
      werk.stamp();
    } catch (e) { $("#msg").textContent = String(e.message || e); }
  }

  async function start() {
    reasons = flatten(await werk.getJSON("/api/downtime/reasons"), []);
    await renderStops();
    await refresh();
    setInterval(refresh, 5000);
    setInterval(renderStops, 10000);
  }

  start();
})();
