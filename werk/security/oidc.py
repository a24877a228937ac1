"""Sign-in through an OpenID Connect provider: werk as the relying party (OpenID Connect Core 1.0, §3.1).

The authorization-code flow with PKCE (RFC 7636, ``S256``):

1. :meth:`OidcClient.begin` reads the provider's discovery document (``{issuer}/.well-known/openid-configuration``,
   whose ``issuer`` must be the configured one), makes ``state``, ``nonce`` and a code verifier, keeps them for
   :data:`PENDING_TTL_S` (at most :data:`MAX_PENDING` at once, the oldest dropped; in werk's database, so the
   replica the browser comes back to finishes what another began) and answers the provider's
   authorization URL to send the browser to.
2. :meth:`OidcClient.finish` takes the ``state`` and ``code`` the provider sent the browser back with, redeems the
   code at the token endpoint (with the verifier, and the client secret from the environment where there is one,
   HTTP Basic), and checks the ID token (§3.1.3.7): its signature against the provider's JWKS (fetched again once
   when a key id is unknown: the provider rotated its keys), ``alg`` one of :data:`ALGORITHMS` (never ``none`` or
   an HMAC keyed by the public secret), ``iss`` the issuer, ``aud`` naming werk's client id (``azp`` werk's when
   there are several), ``exp`` in the future, ``nonce`` the one of step 1.
3. :meth:`OidcClient.grants_of` maps the claims to werk grants (``role_claim`` values through ``grants``).

JOSE is joserfc's (Authlib's JOSE library), PKCE's challenge Authlib's; HTTP is httpx. The client secret and the
tokens are never logged; a refusal says what failed, never a token.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from werk.config.model import GrantConfig, OidcConfig
from werk.errors import ConfigError, WerkError

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Signature algorithms werk accepts for an ID token: asymmetric ones only."""
PENDING_TTL_S = 600.0
"""How long a begun sign-in may take at the provider."""
MAX_PENDING = 1000
"""Begun sign-ins kept at once; past it the oldest is dropped (its person starts again)."""
DISCOVERY_TTL_S = 3600.0
"""How long the discovery document and the keys are trusted before they are read again."""


class OidcError(WerkError):
    """A sign-in through the provider that failed: the message says what (for the audit and the log)."""


@dataclass(frozen=True)
class Pending:
    """A begun sign-in, kept under its ``state`` until the browser comes back."""

    nonce: str
    verifier: str
    redirect_uri: str
    next: str


class PendingSignIns(Protocol):
    """Where begun sign-ins wait for the browser to come back: in the process (:class:`PendingInMemory`), or in
    werk's database (:class:`werk.security.store.SecurityStore`), where the replica the provider sends the browser
    back to finds what another began."""

    def keep_pending(self, state: str, pending: Pending) -> None:
        """Keep ``pending`` under ``state`` for :data:`PENDING_TTL_S` (at most :data:`MAX_PENDING`, the oldest
        dropped first)."""
        ...

    def take_pending(self, state: str) -> Pending | None:
        """The sign-in begun under ``state``, once (it is forgotten); None when unknown or older than
        :data:`PENDING_TTL_S`."""
        ...


class PendingInMemory:
    """Begun sign-ins in this process (a client without werk's database)."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, tuple[float, Pending]] = OrderedDict()

    def keep_pending(self, state: str, pending: Pending) -> None:
        now = time.monotonic()
        while self._pending and (
            len(self._pending) >= MAX_PENDING or now - next(iter(self._pending.values()))[0] > PENDING_TTL_S
        ):
            self._pending.popitem(last=False)
        self._pending[state] = (now, pending)

    def take_pending(self, state: str) -> Pending | None:
        kept = self._pending.pop(state, None)
        if kept is None or time.monotonic() - kept[0] > PENDING_TTL_S:
            return None
        return kept[1]


@dataclass(frozen=True)
class SignedIn:
    """Who the provider vouched for: the werk user name, the claims of the ID token, and the grants they map to."""

    name: str
    claims: Mapping[str, Any]
    grants: tuple[GrantConfig, ...]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OidcClient:
    """The relying party of one provider (see the module docstring). ``environ``: where the client secret's
    variable is read (the process's environment); ``pending``: where begun sign-ins wait (this process's memory
    when not given)."""

    def __init__(
        self,
        config: OidcConfig,
        environ: Mapping[str, str] | None = None,
        pending: PendingSignIns | None = None,
    ) -> None:
        self.config = config
        self.issuer = config.issuer.rstrip("/")
        url = urlsplit(self.issuer)
        if url.scheme != "https" and not _loopback(url.hostname or ""):
            raise ConfigError(
                f"server.security.oidc.issuer: {config.issuer!r} must be https (http only on a loopback address)"
            )
        env = os.environ if environ is None else environ
        self.secret: str | None = None
        if config.client_secret_env:
            self.secret = env.get(config.client_secret_env) or None
            if self.secret is None:
                raise ConfigError(
                    f"server.security.oidc.client_secret_env: the environment variable "
                    f"{config.client_secret_env!r} is not set (it holds the client secret)"
                )
        self.pending: PendingSignIns = pending if pending is not None else PendingInMemory()
        self._meta: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    # --- the provider -------------------------------------------------------------------------------------------

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout_s) as http:
                r = await http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise OidcError(f"the provider did not answer {url}: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise OidcError(f"the provider answered {url} with HTTP {r.status_code}")
        try:
            data = r.json()
        except ValueError:
            raise OidcError(f"the provider's {url} is not JSON") from None
        if not isinstance(data, dict):
            raise OidcError(f"the provider's {url} is not a JSON object")
        return data

    async def discover(self) -> dict[str, Any]:
        """The provider's discovery document (cached for :data:`DISCOVERY_TTL_S`)."""
        now = time.monotonic()
        if self._meta is not None and now - self._meta[0] < DISCOVERY_TTL_S:
            return self._meta[1]
        meta = await self._get(self.issuer + "/.well-known/openid-configuration")
        if str(meta.get("issuer", "")).rstrip("/") != self.issuer:
            raise OidcError(
                f"the discovery document names issuer {meta.get('issuer')!r}, not {self.issuer!r}"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise OidcError(f"the discovery document has no {key}")
        self._meta = (now, meta)
        return meta

    async def keys(self, *, fresh: bool = False) -> KeySet:
        """The provider's signing keys (its JWKS), cached; ``fresh`` reads them again."""
        now = time.monotonic()
        if not fresh and self._keys is not None and now - self._keys[0] < DISCOVERY_TTL_S:
            return self._keys[1]
        meta = await self.discover()
        try:
            keys = KeySet.import_key_set(await self._get(meta["jwks_uri"]))  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise OidcError(f"the provider's JWKS is unusable: {exc}") from None
        self._keys = (now, keys)
        return keys

    # --- the flow -----------------------------------------------------------------------------------------------

    async def begin(self, redirect_uri: str, next: str = "/") -> tuple[str, str]:
        """(the provider's authorization URL to send the browser to, the ``state`` it will come back with)."""
        meta = await self.discover()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        await asyncio.to_thread(
            self.pending.keep_pending, state, Pending(nonce, verifier, redirect_uri, next)
        )
        scopes = list(dict.fromkeys(["openid", *self.config.scopes]))
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        endpoint: str = meta["authorization_endpoint"]
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(query), state

    async def finish(self, state: str, code: str) -> tuple[SignedIn, str]:
        """The person the provider vouched for, and where they were going; :class:`OidcError` when the state is
        unknown or stale, the code is refused, or the ID token fails a check."""
        pending = await asyncio.to_thread(self.pending.take_pending, state)
        if pending is None:
            raise OidcError("unknown or expired sign-in state (start again)")
        meta = await self.discover()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "code_verifier": pending.verifier,
            "client_id": self.config.client_id,
        }
        auth: httpx.Auth = (
            httpx.BasicAuth(self.config.client_id, self.secret) if self.secret is not None else httpx.Auth()
        )  # a public client: no client authentication, PKCE alone
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout_s) as http:
                r = await http.post(meta["token_endpoint"], data=form, auth=auth)
        except httpx.HTTPError as exc:
            raise OidcError(f"the provider's token endpoint did not answer: {type(exc).__name__}") from None
        try:
            answer = r.json()
        except ValueError:
            answer = {}
        if r.status_code != 200 or not isinstance(answer, dict):
            error = answer.get("error", "") if isinstance(answer, dict) else ""
            raise OidcError(f"the provider refused the code: HTTP {r.status_code} {error}".strip())
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the provider's token answer has no id_token")
        claims = await self.verify(id_token, pending.nonce)
        name = claims.get(self.config.username_claim) or claims.get("sub")
        if not isinstance(name, str) or not name:
            raise OidcError(f"the ID token names nobody ({self.config.username_claim!r} and 'sub' are empty)")
        return SignedIn(name, claims, self.grants_of(claims)), pending.next

    async def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of ``id_token`` once its signature, ``iss``, ``aud``/``azp``, ``exp`` and ``nonce`` hold."""
        keys = await self.keys()
        try:
            kid = extract_compact(id_token.encode()).protected.get("kid")
            if kid is not None and all(k.kid != kid for k in keys.keys):
                keys = await self.keys(fresh=True)  # the provider rotated its keys
            token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.config.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise OidcError(f"the ID token is refused: {exc}") from None
        claims = dict(token.claims)
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.config.client_id:
            raise OidcError("the ID token names several audiences and werk is not its azp")
        return claims

    def grants_of(self, claims: Mapping[str, Any]) -> tuple[GrantConfig, ...]:
        """The werk grants the claims map to: each value of ``role_claim`` looked up in ``grants``."""
        value = claims.get(self.config.role_claim)
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        out: list[GrantConfig] = []
        for v in values:
            out += self.config.grants.get(str(v), [])
        return tuple(out)
