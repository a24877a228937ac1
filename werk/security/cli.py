"""``werk users ...``, ``werk tokens ...``, ``werk audit ...``: local users, API tokens and the audit trail of a
plant file (in its werk file, or on its PostgreSQL server), from the command line (each change an audit row, client ``cli``).

Passwords are read from the terminal without echo, or from the environment variable ``--password-env`` names
(for scripts): never from the command line, where ``ps`` and the shell history would show them.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

from werk.config import WerkConfig, demo_config_path, load_config
from werk.errors import InputError, WerkError
from werk.security.audit import AuditLog
from werk.security.secrets import plant_token_hash
from werk.security.store import SecurityStore
from werk.store import open_app_database, open_file

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _config(args: argparse.Namespace) -> WerkConfig:
    return load_config(args.config) if args.config else load_config(demo_config_path())


@contextmanager
def opened(args: argparse.Namespace) -> Iterator[tuple[WerkConfig, SecurityStore]]:
    """The plant's security tables (made when missing): in its werk file, or on its PostgreSQL server."""
    config = _config(args)
    file = open_file(config.historian) if config.historian.backend == "sqlite" else None
    try:
        db = open_app_database(config.historian, file)
        try:
            sec = config.server.security
            yield (
                config,
                SecurityStore(db, AuditLog(db), lockout_after=sec.lockout_after, lockout_s=sec.lockout_s),
            )
        finally:
            db.close()
    finally:
        if file is not None:
            file.close()


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise WerkError(f"the environment variable {args.password_env} is empty or not set")
        return value
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise WerkError("the two passwords differ; nothing changed")
    return first


def _scope(config: WerkConfig, scope: str) -> str:
    """A scope as a full UNS path prefix; it must name a part of the plant (a typo would grant nothing)."""
    e = config.plant.enterprise
    full = scope if not scope or scope == e or scope.startswith(e + "/") else f"{e}/{scope}"
    if full and not any(r.path == full or r.path.startswith(full + "/") for r in config.assets()):
        raise InputError(
            f"scope {scope!r} names no part of the plant {e!r} (site/area/line/cell/asset)", ("scope",)
        )
    return full


def duration_s(text: str) -> float:
    """``90s``, ``15m``, ``8h``, ``30d`` (or plain seconds) -> seconds."""
    unit = text[-1:] if text[-1:] in UNITS else "s"
    number = text[:-1] if text[-1:] in UNITS else text
    try:
        return float(number) * UNITS[unit]
    except ValueError:
        raise WerkError(f"{text!r} is no duration: write 90s, 15m, 8h or 30d") from None


def cmd_users_add(args: argparse.Namespace) -> int:
    with opened(args) as (config, store):
        scope = _scope(config, args.scope or "")  # before anything is stored: a typo adds nobody
        password = None if args.machine else _password(args)
        store.add_user(args.name, password=password, kind="machine" if args.machine else "person")
        if args.role:
            store.grant(args.name, args.role, scope, tuple(args.signal or ()))
    console.print(f"[green]✓[/] user {args.name} added")
    return 0


def cmd_users_grant(args: argparse.Namespace) -> int:
    with opened(args) as (config, store):
        scope = _scope(config, args.scope or "")
        if args.revoke:
            store.revoke_grant(args.name, args.role, scope)
        else:
            store.grant(args.name, args.role, scope, tuple(args.signal or ()))
    console.print(f"[green]✓[/] {args.name}: {args.role} on {scope or 'the whole plant'} {'revoked' if args.revoke else 'granted'}")  # fmt: skip
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    with opened(args) as (_, store):
        rows = store.users()
    t = Table("user", "kind", "state", "grants")
    for u in rows:
        state = "disabled" if u.disabled else ("locked" if u.locked_until else "active")
        grants = "; ".join(
            f"{g.role} on {g.scope or '*'}" + (f" (writes {', '.join(g.signals)})" if g.signals else "")
            for g in u.grants
        )
        t.add_row(u.name, u.kind, state, grants or "-")
    console.print(t)
    return 0


def cmd_users_passwd(args: argparse.Namespace) -> int:
    with opened(args) as (_, store):
        store.set_password(args.name, _password(args))
    console.print(f"[green]✓[/] password of {args.name} changed; its sessions ended")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    with opened(args) as (_, store):
        store.set_disabled(args.name, not args.enable)
    console.print(f"[green]✓[/] {args.name} {'enabled' if args.enable else 'disabled'}")
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    with opened(args) as (config, store):
        token, row = store.create_token(
            args.user,
            label=args.label or "",
            role=args.role,
            scope=_scope(config, args.scope) if args.scope else None,
            expires_in_s=duration_s(args.expires) if args.expires else None,
        )
    err.print(f"[green]✓[/] token {row.id} for {row.user} (shown once; keep it secret):")
    sys.stdout.write(token + "\n")
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    with opened(args) as (_, store):
        rows = store.tokens(args.user)
    t = Table("id", "user", "label", "role", "scope", "expires", "state")
    for r in rows:
        state = "revoked" if r.revoked else "active"
        expires = r.expires.isoformat(timespec="seconds") if r.expires else "never"
        t.add_row(r.id, r.user, r.label, r.role or "(user's)", r.scope or "(user's)", expires, state)
    console.print(t)
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    with opened(args) as (_, store):
        store.revoke_token(args.id)
    console.print(f"[green]✓[/] token {args.id} revoked")
    return 0


def cmd_tokens_hash(args: argparse.Namespace) -> int:
    token = sys.stdin.readline().strip()
    if not token:
        raise WerkError("give the token on standard input")
    sys.stdout.write(plant_token_hash(token) + "\n")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    with opened(args) as (_, store):
        problems = store.audit.verify()
        n = len(store.audit.rows())
    if problems:
        for p in problems:
            err.print(f"[red]✗[/] {p}", highlight=False)
        err.print(f"the audit trail of {store.db.where} is broken: {len(problems)} problem(s) in {n} rows")
        return 1
    console.print(f"[green]✓[/] the audit trail of {store.db.where} is intact ({n} rows)")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    with opened(args) as (_, store):
        fmt = args.format or ("csv" if (args.output or "").endswith(".csv") else "json")
        text = store.audit.export(fmt)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        err.print(f"[green]✓[/] {args.output}")
    return 0


def _with_config(
    p: argparse.ArgumentParser, func: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    p.add_argument("-c", "--config", help="plant file whose werk file to use (default: the demo plant)")
    p.set_defaults(func=func)
    return p


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``werk users``, ``werk tokens``, ``werk audit``."""
    roles = ["viewer", "operator", "maintenance", "supervisor", "engineer", "admin"]
    users = sub.add_parser("users", help="local users and their grants (in the werk file)")
    us = users.add_subparsers(dest="users_command", required=True)
    a = _with_config(
        us.add_parser("add", help="add a person (asks a password) or a machine client"), cmd_users_add
    )
    a.add_argument("name")
    a.add_argument("--role", choices=roles, help="grant this role at once")
    a.add_argument("--scope", help="on this part of the plant (site/area/line/cell/asset; default: all)")
    a.add_argument("--signal", action="append", help="a signal (UNS pattern) it may write to the machine")
    a.add_argument("--machine", action="store_true", help="a machine client: tokens only, no password")
    a.add_argument("--password-env", help="read the password from this environment variable")
    g = _with_config(
        us.add_parser("grant", help="grant (or --revoke) a role on a part of the plant"), cmd_users_grant
    )
    g.add_argument("name")
    g.add_argument("role", choices=roles)
    g.add_argument("--scope", help="site/area/line/cell/asset (default: the whole plant)")
    g.add_argument("--signal", action="append", help="a signal (UNS pattern) it may write to the machine")
    g.add_argument("--revoke", action="store_true")
    _with_config(us.add_parser("list", help="users, their state and grants"), cmd_users_list)
    pw = _with_config(
        us.add_parser("passwd", help="set a user's password (ends its sessions)"), cmd_users_passwd
    )
    pw.add_argument("name")
    pw.add_argument("--password-env", help="read the password from this environment variable")
    d = _with_config(
        us.add_parser("disable", help="disable a user (or --enable it again)"), cmd_users_disable
    )
    d.add_argument("name")
    d.add_argument("--enable", action="store_true")
    tokens = sub.add_parser("tokens", help="API tokens of users and machine clients")
    ts = tokens.add_subparsers(dest="tokens_command", required=True)
    c = _with_config(ts.add_parser("create", help="a new token (printed once)"), cmd_tokens_create)
    c.add_argument("user")
    c.add_argument("--label", help="what it is for")
    c.add_argument("--role", choices=roles, help="at most this role (default: the user's)")
    c.add_argument("--scope", help="only this part of the plant (default: the user's)")
    c.add_argument("--expires", help="lifetime: 90s, 15m, 8h, 30d (default: never)")
    lst = _with_config(ts.add_parser("list", help="tokens (never their secrets)"), cmd_tokens_list)
    lst.add_argument("--user")
    r = _with_config(ts.add_parser("revoke", help="revoke a token at once"), cmd_tokens_revoke)
    r.add_argument("id")
    h = ts.add_parser("hash", help="the plant file's token_hash of a token read from standard input")
    h.set_defaults(func=cmd_tokens_hash)
    audit = sub.add_parser("audit", help="the audit trail")
    aus = audit.add_subparsers(dest="audit_command", required=True)
    _with_config(aus.add_parser("verify", help="check the hash chain; names every edited or missing row"), cmd_audit_verify)  # fmt: skip
    e = _with_config(aus.add_parser("export", help="the trail as JSON or CSV"), cmd_audit_export)
    e.add_argument("-o", "--output")
    e.add_argument("--format", choices=["json", "csv"])
