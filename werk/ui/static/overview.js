// The overview: cards and summary come from the server (htmx swaps the SSE fragment into #live); this script
// keeps the selected card, the connector chips and the chart of one signal, fed live from /api/stream.
"use strict";

(() => {
  const { t, $, el } = werk;
  const WINDOW_S = 600;
  let selectedAsset = null;
  let selectedPath = null;
  let plot = null;
  let data = [[], []];
  let samples = null;

  function markSelected() {
    for (const card of document.querySelectorAll("#assets .card")) card.classList.toggle("selected", card.dataset.asset === selectedAsset);
  }

  async function selectAsset(name) {
    selectedAsset = name;
    markSelected();
    const a = await werk.getJSON(`/api/assets/${encodeURIComponent(name)}`);
    const sel = $("#signal-select");
    sel.replaceChildren();
    const numeric = Object.entries(a.signals).filter(([, s]) => typeof s.value === "number").map(([k]) => k);
    for (const k of numeric) { const o = el("option", null, `${name} · ${k}`); o.value = `${a.path}/${k}`; sel.append(o); }
    const want = numeric.includes("load") ? "load" : numeric[0];
    if (want) sel.value = `${a.path}/${want}`;
    await selectPath(sel.value);
  }

  async function selectPath(path) {
    if (!path) return;
    selectedPath = path;
    const body = await werk.getJSON(`/api/series?path=${encodeURIComponent(path)}&minutes=${WINDOW_S / 60}`);
    data = werk.columns(body.points);
    if (plot) plot.destroy();
    plot = werk.chart($("#chart"), { series: [{ label: path.split("/").slice(-2).join(" · "), color: "chart-1" }], data });
    showValue();
    follow();
  }

  function showValue() {
    const ys = data[1];
    $("#chart-value").textContent = ys.length ? werk.num(ys[ys.length - 1], 2) : "";
  }

  function append(points) {
    if (!plot) return;
    const [xs, ys] = werk.columns(points.filter((p) => typeof p.value === "number"));
    data[0].push(...xs); data[1].push(...ys);
    const cutoff = Date.now() / 1000 - WINDOW_S;
    while (data[0].length && data[0][0] < cutoff) { data[0].shift(); data[1].shift(); }
    plot.setData(data);
    showValue();
  }

  function follow() {
    if (samples) samples.close();
    samples = werk.sse(`/api/stream?path=${encodeURIComponent(selectedPath)}`, { samples: append });
  }

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

  function start() {
    const live = $("#live");
    live.addEventListener("click", (e) => { const card = e.target.closest(".card"); if (card) selectAsset(card.dataset.asset); });
    live.addEventListener("keydown", (e) => { const card = e.target.closest(".card"); if (card && e.key === "Enter") selectAsset(card.dataset.asset); });
    live.addEventListener("htmx:sseOpen", () => link(true));
    live.addEventListener("htmx:sseError", () => link(false));
    live.addEventListener("htmx:afterSwap", () => { markSelected(); werk.stamp(); });
    $("#signal-select").addEventListener("change", (e) => selectPath(e.target.value));
    const first = $("#assets .card");
    if (first) selectAsset(first.dataset.asset);
    renderConnectors();
    setInterval(renderConnectors, 5000);
  }

  start();
})();
