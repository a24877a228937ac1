// The users page: every change goes through /api/security/... with the session's CSRF token (werk.send); a
// password or token werk makes is shown once, then the page reloads the lists.
"use strict";

(() => {
  const { t, $, send, detail } = werk;
  const form = $("#user-form");
  const rows = $("#grant-rows");
  const msg = $("#msg");

  function say(text, error) {
    msg.textContent = text;
    msg.classList.toggle("error", Boolean(error));
  }
  function showSecret(what, secret) {
    $("#secret-what").textContent = what;
    $("#secret").textContent = secret;
    $("#secret-panel").hidden = false;
    $("#secret-panel").scrollIntoView();
  }
  $("#secret-done").addEventListener("click", () => location.reload());
  async function done(res, text) {
    if (!res.ok) { say(detail(res), true); return false; }
    say(text);
    return true;
  }

  function addGrant(g) {
    const row = $("#grant-row").content.firstElementChild.cloneNode(true);
    if (g) {
      row.querySelector("[name=role]").value = g.role;
      row.querySelector("[name=scope]").value = g.scope;
      row.querySelector("[name=signals]").value = (g.signals || []).join(", ");
    }
    row.querySelector(".remove-grant").addEventListener("click", () => row.remove());
    rows.append(row);
  }
  function grants() {
    return [...rows.querySelectorAll(".grant-row")].map((row) => ({
      role: row.querySelector("[name=role]").value,
      scope: row.querySelector("[name=scope]").value.trim(),
      signals: row.querySelector("[name=signals]").value.split(",").map((s) => s.trim()).filter(Boolean),
    }));
  }
  $("#add-grant").addEventListener("click", () => addGrant());

  function reset() {
    form.reset();
    form.mode.value = "add";
    form.name.readOnly = false;
    form.password.closest("label").hidden = false;
    form.kind.closest("label").hidden = false;
    rows.replaceChildren();
    $("#grants-title").textContent = t("Add a user");
    $("#user-cancel").hidden = true;
  }
  $("#user-cancel").addEventListener("click", reset);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = form.name.value.trim();
    if (form.mode.value === "edit") {
      const res = await send("PUT", `/api/security/users/${encodeURIComponent(name)}/grants`, { grants: grants() });
      if (await done(res, t("Grants of {name} saved.", { name }))) location.reload();
      return;
    }
    const body = { name, kind: form.kind.value, grants: grants() };
    if (form.password.value) body.password = form.password.value;
    const res = await send("POST", "/api/security/users", body);
    if (!(await done(res, t("User {name} added.", { name })))) return;
    if (res.body && res.body.password) showSecret(t("The one-time password of {name}:", { name }), res.body.password);
    else location.reload();
  });

  for (const tr of document.querySelectorAll("#users tbody tr[data-user]")) {
    const name = tr.dataset.user;
    const url = `/api/security/users/${encodeURIComponent(name)}`;
    tr.querySelector(".edit-grants").addEventListener("click", () => {
      reset();
      form.mode.value = "edit";
      form.name.value = name;
      form.name.readOnly = true;
      form.password.closest("label").hidden = true;
      form.kind.closest("label").hidden = true;
      for (const g of JSON.parse(tr.dataset.grants || "[]")) addGrant(g);
      $("#grants-title").textContent = t("Grants of {name}", { name });
      $("#user-cancel").hidden = false;
      form.scrollIntoView();
    });
    tr.querySelector(".reset-password").addEventListener("click", async () => {
      const res = await send("POST", `${url}/password`, {});
      if (await done(res, t("Password of {name} reset.", { name }))) {
        showSecret(t("The one-time password of {name}:", { name }), res.body.password);
      }
    });
    for (const [cls, what] of [["disable", t("{name} disabled.", { name })], ["enable", t("{name} enabled.", { name })]]) {
      const button = tr.querySelector(`.${cls}`);
      if (button) button.addEventListener("click", async () => {
        if (await done(await send("POST", `${url}/${cls}`), what)) location.reload();
      });
    }
  }

  for (const tr of document.querySelectorAll("#tokens tbody tr[data-token]")) {
    const button = tr.querySelector(".revoke");
    if (button) button.addEventListener("click", async () => {
      const id = tr.dataset.token;
      if (await done(await send("POST", `/api/security/tokens/${encodeURIComponent(id)}/revoke`), t("Token {id} revoked.", { id }))) location.reload();
    });
  }

  $("#token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = { user: f.user.value, label: f.label.value };
    if (f.role.value) body.role = f.role.value;
    if (f.scope.value.trim()) body.scope = f.scope.value.trim();
    if (f.days.value) body.expires_in_s = Number(f.days.value) * 86400;
    const res = await send("POST", "/api/security/tokens", body);
    if (await done(res, t("Token {id} created.", { id: res.body ? res.body.id : "" }))) {
      showSecret(t("The token of {name}:", { name: body.user }), res.body.token);
    }
  });
})();
