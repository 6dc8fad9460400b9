"""OIDC bearer tokens (``[server.oidc]``): a JWT from one issuer, checked against the
issuer's signing keys (JWKS), its audience, issuer, times and algorithm, whose claims
name the caller's tenant and role (see "OIDC" in docs/server.md).

The keys are fetched when first needed and kept ``KEYS_MAX_AGE_S``; a token naming a key
id the cache lacks makes one refetch (the issuer rotated its keys), but refetches are
rationed (``REFETCH_BURST``, one more each ``REFETCH_EVERY_S``), so a flood of tokens with
made-up key ids cannot hammer the issuer. Every fetch replaces the whole key set: a key
the issuer removed is refused after the next fetch.

``OIDCVerifier.verify`` answers the caller's ``Identity`` (which ``_auth.py`` makes a
``Principal``) or a ``Refusal`` (the 401/403/503 the middleware sends); it never raises
for a bad token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt

from orca.store._tenants import TENANT_NAME

if TYPE_CHECKING:
    from orca.config import OIDCConfig

log = logging.getLogger("orca.server.auth")

MAX_TOKEN_CHARS = 8192
"""A longer bearer is refused before it is parsed."""
KEYS_MAX_AGE_S = 600.0
REFETCH_BURST = 3
REFETCH_EVERY_S = 30.0
FETCH_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 1 << 20

# a signature over the whole header and payload: claims past these are never trusted
_REQUIRED = ["exp", "iat", "iss", "aud", "sub"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token names: its ``sub``, its tenant claim, and the Orca role its role
    claim maps to (admin, operator or viewer)."""

    subject: str
    tenant: str
    role: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """A token refused: the status, the envelope's code, message and fix, and the
    ``error`` of the ``WWW-Authenticate`` challenge."""

    status: int
    code: str
    message: str
    fix: str
    error: str = "invalid_token"


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _fetch_json(url: str) -> dict[str, Any]:
    """The JSON object at ``url`` (https, or http to loopback), at most 1 MiB, no
    redirects followed."""
    if not (url.startswith("https://") or (url.startswith("http://") and _loopback(url))):
        raise OSError(f"{url} is not https (or http on loopback)")

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with opener.open(request, timeout=FETCH_TIMEOUT_S) as answer:
        body = answer.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise OSError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise OSError(f"{url} did not answer a JSON object")
    return document


class _Keys:
    """The issuer's keys by id, refetched when stale or when an unknown id is asked for
    (rationed: a token bucket of ``REFETCH_BURST``, refilled one per ``REFETCH_EVERY_S``)."""

    def __init__(self, fetch: Callable[[], dict[str, Any]]) -> None:
        self._fetch = fetch
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._tokens = float(REFETCH_BURST)
        self._refilled_at = time.monotonic()
        self._lock: asyncio.Lock | None = None
        self.fetches = 0

    def _ration(self) -> bool:
        now = time.monotonic()
        self._tokens = min(
            float(REFETCH_BURST), self._tokens + (now - self._refilled_at) / REFETCH_EVERY_S
        )
        self._refilled_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def _refresh(self) -> None:
        document = await asyncio.to_thread(self._fetch)
        self.fetches += 1
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise OSError("the JWKS has no keys list")
        self._keys = {
            str(k["kid"]): k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)
        }
        self._fetched_at = time.monotonic()

    async def get(self, kid: str) -> dict[str, Any] | None:
        """The key named ``kid``, or None (after at most one rationed refetch).

        Raises:
            OSError: the keys could not be fetched and none are cached.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one fetch at a time; the waiters see its result
            stale = self._fetched_at is None or time.monotonic() - self._fetched_at > KEYS_MAX_AGE_S
            if stale:
                try:
                    await self._refresh()
                except (OSError, ValueError):
                    if self._fetched_at is None:
                        raise
                    log.warning("the issuer's keys could not be refetched; using the cached")
            elif kid not in self._keys and self._ration():
                try:
                    await self._refresh()
                except (OSError, ValueError):
                    log.warning("the issuer's keys could not be refetched for key %r", kid[:64])
            return self._keys.get(kid)


class OIDCVerifier:
    """Checks OIDC bearer tokens against ``config`` (``[server.oidc]``)."""

    def __init__(self, config: OIDCConfig) -> None:
        self.config = config
        self._discovery: dict[str, Any] | None = None
        self._discovery_failed_at: float | None = None
        self._keys = _Keys(self._fetch_keys)

    @property
    def key_fetches(self) -> int:
        """How many times the keys were fetched (for tests and logs)."""
        return self._keys.fetches

    def discover(self) -> dict[str, Any]:
        """The issuer's ``/.well-known/openid-configuration`` (fetched once; its ``issuer``
        must be the configured one). Blocking: call it off the event loop.

        Raises:
            OSError: it cannot be fetched, or names another issuer.
        """
        if self._discovery is None:
            failed = self._discovery_failed_at
            if failed is not None and time.monotonic() - failed < REFETCH_EVERY_S:
                raise OSError("the issuer's openid-configuration could not be fetched lately")
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                document = _fetch_json(url)
            except (OSError, ValueError):
                self._discovery_failed_at = time.monotonic()
                raise
            if document.get("issuer") != self.config.issuer:
                raise OSError(
                    f"{url} names issuer {str(document.get('issuer'))[:200]!r}, not "
                    f"{self.config.issuer!r}"
                )
            self._discovery = document
        return self._discovery

    def _fetch_keys(self) -> dict[str, Any]:
        uri = self.config.jwks_uri or self.discover().get("jwks_uri")
        if not isinstance(uri, str):
            raise OSError("the issuer's openid-configuration names no jwks_uri")
        return _fetch_json(uri)

    async def verify(self, token: str) -> Identity | Refusal:
        """The caller ``token`` (a JWT) names, or why it is refused."""
        config = self.config
        if len(token) > MAX_TOKEN_CHARS:
            return _invalid(f"the bearer token is longer than {MAX_TOKEN_CHARS} characters")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return _invalid("the bearer token is not a well-formed JWT")
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in config.algorithms:
            return _invalid(
                f"the token's algorithm {str(alg)[:32]!r} is not taken; this server takes "
                f"{', '.join(config.algorithms)}"
            )
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            return _invalid("the token names no key id (kid) in its header")
        try:
            jwk = await self._keys.get(kid)
        except (OSError, ValueError) as exc:
            log.warning("the issuer's keys cannot be fetched: %s", str(exc)[:300])
            return Refusal(
                503,
                "OIDC_UNAVAILABLE",
                "the identity provider's signing keys cannot be fetched",
                f"check that {config.jwks_uri or config.issuer} answers from this server",
                "temporarily_unavailable",
            )
        if jwk is None:
            return _invalid(f"the token's key {kid[:64]!r} is not one of the issuer's keys")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            if jwk.get("alg") not in (None, alg) or jwk.get("use") not in (None, "sig"):
                raise jwt.InvalidKeyError("the key is not for this algorithm")
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway_s,
                options={"require": _REQUIRED, "verify_iat": True},
            )
        except jwt.ExpiredSignatureError:
            return Refusal(401, "TOKEN_EXPIRED", "the bearer token has expired", "sign in again")
        except jwt.ImmatureSignatureError:
            return Refusal(
                401,
                "TOKEN_NOT_YET_VALID",
                "the bearer token is not valid yet (nbf or iat in the future)",
                "check the clocks of the issuer and this server (leeway_s allows skew)",
            )
        except jwt.InvalidAudienceError:
            return Refusal(
                401,
                "TOKEN_AUDIENCE",
                f"the bearer token is not for this server (its audience is not "
                f"{config.audience!r})",
                f"ask the issuer for a token with audience {config.audience!r}",
            )
        except jwt.InvalidIssuerError:
            return Refusal(
                401,
                "TOKEN_ISSUER",
                f"the bearer token was not issued by {config.issuer}",
                f"sign in at {config.issuer}",
            )
        except jwt.MissingRequiredClaimError as exc:
            return _claims(f"the bearer token lacks the claim {exc.claim!r}")
        except (jwt.PyJWTError, ValueError, TypeError):
            return _invalid("the bearer token's signature or content is not valid")
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Identity | Refusal:
        config = self.config
        subject, tenant = claims.get("sub"), claims.get(config.tenant_claim)
        if not isinstance(subject, str) or not subject:
            return _claims("the bearer token's sub claim is not a string")
        if not isinstance(tenant, str) or not tenant:
            return _claims(f"the bearer token has no tenant claim {config.tenant_claim!r}")
        if not TENANT_NAME.match(tenant):
            return _claims(
                f"the bearer token's tenant claim {config.tenant_claim!r} is {tenant[:64]!r}, "
                "not a tenant name (1 to 40 lowercase letters, digits, '_' or '-')"
            )
        given = claims.get(config.role_claim)
        if not isinstance(given, str) or not given:
            return _claims(f"the bearer token has no role claim {config.role_claim!r}")
        role = config.role_map.get(given)
        if role is None:
            return Refusal(
                403,
                "FORBIDDEN",
                f"the token's role {given[:64]!r} ({config.role_claim}) maps to no Orca role",
                "ask for a role that [server.oidc] role_map lists",
                "insufficient_scope",
            )
        return Identity(subject=subject, tenant=tenant, role=role)

    def public_config(self) -> dict[str, Any]:
        """What the web UI needs to sign in (no secrets): the issuer, the client id and
        the issuer's endpoints (discovered; None when the issuer cannot be reached).
        Blocking: call it off the event loop."""
        try:
            found = self.discover()
        except (OSError, ValueError) as exc:
            log.warning("the issuer's openid-configuration cannot be fetched: %s", str(exc)[:300])
            found = {}

        def endpoint(name: str) -> str | None:
            value = found.get(name)
            return (
                value if isinstance(value, str) and value.startswith(("https:", "http:")) else None
            )

        return {
            "oidc": True,
            "issuer": self.config.issuer,
            "client_id": self.config.client_id,
            "audience": self.config.audience,
            "authorization_endpoint": endpoint("authorization_endpoint"),
            "token_endpoint": endpoint("token_endpoint"),
            "scopes": ["openid"],
        }


def _invalid(message: str) -> Refusal:
    return Refusal(401, "TOKEN_INVALID", message, "send a token the issuer signed for this server")


def _claims(message: str) -> Refusal:
    return Refusal(401, "TOKEN_CLAIMS", message, "ask the issuer to include the claim")


def tenant_refusal(tenant: str, why: str) -> Refusal:
    """The refusal of a valid token whose tenant the server does not serve: ``why`` is
    "unknown" (not registered) or "disabled"."""
    if why == "disabled":
        return Refusal(
            403, "TENANT_DISABLED", f"tenant {tenant!r} is disabled",
            "ask an administrator of this server to enable it (orca tenant enable)",
            "insufficient_scope",
        )  # fmt: skip
    return Refusal(
        403, "TENANT_UNKNOWN", f"tenant {tenant!r} is not registered on this server",
        f"ask an administrator of this server to register it (orca tenant create {tenant})",
        "insufficient_scope",
    )  # fmt: skip
