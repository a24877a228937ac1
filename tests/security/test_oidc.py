"""Sign-in through an OpenID Connect provider, end to end over loopback: a real provider (Authlib's authorization
server, as the package oidc-provider-mock runs it) started by the test, werk as ``werk serve`` runs it, and an HTTP
client that follows the browser's redirects."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import chromium_path
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS
from tests.security.stack import LINE1, secure_config, secure_stack
from werk.config.model import GrantConfig, OidcConfig
from werk.errors import ConfigError
from werk.security.oidc import OidcClient

oidc_provider_mock = pytest.importorskip("oidc_provider_mock", reason="pip install -e '.[dev]'")

SECRET_ENV = "WERK_TEST_OIDC_SECRET"


@pytest.fixture
def provider() -> Iterator[str]:
    """The provider's issuer URL; its users: olga (group line1-viewers), nobody-mapped, vera (a name werk's own
    users hold)."""
    users = [
        oidc_provider_mock.User(
            sub="olga-sub", claims={"preferred_username": "olga", "groups": ["line1-viewers", "x"]}
        ),
        oidc_provider_mock.User(
            sub="other-sub", claims={"preferred_username": "nomap", "groups": ["cafeteria"]}
        ),
        oidc_provider_mock.User(
            sub="vera-sub", claims={"preferred_username": "vera", "groups": ["line1-viewers"]}
        ),
    ]
    with oidc_provider_mock.run_server_in_thread(require_nonce=True, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


def _config(tmp_path: Path, issuer: str) -> object:
    oidc = OidcConfig(
        issuer=issuer,
        client_id="werk-test",
        client_secret_env=SECRET_ENV,
        name="Plant SSO",
        grants={"line1-viewers": [GrantConfig(role="viewer", scope=LINE1)]},
    )
    return secure_config(tmp_path, oidc=oidc)


async def _through_provider(http: httpx.AsyncClient, sub: str) -> httpx.Response:
    """The browser's way: werk's /signin/oidc, the provider's form (the person picks ``sub``), back to werk's
    callback; werk's last answer."""
    r = await http.get("/signin/oidc", params={"next": "/oee"})
    assert r.status_code == 303, r.text
    authorize = r.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    async with httpx.AsyncClient(timeout=30) as idp:
        form = await idp.get(authorize)
        assert form.status_code == 200
        back = await idp.post(authorize, data={"sub": sub})
    assert back.status_code in (302, 303), back.text
    callback = back.headers["location"]
    assert callback.startswith(str(http.base_url).rstrip("/") + "/signin/oidc/callback?")
    return await http.get(callback)


async def test_a_person_signs_in_through_the_provider_and_sees_their_line(
    tmp_path: Path, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cret-of-the-test")
    config = _config(tmp_path, provider)
    async with secure_stack(config) as stack:  # type: ignore[arg-type]
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
            page = await http.get("/signin")
            assert 'id="oidc-signin"' in page.text and "Plant SSO" in page.text
            r = await _through_provider(http, "olga-sub")
            # a page of werk's goes on to where the person was going (see werk.api.security's open_session)
            assert r.status_code == 200 and 'content="0;url=/oee"' in r.text, r.text
            assert http.cookies.get("werk_session") and http.cookies.get("werk_csrf")
            me = (await http.get("/api/me")).json()
            assert me["name"] == "olga" and me["role"] == "viewer"
            names = {a["name"] for a in (await http.get("/api/assets")).json()}
            assert names == {r.name for r in config.assets() if r.path.startswith(LINE1 + "/")}  # type: ignore[attr-defined]
            # a viewer writes nothing; and the callback cannot be replayed (the state is spent)
            assert (await http.get("/users")).status_code == 403
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as other:
            r = await _through_provider(other, "other-sub")  # claims that map to no grant
            assert r.status_code == 401 and "werk_session" not in other.cookies
            r = await _through_provider(other, "vera-sub")  # a name of werk's own users is never taken over
            assert r.status_code == 401 and "werk_session" not in other.cookies
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as third:
            # a callback whose state is not this browser's (another site sent it here) opens no session
            r = await third.get("/signin/oidc")
            state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
            third.cookies.delete("werk_oidc_state")
            r = await third.get("/signin/oidc/callback", params={"state": state, "code": "forged"})
            assert r.status_code == 401 and "werk_session" not in third.cookies
        root = stack.auth("root")
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
            users = {u["name"]: u for u in (await http.get("/api/security/users", headers=root)).json()}
            rows = (await http.get("/api/audit", headers=root)).json()
    assert users["olga"]["kind"] == "oidc" and users["olga"]["grants"] == [
        {"role": "viewer", "scope": LINE1, "signals": []}
    ]
    assert "nomap" not in users and users["vera"]["kind"] == "person"
    signins = [(r["action"], r["target"]) for r in rows if r["action"].startswith("signin")]
    assert ("signin", "olga") in signins
    assert sum(1 for a, t in signins if a == "signin.failed" and t == "oidc") == 3
    assert not any("s3cret" in str(r) for r in rows)


async def test_the_id_token_is_checked_against_the_providers_keys_and_claims(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token signed by another key, or for another client, or with another nonce, is refused."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    client = OidcClient(OidcConfig(issuer=provider, client_id="werk-test"))
    meta = await client.discover()
    assert meta["issuer"] == provider
    keys = await client.keys()
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    claims = {"iss": provider, "aud": "werk-test", "sub": "x", "nonce": "n1", "exp": 4_000_000_000, "iat": 1}
    forged = jwt.encode({"alg": "RS256", "kid": "stranger"}, claims, stranger)
    with pytest.raises(Exception, match="ID token is refused"):
        await client.verify(forged, "n1")
    # the provider's own key id, another key's signature
    kid = keys.keys[0].kid
    forged = jwt.encode({"alg": "RS256", "kid": kid}, claims, stranger)
    with pytest.raises(Exception, match="ID token is refused"):
        await client.verify(forged, "n1")
    unsigned = re.sub(r"\.[^.]*$", ".", forged)
    with pytest.raises(Exception, match="ID token is refused"):
        await client.verify(unsigned, "n1")
    # nonce and audience are checked (a token for another client, or of another sign-in)
    ours = OidcClient(OidcConfig(issuer=provider, client_id="werk-test"))
    ours._keys = (1e18, _keyset(stranger))  # trust the stranger to see the claim checks on their own
    good = jwt.encode({"alg": "RS256", "kid": "stranger"}, claims, stranger)
    assert (await ours.verify(good, "n1"))["sub"] == "x"
    with pytest.raises(Exception, match="nonce"):
        await ours.verify(good, "n2")
    other = jwt.encode({"alg": "RS256", "kid": "stranger"}, {**claims, "aud": "someone-else"}, stranger)
    with pytest.raises(Exception, match="aud"):
        await ours.verify(other, "n1")
    late = jwt.encode({"alg": "RS256", "kid": "stranger"}, {**claims, "exp": 1000}, stranger)
    with pytest.raises(Exception, match="exp"):
        await ours.verify(late, "n1")


def _keyset(key: object) -> object:
    from joserfc.jwk import KeySet

    return KeySet([key])  # type: ignore[list-item]


def test_a_missing_client_secret_or_a_plain_http_issuer_elsewhere_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(ConfigError, match=SECRET_ENV):
        OidcClient(OidcConfig(issuer="https://sso.example", client_id="w", client_secret_env=SECRET_ENV))
    with pytest.raises(ConfigError, match="https"):
        OidcClient(OidcConfig(issuer="http://sso.example", client_id="w"))


@pytest.mark.browser
async def test_a_person_signs_in_through_the_provider_in_a_browser(
    tmp_path: Path, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider's page is on another site (localhost against werk's 127.0.0.1): the state cookie must come
    back with the provider's redirect, and the session cookie must hold on werk's pages after it."""
    exe = chromium_path()
    from playwright.async_api import async_playwright

    monkeypatch.setenv(SECRET_ENV, "s3cret-of-the-test")
    config = _config(tmp_path, provider)
    line1 = {r.name for r in config.assets() if r.path.startswith(LINE1 + "/")}  # type: ignore[attr-defined]
    async with secure_stack(config) as stack, async_playwright() as pw:  # type: ignore[arg-type]
        browser = await pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(stack.url + "/")
            assert page.url.startswith(stack.url + "/signin")
            await page.click("#oidc-signin")
            await page.wait_for_url(provider + "/oauth2/authorize*")
            await page.click("button[name=sub][value=olga-sub]")
            await page.wait_for_url(stack.url + "/")
            assert await page.text_content("#session-user") == "olga"
            await page.wait_for_selector("#assets .card")
            cards = await page.locator("#assets .card").evaluate_all("cs => cs.map(c => c.dataset.asset)")
            assert set(cards) == line1
        finally:
            await browser.close()
