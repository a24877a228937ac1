"""Two ``werk api`` replicas (real uvicorn servers on loopback, each with its own werk file) over one PostgreSQL
server, as behind a load balancer: a user made through one signs in on the other, a session cookie of one is taken
by the other, a token revoked on one is refused by the other at once, both list the one audit trail, and a sign-in
begun at the identity provider through one is finished through the other."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import bounded, plant_config, serving
from werk.api import create_app
from werk.api.auth import CSRF_COOKIE
from werk.config.model import GrantConfig, OidcConfig, WerkConfig
from werk.core.access import SESSION_COOKIE
from werk.runtime.platform import Platform
from werk.security.audit import AuditLog
from werk.store.app_postgres import PostgresAppDatabase

BOSS = {"Authorization": "Bearer boss-token-1"}  # an administrator of the plant file, known to both
LINE1 = "acme/augsburg/machining/line-1"
SECRET_ENV = "WERK_TEST_OIDC_SECRET"


@asynccontextmanager
async def replica(config: WerkConfig, werk_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A replica as ``werk api`` runs it (no apps, no connectors) with its own werk file, and a client of it."""
    historian = config.historian.model_copy(update={"path": str(werk_file)})
    platform = Platform(config.model_copy(update={"historian": historian}))
    platform.connectors = []
    await bounded("platform.start", platform.start())
    try:
        assert isinstance(platform.app_db, PostgresAppDatabase)
        async with (
            serving(create_app(platform), config.server) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield http
    finally:
        await bounded("platform.stop", platform.stop())


async def sign_in(http: httpx.AsyncClient, user: str, password: str) -> tuple[str, str]:
    """The sign-in page's form, filled in: the session cookie's value and its CSRF token."""
    form = (await http.get("/signin")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    r = await http.post("/signin", data={"user": user, "password": password, "csrf": csrf.group(1)})
    assert r.status_code == 303, r.text
    return r.cookies[SESSION_COOKIE], r.cookies[CSRF_COOKIE]


def on_postgresql(tmp_path: Path, pg_url: str, oidc: OidcConfig | None = None) -> WerkConfig:
    base = plant_config(tmp_path, users={"boss": ("admin", "boss-token-1")})
    security = base.server.security.model_copy(update={"oidc": oidc})
    return base.model_copy(
        update={
            "historian": base.historian.model_copy(update={"backend": "postgresql", "url": pg_url}),
            "server": base.server.model_copy(update={"security": security}),
        }
    )


async def test_replicas_over_one_postgresql_share_users_sessions_tokens_and_the_audit(
    tmp_path: Path, pg_url: str
) -> None:
    config = on_postgresql(tmp_path, pg_url)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(replica(config, tmp_path / "a.db"))
        b = await stack.enter_async_context(replica(config, tmp_path / "b.db"))

        made = await a.post(
            "/api/security/users",
            json={"name": "ada", "password": "ada-secret-12", "grants": [{"role": "viewer"}]},
            headers=BOSS,
        )
        assert made.status_code == 201, made.text
        assert [u["name"] for u in (await b.get("/api/security/users", headers=BOSS)).json()] == ["ada"]

        # signed in on b, the cookie is taken by a; signed out on a, b refuses it
        session, csrf = await sign_in(b, "ada", "ada-secret-12")
        cookie = {"Cookie": f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={csrf}"}
        me = await a.get("/api/me", headers=cookie)
        assert me.status_code == 200 and me.json()["name"] == "ada"
        assert (await a.get("/api/signals", headers=cookie)).status_code == 200

        # a token made on b works on a; revoked on a, b refuses it on the next request
        created = await b.post("/api/security/tokens", json={"user": "ada", "label": "laptop"}, headers=BOSS)
        assert created.status_code == 201, created.text
        bearer = {"Authorization": f"Bearer {created.json()['token']}"}
        assert (await a.get("/api/signals", headers=bearer)).status_code == 200
        assert (await b.get("/api/signals", headers=bearer)).status_code == 200
        revoked = await a.post(f"/api/security/tokens/{created.json()['id']}/revoke", headers=BOSS)
        assert revoked.status_code == 204
        assert (await b.get("/api/signals", headers=bearer)).status_code == 401

        out = await a.post("/signout", headers={**cookie, "X-CSRF-Token": csrf}, data={"csrf": csrf})
        assert out.status_code == 303, out.text
        assert (await b.get("/api/signals", headers=cookie)).status_code == 401

        # one audit trail, written by both, listed alike by both, its chain intact
        rows_a = (await a.get("/api/audit", headers=BOSS)).json()
        rows_b = (await b.get("/api/audit", headers=BOSS)).json()
        assert rows_a == rows_b
        actions = [(r["action"], r["who"]) for r in rows_a]
        for done in [
            ("user.add", "boss"),  # on a
            ("signin", "ada"),  # on b
            ("token.create", "boss"),  # on b
            ("token.revoke", "boss"),  # on a
            ("auth.refused", ""),  # the revoked token on b
            ("signout", "ada"),  # on a
            ("auth.refused", ""),  # the closed session on b
        ]:
            assert done in actions, (done, actions)
            actions = actions[actions.index(done) + 1 :]  # in this order
        db = PostgresAppDatabase(pg_url)
        db.open()
        try:
            assert AuditLog(db).verify() == []
        finally:
            db.close()


@pytest.fixture
def provider() -> Iterator[str]:
    """An OpenID Connect provider on loopback (as tests/security/test_oidc.py runs it); its user olga."""
    mock = pytest.importorskip("oidc_provider_mock", reason="pip install -e '.[dev]'")
    olga = mock.User(sub="olga-sub", claims={"preferred_username": "olga", "groups": ["line1-viewers"]})
    with mock.run_server_in_thread(require_nonce=True, user_claims=[olga]) as server:
        yield f"http://localhost:{server.server_port}"


async def test_a_sign_in_begun_at_the_provider_through_one_replica_is_finished_through_the_other(
    tmp_path: Path, pg_url: str, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cret-of-the-test")
    oidc = OidcConfig(
        issuer=provider,
        client_id="werk-test",
        client_secret_env=SECRET_ENV,
        grants={"line1-viewers": [GrantConfig(role="viewer", scope=LINE1)]},
    )
    config = on_postgresql(tmp_path, pg_url, oidc)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(replica(config, tmp_path / "a.db"))
        b = await stack.enter_async_context(replica(config, tmp_path / "b.db"))
        begun = await a.get("/signin/oidc", params={"next": "/oee"})
        assert begun.status_code == 303, begun.text
        authorize = begun.headers["location"]
        async with httpx.AsyncClient(timeout=30) as idp:
            assert (await idp.get(authorize)).status_code == 200
            back = await idp.post(authorize, data={"sub": "olga-sub"})
        assert back.status_code in (302, 303), back.text
        callback = urlsplit(back.headers["location"])
        # the load balancer sends the browser, with its state cookie, to the other replica
        state = begun.cookies["werk_oidc_state"]
        done = await b.get(
            f"{callback.path}?{callback.query}", headers={"Cookie": f"werk_oidc_state={state}"}
        )
        assert done.status_code == 200 and 'content="0;url=/oee"' in done.text, done.text
        cookie = {"Cookie": f"{SESSION_COOKIE}={done.cookies[SESSION_COOKIE]}"}
        me = await a.get("/api/me", headers=cookie)
        assert me.status_code == 200 and me.json() == {"name": "olga", "role": "viewer"}
        # the state is spent, on every replica
        again = await a.get(
            f"{callback.path}?{callback.query}", headers={"Cookie": f"werk_oidc_state={state}"}
        )
        assert again.status_code == 401
