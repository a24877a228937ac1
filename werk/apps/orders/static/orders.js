// The orders page: the plan as a Gantt chart per machine (SVG), the last re-plan, capable-to-promise, the orders.
"use strict";

(() => {
  const { t, $, el, dateTime } = werk;
  const NS = "http://www.w3.org/2000/svg";
  const STATES = { released: t("released"), started: t("started"), finished: t("finished") };

  function svg(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // orders with neighbouring ids get far-apart hues (golden angle)
  function hue(s) { let h = 0; for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0; return Math.round((h * 137.508) % 360); }

  function renderGantt(plan) {
    const box = $("#gantt"); box.replaceChildren();
    const machines = Object.keys(plan.machines).sort();
    for (const m of Object.keys(plan.unavailable)) if (!machines.includes(m)) machines.push(m);
    if (!machines.length) { box.append(el("p", "muted", t("nothing planned"))); return; }
    const a = Date.parse(plan.origin);
    let z = a + 3600e3;
    for (const rows of Object.values(plan.machines)) for (const s of rows) z = Math.max(z, Date.parse(s.end));
    const W = Math.max(600, box.clientWidth || 900), left = 90, rowH = 26, top = 22;
    const H = top + rowH * machines.length + 4;
    const x = (ms) => left + ((ms - a) / (z - a)) * (W - left - 8);
    const root = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "gantt-svg" });
    const defs = svg("defs");
    const pat = svg("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    pat.append(svg("rect", { width: 3, height: 6, fill: "#9994" }));
    defs.append(pat); root.append(defs);
    const hours = Math.max(1, Math.round((z - a) / 3600e3 / 8));
    for (let ms = a; ms <= z; ms += hours * 3600e3) {
      root.append(svg("line", { x1: x(ms), x2: x(ms), y1: top - 4, y2: H, stroke: "#8884" }));
      if (x(ms) + 100 < W) root.append(svg("text", { x: x(ms) + 2, y: 12, "font-size": 10, fill: "currentColor" }, dateTime(new Date(ms).toISOString())));
    }
    machines.forEach((m, i) => {
      const y = top + i * rowH;
      root.append(svg("text", { x: 4, y: y + 17, "font-size": 12, fill: "currentColor" }, m));
      for (const w of plan.unavailable[m] || []) {
        const x0 = x(Math.max(a, Date.parse(w.start))), x1 = x(Math.min(z, Date.parse(w.end)));
        if (x1 > x0) root.append(svg("rect", { x: x0, y: y + 2, width: x1 - x0, height: rowH - 4, fill: "url(#hatch)", class: "down" }));
      }
      for (const s of plan.machines[m] || []) {
        const x0 = x(Date.parse(s.start)), x1 = x(Date.parse(s.end));
        const r = svg("rect", { x: x0, y: y + 3, width: Math.max(1, x1 - x0), height: rowH - 6, rx: 2,
          fill: `hsl(${hue(s.order)} 55% 60%)`, "fill-opacity": s.done ? 0.35 : 1, stroke: s.late ? "#d00" : "none", "stroke-width": 2, class: "op" });
        r.dataset.op = s.op;
        r.append(svg("title", {}, t("{order} · {product} · step {step}", { order: s.order, product: s.product, step: s.step }) + `\n${dateTime(s.start)} – ${dateTime(s.end)}` + (s.done ? `\n${t("done")}` : "")));
        root.append(r);
        if (x1 - x0 > 40) root.append(svg("text", { x: x0 + 3, y: y + 17, "font-size": 10, fill: "#000", "pointer-events": "none" }, s.order));
      }
    });
    enableDrag(root, { a, z, x, left, W, top, rowH, machines });
    const now = Date.now();
    if (now >= a && now <= z) root.append(svg("line", { x1: x(now), x2: x(now), y1: top - 4, y2: H, stroke: "#06c", "stroke-width": 2 }));
    box.append(root);
    $("#origin").textContent = t("from {time}", { time: dateTime(plan.origin) });
  }

  // Drag a bar to another time or machine to pin it there (a supervisor's token); the plan is made around it.
  let dragging = false;
  function enableDrag(root, g) {
    root.addEventListener("pointerdown", (e) => {
      const bar = e.target.closest && e.target.closest("rect.op");
      if (!bar || !werk.token()) return;
      dragging = true;
      const x0 = e.clientX, y0 = e.clientY, bx = Number(bar.getAttribute("x")), by = Number(bar.getAttribute("y"));
      bar.setPointerCapture(e.pointerId);
      const move = (m) => { bar.setAttribute("x", bx + m.clientX - x0); bar.setAttribute("y", by + m.clientY - y0); };
      const up = async (u) => {
        bar.removeEventListener("pointermove", move); bar.removeEventListener("pointerup", up);
        dragging = false;
        const nx = bx + u.clientX - x0, ny = by + u.clientY - y0;
        const row = Math.max(0, Math.min(g.machines.length - 1, Math.floor((ny - g.top + g.rowH / 2) / g.rowH)));
        const ms = g.a + ((nx - g.left) / (g.W - g.left - 8)) * (g.z - g.a);
        const res = await werk.send("POST", "/api/orders/pins", { op: bar.dataset.op, machine: g.machines[row], start: new Date(ms).toISOString() });
        $("#pin-msg").textContent = res.ok ? t("pinned {op} to {machine}", { op: bar.dataset.op, machine: g.machines[row] }) : werk.detail(res);
        refresh().catch(() => {});
      };
      bar.addEventListener("pointermove", move); bar.addEventListener("pointerup", up);
    });
  }

  // the API's reason codes ("down:cnc-1, back:lathe-2") and methods, in the reader's language
  const REASONS = {
    down: (x) => t("{asset} broke down", { asset: x }), back: (x) => t("{asset} runs again", { asset: x }),
    inspection: (x) => t("inspection of {asset}", { asset: x }), "inspection-cancelled": (x) => t("inspection of {asset} cancelled", { asset: x }),
    released: (x) => t("{count} orders released", { count: x }), pinned: (x) => t("{op} pinned", { op: x }),
    requested: () => t("plan requested"), start: () => t("werk started"),
  };
  const METHODS = { full: t("full plan"), "cp-sat": t("repair"), heuristic: t("repair (heuristic, time limit)") };
  function reasonText(reason) {
    return reason.split(", ").map((item) => {
      const [kind, subject] = [item.slice(0, item.indexOf(":")), item.slice(item.indexOf(":") + 1)];
      return REASONS[kind] ? REASONS[kind](subject) : item;
    }).join(", ");
  }

  function renderReplan(r) {
    const box = $("#replan");
    if (!r) return;
    box.className = "";
    box.replaceChildren(
      el("p", null, t("{reason}: {moved} operations moved in {seconds} s ({method})",
        { reason: reasonText(r.reason), moved: r.moved.length, seconds: werk.num(r.seconds, 2), method: METHODS[r.method] || r.method })),
      el("p", r.late.length ? "bad" : "muted", r.late.length ? t("late orders: {orders}", { orders: r.late.join(", ") }) : t("no order is late")),
    );
    if (r.moved.length) box.append(el("p", "muted", t("moved: {ops}", { ops: r.moved.slice(0, 30).join(", ") + (r.moved.length > 30 ? " …" : "") })));
  }

  function renderOrders(orders) {
    const body = $("#orders tbody"); body.replaceChildren();
    const products = new Set();
    for (const o of orders) {
      products.add(o.product);
      const tr = el("tr"); if (o.late) tr.className = "late";
      tr.append(el("td", null, o.order), el("td", null, o.product), el("td", "num", String(o.quantity)),
        el("td", "num", String(o.parts_done)), el("td", "num", String(o.wip)), el("td", "num", String(o.scrap)), el("td", `state-${o.state}`, STATES[o.state] || o.state),
        el("td", null, dateTime(o.due)), el("td", o.late ? "bad" : null, o.planned_end ? dateTime(o.planned_end) : "–"));
      body.append(tr);
    }
    const sel = $("#p-product");
    if (!sel.options.length) for (const p of [...products].sort()) sel.append(new Option(p, p));
  }

  // why counted parts went to no order (the API's reason codes)
  const UNBOOKED = {
    no_order: t("no open order of the product it reports has a step on this machine"),
    no_product: t("the machine reports no product"),
    not_planned: t("the machine reports no product and the plan has no unfinished operation on it"),
    waiting: t("the machine reports no product and the step before has not made the parts of its planned operations"),
  };
  function renderUnbooked(rows) {
    const body = $("#unbooked tbody"); body.replaceChildren();
    if (!rows.length) body.append(werk.emptyRow(3, t("every counted part was booked to an order")));
    for (const u of rows) {
      const tr = el("tr");
      tr.append(el("td", null, u.asset), el("td", "num bad", String(u.parts)), el("td", null, UNBOOKED[u.reason] || u.reason));
      body.append(tr);
    }
  }

  async function refresh() {
    if (dragging) return;
    const [plan, orders, unbooked] = await Promise.all([
      werk.getJSON("/api/orders/plan"), werk.getJSON("/api/orders"), werk.getJSON("/api/orders/unbooked"),
    ]);
    renderGantt(plan); renderReplan(plan.last_replan); renderOrders(orders); renderUnbooked(unbooked);
    document.body.dataset.updated = String(Date.now());
  }

  $("#promise").addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await werk.send("POST", "/api/orders/promise", { product: $("#p-product").value, quantity: Number($("#p-qty").value) });
    const out = $("#p-answer");
    if (!res.ok) { out.textContent = werk.detail(res); return; }
    const a = res.body;
    out.textContent = a.bottleneck
      ? t("{date}, waiting for {machine}", { date: dateTime(a.date), machine: a.bottleneck })
      : t("{date}, its own work being the limit", { date: dateTime(a.date) });
  });

  refresh().catch((err) => { $("#gantt").textContent = String(err); });
  setInterval(() => refresh().catch(() => {}), 5000);
})();
