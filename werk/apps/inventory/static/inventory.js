// The inventory page: stock levels with reorder points and days of supply, replenishment signals, the journal.
"use strict";

(() => {
  const { t, $, el, num, dateTime } = werk;
  const KINDS = { receipt: t("receipt"), production: t("production"), backflush: t("backflush"), count: t("count"), issue: t("issue") };

  function why(b) {
    if (b.kind === "backflush") return t("BOM of {product}", { product: b.why });
    if (b.kind === "production" && b.why) return t("good parts of {order} at {asset}", { order: b.why, asset: b.ref });
    if (b.kind === "production") return t("good parts at {asset}", { asset: b.ref });
    return b.why;
  }

  function rows(sel, items, cells, empty) {
    const body = $(`${sel} tbody`); body.replaceChildren();
    if (!items.length) body.append(werk.emptyRow($(`${sel} thead tr`).children.length, empty));
    for (const x of items) { const tr = el("tr"); for (const [cls, text] of cells(x)) tr.append(el("td", cls, text)); body.append(tr); }
  }

  // the unit of measure per material, from the stock list: "pcs" in the reader's language, others as configured
  const units = {};
  const unitOf = (m) => (units[m] === undefined || units[m] === "pcs" ? t("pcs") : units[m]);

  async function refresh() {
    const [stock, signals, journal] = await Promise.all([
      werk.getJSON("/api/inventory/stock"), werk.getJSON("/api/inventory/signals"), werk.getJSON("/api/inventory/journal?limit=30"),
    ]);
    for (const s of stock) units[s.material] = s.unit;
    rows("#stock", stock, (s) => [[null, s.material], [null, s.location], [s.below_point ? "num bad" : "num", num(s.level, 1)], [null, unitOf(s.material)],
      ["num", s.reorder_point == null ? "–" : num(s.reorder_point, 0)], ["num", s.days_of_supply == null ? "–" : num(s.days_of_supply, 1)],
      ["num", s.turns_per_year == null ? "–" : num(s.turns_per_year, 1)]], t("no stock booked yet"));
    rows("#signals", signals, (s) => [[null, dateTime(s.ts)], [null, s.material], ["num", `${num(s.level, 1)} ${unitOf(s.material)}`], ["num", `${num(s.quantity, 0)} ${unitOf(s.material)}`]], t("no material below its reorder point"));
    rows("#journal", journal, (b) => [[null, dateTime(b.ts)], [null, b.material], ["num", `${num(b.quantity, 2)} ${unitOf(b.material)}`], [null, KINDS[b.kind] || b.kind], [null, b.who], [null, why(b)]], t("no bookings yet"));
    document.body.dataset.updated = String(Date.now());
  }

  refresh().catch((err) => { $("#stock tbody").textContent = String(err); });
  setInterval(() => refresh().catch(() => {}), 5000);
})();
