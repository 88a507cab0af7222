"""Who is calling: the bearer token checked at the edge, the principal token sent inward.

The user's JWT never travels past the gateway. Services receive a short-lived internal
token (servicekit.auth.mint_internal_token) carrying only the principal, so they trust one
key, the internal secret, whatever identity provider staff sign in with.

The role `service` is the platform's own identity (consumers, jobs, internal calls); a user
token claiming it is refused here, so a person can never act as the platform.
"""

from __future__ import annotations

import base64
import json
import time

from google.rpc import code_pb2

from gateway.errors import GatewayError
from servicekit.auth import INTERNAL_TTL_SECONDS, AuthError, Principal, Role, UserTokenVerifier, mint_internal_token

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="atelier"'}
VERIFIED_TOKEN_CACHE_SECONDS = 300
_CACHE_LIMIT = 10_000


def unauthenticated(message: str) -> GatewayError:
    return GatewayError(code_pb2.UNAUTHENTICATED, message, reason="UNAUTHENTICATED", headers=_CHALLENGE)


class Identity:
    def __init__(self, verifier: UserTokenVerifier, internal_secret: str) -> None:
        self._verifier = verifier
        self._secret = internal_secret
        # Minting costs an HMAC and a JSON encode per request; one token per principal is
        # reused until half its lifetime has passed, so it is always valid long enough
        # for a chain of internal calls.
        self._minted: dict[Principal, tuple[str, float]] = {}
        # Verifying a JWT costs ~100 µs of Python per request. A token's signature and
        # claims cannot change, only time can expire it, so a verified token is
        # remembered until its `exp` (and at most a few minutes).
        self._verified: dict[str, tuple[Principal, float]] = {}

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise unauthenticated("missing Authorization header (expected 'Bearer <token>')")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("the Authorization header must be 'Bearer <token>'")
        token = token.strip()
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            principal = self._verifier.verify(token)
        except AuthError as exc:
            raise unauthenticated(f"invalid bearer token: {exc}") from None
        if principal.role is Role.SERVICE:
            raise unauthenticated(
                "invalid bearer token: the role 'service' is internal to the platform and is not "
                "accepted in a user token (use associate, manager or hq)"
            )
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[token] = (principal, min(_expiry(token), now + VERIFIED_TOKEN_CACHE_SECONDS))
        return principal

    def internal_token(self, principal: Principal) -> str:
        now = time.monotonic()
        cached = self._minted.get(principal)
        if cached is not None and cached[1] > now:
            return cached[0]
        token = mint_internal_token(principal, self._secret)
        if len(self._minted) >= _CACHE_LIMIT:
            self._minted.clear()
        self._minted[principal] = (token, now + INTERNAL_TTL_SECONDS / 2)
        return token


def _expiry(token: str) -> float:
    """The `exp` of a token that has just been verified (so it has one)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"])
