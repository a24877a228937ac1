// werk's shared page script: translations, locale formats, fetch helpers, sign-in, SSE and charts.
// Every page loads it before its own script. Texts come from the page (the JSON blob #werk-strings that the
// server renders in the page's language); this file and the page scripts hold no text of their own but msgids
// wrapped in t(), which the catalogs are extracted from.
"use strict";

const werk = (() => {
  const blob = JSON.parse(document.getElementById("werk-strings")?.textContent || "{}");
  const lang = blob.lang || document.documentElement.lang || "en";
  const messages = blob.messages || {};
  const TOKEN_KEY = "werk-token";

  // --- text --------------------------------------------------------------------------------------------------
  /** msgid in the page's language, its {name} fields filled from params. */
  function t(msgid, params) {
    const text = messages[msgid] || msgid;
    return params ? text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m)) : text;
  }
  const state = (code) => (blob.states || {})[code] || code;
  const role = (code) => (blob.roles || {})[code] || code;
  /** A signal's name (the last segment of its path) in the page's language, where werk has words for it. */
  const signal = (name) => (blob.signals || {})[name] || name;

  // --- numbers and times, as the locale writes them (the server formats with Babel the same way) --------------
  const numberFormats = new Map();
  function nf(options) {
    const key = JSON.stringify(options);
    if (!numberFormats.has(key)) numberFormats.set(key, new Intl.NumberFormat(lang, options));
    return numberFormats.get(key);
  }
  const isNum = (x) => typeof x === "number" && Number.isFinite(x);
  const num = (x, digits = 1) => (isNum(x) ? nf({ minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x) : x == null ? "–" : String(x));
  const int = (x) => num(x, 0);
  const pct = (x, digits = 1) => (isNum(x) ? nf({ style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x) : "–");
  const unit = (x, symbol, digits = 1) => (isNum(x) ? `${num(x, digits)}\u00a0${symbol}` : "–");
  /** A duration in seconds, in the largest unit that keeps it readable (as werk.i18n.Formatter.duration). */
  function dur(s) {
    if (!isNum(s)) return "–";
    const u = (n, name, d = 0) => nf({ style: "unit", unit: name, unitDisplay: "short", minimumFractionDigits: d, maximumFractionDigits: d }).format(n);
    if (s < 90) return u(Math.round(s), "second");
    if (s < 5400) return u(Math.round(s / 60), "minute");
    return u(s / 3600, "hour", 1);
  }
  // Times of day are the plant's (its time zone from the plant file), not the browser's: a shift that starts at
  // 06:00 in the plant reads 06:00 to a reader anywhere.
  const tz = blob.timezone || "UTC";
  const toDate = (x) => (x instanceof Date ? x : new Date(x));
  const dateFormats = new Map();
  function df(options) {
    const key = JSON.stringify(options);
    if (!dateFormats.has(key)) dateFormats.set(key, new Intl.DateTimeFormat(lang, { timeZone: tz, ...options }));
    return dateFormats.get(key);
  }
  const time = (x) => df({ hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(toDate(x));
  const hhmm = (x) => df({ hour: "2-digit", minute: "2-digit" }).format(toDate(x));
  const dateTime = (x) => df({ dateStyle: "short", timeStyle: "short" }).format(toDate(x));
  const dayTime = (x) => df({ month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(toDate(x));
  const day = (x) => df({ weekday: "short", month: "2-digit", day: "2-digit" }).format(toDate(x));
  /** The plant's UTC offset (ms) at an instant. */
  function offsetAt(ms) {
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
  }
  /** A datetime-local input's value ("2026-12-06T10:00"), read as the plant's wall-clock time, as a Date. */
  function fromLocal(text) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(text || "");
    if (!m) return null;
    const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    let at = wall;
    for (let i = 0; i < 3; i++) at = wall - offsetAt(at);
    return new Date(at);
  }
  /** A Date as a datetime-local input's value, in the plant's wall-clock time. */
  function toLocal(x) {
    const d = new Date(toDate(x).getTime() + offsetAt(toDate(x).getTime()));
    return d.toISOString().slice(0, 16);
  }

  // --- DOM ------------------------------------------------------------------------------------------------------
  const $ = (sel, root = document) => root.querySelector(sel);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
  /** A table row that says the table is empty. */
  function emptyRow(columns, text) {
    const tr = el("tr", "empty"); const td = el("td", null, text); td.colSpan = columns; tr.append(td);
    return tr;
  }
  const stamp = () => { document.body.dataset.updated = String(Date.now()); };

  // --- HTTP -----------------------------------------------------------------------------------------------------
  const token = () => localStorage.getItem(TOKEN_KEY) || "";
  /** The sign-in session's CSRF token (its cookie is readable by the page; the session's own is not). */
  const csrf = () => (document.cookie.match(/(?:^|;\s*)werk_csrf=([^;]*)/) || [])[1] || "";
  async function getJSON(url) {
    const r = await fetch(url);
    if (!r.ok) {
      // a 503 says why in the reader's language (an app that runs elsewhere than this API replica)
      let said = null;
      try { said = (await r.json()).detail; } catch { said = null; }
      throw new Error(r.status === 503 && typeof said === "string" ? said : t("{url} answered {status}", { url, status: r.status }));
    }
    return r.json();
  }
  /** A write with the signed-in user's token; resolves to {ok, status, body} whatever the answer. */
  async function send(method, url, body) {
    const headers = { "Content-Type": "application/json" };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    else if (csrf()) headers["X-CSRF-Token"] = csrf();  // a signed-in page writes with its session's CSRF token
    const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await r.json(); } catch { data = null; }
    return { ok: r.ok, status: r.status, body: data };
  }
  /** The reason an answer gives for a refusal, for a message. */
  const detail = (res) => (res.body && typeof res.body.detail === "string" ? res.body.detail : `HTTP ${res.status}`);

  // --- sign-in: a token is kept only once GET /api/me says whose it is -----------------------------------------
  async function whoAmI(value) {
    const r = await fetch("/api/me", { headers: { Authorization: `Bearer ${value}` } });
    if (r.ok) return { user: await r.json() };
    return { error: r.status === 401 ? t("unknown token") : t("sign-in failed ({status})", { status: r.status }) };
  }
  function showUser(user, error) {
    const who = $("#who");
    if (!who) return;
    who.classList.toggle("error", Boolean(error));
    who.dataset.role = user ? user.role : "";
    who.textContent = error || (user ? `${user.name} · ${role(user.role)}` : "");
    $("#token").hidden = Boolean(user);
    $("#signin").hidden = Boolean(user);
    $("#signout").hidden = !user;
    document.dispatchEvent(new CustomEvent("werk:user", { detail: user || null }));
  }
  async function signIn(value) {
    if (!value) { showUser(null, t("enter an access token")); return; }
    const { user, error } = await whoAmI(value);
    if (user) { localStorage.setItem(TOKEN_KEY, value); $("#token").value = ""; }
    showUser(user, error);
  }
  function signOut() { localStorage.removeItem(TOKEN_KEY); showUser(null, ""); }
  async function restore() {
    if (!token()) return;
    const { user, error } = await whoAmI(token());
    if (!user) localStorage.removeItem(TOKEN_KEY);
    showUser(user, error);
  }
  document.addEventListener("DOMContentLoaded", () => {
    const form = $("#signin-form");
    if (!form) return;
    form.addEventListener("submit", (e) => { e.preventDefault(); signIn($("#token").value.trim()); });
    $("#signout").addEventListener("click", signOut);
    restore();
  });

  // --- the banner slot: what the apps announce on every page (App.banners), refreshed every few seconds ----------
  const BANNER_EVERY_MS = 5000;
  async function refreshBanners() {
    const box = $("#banners");
    if (!box) return;
    try {
      const r = await fetch("/ui/banners");
      if (!r.ok) return;
      box.replaceChildren(...(await r.json()).map((b) => {
        const div = el("div", `banner ${b.kind || ""}`);
        if (b.href) { const a = el("a", null, b.text); a.href = b.href; div.append(a); } else div.textContent = b.text;
        return div;
      }));
    } catch { /* offline: keep what the page shows */ }
  }
  document.addEventListener("DOMContentLoaded", () => setInterval(refreshBanners, BANNER_EVERY_MS));

  // --- SSE ------------------------------------------------------------------------------------------------------
  /** An EventSource with a handler per event name; onStatus(true|false) follows the connection. */
  function sse(url, handlers, onStatus) {
    const source = new EventSource(url);
    if (onStatus) { source.onopen = () => onStatus(true); source.onerror = () => onStatus(false); }
    for (const [name, fn] of Object.entries(handlers)) source.addEventListener(name, (ev) => fn(JSON.parse(ev.data)));
    return source;
  }

  // --- charts (uPlot) ---------------------------------------------------------------------------------------------
  /** Points [{ts, value}] as uPlot columns [xs (s), ys]; a null value stays null, so the line breaks there. */
  const columns = (points) => [points.map((p) => Date.parse(p.ts) / 1000), points.map((p) => (typeof p.value === "number" ? p.value : null))];
  /**
   * Several point lists on one shared x axis. Where a series has no point at another's time its value is
   * undefined (uPlot draws its line on over it); a null value, and, with gaps (each series' gap_s in seconds), a
   * pause longer than that between two of its points, is a null: its line breaks there.
   */
  function align(lists, gaps = []) {
    const maps = lists.map((pts, i) => {
      const m = new Map();
      let prev = null;
      for (const p of pts) {
        const x = Date.parse(p.ts) / 1000;
        if (gaps[i] && prev !== null && x - prev > gaps[i]) m.set((x + prev) / 2, null);
        m.set(x, typeof p.value === "number" ? p.value : null);
        prev = x;
      }
      return m;
    });
    const xs = Array.from(new Set(maps.flatMap((m) => [...m.keys()]))).sort((a, b) => a - b);
    return [xs, ...maps.map((m) => xs.map((x) => (m.has(x) ? m.get(x) : undefined)))];
  }
  /**
   * A time chart in `box`. series: [{label, color (a CSS variable's name or a colour), scale, width, steps, dash}];
   * `dash: [6, 4]` draws the line dashed (and its legend marker), for reference lines beside data of one colour;
   * `steps: true` draws a value as held until the next one (states, counters, setpoints). A null point breaks
   * the line (a gap in the data is shown as one), unless the series says spanGaps. Returns the uPlot instance;
   * it follows the box's width.
   */
  // x-axis steps in seconds: whole seconds at the least, since a label shows hh:mm:ss
  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 172800, 604800];
  // a tick says what its step needs: the time of day within a day, the day too beyond, only the day beyond a week
  function timeTicks(u, vals) {
    const step = vals.length > 1 ? vals[1] - vals[0] : 1;
    const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
    const f = step >= 86400 ? day : span > 86400 ? dayTime : step >= 60 ? hhmm : time;
    return vals.map((v) => f(v * 1000));
  }
  function chart(box, { series, data, height = 260, scales = {}, axes, legend } = {}) {
    const colour = (c) => (c && !c.startsWith("#") ? cssVar(c) || c : c);
    const axis = (extra) => ({ stroke: cssVar("muted"), grid: { stroke: cssVar("line") }, ticks: { stroke: cssVar("line") }, ...extra });
    // as many decimals as the step between ticks needs (0.5 steps: one)
    const ticks = (u, vals) => {
      const step = vals.length > 1 ? Math.abs(vals[1] - vals[0]) : 1;
      const digits = step >= 1 || step === 0 ? 0 : Math.min(3, Math.ceil(-Math.log10(step) - 1e-9));
      return vals.map((v) => num(v, digits));
    };
    const seriesOf = (s) => {
      const out = {
        label: s.label, stroke: colour(s.color || "chart-1"), width: s.width || 2, spanGaps: Boolean(s.spanGaps),
        points: { show: false }, value: (u, v) => (v == null ? "–" : s.unit ? `${num(v, s.digits ?? 2)}\u00a0${s.unit}` : num(v, s.digits ?? 2)),
      };
      // a key set to undefined would hide uPlot's default (the y scale, linear paths)
      if (s.scale) out.scale = s.scale;
      if (s.steps) out.paths = uPlot.paths.stepped({ align: 1 });
      if (s.dash) out.dash = s.dash;
      return out;
    };
    const opts = {
      width: Math.max(300, box.clientWidth || 800),
      height,
      scales: { x: { time: true }, ...scales },
      // ticks fall on the plant's whole hours and days
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), tz),
      series: [{ label: t("time"), value: (u, v) => (v == null ? "–" : dateTime(v * 1000)) }, ...series.map(seriesOf)],
      // ticks as the locale writes a time of day (uPlot's own labels are English: "3:15pm")
      axes: [
        axis({ space: 100, incrs: TIME_STEPS, values: timeTicks, ...(axes || [])[0] }),
        ...(axes ? axes.slice(1) : [{ size: 60 }]).map((a) => axis({ values: ticks, ...a })),
      ],
    };
    box.replaceChildren();
    // a dashed series' legend marker is dashed too (uPlot merges these into its defaults)
    const dashed = series.some((s) => s.dash) ? { markers: { dash: (u, i) => (u.series[i].dash ? "dashed" : "solid") } } : {};
    if (legend || series.some((s) => s.dash)) opts.legend = { ...dashed, ...(legend || {}) };
    const plot = new uPlot(opts, data || [[], ...series.map(() => [])], box);
    const resize = () => plot.setSize({ width: Math.max(300, box.clientWidth), height });
    window.addEventListener("resize", resize);
    const destroy = plot.destroy.bind(plot);
    plot.destroy = () => { window.removeEventListener("resize", resize); destroy(); };
    return plot;
  }

  return { lang, tz, t, state, role, signal, num, int, pct, unit, dur, time, hhmm, dateTime, dayTime, fromLocal, toLocal, $, el, cssVar, emptyRow, stamp, token, getJSON, send, detail, sse, columns, align, chart, banners: refreshBanners };
})();
