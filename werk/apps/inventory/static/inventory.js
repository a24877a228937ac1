// The inventory page: stock levels with reorder points and days of supply, replenishment signals, the journal.
"use strict";

(() => {
  const { t, $, el, num, dateTime } = werk;
  const KINDS = { receipt: t("receipt"), production: t("production"), backflush: t("backflush"), count: t("count"), issue: t("issue") };

  function why(b) {
    if (b.kind === "backflush") return t("BOM of {product}", { product: b.why });
    if (b.kind === "production") return t("good parts at {asset}", { asset: b.ref });
    return b.why;
  }

  function rows(sel, items, cells, empty) {
    const body = $(`${sel} tbody`); body.replaceChildren();
    if (!items.length) body.append(werk.emptyRow($(`${sel} thead tr`).children.length, empty));
    for (const x of items) { const tr = el("tr"); for (const [cls, text] of cells(x)) tr.append(el("td", cls, text)); body.append(tr); }
  }

  async function refresh() {
    const [stock, signals, journal] = await Promise.all([
      werk.getJSON("/api/inventory/stock"), werk.getJSON("/api/inventory/signals"), werk.getJSON("/api/inventory/journal?limit=30"),
    ]);
    rows("#stock", stock, (s) => [[null, s.material], [null, s.location], [s.below_point ? "num bad" : "num", num(s.level, 1)],
      ["num", s.reorder_point == null ? "–" : num(s.reorder_point, 0)], ["num", s.days_of_supply == null ? "–" : num(s.days_of_supply, 1)],
      ["num", s.turns_per_year == null ? "–" : num(s.turns_per_year, 1)]], t("no stock booked yet"));
    rows("#signals", signals, (s) => [[null, dateTime(s.ts)], [null, s.material], ["num", num(s.level, 1)], ["num", num(s.quantity, 0)]], t("no material below its reorder point"));
    rows("#journal", journal, (b) => [[null, dateTime(b.ts)], [null, b.material], ["num", num(b.quantity, 2)], [null, KINDS[b.kind] || b.kind], [null, b.who], [null, why(b)]], t("no bookings yet"));
    document.body.dataset.updated = String(Date.now());
  }

  refresh().catch((err) => { $("#stock tbody").textContent = String(err); });
  setInterval(() => refresh().catch(() => {}), 5000);
})();
