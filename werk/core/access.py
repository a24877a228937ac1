"""Who may do what where: roles granted on a part of the ISA-95 tree, and signal grants for machine writes.

Pure decisions, no I/O (IEC 62443-3-3 SR 1.1/2.1: every user identified, every action authorized by role, least
privilege). A :class:`Grant` gives a role on a *scope*, a UNS path prefix (``enterprise/site/area/line`` or
deeper, down to one asset); the empty scope is the whole plant. Roles are ranked: each may what the ones before it
may, and more. A decision needs a *target*, the UNS path of what is touched (an asset, a signal); a request whose
target is unknown (a route that names no asset) needs a grant on the whole plant: least privilege, never the
other way round.

Machine writes need more than a role: a grant lists the signals its holder may write (``signals``, UNS patterns
with MQTT's ``+`` and a final ``#``, or one exact path); no list, no machine write, whatever the role.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Literal, get_args

from werk.core.uns import matches

Role = Literal["viewer", "operator", "maintenance", "supervisor", "engineer", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
"""From least to most: each may what the ones before it may."""
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
SESSION_COOKIE = "werk_session"
"""The sign-in session's cookie."""


@dataclass(frozen=True)
class Grant:
    """``role`` on the part of the plant under ``scope`` (a UNS path prefix; "" is the whole plant), and the
    signals under it its holder may write to the machine (UNS patterns)."""

    role: str
    scope: str = ""
    signals: tuple[str, ...] = field(default=())

    def covers(self, target: str | None) -> bool:
        """Whether ``target`` (a UNS path; None: not known) lies in this grant's scope."""
        if not self.scope:
            return True
        if target is None:
            return False
        return target == self.scope or target.startswith(self.scope + "/")

    def may_write(self, signal: str) -> bool:
        """Whether this grant names ``signal`` (a full UNS path) among those its holder may write."""
        return self.covers(signal) and any(p == signal or matches(p, signal) for p in self.signals)


def rank(role: str) -> int:
    """The role's rank; an unknown role ranks below every known one."""
    return ROLE_RANK.get(role, -1)


def permits(grants: Iterable[Grant], role: str, target: str | None) -> bool:
    """Whether one of ``grants`` gives ``role`` (or a higher one) on ``target``."""
    need = rank(role)
    return any(rank(g.role) >= need and g.covers(target) for g in grants)


def permits_somewhere(grants: Iterable[Grant], role: str) -> bool:
    """Whether one of ``grants`` gives ``role`` (or a higher one) on some part of the plant (reads of lists that
    are then filtered, the pages)."""
    need = rank(role)
    return any(rank(g.role) >= need for g in grants)


def may_write_signal(grants: Iterable[Grant], role: str, signal: str) -> bool:
    """Whether one grant of at least ``role`` covers ``signal`` and names it among its writable signals."""
    need = rank(role)
    return any(rank(g.role) >= need and g.may_write(signal) for g in grants)


def highest(grants: Iterable[Grant]) -> str:
    """The highest role of ``grants`` ("" for none): what a page shows beside the user's name."""
    best = max((rank(g.role) for g in grants), default=-1)
    return ROLES[best] if best >= 0 else ""


def cap(grants: Iterable[Grant], role: str | None, scope: str | None) -> tuple[Grant, ...]:
    """``grants`` as a token limited to ``role`` and ``scope`` has them (a token never holds more than its user):
    each role lowered to ``role``, each scope narrowed to ``scope`` where it lies inside it, grants outside it
    dropped."""
    out = []
    for g in grants:
        r = g.role if role is None or rank(g.role) <= rank(role) else role
        s = g.scope
        if scope:
            if g.covers(scope):
                s = scope
            elif not (g.scope == scope or g.scope.startswith(scope + "/")):
                continue
        out.append(Grant(r, s, g.signals))
    return tuple(out)


@dataclass(slots=True)
class Caller:
    """What a request says of who sends it: its credentials, its address, what it asks. ``scope`` is the ASGI
    scope, where the user found for it is left (``scope["state"]["user"]``, Starlette's ``request.state.user``)
    for the audit of the answer. Read, never changed, by those it is handed to (not frozen: a frozen dataclass sets
    each field through ``object.__setattr__``, a microsecond of every write the fast path answers)."""

    authorization: str = ""
    session: str = ""
    csrf: str = ""
    client: str = ""
    method: str = "GET"
    path: str = ""
    scope: MutableMapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, scope: MutableMapping[str, Any]) -> Caller:
        raw = scope.get("headers") or []
        named = dict(reversed(raw))  # each name's first value, as Starlette's Headers.get reads it
        authorization = named.get(b"authorization")
        csrf = named.get(b"x-csrf-token")
        session = ""
        if b"cookie" in named:
            cookie = "".join(value.decode("latin-1") + ";" for name, value in raw if name == b"cookie")
            session = _cookie(cookie, SESSION_COOKIE)
        client = scope.get("client")
        return cls(
            "" if authorization is None else authorization.decode("latin-1"),
            session,
            "" if csrf is None else csrf.decode("latin-1"),
            str(client[0]) if client else "",
            scope.get("method", "GET"),
            scope.get("path", ""),
            scope,
        )

    @property
    def has_credential(self) -> bool:
        return bool(self.authorization or self.session)


def _cookie(header: str, name: str) -> str:
    if name not in header:
        return ""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""
