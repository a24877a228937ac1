// The maintenance page: health and RUL per asset, the trend of the selected asset, work orders.
"use strict";

(() => {
  const { t, $, el, num, cssVar } = werk;
  const NEXT = { open: ["in_progress", t("Start")], planned: ["in_progress", t("Start")], in_progress: ["done", t("Done")] };
  const STATUS = { open: t("open"), planned: t("planned"), in_progress: t("in progress"), done: t("done") };
  const SOURCE = { manual: t("manual"), anomaly: t("anomaly"), rul: t("remaining useful life") };
  // a health state, its name and the state colour that shows it
  const HEALTH = {
    learning: [t("learning"), "setup"], ok: [t("healthy"), "running"], watch: [t("watch"), "idle"],
    warning: [t("warning"), "fault"], alarm: [t("alarm"), "fault"],
  };
  // reason parts a tile shows otherwise: the RUL (its big figure) and the baseline's progress (badge and bar)
  const SHOWN = new Set([
    "RUL {rul} cycles",
    "anomaly check still learning its baseline ({have}/{need} cycles)",
    "anomaly check still learning its baseline ({have}/{need} cycles, about {left_s} left)",
  ]);
  let selected = null;
  let paths = {};
  let plot = null;
  let health = {}; // the last /api/maintenance answer's assets

  // a translated text with one {n}: the number large, the words around it (their order is the language's)
  // small, on one line
  function figure(text, n) {
    const [before, after = ""] = text.split("{n}");
    const out = el("span", "fig");
    if (before.trim()) out.append(el("span", "unit", before.trim()), " ");
    out.append(el("span", "n", n));
    if (after.trim()) out.append(" ", el("span", "unit", after.trim()));
    return out;
  }

  function tile(name, h) {
    const tl = el("div", `tile${name === selected ? " selected" : ""}`); tl.dataset.asset = name; tl.style.cursor = "pointer";
    tl.addEventListener("click", () => { selected = name; render(); });
    const b0 = h.baseline || {};
    const state = h.state || (h.warned ? "warning" : b0.ready ? "ok" : "learning");
    const [label, colour] = HEALTH[state] || [state, "unknown"];
    // learning: the anomaly check cannot judge yet (how far its baseline is: the bar; how long it still takes: the
    // reason line). The badge's width does not change with the count: a wider one can wrap the tile's head onto
    // two lines and move the page under the reader's pointer.
    const badge = el("span", "badge", label);
    badge.style.background = cssVar(colour);
    badge.dataset.state = state;
    const said = h.reason ? h.reason.text || h.reason.summary : "";
    if (said) badge.title = said;
    const head = el("div", "name", name); head.append(badge); tl.append(head);
    // the big figure is the remaining useful life: say so, also while there is none
    const rul = el("div", "oee rul");
    rul.append(el("span", "what", t("RUL")), h.rul_cycles == null ? "–" : figure(t("{n} cycles"), werk.int(h.rul_cycles)));
    rul.title = t("remaining useful life");
    tl.append(rul);
    const ratio = h.score != null && h.threshold ? Math.min(1.5, h.score / h.threshold) : 0;
    const row = el("div", "kpi"); const b = el("div", "b"); const f = el("div"); f.style.width = `${(ratio / 1.5) * 100}%`;
    f.style.background = ratio > 1 ? cssVar("fault") : cssVar("running"); b.append(f);
    row.title = t("anomaly score against the alarm threshold (the bar is full at 1.5 x threshold)");
    if (h.score == null && b0.needed) {
      // no score while the baseline is learned: the bar shows how far that is
      f.style.width = `${Math.min(1, b0.cycles / b0.needed) * 100}%`;
      f.style.background = cssVar("setup");
      row.title = t("baseline {cycles}/{needed} cycles", { cycles: werk.int(b0.cycles), needed: werk.int(b0.needed) });
    }
    const mark = el("span", "mark", "!"); mark.setAttribute("aria-label", row.title);
    row.append(mark, b, el("span", "n", h.score == null ? `${werk.int(b0.cycles)}/${werk.int(b0.needed)}` : num(h.score, 2)));
    tl.append(row);
    // the signals behind the score (those with a tenth of it or more, as the reasons name them), unless the
    // reason names them
    const named = h.reason && (h.reason.signals || []).length;
    const drivers = named ? "" : Object.entries(h.drivers || {}).filter(([, v]) => v >= 0.1).map(([k, v]) => `${werk.signal(k)} ${werk.pct(v, 0)}`).join(", ");
    tl.append(el("div", "muted", drivers || (h.has_rul_model ? "\u00a0" : h.model_error || t("no RUL model yet"))));
    // the reason of the state, its cause first; what the tile shows already (the RUL, the baseline's cycles) is
    // left out, and while the baseline is learned, how long that still takes comes last. The whole reason is
    // the tooltip.
    const parts = ((h.reason && h.reason.parts) || []).filter((p) => !SHOWN.has(p.message)).map((p) => p.text || p.message);
    if (!b0.ready && b0.needed) {
      parts.push(b0.remaining_s == null ? t("anomaly check learning") : t("anomaly check learning, about {left} left", { left: werk.dur(b0.remaining_s) }));
    }
    const short = parts.join("; ");
    const line = el("div", "muted reason", short || "\u00a0");
    if (said) line.title = said;
    tl.append(line);
    return tl;
  }

  async function renderHealth() {
    const m = await werk.getJSON("/api/maintenance");
    const tr = m.training || {};
    const k = (tr.done || []).length + 1, n = (tr.assets || []).length;
    $("#training").textContent = tr.state === "training" && tr.current
      ? t("training RUL models: asset {k} of {n}, {asset} ({lives}/{of} simulated lives)", { k, n, asset: tr.current.asset, lives: tr.current.lives, of: tr.current.of })
      : tr.state === "failed" ? t("training failed: {error}", { error: tr.error }) : "";
    const box = $("#health"); box.replaceChildren();
    health = m.assets;
    const names = Object.keys(m.assets);
    if (!selected && names.length) selected = names[0];
    for (const name of names) box.append(tile(name, m.assets[name]));
  }

  async function renderChart() {
    if (!selected || !paths[selected]) return;
    const base = paths[selected];
    // a signal the app has not published yet (no RUL model, a baseline still learning) is a 404: no points
    // only the signals the app publishes for this asset: the RUL once a model reads it, the score once the
    // baseline is learned (asking for one it has not published is a 404)
    const h = health[selected] || {};
    const none = { points: [], gap_s: null };
    const series = (s, published) => (published
      ? werk.getJSON(`/api/series?path=${encodeURIComponent(`${base}/${s}`)}&minutes=60`).catch(() => none)
      : Promise.resolve(none));
    const [rul, score] = await Promise.all([
      series("rul.cycles", h.rul_cycles != null || h.has_rul_model),
      series("health.score", h.threshold != null),
    ]);
    $("#chart-title").textContent = t("Trend · {asset}", { asset: selected });
    if (plot) plot.destroy();
    plot = null;
    if (!rul.points.length && !score.points.length) {
      $("#chart").replaceChildren(el("div", "chart-empty", t("no RUL or health score in the last hour yet")));
      return;
    }
    plot = werk.chart($("#chart"), {
      height: 240,
      scales: { s: {} },
      // a pause longer than the series' gap_s (werk or the machine was away) breaks the line
      series: [{ label: t("RUL (cycles)"), color: "chart-1", digits: 0 }, { label: t("health score"), color: "chart-2", scale: "s", width: 1 }],
      axes: [{}, { size: 60 }, { side: 1, scale: "s", size: 60 }],
      data: werk.align([rul.points, score.points], [rul.gap_s, score.gap_s]),
    });
  }

  async function move(id, status) {
    const res = await werk.send("PATCH", `/api/workorders/${id}`, { status });
    $("#msg").textContent = res.ok
      ? t("work order {id} is now {status}", { id, status: STATUS[res.body.status] || res.body.status })
      : t("refused: {detail}", { detail: werk.detail(res) });
    renderOrders();
  }

  // The table does not move under the pointer: while it is over the table, rows already shown are updated in
  // place and new orders are only counted ("2 new"); they are inserted once the pointer leaves.
  let pointerOver = false;
  let latest = [];

  // how often a warning of werk's own raised this order, when last, and whether it has cleared
  function warned(w) {
    if (w.created_by !== "werk") return "";
    let text = t("{n}x, last {when}", { n: werk.int(w.count || 1), when: werk.dateTime(w.last_seen || w.created) });
    if (w.cleared) text += " · " + t("cleared {when}", { when: werk.dateTime(w.cleared) });
    return text;
  }

  function row(w) {
    const tr = el("tr"); tr.dataset.order = w.id;
    fill(tr, w);
    return tr;
  }

  function fill(tr, w) {
    tr.dataset.status = w.status;
    const td = el("td");
    if (NEXT[w.status]) { const [to, label] = NEXT[w.status]; const b = el("button", null, label); b.addEventListener("click", () => move(w.id, to)); td.append(b); }
    tr.replaceChildren(el("td", null, werk.dateTime(w.created)), el("td", null, w.asset), el("td", null, w.title_text || w.title),
      el("td", null, SOURCE[w.source] || w.source), el("td", null, STATUS[w.status] || w.status), el("td", null, warned(w)), td);
  }

  function showOrders() {
    const body = $("#orders tbody");
    const shown = new Map([...body.rows].filter((tr) => tr.dataset.order).map((tr) => [tr.dataset.order, tr]));
    const rows = latest.slice(0, 100);
    const note = $("#orders-new");
    if (pointerOver && shown.size) {
      let fresh = 0;
      for (const w of rows) { const tr = shown.get(String(w.id)); if (tr) fill(tr, w); else fresh += 1; }
      note.hidden = fresh === 0;
      note.textContent = fresh ? t("{n} new", { n: werk.int(fresh) }) : "";
      return;
    }
    note.hidden = true;
    if (!rows.length) { body.replaceChildren(werk.emptyRow(7, t("no work orders"))); return; }
    body.replaceChildren(...rows.map((w) => { const tr = shown.get(String(w.id)); if (tr) { tr.classList.remove("fresh"); fill(tr, w); return tr; } const r = row(w); if (shown.size) r.classList.add("fresh"); return r; }));
  }

  async function renderOrders() {
    latest = await werk.getJSON("/api/workorders");
    showOrders();
  }

  async function render() { await renderHealth(); await renderChart(); werk.stamp(); }

  async function start() {
    const assets = await werk.getJSON("/api/assets");
    paths = Object.fromEntries(assets.map((a) => [a.name, a.path]));
    const table = $("#orders");
    table.addEventListener("pointerenter", () => { pointerOver = true; });
    table.addEventListener("pointerleave", () => { pointerOver = false; showOrders(); });
    await render(); await renderOrders();
    setInterval(render, 5000); setInterval(renderOrders, 5000);
  }

  start();
})();
