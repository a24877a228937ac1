"""werk's local users, their grants, API tokens and sign-in sessions (owner ``werk.security``): in the werk file,
or with ``historian.backend: postgresql`` on that server, shared by every ``werk api`` replica behind a load
balancer (a user made through one signs in on the next, a session opened on one is accepted by the others).

Managed from the command line (``werk users ...``, ``werk tokens ...``) and the users page, read by the running
server on every request that carries a credential, and never remembered between requests: a revoked token, a
closed session or a disabled user is refused at once, by every process that shares the tables. The check is one
indexed query (the credential, its user and the user's grants). Every change is an audit row
(:mod:`werk.security.audit`).

- A **user** is a person (with an Argon2 password) or a machine client (``kind='machine'``, tokens only). After
  ``lockout_after`` failed passwords in a row it is locked for ``lockout_s`` (IEC 62443-3-3 SR 1.11).
- A **grant** gives a user a role on a part of the plant (:class:`werk.core.access.Grant`).
- A **token** belongs to a user, may be limited to a lower role and a narrower scope than the user's, expires, and
  can be revoked; the file keeps its id, salt and salted digest (:mod:`werk.security.secrets`).
- A **session** is what the sign-in page's cookie names: its SHA-256 digest, the user, the CSRF token, expiry.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from werk.core.access import ROLES, Grant, cap
from werk.core.model import from_micros, to_micros, utcnow
from werk.core.uns import validate_path, validate_pattern, validate_segment
from werk.errors import InputError, UnsPathError
from werk.security import audit
from werk.security.audit import AuditLog
from werk.security.oidc import MAX_PENDING, PENDING_TTL_S, Pending
from werk.security.secrets import hash_password, new_token, salted_digest, split_token, verify_password
from werk.store.app_database import AppDatabase, Row, Transaction, app_database
from werk.store.migrations import Migration
from werk.store.sqlite_file import SQLiteFile

OWNER = "werk.security"

MIGRATIONS = (
    Migration(
        1,
        "local users, their grants, API tokens and sign-in sessions",
        """
        CREATE TABLE security_user (
            name          TEXT PRIMARY KEY,
            kind          TEXT NOT NULL DEFAULT 'person',   -- person | machine
            password      TEXT,                             -- Argon2 PHC string, NULL: no password sign-in
            disabled      INTEGER NOT NULL DEFAULT 0,
            failed        INTEGER NOT NULL DEFAULT 0,       -- failed passwords in a row
            locked_until  INTEGER,                          -- microseconds, NULL: not locked
            created_ts    INTEGER NOT NULL
        );
        CREATE TABLE security_grant (
            "user"   TEXT NOT NULL REFERENCES security_user (name),
            role     TEXT NOT NULL,
            scope    TEXT NOT NULL DEFAULT '',                -- UNS path prefix, '' the whole plant
            signals  TEXT NOT NULL DEFAULT '[]',              -- JSON list of UNS patterns it may write
            PRIMARY KEY ("user", role, scope)
        );
        CREATE TABLE security_token (
            id           TEXT PRIMARY KEY,
            "user"       TEXT NOT NULL REFERENCES security_user (name),
            label        TEXT NOT NULL DEFAULT '',
            role         TEXT,                               -- the most it may (below its user), NULL: as the user
            scope        TEXT,                               -- narrower than its user, NULL: as the user
            salt         TEXT NOT NULL,
            digest       TEXT NOT NULL,                      -- SHA-256(salt + secret)
            created_ts   INTEGER NOT NULL,
            expires_ts   INTEGER,                            -- NULL: never
            revoked_ts   INTEGER
        );
        CREATE INDEX security_token_user ON security_token ("user");
        CREATE TABLE security_session (
            digest      TEXT PRIMARY KEY,                    -- SHA-256 of the cookie's value
            "user"      TEXT NOT NULL REFERENCES security_user (name),
            csrf        TEXT NOT NULL,
            client      TEXT NOT NULL DEFAULT '',
            created_ts  INTEGER NOT NULL,
            expires_ts  INTEGER NOT NULL
        )
        """,
    ),
    Migration(
        2,
        "sign-ins begun at the identity provider, for whichever replica the browser comes back to",
        """
        CREATE TABLE security_oidc_pending (
            state         TEXT PRIMARY KEY,                  -- SHA-256 of the state the browser carries
            nonce         TEXT NOT NULL,
            verifier      TEXT NOT NULL,                     -- the PKCE code verifier, gone once redeemed
            redirect_uri  TEXT NOT NULL,
            next_path     TEXT NOT NULL,
            created_ts    INTEGER NOT NULL
        )
        """,
    ),
)


OWNERS = {OWNER: MIGRATIONS, audit.OWNER: audit.MIGRATIONS}
"""werk's own tables beside the apps', by owner: what ``werk store migrate`` copies with them."""


@dataclass(frozen=True)
class UserRow:
    name: str
    kind: str
    disabled: bool
    failed: int
    locked_until: datetime | None
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class TokenRow:
    id: str
    user: str
    label: str
    role: str | None
    scope: str | None
    created: datetime
    expires: datetime | None
    revoked: datetime | None


@dataclass(frozen=True)
class Identity:
    """Who a credential names: the user, what it may (its grants, capped for a token), and how it came."""

    name: str
    grants: tuple[Grant, ...]
    via: str  # token | session
    csrf: str = ""  # a session's CSRF token
    token_id: str = ""


class SignInRefused(Exception):
    """A password sign-in that failed: ``reason`` for the audit (never shown to the client as such)."""

    def __init__(self, reason: str, locked_until: datetime | None = None) -> None:
        super().__init__(reason)
        self.locked_until = locked_until


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; one of {', '.join(ROLES)}", ("role",))
    return role


def check_scope(scope: str) -> str:
    if scope:
        try:
            validate_path(scope)
        except UnsPathError as exc:
            raise InputError(f"scope {scope!r}: {exc}", ("scope",)) from None
    return scope


class SecurityStore:
    """Users, grants, tokens and sessions on ``db`` (the werk file, or the plant's PostgreSQL server). Thread-safe;
    every change is audited in ``audit``."""

    def __init__(
        self,
        db: AppDatabase | SQLiteFile,
        audit: AuditLog,
        *,
        lockout_after: int = 5,
        lockout_s: float = 900,
    ) -> None:
        self.db = app_database(db)
        self.audit = audit
        self.lockout_after = lockout_after
        self.lockout_s = lockout_s
        self.db.migrate(OWNER, MIGRATIONS)
        self._kept = threading.local()

    # --- users --------------------------------------------------------------------------------------------------

    def has_users(self) -> bool:
        return self.db.query_one("SELECT 1 FROM security_user WHERE disabled = 0 LIMIT 1") is not None

    def add_user(self, name: str, *, password: str | None, kind: str = "person", by: str = "", client: str = "cli") -> None:  # fmt: skip
        """A new user (refused, InputError, when the name is taken or not a valid name)."""
        validate_segment(name, "user name")
        if kind not in ("person", "machine"):
            raise InputError(f"kind {kind!r}: person or machine", ("kind",))
        if kind == "person" and not password:
            raise InputError("a person needs a password (a machine client signs in with tokens only)", ("password",))  # fmt: skip
        # outside the transaction: Argon2 takes tens of milliseconds
        hashed = hash_password(password) if password else None
        with self.db.transaction() as tx:
            added = tx.execute(
                "INSERT INTO security_user (name, kind, password, created_ts) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, kind, hashed, to_micros(utcnow())),
            )
        if not added:
            raise InputError(f"user {name!r} exists already", ("name",))
        self.audit.record("user.add", name, who=by, client=client, after={"kind": kind})

    def set_password(self, name: str, password: str, *, by: str = "", client: str = "cli") -> None:
        hashed = hash_password(password)
        with self.db.transaction() as tx:
            _need_user(tx, name)
            tx.execute(
                "UPDATE security_user SET password = ?, failed = 0, locked_until = NULL WHERE name = ?",
                (hashed, name),
            )
            tx.execute('DELETE FROM security_session WHERE "user" = ?', (name,))
        self.audit.record("user.passwd", name, who=by, client=client)

    def set_disabled(self, name: str, disabled: bool, *, by: str = "", client: str = "cli") -> None:
        """Disable (every session and token refused from now on) or enable a user."""
        with self.db.transaction() as tx:
            _need_user(tx, name)
            tx.execute("UPDATE security_user SET disabled = ? WHERE name = ?", (int(disabled), name))
            if disabled:
                tx.execute('DELETE FROM security_session WHERE "user" = ?', (name,))
        self.audit.record(
            "user.disable" if disabled else "user.enable", name, who=by, client=client,
            before={"disabled": not disabled}, after={"disabled": disabled},
        )  # fmt: skip

    def grant(self, name: str, role: str, scope: str = "", signals: tuple[str, ...] = (), *, by: str = "", client: str = "cli") -> None:  # fmt: skip
        """Give ``name`` ``role`` on ``scope`` (replacing the signals of a grant of that role and scope)."""
        check_role(role)
        check_scope(scope)
        for p in signals:
            try:
                validate_pattern(p)
            except UnsPathError as exc:
                raise InputError(f"signal pattern {p!r}: {exc}", ("signals",)) from None
        with self.db.transaction() as tx:
            _need_user(tx, name)
            before = _grants(tx, name)
            tx.execute(_PUT_GRANT, (name, role, scope, json.dumps(list(signals))))
            after = _grants(tx, name)
        self.audit.record("role.grant", name, who=by, client=client, before=_grants_json(before), after=_grants_json(after))  # fmt: skip

    def set_grants(self, name: str, grants: list[Grant], *, by: str = "", client: str = "cli") -> None:
        """Replace every grant of ``name`` with ``grants`` at once (one audit row, before and after); each is
        checked as :meth:`grant` checks it, and nothing changes when one is refused."""
        seen: set[tuple[str, str]] = set()
        for i, g in enumerate(grants):
            try:
                check_role(g.role)
                check_scope(g.scope)
                for p in g.signals:
                    try:
                        validate_pattern(p)
                    except UnsPathError as exc:
                        raise InputError(f"signal pattern {p!r}: {exc}", ("signals",)) from None
            except InputError as exc:
                raise InputError(str(exc), ("grants", i, *exc.loc)) from None
            if (g.role, g.scope) in seen:
                raise InputError(
                    f"two grants of {g.role!r} on {g.scope or 'the whole plant'!r}: give each once",
                    ("grants", i),
                )
            seen.add((g.role, g.scope))
        with self.db.transaction() as tx:
            _need_user(tx, name)
            before, after = _replace_grants(tx, name, grants)
        self.audit.record("role.set", name, who=by, client=client, before=_grants_json(before), after=_grants_json(after))  # fmt: skip

    def user(self, name: str) -> UserRow | None:
        """The user ``name``, if there is one."""
        found = self._users(name)
        return found[0] if found else None

    def revoke_grant(
        self, name: str, role: str, scope: str = "", *, by: str = "", client: str = "cli"
    ) -> None:
        with self.db.transaction() as tx:
            _need_user(tx, name)
            before = _grants(tx, name)
            tx.execute(
                'DELETE FROM security_grant WHERE "user" = ? AND role = ? AND scope = ?', (name, role, scope)
            )
            after = _grants(tx, name)
        if before == after:
            raise InputError(
                f"user {name!r} has no grant of {role!r} on {scope or 'the whole plant'!r}", ("role",)
            )
        self.audit.record("role.revoke", name, who=by, client=client, before=_grants_json(before), after=_grants_json(after))  # fmt: skip

    def external_sign_in(self, name: str, grants: tuple[Grant, ...], *, via: str, client: str) -> Identity:
        """The user ``name`` an identity provider vouched for (``via``, e.g. ``oidc``), made on first sign-in
        with no password, its grants set to ``grants`` (what the provider's claims map to; audited when they
        change). :class:`SignInRefused` when a werk user of that name is not the provider's (a local name is never
        taken over) or is disabled, or when ``grants`` is empty."""
        validate_segment(name, "user name")
        if not grants:
            raise SignInRefused(f"{via}: the claims map to no werk grant")
        with self.db.transaction() as tx:
            found = tx.query("SELECT kind, disabled FROM security_user WHERE name = ?", (name,))
            row = found[0] if found else None
            if row is not None and row[0] != via:
                raise SignInRefused(f"{via}: {name!r} is a {row[0]} of werk's own, not the provider's")
            if row is not None and row[1]:
                raise SignInRefused("disabled")
            if row is None:
                tx.execute(
                    "INSERT INTO security_user (name, kind, password, created_ts) VALUES (?, ?, NULL, ?)",
                    (name, via, to_micros(utcnow())),
                )
            before, after = _replace_grants(tx, name, grants)
        if row is None:
            self.audit.record("user.add", name, who=name, client=client, after={"kind": via})
        if before != after:
            self.audit.record("role.set", name, who=via, client=client, before=_grants_json(before), after=_grants_json(after))  # fmt: skip
        return Identity(name, after, "session")

    def users(self) -> list[UserRow]:
        return self._users()

    def _users(self, name: str | None = None) -> list[UserRow]:
        """Every user, or the one called ``name``, with their grants: two queries, however many users."""
        args = () if name is None else (name,)
        rows = self.db.query(
            "SELECT name, kind, disabled, failed, locked_until FROM security_user "
            + ("" if name is None else "WHERE name = ? ")
            + "ORDER BY name",
            args,
        )
        grants: dict[str, list[Grant]] = {}
        for user, role, scope, signals in self.db.query(
            'SELECT "user", role, scope, signals FROM security_grant'
            + ("" if name is None else ' WHERE "user" = ?'),
            args,
        ):
            grants.setdefault(user, []).append(_grant(role, scope, signals))
        return [
            UserRow(n, k, bool(d), f, from_micros(lu) if lu else None, _in_order(grants.get(n, ())))
            for n, k, d, f, lu in rows
        ]

    def sign_in(self, name: str, password: str, *, client: str) -> Identity:
        """The user ``name`` if ``password`` is theirs and they may sign in now; else :class:`SignInRefused`
        (unknown name, wrong password, disabled, locked: one answer for the client, the reason for the audit).
        The ``lockout_after``-th wrong password in a row locks the user for ``lockout_s``."""
        now = utcnow()
        row = self.db.query_one(
            "SELECT password, disabled, failed, locked_until, kind FROM security_user WHERE name = ?", (name,)
        )
        stored = row[0] if row else None
        ok = verify_password(stored, password)  # outside any transaction: Argon2 takes tens of milliseconds
        if row is None:
            raise SignInRefused("unknown user")
        _, disabled, failed, locked_until, _ = row
        if locked_until is not None and locked_until > to_micros(now):
            raise SignInRefused("locked", from_micros(locked_until))
        if disabled:
            raise SignInRefused("disabled")
        if not ok:
            lock = None
            with self.db.transaction() as tx:  # committed before the refusal is raised
                # counted in the database, so wrong passwords tried on several replicas add up
                tx.execute("UPDATE security_user SET failed = failed + 1 WHERE name = ?", (name,))
                failed = int(tx.query("SELECT failed FROM security_user WHERE name = ?", (name,))[0][0])
                if failed >= self.lockout_after:
                    lock = to_micros(now + timedelta(seconds=self.lockout_s))
                    tx.execute(
                        "UPDATE security_user SET failed = 0, locked_until = ? WHERE name = ?", (lock, name)
                    )
            if lock:
                raise SignInRefused(f"wrong password; locked after {failed} in a row", from_micros(lock))
            raise SignInRefused("wrong password")
        with self.db.transaction() as tx:
            tx.execute("UPDATE security_user SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
            grants = _grants(tx, name)
        return Identity(name, grants, "session")

    # --- sessions -----------------------------------------------------------------------------------------------

    def open_session(self, name: str, *, client: str, ttl_s: float) -> tuple[str, str]:
        """A new session for ``name``: (the cookie's value, its CSRF token)."""
        value, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = utcnow()
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM security_session WHERE expires_ts < ?", (to_micros(now),))
            tx.execute(
                'INSERT INTO security_session (digest, "user", csrf, client, created_ts, expires_ts) '
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _digest(value),
                    name,
                    csrf,
                    client,
                    to_micros(now),
                    to_micros(now + timedelta(seconds=ttl_s)),
                ),
            )
        return value, csrf

    def close_session(self, value: str) -> str | None:
        """End the session the cookie ``value`` names; its user, if it had one."""
        with self.db.transaction() as tx:
            row = tx.query('SELECT "user" FROM security_session WHERE digest = ?', (_digest(value),))
            tx.execute("DELETE FROM security_session WHERE digest = ?", (_digest(value),))
        return str(row[0][0]) if row else None

    def session(self, value: str) -> Identity | None:
        """Who the session cookie ``value`` names, if it is open and its user enabled (:meth:`_as_now`)."""
        digest = _digest(value)
        return self._as_now("s" + digest, lambda now: self._session(digest, now))

    def _session(self, digest: str, now: int) -> tuple[Identity | None, int | None]:
        rows = self.db.query(
            'SELECT s."user", s.csrf, s.expires_ts, g.role, g.scope, g.signals FROM security_session s '
            'JOIN security_user u ON u.name = s."user" LEFT JOIN security_grant g ON g."user" = s."user" '
            "WHERE s.digest = ? AND s.expires_ts > ? AND u.disabled = 0",
            (digest, now),
        )
        if not rows:
            return None, None
        user, csrf, expires = rows[0][:3]
        return Identity(user, _joined_grants(rows, 3), "session", csrf=csrf), expires

    # --- tokens -------------------------------------------------------------------------------------------------

    def create_token(
        self,
        user: str,
        *,
        label: str = "",
        role: str | None = None,
        scope: str | None = None,
        expires_in_s: float | None = None,
        by: str = "",
        client: str = "cli",
    ) -> tuple[str, TokenRow]:
        """A new token for ``user``: the token (shown once, never stored) and its row."""
        if role is not None:
            check_role(role)
        if scope:
            check_scope(scope)
        if expires_in_s is not None and expires_in_s <= 0:
            raise InputError("a token's lifetime is positive", ("expires",))
        token, token_id, salt, digest = new_token()
        now = utcnow()
        expires = now + timedelta(seconds=expires_in_s) if expires_in_s is not None else None
        with self.db.transaction() as tx:
            _need_user(tx, user)
            tx.execute(
                'INSERT INTO security_token (id, "user", label, role, scope, salt, digest, created_ts, expires_ts) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (token_id, user, label, role, scope or None, salt, digest, to_micros(now),
                 to_micros(expires) if expires else None),
            )  # fmt: skip
        row = TokenRow(token_id, user, label, role, scope or None, now, expires, None)
        self.audit.record(
            "token.create", f"{user}/{token_id}", who=by, client=client,
            after={"label": label, "role": role, "scope": scope, "expires": expires},
        )  # fmt: skip
        return token, row

    def revoke_token(self, token_id: str, *, by: str = "", client: str = "cli") -> None:
        with self.db.transaction() as tx:
            found = tx.query('SELECT "user", revoked_ts FROM security_token WHERE id = ?', (token_id,))
            if not found:
                raise InputError(f"no token {token_id!r}; `werk tokens list` shows them", ("id",))
            if found[0][1] is None:
                tx.execute(
                    "UPDATE security_token SET revoked_ts = ? WHERE id = ?", (to_micros(utcnow()), token_id)
                )
        self.audit.record("token.revoke", f"{found[0][0]}/{token_id}", who=by, client=client)

    def tokens(self, user: str | None = None) -> list[TokenRow]:
        sql = 'SELECT id, "user", label, role, scope, created_ts, expires_ts, revoked_ts FROM security_token'
        args: tuple[str, ...] = ()
        if user is not None:
            sql += ' WHERE "user" = ?'
            args = (user,)
        out = []
        for i, u, lab, r, s, c, e, rv in self.db.query(sql + " ORDER BY created_ts, id", args):
            out.append(TokenRow(i, u, lab, r, s, from_micros(c), from_micros(e) if e else None, from_micros(rv) if rv else None))  # fmt: skip
        return out

    def token(self, token: str) -> Identity | None:
        """Who a ``wk_...`` token names, if it is known, unrevoked, unexpired and its user enabled
        (:meth:`_as_now`)."""
        parts = split_token(token)
        if parts is None:
            return None
        return self._as_now("t" + _digest(token), lambda now: self._token(*parts, now))

    def _token(self, token_id: str, secret: str, now: int) -> tuple[Identity | None, int | None]:
        rows = self.db.query(
            'SELECT t.salt, t.digest, t.expires_ts, t."user", t.role, t.scope, g.role, g.scope, g.signals '
            'FROM security_token t JOIN security_user u ON u.name = t."user" '
            'LEFT JOIN security_grant g ON g."user" = t."user" '
            "WHERE t.id = ? AND t.revoked_ts IS NULL AND u.disabled = 0 AND (t.expires_ts IS NULL OR t.expires_ts > ?)",
            (token_id, now),
        )
        if not rows or not hmac.compare_digest(salted_digest(rows[0][0], secret), rows[0][1]):
            return None, None
        expires, user, role, scope = rows[0][2:6]
        return Identity(user, cap(_joined_grants(rows, 6), role, scope), "token", token_id=token_id), expires

    # --- sign-ins begun at the identity provider (werk.security.oidc.PendingSignIns) ------------------------------

    def keep_pending(self, state: str, pending: Pending) -> None:
        """Keep a begun sign-in under ``state`` (its digest) for :data:`~werk.security.oidc.PENDING_TTL_S`, at most
        :data:`~werk.security.oidc.MAX_PENDING` of them."""
        now = to_micros(utcnow())
        with self.db.transaction() as tx:
            tx.execute(
                "DELETE FROM security_oidc_pending WHERE created_ts < ?", (now - int(PENDING_TTL_S * 1e6),)
            )
            (n,) = tx.query("SELECT count(*) FROM security_oidc_pending")[0]
            if n >= MAX_PENDING:
                tx.execute(
                    "DELETE FROM security_oidc_pending WHERE state IN "
                    "(SELECT state FROM security_oidc_pending ORDER BY created_ts LIMIT ?)",
                    (n - MAX_PENDING + 1,),
                )
            tx.execute(
                "INSERT INTO security_oidc_pending (state, nonce, verifier, redirect_uri, next_path, created_ts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (_digest(state), pending.nonce, pending.verifier, pending.redirect_uri, pending.next, now),
            )

    def take_pending(self, state: str) -> Pending | None:
        """The sign-in begun under ``state``, once; None when unknown or expired."""
        with self.db.transaction() as tx:
            rows = tx.query(
                "SELECT nonce, verifier, redirect_uri, next_path, created_ts FROM security_oidc_pending "
                "WHERE state = ?",
                (_digest(state),),
            )
            tx.execute("DELETE FROM security_oidc_pending WHERE state = ?", (_digest(state),))
        if not rows or rows[0][4] < to_micros(utcnow()) - int(PENDING_TTL_S * 1e6):
            return None
        return Pending(*rows[0][:4])

    # --- inside -------------------------------------------------------------------------------------------------

    def _as_now(self, key: str, look: Callable[[int], tuple[Identity | None, int | None]]) -> Identity | None:
        """Who a credential names as the database says it now. ``look(now)`` asks it (one query: the credential,
        its user, the user's grants) and says until when its answer holds (the credential's expiry, in
        microseconds; None: for good). Where the database has a generation (:meth:`AppDatabase.generation`: the
        werk file, one ``PRAGMA`` instead of the query) an answer is kept while the generation is the one it was
        read at and it has not expired: nothing was committed since, by anyone, so asking again would give the
        same answer. A revocation, a closed session or a disabled user is a commit, and refused on the next
        request. On PostgreSQL every call asks."""
        now = to_micros(utcnow())
        generation = self.db.generation()
        if generation is None:
            return look(now)[0]
        kept = self._kept  # per thread: a generation is a thread's read connection's
        if getattr(kept, "generation", None) != generation:
            kept.generation, kept.answers = generation, {}
        answers: dict[str, tuple[Identity | None, int | None]] = kept.answers
        hit = answers.get(key)
        if hit is not None and (hit[1] is None or hit[1] > now):
            return hit[0]
        found = look(now)
        if len(answers) >= 10_000:
            answers.clear()
        answers[key] = found
        return found[0]


_PUT_GRANT = (
    'INSERT INTO security_grant ("user", role, scope, signals) VALUES (?, ?, ?, ?) '
    'ON CONFLICT ("user", role, scope) DO UPDATE SET signals = excluded.signals'
)


def _grants(tx: Transaction, name: str) -> tuple[Grant, ...]:
    rows = tx.query('SELECT role, scope, signals FROM security_grant WHERE "user" = ?', (name,))
    return _in_order(_grant(*r) for r in rows)


def _joined_grants(rows: list[Row], at: int) -> tuple[Grant, ...]:
    """The grants of rows that joined them from column ``at`` on (role, scope, signals; NULL: no grant)."""
    return _in_order(_grant(r[at], r[at + 1], r[at + 2]) for r in rows if r[at] is not None)


def _in_order(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    """Grants by scope, then role, as Python orders strings (the same on both backends, whatever their collation)."""
    return tuple(sorted(grants, key=lambda g: (g.scope, g.role)))


@functools.lru_cache(maxsize=4096)
def _grant(role: str, scope: str, signals: str) -> Grant:
    """A grant of its columns, remembered: the same three values always make the same (immutable) grant, and a
    credential's check is not spent decoding JSON."""
    return Grant(role, scope, tuple(json.loads(signals)))


def _replace_grants(
    tx: Transaction, name: str, grants: Iterable[Grant]
) -> tuple[tuple[Grant, ...], tuple[Grant, ...]]:
    """Replace ``name``'s grants with ``grants`` inside the caller's transaction (a grant given twice is kept
    once); its grants before and after."""
    before = _grants(tx, name)
    tx.execute('DELETE FROM security_grant WHERE "user" = ?', (name,))
    tx.executemany(_PUT_GRANT, [(name, g.role, g.scope, json.dumps(list(g.signals))) for g in grants])
    return before, _grants(tx, name)


def _need_user(tx: Transaction, name: str) -> None:
    if not tx.query("SELECT 1 FROM security_user WHERE name = ?", (name,)):
        raise InputError(f"no user {name!r}; `werk users list` shows them", ("name",))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _grants_json(grants: tuple[Grant, ...]) -> list[dict[str, object]]:
    return [{"role": g.role, "scope": g.scope, "signals": list(g.signals)} for g in grants]
