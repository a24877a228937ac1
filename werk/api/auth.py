"""Who may write: bearer tokens mapped to users and roles from the plant file.

Reads are open on the loopback interface; every write names a role. Tokens are compared by SHA-256 digest in
constant time and never logged. With no users configured, writes are refused with a message saying how to allow them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from werk.config.model import ROLE_RANK, ServerConfig
from werk.core.model import User
from werk.errors import Unauthorized


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    def __init__(self, server: ServerConfig) -> None:
        self.users: list[tuple[str, User]] = []
        for u in server.users:
            digest = u.token_sha256
            if digest is None and u.token_env:
                secret = os.environ.get(u.token_env)
                digest = token_digest(secret) if secret else None
            if digest is not None:
                self.users.append((digest, User(u.name, u.role)))

    def user(self, request: Request) -> User | None:
        return self.user_of(request.headers.get("authorization", ""))

    def user_of(self, header: str) -> User | None:
        """The user an ``Authorization: Bearer`` header value names, if any."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        digest = token_digest(token.strip())
        for known, user in self.users:
            if hmac.compare_digest(known, digest):
                return user
        return None

    def authorize(self, header: str, role: str) -> User:
        """The user an ``Authorization`` header value names, if that user holds ``role`` or a higher one; else
        :class:`~werk.errors.Unauthorized` saying why. Every write werk serves is decided here: the routes through
        :meth:`require`, the AAS API and its fast path directly, before they read a byte of the body."""
        if not self.users:
            raise Unauthorized(
                403, "writes are disabled: add a user with a token to server.users in the plant file"
            )
        user = self.user_of(header)
        if user is None:
            raise Unauthorized(401, "missing or unknown bearer token", {"WWW-Authenticate": "Bearer"})
        if ROLE_RANK[user.role] < ROLE_RANK[role]:
            raise Unauthorized(403, f"user {user.name!r} has role {user.role!r}; this needs {role!r}")
        return user

    def require(self, role: str) -> Callable[[Request], Awaitable[User]]:
        """A FastAPI dependency: the caller must hold ``role`` or a higher one (:meth:`authorize`)."""

        async def dependency(request: Request) -> User:
            try:
                user = self.authorize(request.headers.get("authorization", ""), role)
            except Unauthorized as exc:
                raise HTTPException(exc.status, str(exc), headers=exc.headers) from None
            request.state.user = user  # for routes that record who did it (audit)
            return user

        # what the API's error handlers and OpenAPI documentation look for: this dependency decides a role
        dependency.required_role = role  # type: ignore[attr-defined]
        return dependency
