// The alarm page: the live list (priority, then newest), acknowledge and shelve, what is hidden and why, the
// journal and the KPIs of the last 24 hours with how much of them werk watched. Polls the API every two seconds;
// beeps for unacknowledged high and medium alarms unless the sound is switched off (remembered in this browser).
// A browser lets a page play sound only after a click on it: until then the page says so, with a button.
"use strict";

(() => {
  const { t, $, el, num, dateTime, time } = werk;
  const SOUND_KEY = "werk-alarm-sound";
  const PRIORITY = { high: t("high"), medium: t("medium"), low: t("low") };
  const STATE = {
    normal: t("normal"), unack: t("unacknowledged"), acked: t("acknowledged"), rtn_unack: t("returned, unacknowledged"),
    latched: t("latched"), shelved: t("shelved"), suppressed: t("suppressed"), out_of_service: t("out of service"),
  };
  const ACTION = {
    activate: t("raised"), clear: t("cleared"), acknowledge: t("acknowledged"), shelve: t("shelved"),
    unshelve: t("unshelved"), shelve_expired: t("shelve expired"), suppress: t("suppressed"),
    unsuppress: t("no longer suppressed"), remove_from_service: t("removed from service"),
    return_to_service: t("returned to service"),
  };
  const FIGURE = {
    per_hour: t("alarms per operator per hour"), per_10min: t("alarms per operator per 10 minutes"),
    peak_10min: t("peak alarms in 10 minutes"), flood_share: t("10-minute periods in flood"),
    top10_share: t("share of the top 10 alarms"), chattering: t("chattering alarms"), stale: t("stale alarms"),
    priority: t("priority distribution, largest deviation"),
  };
  const TARGET = {
    per_hour: t("≤ 6 (≤ 12 manageable)"), per_10min: t("≤ 1 (≤ 2 manageable)"), peak_10min: "≤ 10",
    flood_share: "< 1 %", top10_share: "≤ 5 %", chattering: "0", stale: "< 5",
    priority: t("80 / 15 / 5 % (± 10 points)"),
  };
  const GRADE = {
    met: t("met"), manageable: t("manageable"), "not met": t("not met"), "no data": t("no data"),
    "too few": t("too few alarms to grade"), "too short": t("too little observed time to grade (under 1 h)"),
  };
  const SHARE = new Set(["flood_share", "top10_share", "priority"]);
  const COUNT = new Set(["peak_10min", "chattering", "stale"]);
  let shelving = null;
  let audio = null;

  // today's times to the second, older ones with their date
  const stamp = (x) => (new Date(x).toDateString() === new Date().toDateString() ? time(x) : dateTime(x));
  const prio = (p) => el("span", `prio ${p}`, PRIORITY[p] || p);
  const value = (v, u) => (typeof v === "number" ? (u ? werk.unit(v, u, 2) : num(v, 2)) : v == null ? "–" : String(v));
  function say(text, error) { const m = $("#msg"); m.textContent = text; m.classList.toggle("error", Boolean(error)); }

  async function act(id, action, body) {
    const res = await werk.send("POST", `/api/alarms/${encodeURIComponent(id)}/${action}`, body || {});
    if (!res.ok) {
      say(res.status === 401 ? t("sign in to act on alarms") : res.status === 403 ? t("your role may not do this") : werk.detail(res), true);
      return;
    }
    say(t("{alarm}: {state}", { alarm: id, state: STATE[res.body.state] || res.body.state }));
    refresh();
    werk.banners();
  }

  function button(label, cls, fn) {
    const b = el("button", cls, label); b.type = "button"; b.addEventListener("click", fn); return b;
  }

  function liveRow(a) {
    const tr = el("tr", a.state); tr.dataset.id = a.id; tr.dataset.state = a.state;
    const msg = el("td", null, a.message);
    const notes = [];
    if (a.response) notes.push(t("response: {text}", { text: a.response }));
    if (a.consequence) notes.push(t("consequence: {text}", { text: a.consequence }));
    msg.title = notes.join("\n");
    const actions = el("td", "actions");
    if (["unack", "rtn_unack", "latched"].includes(a.state)) actions.append(button(t("Acknowledge"), "ack", () => act(a.id, "acknowledge")));
    actions.append(button(t("Shelve"), "shelve", () => openShelve(a)));
    const td0 = el("td"); td0.append(prio(a.priority));
    tr.append(td0, el("td", null, a.since ? stamp(a.since) : "–"), el("td", null, a.asset), msg,
      el("td", "num", value(a.value, a.unit)), el("td", "state", STATE[a.state] || a.state), actions);
    return tr;
  }

  function hiddenRow(a) {
    const tr = el("tr", a.state); tr.dataset.id = a.id; tr.dataset.state = a.state;
    const td0 = el("td"); td0.append(prio(a.priority));
    const by = a.shelved_by || a.out_of_service_by || "";
    const why = a.shelved_why || a.out_of_service_why || (a.suppressed_by ? werk.state(a.suppressed_by) : "");
    const until = a.state === "shelved" ? (a.shelved_until ? time(a.shelved_until) : t("until it clears")) : "";
    const actions = el("td", "actions");
    if (a.state === "shelved") actions.append(button(t("Unshelve"), "unshelve", () => act(a.id, "unshelve")));
    tr.append(td0, el("td", null, a.asset), el("td", null, a.message), el("td", "state", STATE[a.state] || a.state),
      el("td", null, by), el("td", null, why), el("td", null, until), actions);
    return tr;
  }

  function openShelve(a) {
    shelving = a.id;
    $("#shelve-alarm").textContent = `${a.asset} · ${a.message}`;
    $("#shelve-why").value = "";
    $("#shelve-dialog").showModal();
    $("#shelve-why").focus();
  }

  /** The page's audio, made once; null where the browser has none. */
  function audioContext() {
    if (audio === null && typeof AudioContext === "function") {
      try { audio = new AudioContext(); audio.addEventListener("statechange", soundNote); } catch { audio = false; }
    }
    return audio || null;
  }

  // the browser keeps a page's audio suspended until someone clicks on the page: say so while the sound is on
  function soundNote() {
    const on = $("#sound").checked;
    const ctx = on ? audioContext() : null;
    $("#sound-none").hidden = !on || ctx !== null;
    $("#sound-enable").hidden = !on || ctx === null || ctx.state !== "suspended";
  }

  function enableSound() {
    const ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume().then(soundNote, soundNote);
  }

  function beep() {
    const ctx = audioContext();
    soundNote();
    if (!ctx || ctx.state !== "running") return;
    try {
      const o = ctx.createOscillator(); const g = ctx.createGain();
      o.frequency.value = 880; g.gain.value = 0.08; o.connect(g); g.connect(ctx.destination);
      o.start(); o.stop(ctx.currentTime + 0.25);
    } catch { /* the audio failed: nothing else to do here */ }
  }

  async function refresh() {
    const q = new URLSearchParams();
    if ($("#area").value) q.set("area", $("#area").value);
    if ($("#priority").value) q.set("priority", $("#priority").value);
    const live = await werk.getJSON(`/api/alarms?${q}`);
    const hq = new URLSearchParams(q); for (const s of ["shelved", "suppressed", "out_of_service"]) hq.append("state", s);
    const hidden = await werk.getJSON(`/api/alarms?${hq}`);
    const body = $("#active tbody");
    body.replaceChildren(...(live.alarms.length ? live.alarms.map(liveRow) : [werk.emptyRow(7, t("no active alarms"))]));
    const hbody = $("#hidden tbody");
    hbody.replaceChildren(...(hidden.alarms.length ? hidden.alarms.map(hiddenRow) : [werk.emptyRow(8, t("none"))]));
    const c = live.counts;
    $("#counts").textContent = t("{unack} unacknowledged · {shelved} shelved · {suppressed} suppressed",
      { unack: c.unack || 0, shelved: c.shelved || 0, suppressed: c.suppressed || 0 });
    if ($("#sound").checked && live.alarms.some((a) => a.state === "unack" && a.priority !== "low")) beep();
    const rows = await werk.getJSON("/api/alarms/journal?limit=50");
    $("#journal tbody").replaceChildren(...(rows.length ? rows.map((r) => {
      const tr = el("tr"); tr.dataset.action = r.action;
      tr.append(el("td", null, stamp(r.ts)), el("td", null, r.alarm), el("td", null, ACTION[r.action] || r.action),
        el("td", null, STATE[r.after] || r.after), el("td", null, r.who),
        el("td", null, r.action === "suppress" || r.action === "unsuppress" ? werk.state(r.why) : r.why));
      return tr;
    }) : [werk.emptyRow(6, t("nothing yet"))]));
    werk.stamp();
  }

  function kpiRows(k) {
    return k.figures.map((f) => {
      const tr = el("tr"); tr.dataset.key = f.key;
      const v = f.value == null ? "–" : SHARE.has(f.key) ? werk.pct(f.value) : COUNT.has(f.key) ? werk.int(f.value) : num(f.value, 2);
      tr.append(el("td", null, FIGURE[f.key] || f.key), el("td", "num", v), el("td", null, TARGET[f.key] || f.target),
        el("td", `grade-${f.grade.replace(" ", "-")}`, GRADE[f.grade] || f.grade));
      return tr;
    });
  }

  // how much of the range werk watched the alarms: the rates and the flood share are over that time only
  function seenNote(k) {
    const note = $("#kpi-seen");
    const seen = werk.dur(k.observed_hours * 3600); const range = werk.dur(k.hours * 3600);
    note.dataset.share = String(k.observed_share);
    note.classList.toggle("partial", k.observed_share < 0.999);
    if (k.observed_share >= 0.999) { note.textContent = t("werk watched the alarms for all of these {range}", { range }); return; }
    const spans = k.observed.length;
    const text = [spans === 1
      ? t("werk watched the alarms for {seen} of these {range}, from {time}", { seen, range, time: stamp(k.observed[0].start) })
      : spans > 1
        ? t("werk watched the alarms for {seen} of these {range}, in {n} stretches", { seen, range, n: spans })
        : t("werk watched the alarms for {seen} of these {range}", { seen, range })];
    text.push(t("rates and the flood share are over the watched time only"));
    note.textContent = text.join(" · ");
  }

  async function renderKpi() {
    const k = await werk.getJSON("/api/alarms/kpi");
    seenNote(k);
    $("#kpi tbody").replaceChildren(...kpiRows(k));
  }

  /** An alarm log from this computer, graded by the server (nothing is stored). */
  async function gradeLog(e) {
    e.preventDefault();
    const file = $("#log-file").files[0];
    if (!file) { $("#log-msg").textContent = t("choose a CSV file"); return; }
    const headers = { "Content-Type": "text/csv" };
    if (werk.token()) headers.Authorization = `Bearer ${werk.token()}`;
    const r = await fetch("/api/alarms/kpi/import", { method: "POST", headers, body: await file.text() });
    let body = null;
    try { body = await r.json(); } catch { body = null; }
    if (!r.ok) {
      const d = body && body.detail;
      $("#log-msg").textContent = r.status === 401 ? t("sign in to act on alarms") : Array.isArray(d) ? d.map((x) => x.msg).join("; ") : String(d || r.status);
      $("#log-kpi").hidden = true;
      return;
    }
    $("#log-msg").textContent = t("{n} alarms in {hours} hours", { n: werk.int(body.activations), hours: num(body.hours, 1) });
    $("#log-kpi tbody").replaceChildren(...kpiRows(body));
    $("#log-kpi").hidden = false;
  }

  async function fillAreas() {
    const all = await werk.getJSON("/api/alarms?all=true");
    const areas = [...new Set(all.alarms.map((a) => a.area))].sort();
    $("#area").append(...areas.map((a) => { const o = el("option", null, a); o.value = a; return o; }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    fillAreas().catch((err) => say(String(err), true));
    const sound = $("#sound");
    sound.checked = localStorage.getItem(SOUND_KEY) !== "off";
    sound.addEventListener("change", () => { localStorage.setItem(SOUND_KEY, sound.checked ? "on" : "off"); enableSound(); soundNote(); });
    $("#sound-enable").addEventListener("click", enableSound);
    // any click on the page lets the browser start the audio
    document.addEventListener("pointerdown", () => { if (sound.checked) enableSound(); }, true);
    soundNote();
    $("#area").addEventListener("change", refresh);
    $("#priority").addEventListener("change", refresh);
    $("#shelve-cancel").addEventListener("click", () => $("#shelve-dialog").close());
    $("#log-form").addEventListener("submit", (e) => gradeLog(e).catch((err) => say(String(err), true)));
    $("#shelve-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const why = $("#shelve-why").value.trim();
      if (!why) { $("#shelve-why").reportValidity(); return; }
      const span = $("#shelve-for").value;
      $("#shelve-dialog").close();
      act(shelving, "shelve", span === "once" ? { why, one_shot: true } : { why, duration_s: Number(span) });
    });
    const loop = () => refresh().catch((err) => say(String(err), true)).finally(() => setTimeout(loop, 2000));
    loop();
    // the KPIs move slowly, but while werk has watched for minutes the observed time changes them: once a minute
    const kpiLoop = () => renderKpi().catch((err) => say(String(err), true)).finally(() => setTimeout(kpiLoop, 60_000));
    kpiLoop();
  });
})();
