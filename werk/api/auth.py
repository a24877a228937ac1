"""Who is asking, and may they: the one authorization function every route, the AAS API and its fast path use.

A caller (:class:`Caller`, read from the request) names itself with one of:

- a bearer token of the plant file (``server.users``: ``token_hash``, salted; the unsalted ``token_sha256`` of
  earlier files is still read, with a deprecation warning), holding its ``grants`` (or, without them, its role on
  the whole plant with machine writes to every writable signal, as before grants existed);
- a bearer token made by ``werk tokens create`` (``wk_<id>.<secret>``, werk.security.store): its user's grants,
  capped at the token's role and scope, refused once expired or revoked;
- the session cookie of the sign-in page (``werk_session``), whose writes must carry the session's CSRF token in
  the ``X-CSRF-Token`` header or the form field ``csrf`` (a cookie alone is what another site's page can make a
  browser send).

:meth:`Authenticator.authorize` decides: the caller's grants must give the role on the target (an asset's or
signal's UNS path; unknown: the whole plant, werk.core.access). Refused credentials are counted per client address
(werk.security.limits): past the limit the client is answered 429 with ``Retry-After`` before any credential is
looked at, and each refusal is an audit row. Tokens and passwords are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

from werk.config.model import ServerConfig
from werk.core.access import (
    Caller,
    Grant,
    highest,
    may_write_signal,
    permits,
    permits_somewhere,
    rank,
)
from werk.core.model import User
from werk.core.sight import Sight
from werk.errors import Unauthorized
from werk.security.audit import AuditLog
from werk.security.limits import FailureLimiter
from werk.security.secrets import legacy_digest, plant_token_matches
from werk.security.store import SecurityStore

log = logging.getLogger(__name__)

CSRF_COOKIE = "werk_csrf"
CSRF_HEADER = "x-csrf-token"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MAX_REMEMBERED = (
    100_000  # (header, role, target) decisions kept for plant-file tokens: bounded by their targets
)
MACHINE_WRITE_ROLE = "operator"
"""The least role a machine write needs besides the signal grant (the AAS route asks its own writer role first)."""


def token_digest(token: str) -> str:
    """The unsalted SHA-256 of earlier plant files' ``token_sha256`` (kept for them and their tests)."""
    return legacy_digest(token)


@dataclass(frozen=True)
class _PlantUser:
    name: str
    role: str
    grants: tuple[Grant, ...]
    token_hash: str | None = None
    legacy: str | None = None


Visible = Callable[[str | None], bool]
"""Whether the caller may see what lies at a UNS path (None: a thing of no known place, seen by whole-plant
viewers only)."""

Targets = Callable[[str], str | None]
"""The UNS path a request path touches (an AAS shell or submodel, an asset), or None when it names none."""


class Authenticator:
    """Identifies callers and decides what they may (see the module docstring).

    ``store``: werk's local users and tokens (None: the plant file's users only, as a worker process without the
    werk file has them); ``targets``: what request paths touch (:data:`Targets`); ``enterprise``: the first
    level of every UNS path, put in front of a grant's scope written without it.
    """

    def __init__(
        self,
        server: ServerConfig,
        store: SecurityStore | None = None,
        *,
        audit: AuditLog | None = None,
        targets: Targets | None = None,
        enterprise: str = "",
    ) -> None:
        self.server = server
        self.store = store
        self.audit = audit if audit is not None else (store.audit if store is not None else None)
        self.targets = targets
        self.enterprise = enterprise
        sec = server.security
        self.limiter = FailureLimiter(sec.max_failures, sec.failure_window_s)
        self.plant_users: list[_PlantUser] = []
        for u in server.users:
            grants = (
                tuple(Grant(g.role, self.scope(g.scope), tuple(g.signals)) for g in u.grants)
                if u.grants is not None
                else (Grant(u.role, "", ("#",)),)
            )
            legacy = u.token_sha256
            if legacy is None and u.token_hash is None and u.token_env:
                secret = os.environ.get(u.token_env)
                legacy = legacy_digest(secret) if secret else None
            elif legacy is not None:
                log.warning(
                    "auth.deprecated user=%s token_sha256 is unsalted: write token_hash instead "
                    "(werk tokens hash)",
                    u.name,
                )
            if legacy is not None or u.token_hash is not None:
                self.plant_users.append(_PlantUser(u.name, u.role, grants, u.token_hash, legacy))
        self.asset_paths: Mapping[str, str] = {}
        """Asset name -> its UNS path (set by the app): how a request that names an asset names its place."""
        self._users_seen: tuple[float, bool] = (0.0, False)
        # Plant-file tokens that matched, and whom they name: the plant file's users do not change while werk runs,
        # and only a right token gets in (one per user), so the busiest writes skip hashing it again.
        self._plant_tokens: dict[str, User] = {}
        self._plant_allowed: dict[
            tuple[str, str, str | None], User
        ] = {}  # (header, role, target): what they allow

    def scope(self, scope: str) -> str:
        """A grant's scope as a full UNS path prefix (the enterprise put in front when it is left out)."""
        if (
            not scope
            or not self.enterprise
            or scope == self.enterprise
            or scope.startswith(self.enterprise + "/")
        ):
            return scope
        return f"{self.enterprise}/{scope}"

    # --- who ----------------------------------------------------------------------------------------------------

    @property
    def writes_possible(self) -> bool:
        return bool(self.plant_users) or self.local_users()

    def local_users(self) -> bool:
        """Whether the werk file holds an enabled local user (looked up at most once a second)."""
        if self.store is None:
            return False
        now = time.monotonic()
        seen_at, has = self._users_seen
        if now - seen_at > 1.0:
            has = self.store.has_users()
            self._users_seen = (now, has)
        return has

    @property
    def reads_open(self) -> bool:
        """Whether reads need no credential: ``server.security.anonymous_read``, or no local users yet and no
        identity provider to sign in with."""
        sec = self.server.security
        return sec.anonymous_read or (sec.oidc is None and not self.local_users())

    def user(self, request: Request) -> User | None:
        """The user a request names, if any (without counting a refusal)."""
        return self._identify(Caller.of(request.scope))

    def user_of(self, header: str) -> User | None:
        """The user an ``Authorization: Bearer`` header value names, if any."""
        return self._identify(Caller(authorization=header))

    def _identify(self, caller: Caller) -> User | None:
        if caller.authorization:
            scheme, _, token = caller.authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            token = token.strip()
            known = self._plant_tokens.get(token)
            if known is not None:
                return known
            for u in self.plant_users:
                if (u.token_hash is not None and plant_token_matches(u.token_hash, token)) or (
                    u.legacy is not None and hmac.compare_digest(u.legacy, legacy_digest(token))
                ):
                    user = User(u.name, u.role, u.grants, "plant-token")
                    self._plant_tokens[token] = user
                    return user
            if self.store is not None:
                found = self.store.token(token)
                if found is not None:
                    return User(found.name, highest(found.grants), found.grants, "token")
            return None
        if caller.session and self.store is not None:
            found = self.store.session(caller.session)
            if found is not None:
                return User(found.name, highest(found.grants), found.grants, "session")
        return None

    def identify(self, caller: Caller) -> User | None:
        """The user ``caller`` names; None when it carries no credential. Raises :class:`Unauthorized` 429 for
        a client past its refusal limit, 401 for a credential that names nobody (counted and audited)."""
        if not caller.has_credential:
            return None
        wait = self.limiter.retry_after(caller.client)
        if wait:
            raise Unauthorized(
                429,
                f"too many refused credentials from {caller.client}; try again in {wait} s",
                {"Retry-After": str(wait)},
            )
        user = self._identify(caller)
        if user is None:
            self.limiter.failed(caller.client)
            what = "session" if not caller.authorization else "bearer token"
            if self.audit is not None:
                self.audit.record(
                    "auth.refused",
                    f"{caller.method} {caller.path}",
                    client=caller.client,
                    after={"credential": what},
                )
            raise Unauthorized(
                401,
                f"unknown, expired or revoked {what}",
                {"WWW-Authenticate": "Bearer"} if caller.authorization else None,
            )
        if caller.scope is not None:
            caller.scope.setdefault("state", {})["user"] = user
        return user

    # --- may they -----------------------------------------------------------------------------------------------

    def authorize(self, caller: Caller | str, role: str, target: str | None = None) -> User:
        """The user ``caller`` names, if one of its grants gives ``role`` (or a higher one) on ``target`` (a UNS
        path; None: what the caller's path touches (``targets``), and when that is nothing, the whole plant);
        else :class:`~werk.errors.Unauthorized` saying why: 401 no or unknown credential, 403 too weak a role or
        another part of the plant or a cookie write without its CSRF token, 429 too many refused credentials.
        A ``str`` is an ``Authorization`` header's value (callers of earlier versions)."""
        if isinstance(caller, str):
            caller = Caller(authorization=caller)
        if target is None and self.targets is not None and caller.path:
            target = self.targets(caller.path)
        if caller.authorization and not self.limiter.retry_after(caller.client):
            known = self._plant_allowed.get((caller.authorization, role, target))
            if known is not None:  # a plant-file token allowed this before (neither it nor its grants change)
                if caller.scope is not None:
                    caller.scope.setdefault("state", {})["user"] = known
                return known
        if not self.writes_possible:
            raise Unauthorized(
                403,
                "writes are disabled: add a user with `werk users add`, or a user with a token to server.users "
                "in the plant file",
            )
        user = self.identify(caller)
        if user is None:
            raise Unauthorized(401, "missing bearer token or sign-in", {"WWW-Authenticate": "Bearer"})
        if caller.method in WRITES and user.via == "session" and self.store is not None:
            session = self.store.session(caller.session)
            expected = session.csrf if session is not None else ""
            if not caller.csrf or not expected or not hmac.compare_digest(caller.csrf, expected):
                raise Unauthorized(
                    403, "a signed-in write needs the session's CSRF token (X-CSRF-Token header)"
                )
        if not permits(user.grants, role, target):
            where = f"on {target}" if target else "on the whole plant"
            raise Unauthorized(403, f"user {user.name!r} needs {role!r} {where}; it holds {_grants(user)}")
        if user.via == "plant-token" and len(self._plant_allowed) < _MAX_REMEMBERED:
            self._plant_allowed[(caller.authorization, role, target)] = user
        return user

    def may_write_signal(self, user: User, signal: str, role: str = MACHINE_WRITE_ROLE) -> None:
        """Raises :class:`Unauthorized` 403 unless one of ``user``'s grants names ``signal`` among the signals it
        may write to the machine."""
        if not may_write_signal(user.grants, role, signal):
            raise Unauthorized(
                403,
                f"user {user.name!r} may not write {signal} to the machine: it needs a grant listing that "
                "signal (grants' signals)",
            )

    def may_read(self, caller: Caller, target: str | None) -> User | None:
        """The user a read names, if reads are open or its grants give viewer on ``target`` (None: somewhere);
        else :class:`Unauthorized` 401/403/429."""
        user = self.identify(caller) if caller.has_credential else None
        if self.reads_open:
            return user
        if user is None:
            raise Unauthorized(401, "reads need a sign-in or a bearer token", {"WWW-Authenticate": "Bearer"})
        ok = permits(user.grants, "viewer", target) if target else permits_somewhere(user.grants, "viewer")
        if not ok:
            raise Unauthorized(
                403, f"user {user.name!r} has no viewer grant on {target or 'any part of the plant'}"
            )
        return user

    def visible(self, scope: Mapping[str, Any]) -> Visible | None:
        """What a read that lists things across the plant may show the request of ASGI ``scope``: None when it
        may show everything (reads are open, or the caller's viewer grant covers the whole plant); else a test of
        a UNS path (an asset's, a signal's, an event's source) against the caller's viewer grants
        (:meth:`sight`)."""
        sight = self.sight(scope)
        return None if sight is None else sight.covers

    def sight(self, scope: Mapping[str, Any]) -> Sight | None:
        """What the caller of ASGI ``scope`` may see of the plant (:class:`~werk.core.sight.Sight`): None when it
        sees everything (reads are open, or a viewer grant on the whole plant). The front door identified the
        caller before the route runs (``scope["state"]["user"]``); no caller sees nothing."""
        if self.reads_open:
            return None
        user = scope.get("state", {}).get("user")
        grants = user.grants if user is not None else ()
        need = rank("viewer")
        scopes = tuple(g.scope for g in grants if rank(g.role) >= need)
        if "" in scopes:
            return None
        return Sight(scopes, self.asset_paths)

    def require(self, role: str, target: Callable[[Request], str | None] | None = None) -> Callable[[Request], Awaitable[User]]:  # fmt: skip
        """A FastAPI dependency: the caller must hold ``role`` or a higher one on what the request touches
        (``target``, else :meth:`request_target`) (:meth:`authorize`)."""

        async def dependency(request: Request) -> User:
            try:
                where = target(request) if target is not None else self.request_target(request)
                user = self.authorize(Caller.of(request.scope), role, where)
            except Unauthorized as exc:
                raise HTTPException(exc.status, str(exc), headers=exc.headers) from None
            request.state.user = user  # for routes that record who did it (audit)
            return user

        # what the API's error handlers and OpenAPI documentation look for: this dependency decides a role
        dependency.required_role = role  # type: ignore[attr-defined]
        return dependency

    def request_target(self, request: Request) -> str | None:
        """The UNS path a request to an app's route touches: the asset its path, query or JSON body names
        (``asset``; ``name`` under /api/assets; an id of the form ``asset@...``), else what :attr:`targets` finds
        for its path; None when it names nothing (the whole plant)."""
        names: list[str] = []
        for key, value in request.path_params.items():
            if key == "asset" or (key == "name" and request.url.path.startswith("/api/assets/")):
                names.append(str(value))
            elif isinstance(value, str) and "@" in value:
                names.append(value.partition("@")[0])
        if "asset" in request.query_params:
            names.append(request.query_params["asset"])
        body = getattr(request, "_json", None)  # FastAPI read and kept it before solving dependencies
        if isinstance(body, dict) and isinstance(body.get("asset"), str):
            names.append(body["asset"])
        paths = {self.asset_paths.get(n) for n in names}
        if len(paths) == 1 and None not in paths:
            return paths.pop()
        if names:
            return None  # an unknown asset, or several: only a grant on the whole plant covers it
        return self.targets(request.url.path) if self.targets is not None else None


def _grants(user: User) -> str:
    grants = [f"{g.role} on {g.scope or 'the whole plant'}" for g in user.grants]
    return ", ".join(grants) or "no grants"
