"""The API's door, tried from outside over loopback: every mutating route of /openapi.json refused to every
caller that may not, one test per OWASP API Security Top 10 (2023) risk that applies to werk, the front door's
host check and headers, and the audit of what came through."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path

import httpx
import pytest

from tests.security.stack import LINE1, LINE2, PASSWORD, secure_config, secure_stack

WRITE_METHODS = ("post", "put", "patch", "delete")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _fill(path: str, aas_id: str) -> str:
    """A concrete path of a route template, naming cnc-1 (line 1) wherever a parameter can name an asset."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.lower().startswith("aas") or name == "aasIdentifier":
            return _b64(aas_id)
        if "identifier" in name.lower() or (name.lower().endswith("id") and "submodel" in name.lower()):
            return _b64(aas_id + "/submodels/OperationalData")
        if name == "idShortPath":
            return "feed_override"
        if name == "name":
            return "cnc-1"
        return "cnc-1@1"

    return re.sub(r"{([^}]+)}", value, path)


async def test_every_mutating_route_refuses_every_caller_that_may_not(tmp_path: Path) -> None:
    """Generated from /openapi.json (the AAS API's routes included): no credentials, a wrong token, an expired
    token, a role too weak (viewer), a role on another part of the plant (supervisor of line 2, the route naming
    an asset of line 1): none succeeds, each is refused with 401 or 403."""
    config = secure_config(tmp_path)
    aas_id = config.asset("cnc-1").aas_id
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        spec = (await http.get("/openapi.json", headers=stack.auth("vera"))).json()
        cases = {
            "no credentials": ({}, 401),
            "wrong token": ({"Authorization": "Bearer wk_0badc0ffee00.not-the-secret"}, 401),
            "expired token": (stack.auth("expired"), 401),
            "role too weak": (stack.auth("vera"), 403),
            "another part of the plant": (stack.auth("sup2"), 403),
        }
        tried, wrong = 0, []
        for template, operations in spec["paths"].items():
            for method in operations:
                if method not in WRITE_METHODS:
                    continue
                url = _fill(template, aas_id)
                for case, (headers, expected) in cases.items():
                    r = await http.request(method.upper(), url, json={}, headers=headers)
                    tried += 1
                    if r.status_code != expected:
                        wrong.append(f"{method.upper()} {template} ({case}): {r.status_code} {r.text[:120]}")
        assert tried >= 5 * 40, f"only {tried} cases: the OpenAPI document lost its write routes?"
        assert wrong == [], "\n".join(wrong)


async def test_api1_broken_object_level_authorization(tmp_path: Path) -> None:
    """A supervisor of line 2 may not change an object of line 1 (the AAS API, the fast path's PATCH $value);
    a viewer of line 1 may not read an asset of line 2."""
    config = secure_config(tmp_path)
    cnc = config.asset("cnc-1")
    press = config.asset("press-1")
    sm = lambda ref: _b64(ref.aas_id + "/submodels/OperationalData")  # noqa: E731
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        # an unbound Property of line 1's machine, the fast path's write
        url = f"/api/v3.0/submodels/{sm(cnc)}/submodel-elements/feed_override/$value"
        r = await http.patch(url, json=90, headers=stack.auth("sup2"))
        assert r.status_code == 403 and LINE1 in r.text, r.text
        r = await http.get(f"/api/assets/{press.name}", headers=stack.auth("view1"))
        assert r.status_code == 403 and LINE2 in r.text
        assert (await http.get(f"/api/assets/{cnc.name}", headers=stack.auth("view1"))).status_code == 200
        r = await http.get(f"/api/v3.0/submodels/{sm(press)}", headers=stack.auth("view1"))
        assert r.status_code == 403
        assert (
            await http.get(f"/api/v3.0/submodels/{sm(cnc)}", headers=stack.auth("view1"))
        ).status_code == 200


async def test_api2_broken_authentication(tmp_path: Path) -> None:
    """Guessing tokens gets a client 429 with Retry-After after the limit, for its right token too; wrong
    passwords lock the user, and every failed sign-in is in the audit trail."""
    config = secure_config(tmp_path, max_failures=10, failure_window_s=60, lockout_after=3)
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        statuses = [
            (await http.get("/api/me", headers={"Authorization": f"Bearer wrong-{i}"})).status_code
            for i in range(25)
        ]
        assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
        r = await http.get("/api/me", headers=stack.auth("root"))
        assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
        # a write too, before anything is looked at
        r = await http.post("/api/v3.0/submodels", json={}, headers=stack.auth("root"))
        assert r.status_code == 429
    config = secure_config(tmp_path / "b", lockout_after=3)
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        form = (await http.get("/signin")).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        for _ in range(3):
            r = await http.post("/signin", data={"user": "sup1", "password": "wrong", "csrf": csrf.group(1)})
            assert r.status_code == 401
        r = await http.post("/signin", data={"user": "sup1", "password": PASSWORD, "csrf": csrf.group(1)})
        assert r.status_code == 401, "a locked user is refused with the right password too"
        audit = (await http.get("/api/audit", headers=stack.auth("root"))).json()
        failed = [row for row in audit if row["action"] == "signin.failed"]
        assert len(failed) == 4 and "locked" in failed[-1]["after"]


async def test_api3_broken_object_property_level_authorization(tmp_path: Path) -> None:
    """What the security API shows never holds a password hash or a token's secret or digest."""
    config = secure_config(tmp_path)
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        users = await http.get("/api/security/users", headers=stack.auth("root"))
        tokens = await http.get("/api/security/tokens", headers=stack.auth("root"))
        assert users.status_code == tokens.status_code == 200
        text = users.text + tokens.text
        assert "argon2" not in text and "digest" not in text and "salt" not in text and "password" not in text
        for token in stack.tokens.values():
            assert token.split(".")[1] not in text
        assert {u["name"] for u in users.json()} >= {"root", "sup1"}


async def test_api4_unrestricted_resource_consumption(tmp_path: Path) -> None:
    """A body over the limit is refused before it is read; a flood of refused credentials is cut off (429)."""
    config = secure_config(tmp_path, max_failures=5)
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        big = b"x" * (config.server.max_body_bytes + 1)
        r = await http.post("/api/v3.0/submodels", content=big, headers=stack.auth("root"))
        assert r.status_code == 413
        for _ in range(5):
            await http.get("/api/me", headers={"Authorization": "Bearer nope"})
        assert (await http.get("/api/me", headers={"Authorization": "Bearer nope"})).status_code == 429


async def test_api5_broken_function_level_authorization(tmp_path: Path) -> None:
    """Administrators' functions refuse an engineer (whole plant, one rank below)."""
    config = secure_config(tmp_path)
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        for method, url in (
            ("GET", "/api/security/users"),
            ("GET", "/api/security/tokens"),
            ("GET", "/api/audit"),
            ("POST", "/api/security/tokens/x/revoke"),
        ):
            r = await http.request(method, url, headers=stack.auth("eng"))
            assert r.status_code == 403 and "'admin'" in r.text, (url, r.text)
        token_id = stack.tokens["vera"][3:].split(".")[0]
        r = await http.post(f"/api/security/tokens/{token_id}/revoke", headers=stack.auth("root"))
        assert r.status_code == 204
        # revoked at run time: the next request (after the server's one-second trust) is refused
        await asyncio.sleep(1.1)
        assert (await http.get("/api/me", headers=stack.auth("vera"))).status_code == 401


async def test_api8_security_misconfiguration(tmp_path: Path) -> None:
    """Another host name (DNS rebinding) is refused, no CORS for a foreign origin, security headers on every
    answer, reads closed to anonymous callers once users exist, no server banner."""
    config = secure_config(tmp_path)
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        r = await http.get("/api/plant", headers={"Host": "evil.example:8080", **stack.auth("root")})
        assert r.status_code == 400 and "allowed_hosts" in r.text
        r = await http.get("/api/plant", headers={"Origin": "https://evil.example", **stack.auth("root")})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "server" not in r.headers
        assert (await http.get("/api/plant")).status_code == 401
        assert (await http.get("/api/v3.0/shells")).status_code == 401
        r = await http.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/signin")
        assert (await http.get("/api/health")).status_code == 200  # the one open read
    config = secure_config(tmp_path / "open", anonymous_read=True, cors_origins=["https://hmi.example"])
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        assert (await http.get("/api/plant")).status_code == 200
        r = await http.get("/api/plant", headers={"Origin": "https://hmi.example"})
        assert r.headers["access-control-allow-origin"] == "https://hmi.example"


async def test_api9_improper_inventory_management(tmp_path: Path) -> None:
    """Every write route outside the AAS API is in the OpenAPI document with its 401 and 403, so clients and the
    generated test above know them all (the AAS API documents its errors as Part 2 Result bodies,
    tests/aas/http/test_openapi.py)."""
    config = secure_config(tmp_path)
    async with secure_stack(config) as stack, httpx.AsyncClient(base_url=stack.url) as http:
        spec = (await http.get("/openapi.json", headers=stack.auth("vera"))).json()
    writes = [
        (method, path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in WRITE_METHODS and not path.startswith("/api/v3.0")
    ]
    assert len(writes) >= 4
    for method, path in writes:
        responses = spec["paths"][path][method]["responses"]
        assert "401" in responses and "403" in responses, (method, path)


async def test_a_plant_file_grant_on_a_part_that_does_not_exist_is_refused_at_start(tmp_path: Path) -> None:
    from werk.api import create_app
    from werk.config.model import GrantConfig, UserConfig
    from werk.errors import WerkError
    from werk.runtime.platform import Platform
    from werk.security.secrets import plant_token_hash

    config = secure_config(tmp_path)
    typo = UserConfig(
        name="scada",
        role="operator",
        token_hash=plant_token_hash("t"),
        grants=[GrantConfig(role="operator", scope="augsburg/machining/line-9")],
    )
    config = config.model_copy(update={"server": config.server.model_copy(update={"users": [typo]})})
    platform = Platform(config)
    await platform.start()
    try:
        with pytest.raises(
            WerkError, match=r"server.users\[0\].grants\[0\].scope: 'augsburg/machining/line-9'"
        ):
            create_app(platform)
    finally:
        await platform.stop()
