// werk downtime & OEE page: live KPI tiles, state timeline, Pareto, stops to classify, shift report.
"use strict";

const $ = (s) => document.querySelector(s);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
const cssVar = (n) => getComputedStyle(document.documentElement).getPropertyValue(`--${n}`).trim();
const pct = (x) => (typeof x === "number" ? `${(x * 100).toFixed(1)} %` : "–");
const dur = (s) => (s == null ? "–" : s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);
const hhmm = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
let reasons = [];
let token = localStorage.getItem("werk-token") || "";

async function getJSON(url) { const r = await fetch(url); if (!r.ok) throw new Error(`${url}: ${r.status}`); return r.json(); }

function kpiRow(label, v) {
  const row = el("div", "kpi"); const b = el("div", "b"); const f = el("div"); f.style.width = `${Math.min(100, (v || 0) * 100)}%`; b.append(f);
  row.append(el("span", null, label), b, el("span", "n", pct(v))); return row;
}

function tile(name, r, cls) {
  const t = el("div", `tile ${cls || ""}`); t.dataset.scope = name;
  t.append(el("div", "name", name), el("div", "oee", pct(r.oee)), kpiRow("A", r.availability), kpiRow("E", r.effectiveness), kpiRow("Q", r.quality_ratio));
  return t;
}

async function renderLive() {
  const live = await getJSON("/api/oee/live");
  if (!live.plant) return null;
  $("#shift").textContent = `${live.shift.name} · ${hhmm(live.shift.start)} – ${hhmm(live.shift.end)} · watched since ${hhmm(live.window.start)}`;
  const box = $("#tiles"); box.replaceChildren(tile("plant", live.plant, "plant"));
  for (const [name, r] of Object.entries(live.assets)) box.append(tile(name, r));
  return live;
}

async function renderTimeline(live) {
  const start = live ? live.window.start : new Date(Date.now() - 3600e3).toISOString();
  const tl = await getJSON(`/api/timeline?start=${encodeURIComponent(start)}`);
  const a = Date.parse(tl.start), z = Date.parse(tl.end), span = Math.max(1, z - a);
  const box = $("#timeline"); box.replaceChildren();
  for (const [name, segs] of Object.entries(tl.assets)) {
    const row = el("div", "row"); const strip = el("div", "strip"); strip.dataset.asset = name;
    for (const s of segs) {
      const seg = el("div", "seg"); const x0 = (Date.parse(s.start) - a) / span, x1 = (Date.parse(s.end) - a) / span;
      seg.style.left = `${x0 * 100}%`; seg.style.width = `${Math.max(0.1, (x1 - x0) * 100)}%`;
      seg.style.background = cssVar(s.state) || cssVar("unknown"); seg.title = `${s.state} ${hhmm(s.start)}–${hhmm(s.end)}`;
      strip.append(seg);
    }
    row.append(el("span", null, name), strip); box.append(row);
  }
}

async function renderPareto() {
  const rows = await getJSON("/api/downtime/pareto");
  const box = $("#pareto"); box.replaceChildren();
  const max = Math.max(1, ...rows.map((r) => r.duration_s));
  for (const r of rows) {
    const line = el("div", "par"); line.dataset.reason = r.reason;
    const b = el("div", "b"); b.style.width = `${(r.duration_s / max) * 100}%`;
    if (r.reason === "unqualified" || r.reason === "open") b.style.background = cssVar("idle");
    line.append(el("span", null, r.label || r.reason), b, el("span", "num", `${dur(r.duration_s)} · ${r.count}×`));
    box.append(line);
  }
  if (!rows.length) box.append(el("div", "muted", "no stops today"));
}

async function renderStops() {
  const [unq, open] = await Promise.all([getJSON("/api/downtime?status=unqualified"), getJSON("/api/downtime?status=open")]);
  const body = $("#stops tbody"); body.replaceChildren();
  for (const s of [...unq, ...open].slice(0, 50)) {
    const tr = el("tr"); tr.dataset.stop = s.id; tr.dataset.status = s.status;
    const sel = el("select"); sel.append(el("option", null, "reason…"));
    for (const [code, label] of reasons) { const o = el("option", null, label); o.value = code; sel.append(o); }
    const btn = el("button", null, "Classify");
    btn.addEventListener("click", () => classify(s.id, sel.value));
    const td = el("td"); td.append(sel);
    const tdb = el("td"); tdb.append(btn);
    tr.append(el("td", null, s.asset), el("td", null, hhmm(s.start)), el("td", "num", dur(s.duration_s)), el("td", null, s.first_state), td, tdb);
    body.append(tr);
  }
}

async function classify(id, reason) {
  if (!reason || reason === "reason…") { $("#msg").textContent = "pick a reason first"; return; }
  const r = await fetch(`/api/downtime/${encodeURIComponent(id)}/reason`, {
    method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: JSON.stringify({ reason }),
  });
  const body = await r.json();
  $("#msg").textContent = r.ok ? `classified ${body.asset} stop as ${body.reason_label}` : `refused: ${body.detail}`;
  await Promise.all([renderStops(), renderPareto()]);
}

async function renderReport() {
  const rep = await getJSON("/api/oee/report?period=shift");
  const body = $("#report tbody"); body.replaceChildren();
  for (const r of rep.rows.filter((x) => x.level !== "asset" || rep.rows.length < 60)) {
    const tr = el("tr", r.level);
    for (const v of [r.period, r.scope, pct(r.availability), pct(r.effectiveness), pct(r.quality_ratio), pct(r.oee), r.gq, r.sq, dur(r.mtbf_s), dur(r.mttr_s), dur(r.time.unknown_s)]) {
      tr.append(el("td", typeof v === "number" ? "num" : null, String(v)));
    }
    body.append(tr);
  }
}

function flatten(tree, out) {
  for (const [code, r] of Object.entries(tree)) { out.push([code, r.label || code]); flatten(r.children || {}, out); }
  return out;
}

async function refresh() {
  try {
    const live = await renderLive();
    await Promise.all([renderTimeline(live), renderPareto(), renderReport()]);
    document.body.dataset.updated = String(Date.now());
  } catch (e) { $("#msg").textContent = String(e); }
}

async function start() {
  reasons = flatten(await getJSON("/api/downtime/reasons"), []);
  $("#token").value = token;
  $("#signin").addEventListener("click", () => { token = $("#token").value.trim(); localStorage.setItem("werk-token", token); $("#who").textContent = token ? "token set" : ""; });
  if (token) $("#who").textContent = "token set";
  await renderStops();
  await refresh();
  setInterval(refresh, 5000);
  setInterval(renderStops, 10000);
}

start();
