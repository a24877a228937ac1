// werk dashboard: plain JS, no build step. Data: GET /api/assets, GET /api/series, SSE /api/stream.
"use strict";

const STATES = ["running", "idle", "setup", "blocked", "starved", "planned_stop", "fault", "maintenance", "disconnected"];
const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
const $ = (sel) => document.querySelector(sel);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };

let assets = [];
let selectedAsset = null;
let selectedPath = null;
let plot = null;
let series = [[], []];
let source = null;
const WINDOW_S = 600;

function pct(x) { return typeof x === "number" ? `${(x * 100).toFixed(1)} %` : "–"; }
function num(sig, digits) {
  if (!sig) return "–";
  const v = sig.value;
  return typeof v === "number" ? v.toFixed(digits) : String(v);
}
function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

function renderSummary() {
  const box = $("#summary");
  box.replaceChildren();
  const units = assets.filter((a) => a.production);
  const running = units.filter((a) => a.state === "running").length;
  const down = assets.filter((a) => a.state === "fault" || a.state === "maintenance").length;
  const good = assets.reduce((n, a) => n + (a.counts.good_count || 0), 0);
  const scrap = assets.reduce((n, a) => n + (a.counts.scrap_count || 0), 0);
  const power = assets.reduce((n, a) => n + (a.signals.power ? a.signals.power.value : 0), 0);
  const oees = assets.map((a) => a.kpis.oee).filter((x) => typeof x === "number");
  const oee = oees.length ? oees.reduce((s, x) => s + x, 0) / oees.length : null;
  for (const [k, v] of [["running", `${running} / ${units.length}`], ["down", String(down)], ["good parts", good.toLocaleString()],
    ["scrap", scrap.toLocaleString()], ["mean OEE", pct(oee)], ["power", `${power.toFixed(1)} kW`]]) {
    const s = el("div", "stat"); s.append(el("div", "v", v), el("div", "k", k)); s.dataset.stat = k; box.append(s);
  }
}

async function renderConnectors() {
  const list = await (await fetch("/api/connectors")).json();
  const box = $("#connectors");
  box.replaceChildren();
  for (const c of list) {
    const chip = el("span", `conn ${c.connected ? "up" : "down"}`);
    chip.dataset.connector = c.name;
    chip.title = `${c.endpoint}\n${c.samples.toLocaleString()} samples, ${c.errors} errors, ${c.dropped} dropped, ${c.spooled} waiting on disk${c.last_error ? `\nlast error: ${c.last_error}` : ""}`;
    const bad = Object.keys(c.bad_bindings || {}).length;
    chip.append(el("i", "dot"), `${c.name} · ${c.type} · ${c.connected ? `${Math.round(c.rate)}/s` : "down"}${c.errors ? ` · ${c.errors} errors` : ""}${c.spooled ? ` · ${c.spooled.toLocaleString()} spooled` : ""}${bad ? ` · ${bad} bad bindings` : ""}`);
    box.append(chip);
  }
}

function renderAssets() {
  const box = $("#assets");
  for (const a of assets) {
    let card = box.querySelector(`[data-asset="${a.name}"]`);
    if (!card) {
      card = el("article", "card");
      card.dataset.asset = a.name;
      card.addEventListener("click", () => selectAsset(a.name));
      box.append(card);
    }
    const color = cssVar(a.state) || cssVar("unknown");
    card.style.borderLeftColor = color;
    card.classList.toggle("selected", a.name === selectedAsset);
    const h = el("h2", null, a.name);
    const badge = el("span", "badge", a.state); badge.style.background = color; badge.dataset.role = "state";
    h.append(badge);
    const g = el("div", "grid2");
    const rows = !a.production
      ? Object.entries(a.signals).map(([k, s]) => [k, typeof s.value === "number" ? s.value.toFixed(1) : String(s.value)])
      : [["good", a.counts.good_count ?? "–"], ["scrap", a.counts.scrap_count ?? "–"],
      ["availability", pct(a.kpis.availability)], ["OEE", pct(a.kpis.oee)],
      ["power", `${num(a.signals.power, 1)} kW`], ["temperature", `${num(a.signals.temperature, 1)} °C`],
      ["vibration", `${num(a.signals.vibration, 2)} mm/s`], ["load", `${num(a.signals.load, 0)} %`]];
    for (const [k, v] of rows) { g.append(el("span", "k", k), el("span", "v", String(v))); g.lastChild.dataset.key = k; }
    const bar = el("div", "bar"); const fill = el("div"); fill.style.width = `${Math.min(100, (a.kpis.oee || 0) * 100)}%`; bar.append(fill);
    const since = a.production ? `${a.state} for ${ago(a.since)}` : "recorded, not part of OEE";
    card.replaceChildren(h, el("div", "kind", a.kind), g, bar, el("div", "since", since));
  }
}

function selectAsset(name, signal) {
  selectedAsset = name;
  const a = assets.find((x) => x.name === name);
  if (!a) return;
  const sel = $("#signal-select");
  sel.replaceChildren();
  const numeric = Object.entries(a.signals).filter(([, s]) => typeof s.value === "number").map(([k]) => k);
  for (const k of numeric) { const o = el("option", null, `${name} · ${k}`); o.value = `${a.path}/${k}`; sel.append(o); }
  const want = signal || (numeric.includes("load") ? "load" : numeric[0]);
  if (want) sel.value = `${a.path}/${want}`;
  renderAssets();
  selectPath(sel.value);
}

async function selectPath(path) {
  if (!path) return;
  selectedPath = path;
  const r = await fetch(`/api/series?path=${encodeURIComponent(path)}&minutes=${WINDOW_S / 60}`);
  const body = await r.json();
  series = [body.points.map((p) => Date.parse(p.ts) / 1000), body.points.map((p) => p.value)];
  drawChart();
  connect();
}

function drawChart() {
  const box = $("#chart");
  const width = Math.max(300, box.clientWidth || 800);
  if (plot) plot.destroy();
  const name = selectedPath ? selectedPath.split("/").slice(-2).join(" · ") : "";
  plot = new uPlot({
    width, height: 260, series: [{}, { label: name, stroke: "#58a6ff", width: 2, points: { show: false } }],
    axes: [{ stroke: cssVar("muted"), grid: { stroke: cssVar("line") } }, { stroke: cssVar("muted"), grid: { stroke: cssVar("line") } }],
    scales: { x: { time: true } },
  }, series, box);
  updateValue();
}

function updateValue() {
  const ys = series[1];
  $("#chart-value").textContent = ys.length ? Number(ys[ys.length - 1]).toFixed(2) : "";
}

function appendSamples(points) {
  if (!plot) return;
  for (const p of points) { if (typeof p.value === "number") { series[0].push(Date.parse(p.ts) / 1000); series[1].push(p.value); } }
  const cutoff = Date.now() / 1000 - WINDOW_S;
  while (series[0].length && series[0][0] < cutoff) { series[0].shift(); series[1].shift(); }
  plot.setData(series);
  updateValue();
}

function connect() {
  if (source) source.close();
  const q = selectedPath ? `?path=${encodeURIComponent(selectedPath)}` : "";
  source = new EventSource(`/api/stream${q}`);
  const link = $("#link");
  source.onopen = () => { link.textContent = "live"; link.className = "link up"; };
  source.onerror = () => { link.textContent = "reconnecting…"; link.className = "link down"; };
  source.addEventListener("assets", (ev) => {
    assets = JSON.parse(ev.data);
    renderSummary(); renderAssets();
    if (!selectedAsset && assets.length) selectAsset(assets[0].name);
    document.body.dataset.updated = String(Date.now());
  });
  source.addEventListener("samples", (ev) => appendSamples(JSON.parse(ev.data)));
}

function legend() {
  const box = $("#legend");
  for (const s of STATES) { const i = el("i"); i.style.background = cssVar(s); const span = el("span"); span.append(i, s); box.append(span); }
}

async function start() {
  legend();
  const plant = await (await fetch("/api/plant")).json();
  $("#plant-name").textContent = `${plant.enterprise} · ${Object.keys(plant.sites).join(", ")}`;
  assets = await (await fetch("/api/assets")).json();
  renderSummary(); renderAssets();
  $("#signal-select").addEventListener("change", (e) => selectPath(e.target.value));
  window.addEventListener("resize", () => plot && plot.setSize({ width: $("#chart").clientWidth, height: 260 }));
  if (assets.length) selectAsset(assets[0].name); else connect();
  renderConnectors();
  setInterval(renderConnectors, 5000);
}

start();
