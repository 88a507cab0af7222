"""Who is calling, and how that travels.

Two kinds of token, both JWTs verified with PyJWT:

* user tokens, presented to the gateway by associates, managers and headquarters
  (issuer / audience / expiry checked, algorithms from an allow-list);
* the internal principal token, minted by the gateway for each request and carried in
  gRPC metadata to every service (and onwards on internal calls). Services trust a
  principal only when this token verifies with the shared internal secret.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import jwt

PRINCIPAL_METADATA_KEY = "x-atelier-principal"
INTERNAL_ISSUER = "atelier-gateway"
INTERNAL_AUDIENCE = "atelier-services"
INTERNAL_ALGORITHM = "HS256"
# Long enough for a chain of internal calls started by one request, short enough that a
# leaked token is useless soon after.
INTERNAL_TTL_SECONDS = 300


class Role(StrEnum):
    ASSOCIATE = "associate"
    MANAGER = "manager"
    HQ = "hq"
    SERVICE = "service"


class AuthError(Exception):
    """A credential is missing, malformed, expired or not signed by a trusted key."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    associate_id: str = ""
    store: str = ""

    def claims(self) -> dict[str, str]:
        return {
            "sub": self.subject,
            "role": self.role.value,
            "associate_id": self.associate_id,
            "store": self.store,
        }

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> Principal:
        try:
            role = Role(str(claims.get("role", "")))
        except ValueError:
            raise AuthError(f"unknown role {claims.get('role')!r}") from None
        subject = str(claims.get("sub") or "")
        if not subject:
            raise AuthError("token has no subject")
        store = str(claims.get("store") or "")
        associate_id = str(claims.get("associate_id") or "")
        if role in (Role.ASSOCIATE, Role.MANAGER) and not store:
            raise AuthError(f"a {role.value} token must name the store")
        if role is Role.ASSOCIATE and not associate_id:
            raise AuthError("an associate token must carry the associate id")
        return cls(subject=subject, role=role, associate_id=associate_id, store=store)


# The principal the platform uses for its own work (event consumers, the relay, jobs).
SYSTEM = Principal(subject="services/atelier", role=Role.SERVICE)


def mint_internal_token(principal: Principal, secret: str, ttl_seconds: int = INTERNAL_TTL_SECONDS) -> str:
    now = int(time.time())
    payload = {
        **principal.claims(),
        "iss": INTERNAL_ISSUER,
        "aud": INTERNAL_AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(payload, secret, algorithm=INTERNAL_ALGORITHM)


def verify_internal_token(token: str, secret: str) -> Principal:
    return _decode_internal(token, secret)[0]


def _decode_internal(token: str, secret: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[INTERNAL_ALGORITHM],
            audience=INTERNAL_AUDIENCE,
            issuer=INTERNAL_ISSUER,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid principal token: {exc}") from None
    return Principal.from_claims(claims), float(claims["exp"])


class PrincipalTokenCache:
    """verify_internal_token with memory: the gateway reuses a principal token for many
    calls, and an HMAC check plus claim parsing per call is a measurable share of a
    service's CPU. A token is trusted from the cache only until its own expiry."""

    def __init__(self, secret: str, max_entries: int = 10_000):
        self._secret = secret
        self._max = max_entries
        self._known: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        hit = self._known.get(token)
        now = time.time()
        if hit is not None and hit[1] > now:
            return hit[0]
        principal, expiry = _decode_internal(token, self._secret)
        if len(self._known) >= self._max:
            self._known.clear()  # crude but bounded; tokens are short-lived anyway
        self._known[token] = (principal, expiry)
        return principal


def mint_user_token(
    *,
    secret: str,
    issuer: str,
    audience: str,
    subject: str,
    role: str,
    associate_id: str = "",
    store: str = "",
    ttl_seconds: int = 8 * 3600,
    algorithm: str = "HS256",
) -> str:
    """A development token for the gateway (`atelier token`)."""
    principal = Principal.from_claims({"sub": subject, "role": role, "associate_id": associate_id, "store": store})
    now = int(time.time())
    payload = {**principal.claims(), "iss": issuer, "aud": audience, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(payload, secret, algorithm=algorithm)


@dataclass(frozen=True)
class UserTokenVerifier:
    """Verifies the bearer tokens staff present to the gateway."""

    key: str
    algorithms: tuple[str, ...]
    issuer: str
    audience: str
    leeway_seconds: int = 30

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"malformed token: {exc}") from None
        # Refuse "none" and anything outside the allow-list before touching the key.
        if header.get("alg") not in self.algorithms:
            raise AuthError(f"token algorithm {header.get('alg')!r} is not allowed")
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(str(exc)) from None
        return Principal.from_claims(claims)
