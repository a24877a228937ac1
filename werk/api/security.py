"""The front door of the HTTP server, the sign-in page, and the security API.

:class:`SecurityFront` is plain ASGI middleware in front of everything else werk serves (the AAS fast path
included, ``werk.api.http_server.add_front``). For every request, in order:

1. **Host** must be one the server answers (``server.security.allowed_hosts``, plus localhost, 127.0.0.1, ::1
   and the bind address): a page on another site whose name is made to resolve to 127.0.0.1 (DNS rebinding)
   sends its own name, and is answered 400.
2. **CORS** only for the origins ``server.security.cors_origins`` names (none by default: another site's script
   gets no answer it may read).
3. **Rate limit**: a client past its refused-credential limit is answered 429 with ``Retry-After``
   (:class:`werk.security.limits.FailureLimiter`) before any credential of it is looked at.
4. **Reads** need a viewer grant (on what they name, where they name something) once local users exist, unless
   ``server.security.anonymous_read``; a page without a sign-in is sent to ``/signin``. ``/static``, ``/signin``
   and ``/api/health`` stay open.
5. **Writes** are decided by the routes (:meth:`werk.api.auth.Authenticator.authorize`); every one, refused or
   not, is an audit row (who, from where, method and path, status) written before its answer goes out.
6. **Headers** on every answer: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, a
   Content-Security-Policy that forbids framing, plugins and foreign form targets, ``Referrer-Policy``, and
   ``Strict-Transport-Security`` when the server speaks TLS.

Sign-in (``/signin``) is a form: user name and password, checked against the Argon2 hash
(werk.security.store), with a CSRF token in a cookie and the form (double submit) so another site cannot sign a
browser in. Success sets ``werk_session`` (HttpOnly, SameSite=Strict, Secure under TLS) and ``werk_csrf`` (read by
the page's script, sent as ``X-CSRF-Token`` with every write).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import socket
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from werk.aas.http.common import API_PREFIX, error_body
from werk.api.auth import CSRF_COOKIE, WRITES, Authenticator
from werk.api.schemas import ErrorOut
from werk.config.model import ServerConfig
from werk.core.access import ROLES, SESSION_COOKIE, Caller, Grant, Role, permits
from werk.core.model import User, utcnow
from werk.core.uns import SEGMENT_PATTERN
from werk.errors import InputError, Unauthorized, UnsPathError
from werk.i18n import N_
from werk.security.oidc import PENDING_TTL_S, OidcClient, OidcError
from werk.security.store import SignInRefused, TokenRow
from werk.ui.labels import role_labels
from werk.ui.pages import Pages

log = logging.getLogger(__name__)

CSP = b"frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
OPEN_PREFIXES = ("/static/", "/signin", "/signout", "/api/health")
PRE_CSRF_COOKIE = "werk_signin_csrf"
OIDC_STATE_COOKIE = "werk_oidc_state"
PASSWORD_MIN = 8
"""The shortest password an administrator may set through the API."""


def allowed_hosts(server: ServerConfig) -> frozenset[str] | None:
    """The Host names the server answers; None: any (``*``)."""
    extra = server.security.allowed_hosts
    if "*" in extra:
        return None
    hosts = {"localhost", "127.0.0.1", "::1", server.host.lower(), *(h.lower() for h in extra)}
    if server.host in ("0.0.0.0", "::", ""):
        hosts |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return frozenset(hosts)


def host_name(value: str) -> str:
    """``example.org:8080`` -> ``example.org``; ``[::1]:8080`` -> ``::1``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


class SecurityFront:
    """ASGI middleware: host, rate limit, reads, audit of writes, headers (see the module docstring)."""

    def __init__(self, app: ASGIApp, auth: Authenticator, server: ServerConfig) -> None:
        self.auth = auth
        self.hosts = allowed_hosts(server)
        self.tls = server.tls is not None
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"content-security-policy", CSP),
        ]
        if server.tls is not None and server.tls.hsts_max_age_s:
            headers.append((b"strict-transport-security", f"max-age={server.tls.hsts_max_age_s}".encode()))
        self.headers = headers
        origins = list(server.security.cors_origins)
        self.app: ASGIApp = (
            CORSMiddleware(app, allow_origins=origins, allow_methods=["*"], allow_headers=["*"])
            if origins
            else app
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = self.headers

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        if self.hosts is not None:
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
            if host is not None and host_name(host) not in self.hosts:
                return await _answer(
                    with_headers, 400,
                    f"this server does not answer for host {host!r}: add it to server.security.allowed_hosts",
                )  # fmt: skip
        caller = Caller.of(scope)
        path: str = scope["path"]
        if caller.method in WRITES:
            return await self._write(scope, receive, with_headers, caller)
        if caller.method == "OPTIONS" or path.startswith(OPEN_PREFIXES) or path == "/favicon.ico":
            return await self.app(scope, receive, with_headers)
        try:
            self.auth.may_read(caller, self._read_target(scope))
        except Unauthorized as exc:
            if exc.status == 401 and not path.startswith("/api/") and path != "/openapi.json":
                location = "/signin?next=" + quote(path, safe="/")
                response = RedirectResponse(location, status_code=303)
                return await response(scope, receive, with_headers)
            return await _answer(with_headers, exc.status, str(exc), exc.headers, path)
        return await self.app(scope, receive, with_headers)

    async def _write(self, scope: Scope, receive: Receive, send: Send, caller: Caller) -> None:
        """A write passes to the routes (they authorize it) with its answer audited before it goes out."""
        wait = self.auth.limiter.retry_after(caller.client) if caller.has_credential else 0
        if wait:
            return await _answer(
                send, 429, f"too many refused credentials from {caller.client}; try again in {wait} s",
                {"Retry-After": str(wait)}, caller.path,
            )  # fmt: skip
        audit = self.auth.audit
        if audit is None or caller.path in ("/signin", "/signout"):  # those audit themselves, with the user
            return await self.app(scope, receive, send)

        async def audited(message: Message) -> None:
            if message["type"] == "http.response.start":
                user = scope.get("state", {}).get("user")
                await asyncio.to_thread(
                    audit.record,
                    "api.write",
                    f"{caller.method} {caller.path}",
                    who=getattr(user, "name", ""),
                    client=caller.client,
                    after={"status": message["status"]},
                )
            await send(message)

        return await self.app(scope, receive, audited)

    def _read_target(self, scope: Scope) -> str | None:
        """The UNS path a read names: an asset (path or ``asset``), a signal (``path``), a ``prefix``, an AAS
        object; None when it names none (then a viewer grant anywhere will do)."""
        path: str = scope["path"]
        auth = self.auth
        if path.startswith("/api/assets/"):
            return auth.asset_paths.get(path.removeprefix("/api/assets/").partition("/")[0])
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "asset" in query:
            return auth.asset_paths.get(query["asset"][0], "\x00unknown")
        for key in ("path", "prefix"):
            if key in query and query[key][0] and len(query[key]) == 1:
                return str(query[key][0].rstrip("/"))
        return auth.targets(path) if auth.targets is not None else None


async def _answer(
    send: Send, status: int, text: str, headers: dict[str, str] | None = None, path: str = ""
) -> None:
    """An error as the part of the API answers it: a Part 2 Result body under the AAS prefix, else FastAPI's."""
    body = json.dumps(
        error_body(status, text) if path.startswith(API_PREFIX + "/") else {"detail": text}
    ).encode()
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    out += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


# --- sign-in ------------------------------------------------------------------------------------------------------


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


class TokenOut(BaseModel):
    id: str
    user: str
    label: str
    role: str | None
    scope: str | None
    created: str
    expires: str | None
    revoked: str | None


class GrantOut(BaseModel):
    role: str
    scope: str
    signals: list[str]


class GrantIn(BaseModel):
    """One grant: ``role`` on ``scope`` (a UNS path prefix; "" the whole plant) and the signals under it its
    holder may write to the machine (UNS patterns)."""

    role: Role
    scope: str = Field(default="", max_length=1000)
    signals: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=200
    )


class GrantsIn(BaseModel):
    """Every grant a user is to hold (replacing those it holds)."""

    grants: list[GrantIn] = Field(max_length=200)


class UserIn(BaseModel):
    """A new local user. A person signs in with a password: ``password`` as the administrator sets it, or none
    for a one-time password werk makes and answers once. A machine client has tokens only."""

    name: str = Field(min_length=1, max_length=200, pattern=SEGMENT_PATTERN)
    kind: Literal["person", "machine"] = "person"
    password: str | None = Field(default=None, min_length=PASSWORD_MIN, max_length=1000)
    grants: list[GrantIn] = Field(default_factory=list, max_length=200)


class PasswordIn(BaseModel):
    """A new password; none: werk makes a one-time one and answers it once."""

    password: str | None = Field(default=None, min_length=PASSWORD_MIN, max_length=1000)


class PasswordOut(BaseModel):
    """The user, and the password werk made (null when the administrator set it): shown this once, never
    stored in clear."""

    name: str
    password: str | None


class TokenIn(BaseModel):
    """A new API token of ``user``, limited to ``role`` and ``scope`` (never more than its user holds)."""

    user: str = Field(min_length=1, max_length=200)
    label: str = Field(default="", max_length=200)
    role: Role | None = None
    scope: str | None = Field(default=None, max_length=1000)
    expires_in_s: float | None = Field(default=None, gt=0, le=10 * 365 * 24 * 3600)


class TokenCreatedOut(TokenOut):
    """The new token's row and its secret ``token``: shown this once, never stored."""

    token: str


class UserOut(BaseModel):
    """A local user as an administrator sees it: never its password hash, never its tokens' secrets."""

    name: str
    kind: str
    disabled: bool
    locked: bool
    grants: list[GrantOut]


def one_time_password() -> str:
    """A password werk makes for a new user or a reset: 16 random characters, shown once to the administrator."""
    return secrets.token_urlsafe(12)


def user_out(u: Any) -> UserOut:
    return UserOut(
        name=u.name, kind=u.kind, disabled=u.disabled, locked=u.locked_until is not None,
        grants=[GrantOut(role=g.role, scope=g.scope, signals=list(g.signals)) for g in u.grants],
    )  # fmt: skip


def security_router(auth: Authenticator, pages: Pages, server: ServerConfig) -> APIRouter:
    """``/signin``, ``/signout`` and the administrators' ``/api/security/...`` and ``/api/audit``."""
    r = APIRouter()
    store = auth.store
    ttl = server.security.session_ttl_s
    secure = server.tls is not None
    # begun sign-ins wait in werk's database: the provider may send the browser back to another replica
    oidc = OidcClient(server.security.oidc, pending=store) if server.security.oidc is not None else None

    def open_session(request: Request, name: str, next: str, *, from_elsewhere: bool = False) -> Response:
        """A werk session for ``name`` (cookies set) and the way on to ``next``: a redirect, or, when the request
        came from another site (the identity provider's redirect), a page of werk's that goes on by itself, since a
        browser holds back SameSite=Strict cookies for the rest of a redirect chain another site began."""
        assert store is not None
        client = request.client.host if request.client else ""
        value, csrf_token = store.open_session(name, client=client, ttl_s=ttl)
        response: Response
        if from_elsewhere:
            response = pages.render(request, "signin_done.html", {"next": _safe_next(next)})
        else:
            response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(SESSION_COOKIE, value, max_age=int(ttl), httponly=True, samesite="strict", secure=secure)  # fmt: skip
        response.set_cookie(CSRF_COOKIE, csrf_token, max_age=int(ttl), httponly=False, samesite="strict", secure=secure)  # fmt: skip
        return response

    def page(request: Request, error: str = "", status: int = 200) -> Response:
        token = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
        t = pages.translator(pages.language(request))
        context = {
            "csrf": token,
            "next": _safe_next(request.query_params.get("next")),
            "error": t.gettext(error) if error else "",
            "local_users": auth.local_users(),
            "oidc": oidc.config.name if oidc is not None else "",
        }
        response = pages.render(request, "signin.html", context, status=status)
        response.set_cookie(PRE_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/signin")  # fmt: skip
        return response

    @r.get("/signin", include_in_schema=False)
    async def signin_page(request: Request) -> Response:
        return page(request)

    @r.post("/signin", include_in_schema=False)
    async def signin(
        request: Request,
        user: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=1000)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        client = request.client.host if request.client else ""
        expected = request.cookies.get(PRE_CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(expected, csrf):
            return page(request, N_("The form expired; please sign in again."), 403)
        wait = auth.limiter.retry_after(client)
        if wait:
            response = page(request, N_("Too many failed attempts; please wait a minute."), 429)
            response.headers["Retry-After"] = str(wait)
            return response
        if store is None:
            return page(request, N_("Wrong user name or password."), 401)
        try:
            who = await asyncio.to_thread(store.sign_in, user, password, client=client)
        except SignInRefused as exc:
            auth.limiter.failed(client)
            await asyncio.to_thread(
                store.audit.record, "signin.failed", user[:200], client=client,
                after={"reason": str(exc), "locked_until": exc.locked_until},
            )  # fmt: skip
            # one message for every reason: the page tells nobody which names exist or are locked
            return page(request, N_("Wrong user name or password, or the user is locked."), 401)
        response = await asyncio.to_thread(open_session, request, who.name, next)
        await asyncio.to_thread(store.audit.record, "signin", who.name, who=who.name, client=client)
        response.delete_cookie(PRE_CSRF_COOKIE, path="/signin")
        return response

    @r.get("/signin/oidc", include_in_schema=False)
    async def oidc_begin(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
        """Off to the OpenID Connect provider; the ``state`` it comes back with is bound to this browser by a
        cookie (a sign-in another site starts cannot finish in this browser)."""
        if oidc is None or store is None:
            raise HTTPException(404, "no OpenID Connect provider is configured (server.security.oidc)")
        redirect = oidc.config.redirect_uri or str(request.url_for("oidc_callback"))
        try:
            url, state = await oidc.begin(redirect, _safe_next(next))
        except OidcError as exc:
            log.warning("oidc.refused step=begin reason=%s", exc)
            return page(
                request, N_("The sign-in through the identity provider failed; please try again."), 502
            )
        response = RedirectResponse(url, status_code=303)
        # Lax, not Strict: the provider's redirect back is a navigation from another site
        response.set_cookie(OIDC_STATE_COOKIE, state, max_age=int(PENDING_TTL_S), httponly=True, samesite="lax", secure=secure, path="/signin/oidc")  # fmt: skip
        return response

    @r.get("/signin/oidc/callback", include_in_schema=False, name="oidc_callback")
    async def oidc_callback(
        request: Request,
        state: Annotated[str, Query(max_length=500)] = "",
        code: Annotated[str, Query(max_length=4000)] = "",
        error: Annotated[str, Query(max_length=500)] = "",
    ) -> Response:
        """Back from the provider: the code redeemed, the ID token checked, a werk session opened."""
        if oidc is None or store is None:
            raise HTTPException(404, "no OpenID Connect provider is configured (server.security.oidc)")
        client = request.client.host if request.client else ""
        bound = request.cookies.get(OIDC_STATE_COOKIE, "")
        try:
            if error:
                raise OidcError(f"the provider answered error={error!r}")
            if not state or not code or not bound or not hmac.compare_digest(bound, state):
                raise OidcError("the state is missing or not this browser's")
            signed, next = await oidc.finish(state, code)
            grants = tuple(Grant(g.role, auth.scope(g.scope), tuple(g.signals)) for g in signed.grants)
            who = await asyncio.to_thread(
                store.external_sign_in, signed.name, grants, via="oidc", client=client
            )
        except (OidcError, SignInRefused, InputError) as exc:
            auth.limiter.failed(client)
            log.warning("oidc.refused client=%s reason=%s", client, exc)
            await asyncio.to_thread(
                store.audit.record, "signin.failed", "oidc", client=client, after={"reason": str(exc)}
            )
            response = page(
                request, N_("The sign-in through the identity provider failed; please try again."), 401
            )
            response.delete_cookie(OIDC_STATE_COOKIE, path="/signin/oidc")
            return response
        response = await asyncio.to_thread(open_session, request, who.name, next, from_elsewhere=True)
        await asyncio.to_thread(
            store.audit.record, "signin", who.name, who=who.name, client=client, after={"via": "oidc"}
        )
        response.delete_cookie(OIDC_STATE_COOKIE, path="/signin/oidc")
        return response

    @r.post("/signout", include_in_schema=False)
    async def signout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        value = request.cookies.get(SESSION_COOKIE, "")
        client = request.client.host if request.client else ""
        if value and store is not None:
            session = store.session(value)
            if session is None or not hmac.compare_digest(session.csrf, csrf):
                raise HTTPException(403, "signing out needs the session's CSRF token")
            name = await asyncio.to_thread(store.close_session, value)
            await asyncio.to_thread(store.audit.record, "signout", name or "", who=name or "", client=client)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        response.delete_cookie(CSRF_COOKIE)
        return response

    # --- the administrators' page: users, grants, tokens (every change through the API below) ---------------------

    def scopes() -> list[str]:
        """Every part of the plant a grant may name: each prefix of every asset's UNS path below the
        enterprise (site, area, line, cell, asset)."""
        out: set[str] = set()
        for path in auth.asset_paths.values():
            parts = path.split("/")
            out |= {"/".join(parts[:i]) for i in range(2, len(parts) + 1)}
        return sorted(out)

    @r.get("/users", include_in_schema=False)
    async def users_page(request: Request) -> Response:
        user = request.scope.get("state", {}).get("user") or auth.user(request)
        if user is None or not permits(user.grants, "admin", None) or store is None:
            return pages.render(request, "users.html", {"refused": True}, status=403)
        rows = await asyncio.to_thread(store.users)
        tokens = await asyncio.to_thread(store.tokens)
        context = {
            "refused": False,
            "users": rows,
            "tokens": tokens,
            "scopes": scopes(),
            "roles": ROLES,
            "role_names": role_labels(pages.translator(pages.language(request))),
            "grant_data": {
                u.name: [{"role": g.role, "scope": g.scope, "signals": list(g.signals)} for g in u.grants]
                for u in rows
            },
            "me": user.name,
            "now": utcnow(),
        }
        return pages.render(request, "users.html", context)

    # --- the administrators' API --------------------------------------------------------------------------------

    admin = auth.require("admin")

    def need_store() -> Any:
        if store is None:
            raise HTTPException(404, "no local users here")
        return store

    admin_only = [Depends(admin)]

    def who(request: Request) -> tuple[str, str]:
        user: User = request.state.user
        return user.name, request.client.host if request.client else ""

    def user_or_404(name: str) -> None:
        if need_store().user(name) is None:
            raise HTTPException(404, f"no user {name!r}; GET /api/security/users lists them")

    def grants_of(grants: list[GrantIn]) -> list[Grant]:
        """The grants of a body, each scope a full UNS path naming a part of the plant (a typo grants nothing,
        so it is refused)."""
        out = []
        for i, g in enumerate(grants):
            scope = auth.scope(g.scope.strip("/"))
            known = auth.asset_paths.values()
            if scope and not any(p == scope or p.startswith(scope + "/") for p in known):
                raise InputError(
                    f"{g.scope!r} names no part of the plant (site/area/line/cell/asset)",
                    ("body", "grants", i, "scope"),
                )
            out.append(Grant(g.role, scope, tuple(g.signals)))
        return out

    def token_out(t: TokenRow) -> dict[str, Any]:
        return dict(
            id=t.id, user=t.user, label=t.label, role=t.role, scope=t.scope, created=t.created.isoformat(),
            expires=t.expires.isoformat() if t.expires else None,
            revoked=t.revoked.isoformat() if t.revoked else None,
        )  # fmt: skip

    @r.post(
        "/api/security/users", status_code=201, response_model=PasswordOut, tags=["security"],
        dependencies=admin_only, responses={409: {"model": ErrorOut, "description": "the name is taken"}},
    )  # fmt: skip
    async def add_user(body: UserIn, request: Request) -> PasswordOut:
        """Add a local user with its grants (admin). A person without a ``password`` gets a one-time one, in
        the answer only. Audited (``user.add``, ``role.set``)."""
        store = need_store()
        by, client = who(request)
        made = None
        if body.kind == "person" and body.password is None:
            made = one_time_password()
        grants = grants_of(body.grants)
        if await asyncio.to_thread(store.user, body.name) is not None:
            raise HTTPException(409, f"user {body.name!r} exists already")
        try:
            await asyncio.to_thread(
                store.add_user,
                body.name,
                password=body.password or made,
                kind=body.kind,
                by=by,
                client=client,
            )
        except UnsPathError as exc:  # the pattern of the body's schema says the same
            raise InputError(str(exc), ("body", "name")) from None
        if grants:
            await asyncio.to_thread(store.set_grants, body.name, grants, by=by, client=client)
        return PasswordOut(name=body.name, password=made)

    @r.put(
        "/api/security/users/{name}/grants",
        response_model=UserOut,
        tags=["security"],
        dependencies=admin_only,
    )
    async def set_grants(name: str, body: GrantsIn, request: Request) -> UserOut:
        """Replace every grant of a user (admin): role, scope on the plant tree, writable signals. One audit row
        (``role.set``) with the grants before and after."""
        user_or_404(name)
        by, client = who(request)
        await asyncio.to_thread(need_store().set_grants, name, grants_of(body.grants), by=by, client=client)
        return user_out(need_store().user(name))

    @r.post(
        "/api/security/users/{name}/disable", status_code=204, tags=["security"], dependencies=admin_only,
        responses={409: {"model": ErrorOut, "description": "an administrator does not disable itself"}},
    )  # fmt: skip
    async def disable(name: str, request: Request) -> Response:
        """Disable a user (admin): its sessions end, its tokens are refused from now on. Audited."""
        user_or_404(name)
        by, client = who(request)
        if name == by:
            raise HTTPException(409, "an administrator does not disable itself")
        await asyncio.to_thread(need_store().set_disabled, name, True, by=by, client=client)
        return Response(status_code=204)

    @r.post("/api/security/users/{name}/enable", status_code=204, tags=["security"], dependencies=admin_only)
    async def enable(name: str, request: Request) -> Response:
        """Enable a disabled user again (admin). Audited."""
        user_or_404(name)
        by, client = who(request)
        await asyncio.to_thread(need_store().set_disabled, name, False, by=by, client=client)
        return Response(status_code=204)

    @r.post(
        "/api/security/users/{name}/password", response_model=PasswordOut, tags=["security"],
        dependencies=admin_only,
    )  # fmt: skip
    async def reset_password(name: str, body: PasswordIn, request: Request) -> PasswordOut:
        """Set a user's password (admin); none in the body: a one-time one, in the answer only. Its sessions
        end and a lock-out is lifted. Audited (``user.passwd``, never the password)."""
        user_or_404(name)
        by, client = who(request)
        made = one_time_password() if body.password is None else None
        await asyncio.to_thread(
            need_store().set_password, name, body.password or made or "", by=by, client=client
        )
        return PasswordOut(name=name, password=made)

    @r.post(
        "/api/security/tokens", status_code=201, response_model=TokenCreatedOut, tags=["security"],
        dependencies=admin_only,
    )  # fmt: skip
    async def create_token(body: TokenIn, request: Request) -> TokenCreatedOut:
        """A new API token for a user (admin): the secret is in this answer only. Audited (``token.create``)."""
        store = need_store()
        if await asyncio.to_thread(store.user, body.user) is None:
            raise InputError(f"no user {body.user!r}; GET /api/security/users lists them", ("body", "user"))
        by, client = who(request)
        scope = auth.scope(body.scope.strip("/")) if body.scope else None
        token, row = await asyncio.to_thread(
            store.create_token, body.user, label=body.label, role=body.role, scope=scope,
            expires_in_s=body.expires_in_s, by=by, client=client,
        )  # fmt: skip
        return TokenCreatedOut(token=token, **token_out(row))

    @r.get("/api/security/users", response_model=list[UserOut], tags=["security"], dependencies=admin_only)
    async def users() -> list[UserOut]:
        """Local users and their grants (admin)."""
        rows = await asyncio.to_thread(need_store().users)
        return [user_out(u) for u in rows]

    @r.get("/api/security/tokens", response_model=list[TokenOut], tags=["security"], dependencies=admin_only)
    async def tokens() -> list[TokenOut]:
        """Every API token's id, owner, limits and dates (admin); never a secret."""
        rows = await asyncio.to_thread(need_store().tokens)
        return [TokenOut(**token_out(t)) for t in rows]

    @r.post(
        "/api/security/tokens/{token_id}/revoke",
        status_code=204,
        tags=["security"],
        dependencies=admin_only,
        responses={404: {"description": "no such token"}},
    )
    async def revoke(token_id: str, request: Request) -> Response:
        """Revoke a token at once (admin)."""
        client = request.client.host if request.client else ""
        user: User = request.state.user
        try:
            await asyncio.to_thread(need_store().revoke_token, token_id, by=user.name, client=client)
        except Exception as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(status_code=204)

    @r.get(
        "/api/audit",
        tags=["security"],
        dependencies=admin_only,
        responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
    )
    async def audit_export(format: Annotated[str, Query(pattern="^(json|csv)$")] = "json") -> Response:
        """The audit trail (admin), as JSON or CSV."""
        if auth.audit is None:
            raise HTTPException(404, "no audit trail here")
        text = await asyncio.to_thread(auth.audit.export, format)
        media = "text/csv" if format == "csv" else "application/json"
        return Response(text, media_type=media)

    return r


def security_front(auth: Authenticator, server: ServerConfig) -> Any:
    """The :class:`SecurityFront` for ``werk.api.http_server.add_front``."""

    def wrap(app: ASGIApp) -> ASGIApp:
        return SecurityFront(app, auth, server)

    return wrap


__all__ = ["SecurityFront", "aas_visible", "security_front", "security_router", "twin_targets"]


def twin_targets(twin: Any, aas_paths: dict[str, str], prefix: str) -> Any:
    """:data:`werk.api.auth.Targets` of the AAS API: a path under ``prefix`` naming a shell or submodel (or their
    descriptors) of an asset -> that asset's UNS path. ``aas_paths``: AAS id -> asset path. A submodel belongs to
    the shell that references it; the map is remade (at most once a second) when an id is not in it."""
    import time

    from basyx.aas import model

    from werk.aas.http.common import ApiError, b64url_decode

    known: dict[str, str] = {}
    made = [0.0]

    def remake() -> None:
        with twin.lock:
            shells = twin.all(model.AssetAdministrationShell)
            known.clear()
            for shell in shells:
                where = aas_paths.get(shell.id)
                if where is None:
                    continue
                known[shell.id] = where
                for ref in shell.submodel:
                    known[ref.key[0].value] = where
        made[0] = time.monotonic()

    def of_id(ident: str) -> str | None:
        """The UNS path of the asset whose shell is (or references the submodel) ``ident``."""
        where = known.get(ident)
        if where is None and time.monotonic() - made[0] > 1.0:
            remake()
            where = known.get(ident)
        return where

    def targets(path: str) -> Any:
        if not path.startswith(prefix + "/"):
            return None
        parts = path[len(prefix) + 1 :].split("/")
        if len(parts) < 2 or parts[0] not in (
            "shells",
            "submodels",
            "shell-descriptors",
            "submodel-descriptors",
        ):
            return None
        try:
            ident = b64url_decode(parts[1])
        except ApiError:
            return None
        return of_id(ident)

    targets.of_id = of_id  # type: ignore[attr-defined]
    return targets


def aas_visible(auth: Authenticator, targets: Any) -> Any:
    """:data:`werk.aas.http.common.VisibleIds` of the AAS API: a caller whose reads are scoped
    (:meth:`Authenticator.visible`) sees the shells and submodels of the assets its viewer grants cover
    (``targets``: what :func:`twin_targets` made)."""

    def visible(scope: Any) -> Any:
        seen = auth.visible(scope)
        if seen is None:
            return None
        return lambda ident: seen(targets.of_id(ident))

    return visible
