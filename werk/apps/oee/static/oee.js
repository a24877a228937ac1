// The downtime & OEE page: live KPI tiles, state timeline, Pareto, stops to classify, shift report.
"use strict";

(() => {
  const { t, $, el, pct, dur, time, cssVar } = werk;
  let reasons = [];
  // stops without a reason yet, as the Pareto groups them
  const PENDING = { unqualified: t("unqualified"), open: t("open") };

  function kpiRow(letter, title, v) {
    const row = el("div", "kpi"); row.title = title;
    const b = el("div", "b"); const f = el("div"); f.style.width = `${Math.min(100, (v || 0) * 100)}%`; b.append(f);
    row.append(el("span", null, letter), b, el("span", "n", pct(v)));
    return row;
  }

  function tile(name, label, r, cls) {
    const tl = el("div", `tile ${cls || ""}`); tl.dataset.scope = name;
    tl.append(el("div", "name", label), el("div", "oee", pct(r.oee)),
      kpiRow(t("A"), t("availability"), r.availability), kpiRow(t("E"), t("effectiveness"), r.effectiveness), kpiRow(t("Q"), t("quality"), r.quality_ratio));
    return tl;
  }

  async function renderLive() {
    const live = await werk.getJSON("/api/oee/live");
    if (!live.plant) return null;
    $("#shift").textContent = t("{shift} · {start} – {end} · watched since {since}",
      { shift: live.shift.name, start: time(live.shift.start), end: time(live.shift.end), since: time(live.window.start) });
    const box = $("#tiles");
    box.replaceChildren(tile("plant", t("plant"), live.plant, "plant"));
    for (const [name, r] of Object.entries(live.assets)) box.append(tile(name, name, r));
    return live;
  }

  async function renderTimeline(live) {
    const start = live ? live.window.start : new Date(Date.now() - 3600e3).toISOString();
    const tl = await werk.getJSON(`/api/timeline?start=${encodeURIComponent(start)}`);
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
    for (const s of [...unq, ...open].slice(0, 50)) {
      const tr = el("tr"); tr.dataset.stop = s.id; tr.dataset.status = s.status;
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
    for (const r of rep.rows.filter((x) => x.level !== "asset" || rep.rows.length < 60)) {
      const tr = el("tr", r.level);
      const cells = [[r.period], [r.level === "plant" ? t("plant") : r.scope], [pct(r.availability), 1], [pct(r.effectiveness), 1], [pct(r.quality_ratio), 1],
        [pct(r.oee), 1], [werk.int(r.gq), 1], [werk.int(r.sq), 1], [dur(r.mtbf_s), 1], [dur(r.mttr_s), 1], [dur(r.time.unknown_s), 1]];
      for (const [v, isNum] of cells) tr.append(el("td", isNum ? "num" : null, String(v)));
      body.append(tr);
    }
  }

  function flatten(tree, out) {
    for (const [code, r] of Object.entries(tree)) { out.push([code, t(r.label || code)]); flatten(r.children || {}, out); }
    return out;
  }

  async function refresh() {
    try {
      const live = await renderLive();
      await Promise.all([renderTimeline(live), renderPareto(), renderReport()]);
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
