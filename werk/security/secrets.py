"""Passwords and tokens as werk keeps them: never in clear, never logged.

- **Passwords** (local users) are Argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended option):
  slow on purpose, so a stolen werk file does not give them away.
- **API tokens** are 32 random bytes (``secrets.token_urlsafe``) behind a public id: ``wk_<id>.<secret>``. The
  file keeps the id, a random salt and SHA-256(salt + secret). A token is a key, not a password: it has 256 bits
  of entropy, so a salted fast hash is as safe as a slow one and lets every request be checked in microseconds
  (the AAS fast path answers tens of thousands of writes a second).
- **Plant-file tokens** are written ``sha256:<salt hex>:<digest hex>`` (``token_hash``); the unsalted
  ``token_sha256`` of earlier plant files is still read, with a deprecation warning (the same token gives the
  same digest in every plant, so one leaked file is a lookup table for the others).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "wk_"
_hasher = PasswordHasher()
# verifying an unknown user's password costs as much as a known one's: the time tells nobody which names exist
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (its PHC string, with salt and parameters)."""
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored`` (an Argon2 PHC string) was made from; None (no such user, no
    password) takes as long and is False."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def salted_digest(salt: str, secret: str) -> str:
    """SHA-256(salt + secret) in hex."""
    return hashlib.sha256((salt + secret).encode()).hexdigest()


def new_token() -> tuple[str, str, str, str]:
    """A new API token: (token as handed out, its id, salt, digest). Only the last three are stored."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    return f"{TOKEN_PREFIX}{token_id}.{secret}", token_id, salt, salted_digest(salt, secret)


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a token in werk's ``wk_<id>.<secret>`` form, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    token_id, dot, secret = token[len(TOKEN_PREFIX) :].partition(".")
    if not dot or not token_id or not secret or len(token_id) > 32:
        return None
    return token_id, secret


def plant_token_hash(token: str) -> str:
    """The ``token_hash`` a plant file keeps for a bearer token: ``sha256:<salt>:<digest>``."""
    salt = secrets.token_hex(16)
    return f"sha256:{salt}:{salted_digest(salt, token)}"


def plant_token_matches(stored: str, token: str) -> bool:
    """Whether ``token`` is the one a plant file's ``token_hash`` was made from (constant time)."""
    scheme, _, rest = stored.partition(":")
    salt, _, digest = rest.partition(":")
    if scheme != "sha256" or not salt or not digest:
        return False
    return hmac.compare_digest(salted_digest(salt, token), digest)


def legacy_digest(token: str) -> str:
    """The unsalted SHA-256 of earlier plant files (``token_sha256``)."""
    return hashlib.sha256(token.encode()).hexdigest()
