// werk maintenance page: health and RUL per asset, trend of the selected asset, work orders.
"use strict";

const $ = (s) => document.querySelector(s);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
const cssVar = (n) => getComputedStyle(document.documentElement).getPropertyValue(`--${n}`).trim();
const fmt = (x, d = 1) => (typeof x === "number" ? x.toFixed(d) : "–");
let token = localStorage.getItem("werk-token") || "";
let selected = null;
let paths = {};
let plot = null;
const STATE_COLOUR = { learning: "setup", ok: "running", watch: "idle", warning: "fault", alarm: "fault" };
const NEXT = { open: ["in_progress", "Start"], planned: ["in_progress", "Start"], in_progress: ["done", "Done"] };

function duration(s) { return s >= 5400 ? `${(s / 3600).toFixed(1)} h` : s >= 90 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`; }

async function getJSON(url) { const r = await fetch(url); if (!r.ok) throw new Error(`${url}: ${r.status}`); return r.json(); }

function tile(name, h) {
  const t = el("div", "tile"); t.dataset.asset = name; t.style.cursor = "pointer";
  if (name === selected) t.style.outline = "2px solid #58a6ff";
  t.addEventListener("click", () => { selected = name; render(); });
  const state = h.state || (h.warned ? "warning" : h.baseline.ready ? "ok" : "learning");
  const warn = el("span", "badge", state);
  warn.style.background = cssVar(STATE_COLOUR[state] || "unknown");
  warn.title = h.reason ? h.reason.summary : "";
  const head = el("div", "name", `${name} `); head.append(warn); t.append(head);
  t.append(el("div", "oee", h.rul_cycles == null ? "–" : `${fmt(h.rul_cycles, 0)} cycles`));
  const ratio = h.score != null && h.threshold ? Math.min(1.5, h.score / h.threshold) : 0;
  const row = el("div", "kpi"); const b = el("div", "b"); const f = el("div"); f.style.width = `${(ratio / 1.5) * 100}%`;
  f.style.background = ratio > 1 ? cssVar("fault") : cssVar("running"); b.append(f);
  row.title = "anomaly score against the alarm threshold (the bar is full at 1.5 x threshold)";
  row.append(el("span", null, "!"), b, el("span", "n", h.score == null ? `${h.baseline.cycles}/${h.baseline.needed}` : fmt(h.score, 2)));
  t.append(row);
  const drivers = Object.entries(h.drivers || {}).map(([k, v]) => `${k} ${(v * 100).toFixed(0)}%`).join(", ");
  t.append(el("div", "muted", drivers || (h.has_rul_model ? "" : h.model_error || "no RUL model yet")));
  if (h.reason) t.append(el("div", "muted reason", h.reason.summary));
  const b0 = h.baseline;
  if (!b0.ready) {
    const left = b0.remaining_s == null ? "" : `, about ${duration(b0.remaining_s)} left`;
    t.append(el("div", "muted baseline", `baseline ${b0.cycles}/${b0.needed} cycles${left}`));
  }
  return t;
}

async function renderHealth() {
  const m = await getJSON("/api/maintenance");
  const tr = m.training || {};
  const k = (tr.done || []).length + 1, n = (tr.assets || []).length;
  $("#training").textContent = tr.state === "training" && tr.current
    ? `training RUL models: asset ${k} of ${n}, ${tr.current.asset} (${tr.current.lives}/${tr.current.of} simulated lives)` : tr.state === "failed" ? `training failed: ${tr.error}` : "";
  const box = $("#health"); box.replaceChildren();
  const names = Object.keys(m.assets);
  if (!selected && names.length) selected = names[0];
  for (const name of names) box.append(tile(name, m.assets[name]));
}

async function renderChart() {
  if (!selected || !paths[selected]) return;
  const base = paths[selected];
  const [rul, score] = await Promise.all(["rul.cycles", "health.score"].map((s) => getJSON(`/api/series?path=${encodeURIComponent(`${base}/${s}`)}&minutes=60`)));
  const xs = Array.from(new Set([...rul.points, ...score.points].map((p) => Date.parse(p.ts) / 1000))).sort((a, b) => a - b);
  const at = (pts) => { const m = new Map(pts.map((p) => [Date.parse(p.ts) / 1000, p.value])); return xs.map((x) => (m.has(x) ? m.get(x) : null)); };
  const data = [xs, at(rul.points), at(score.points)];
  $("#chart-title").textContent = `Trend · ${selected}`;
  const box = $("#chart");
  if (plot) plot.destroy();
  plot = new uPlot({
    width: Math.max(300, box.clientWidth || 800), height: 240, scales: { x: { time: true }, s: {} },
    series: [{}, { label: "RUL (cycles)", stroke: "#58a6ff", width: 2, spanGaps: true }, { label: "health score", stroke: cssVar("fault"), scale: "s", width: 1, spanGaps: true }],
    axes: [{ stroke: cssVar("muted") }, { stroke: cssVar("muted"), size: 60 }, { side: 1, scale: "s", stroke: cssVar("muted"), size: 60 }],
  }, data, box);
}

async function move(id, status) {
  const r = await fetch(`/api/workorders/${id}`, { method: "PATCH", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: JSON.stringify({ status }) });
  const body = await r.json();
  $("#msg").textContent = r.ok ? `work order ${id} is now ${body.status}` : `refused: ${body.detail}`;
  renderOrders();
}

function warned(w) {
  if (w.created_by !== "werk") return "";
  const last = w.last_seen ? `, last ${new Date(w.last_seen).toLocaleString()}` : "";
  return `${w.count || 1}x${last}${w.cleared ? `, cleared ${new Date(w.cleared).toLocaleString()}` : ""}`;
}

async function renderOrders() {
  const rows = await getJSON("/api/workorders");
  const body = $("#orders tbody"); body.replaceChildren();
  for (const w of rows.slice(0, 100)) {
    const tr = el("tr"); tr.dataset.order = w.id; tr.dataset.status = w.status;
    const td = el("td");
    if (NEXT[w.status]) { const [to, label] = NEXT[w.status]; const b = el("button", null, label); b.addEventListener("click", () => move(w.id, to)); td.append(b); }
    tr.append(el("td", null, new Date(w.created).toLocaleString()), el("td", null, w.asset), el("td", null, w.title), el("td", null, w.source), el("td", null, w.status), el("td", null, warned(w)), td);
    body.append(tr);
  }
}

async function render() { await renderHealth(); await renderChart(); document.body.dataset.updated = String(Date.now()); }

async function start() {
  const assets = await getJSON("/api/assets");
  paths = Object.fromEntries(assets.map((a) => [a.name, a.path]));
  $("#token").value = token;
  $("#signin").addEventListener("click", () => { token = $("#token").value.trim(); localStorage.setItem("werk-token", token); $("#who").textContent = token ? "token set" : ""; });
  if (token) $("#who").textContent = "token set";
  await render(); await renderOrders();
  setInterval(render, 5000); setInterval(renderOrders, 5000);
}

start();
