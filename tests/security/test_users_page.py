"""The administrators' users page and its API: add a user with grants, change them, disable, reset a password,
create and revoke tokens, each audited with before and after; a session's write needs its CSRF token; a person
who is not an administrator is refused. Over loopback against the server as ``werk serve`` runs it, and in
headless Chromium."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import chromium_path
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS
from tests.security.stack import LINE1, LINE2, PASSWORD, secure_config, secure_stack

SHOTS = Path(os.environ.get("WERK_SCREENSHOTS", "")) if os.environ.get("WERK_SCREENSHOTS") else None


async def _sign_in(http: httpx.AsyncClient, user: str, password: str) -> str:
    """Signs ``http`` in through the form; the session's CSRF token."""
    page = await http.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    r = await http.post(
        "/signin", data={"user": user, "password": password, "csrf": csrf.group(1), "next": "/"}
    )
    assert r.status_code == 303, r.text
    return http.cookies["werk_csrf"]


async def test_an_administrator_manages_users_and_tokens_through_the_api(tmp_path: Path) -> None:
    config = secure_config(tmp_path)
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        root = stack.auth("root")
        body = {"name": "lina", "grants": [{"role": "viewer", "scope": LINE1}]}
        # a session's write without its CSRF token is refused, with it it goes through
        session = httpx.AsyncClient(base_url=stack.url, timeout=30)
        async with session:
            csrf = await _sign_in(session, "root", PASSWORD)
            bare = await session.post("/api/security/users", json=body)
            assert bare.status_code == 403 and "CSRF" in bare.text
            r = await session.post("/api/security/users", json=body, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 201, r.text
        made = r.json()["password"]
        assert made and len(made) >= 12  # a one-time password, in this answer only
        users = {u["name"]: u for u in (await http.get("/api/security/users", headers=root)).json()}
        assert users["lina"]["grants"] == [{"role": "viewer", "scope": LINE1, "signals": []}]
        assert made not in json.dumps(users)
        # the name is taken; a scope naming no part of the plant grants nothing, so it is refused
        again = await http.post("/api/security/users", json=body, headers=root)
        assert again.status_code == 409
        typo = {"grants": [{"role": "viewer", "scope": f"{LINE1}-typo"}]}
        r = await http.put("/api/security/users/lina/grants", json=typo, headers=root)
        assert r.status_code == 422 and "names no part of the plant" in r.text
        # lina signs in with the one-time password and sees line 1
        lina = httpx.AsyncClient(base_url=stack.url, timeout=30)
        async with lina:
            await _sign_in(lina, "lina", made)
            assert (await lina.get("/api/assets")).status_code == 200
            # not an administrator: refused on the page and the API
            assert (await lina.get("/users")).status_code == 403
            assert (await lina.get("/api/security/users")).status_code == 403
        # grants changed: supervisor of line 2 with a writable signal
        new = {"grants": [{"role": "supervisor", "scope": LINE2, "signals": [f"{LINE2}/+/+/feed_override"]}]}
        r = await http.put("/api/security/users/lina/grants", json=new, headers=root)
        assert r.status_code == 200 and r.json()["grants"][0]["scope"] == LINE2, r.text
        r = await http.post(
            "/api/security/users/lina/password", json={"password": "a-new-pass-1"}, headers=root
        )
        assert r.status_code == 200 and r.json()["password"] is None
        # a token, its secret shown once, works until revoked
        r = await http.post("/api/security/tokens", json={"user": "lina", "label": "plc"}, headers=root)
        assert r.status_code == 201, r.text
        token, token_id = r.json()["token"], r.json()["id"]
        listed = (await http.get("/api/security/tokens", headers=root)).json()
        assert token_id in [t["id"] for t in listed] and token not in json.dumps(listed)
        mine = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/me", headers=mine)).json()["name"] == "lina"
        r = await http.post(f"/api/security/tokens/{token_id}/revoke", headers=root)
        assert r.status_code == 204
        assert (await http.get("/api/assets", headers=mine)).status_code == 401
        # disabled: every credential of the user refused; enabled again: back
        r = await http.post("/api/security/tokens", json={"user": "lina"}, headers=root)
        second = {"Authorization": f"Bearer {r.json()['token']}"}
        assert (await http.post("/api/security/users/lina/disable", headers=root)).status_code == 204
        assert (await http.get("/api/assets", headers=second)).status_code == 401
        assert (await http.post("/api/security/users/lina/enable", headers=root)).status_code == 204
        assert (await http.get("/api/assets", headers=second)).status_code == 200
        assert (await http.post("/api/security/users/nobody/disable", headers=root)).status_code == 404
        # a supervisor may not manage users
        r = await http.post("/api/security/users", json={"name": "x1"}, headers=stack.auth("sup1"))
        assert r.status_code == 403
        rows = (await http.get("/api/audit", headers=root)).json()
    actions = [(r["action"], r["target"]) for r in rows]
    for expected in [
        ("user.add", "lina"), ("role.set", "lina"), ("user.passwd", "lina"), ("user.disable", "lina"),
        ("user.enable", "lina"),
    ]:  # fmt: skip
        assert expected in actions, (expected, actions)
    changed = [r for r in rows if r["action"] == "role.set" and r["target"] == "lina"][-1]
    assert LINE1 in changed["before"] and LINE2 in changed["after"] and changed["who"] == "root"
    assert any(a == "token.create" and t.startswith("lina/") for a, t in actions)
    assert any(a == "token.revoke" and t == f"lina/{token_id}" for a, t in actions)
    assert made not in json.dumps(rows) and token not in json.dumps(rows)


async def test_the_users_routes_are_typed_in_openapi(tmp_path: Path) -> None:
    config = secure_config(tmp_path)
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        spec = (await http.get("/openapi.json", headers=stack.auth("root"))).json()
    paths = spec["paths"]
    for path, method, model in [
        ("/api/security/users", "post", "UserIn"),
        ("/api/security/users/{name}/grants", "put", "GrantsIn"),
        ("/api/security/users/{name}/password", "post", "PasswordIn"),
        ("/api/security/tokens", "post", "TokenIn"),
    ]:
        op = paths[path][method]
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/" + model), (path, ref)
        assert {"401", "403"} <= set(op["responses"]), path
    for path in ("/api/security/users/{name}/disable", "/api/security/users/{name}/enable"):
        assert "404" in paths[path]["post"]["responses"]


@pytest.mark.browser
async def test_an_administrator_adds_a_user_of_line_1_who_then_sees_only_line_1(tmp_path: Path) -> None:
    exe = chromium_path()
    from playwright.async_api import Page, async_playwright

    config = secure_config(tmp_path)
    line1 = {r.name for r in config.assets() if r.path.startswith(LINE1 + "/")}

    async def sign_in(page: Page, user: str, password: str) -> None:
        await page.goto(stack.url + "/signin")
        await page.fill("input[name=user]", user)
        await page.fill("input[name=password]", password)
        await page.click("#password-signin button[type=submit]")
        await page.wait_for_url(stack.url + "/")

    async with secure_stack(config) as stack, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await sign_in(page, "root", PASSWORD)
            nav = [n.strip() for n in await page.locator("header nav a").all_inner_texts()]
            assert nav[-1] == "Users"
            await page.click("header nav a[href='/users']")
            await page.wait_for_url(stack.url + "/users")
            assert "vera" in await page.text_content("#users")
            await page.fill("#user-form input[name=name]", "lina")
            await page.click("#add-grant")
            await page.select_option("#grant-rows select[name=role]", "viewer")
            await page.fill("#grant-rows input[name=scope]", LINE1)
            await page.click("#user-save")
            await page.wait_for_selector("#secret-panel:not([hidden])")
            password = (await page.text_content("#secret") or "").strip()
            assert len(password) >= 12
            if SHOTS is not None:
                await page.screenshot(path=str(SHOTS / "users-admin.png"), full_page=True)
            await page.click("#secret-done")
            await page.wait_for_selector("#users tr[data-user=lina]")
            assert LINE1 in (await page.text_content("#users tr[data-user=lina] .grants") or "")
            await page.click("#session-signout")
            await page.wait_for_url(stack.url + "/signin")

            await sign_in(page, "lina", password)
            await page.wait_for_selector("#assets .card")
            cards = set(
                await page.locator("#assets .card").evaluate_all("cs => cs.map(c => c.dataset.asset)")
            )
            assert cards == line1
            nav = [n.strip() for n in await page.locator("header nav a").all_inner_texts()]
            assert "Users" not in nav
            if SHOTS is not None:
                await page.screenshot(path=str(SHOTS / "users-line1.png"), full_page=True)
            refused = await page.goto(stack.url + "/users?lang=de")
            assert refused is not None and refused.status == 403
            assert "Administrator" in (await page.text_content("#users-refused") or "")
        finally:
            await browser.close()
