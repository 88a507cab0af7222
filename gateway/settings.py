"""Gateway configuration, from environment variables only, checked before serving.

| variable | default | meaning |
|---|---|---|
| ATELIER_ENV | production | `development` (set by `atelier up`) relaxes the secret checks below; anything else is production |
| ATELIER_HTTP_ADDRESS | 0.0.0.0:8080 | where the HTTP server listens (host:port, `[::]:8080` for IPv6) |
| ATELIER_INTERNAL_SECRET | (required) | HS256 key of the internal principal token sent to services |
| ATELIER_JWT_SECRET | | HMAC key of user tokens (HS256/HS384/HS512) |
| ATELIER_JWT_PUBLIC_KEY | | PEM public key (or a path to one) of user tokens (RS*/PS*/ES*/EdDSA) |
| ATELIER_JWT_ALGORITHMS | HS256 | comma-separated allow-list; `none` is always refused |
| ATELIER_JWT_ISSUER | atelier-dev | required `iss` of user tokens |
| ATELIER_JWT_AUDIENCE | atelier | required `aud` of user tokens |
| ATELIER_GATEWAY_DEADLINE_SECONDS | 10 | deadline of every transcoded call |
| ATELIER_GATEWAY_HEALTH_DEADLINE_SECONDS | 2 | deadline of each health check |
| ATELIER_DESCRIPTOR_SET | | FileDescriptorSet with source info, for comments in /docs (gateway.comments) |
| ATELIER_LOG_LEVEL | INFO | |
| ATELIER_<BACKEND>_ADDRESS | | host:port of each backend in gateway.registry |

Outside development the gateway refuses to start when an HMAC secret (ATELIER_JWT_SECRET,
ATELIER_INTERNAL_SECRET) is shorter than 32 bytes or is one published with the project
(KNOWN_SECRETS): anyone who knows the secret can sign a token of any role.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from jwt.algorithms import get_default_algorithms

from gateway.registry import BACKENDS, Backend
from servicekit.auth import UserTokenVerifier
from servicekit.config import ConfigError, optional

_HMAC_ALGORITHMS = {"HS256", "HS384", "HS512"}

DEVELOPMENT = "development"
# An HMAC key shorter than the SHA-256 output weakens HS256 (RFC 7518 section 3.2).
MIN_SECRET_BYTES = 32
# Secrets that were ever published with the project (docker-compose.yml defaults until
# issue 8). tests/gateway/test_settings.py checks that every secret value written in the
# README, compose, the chart, deploy/ or docs/ is refused: listed here, or too short.
KNOWN_SECRETS = frozenset(
    {
        "dev-jwt-secret-change-me",
        "dev-internal-secret-change-me",
    }
)
_GENERATE = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def secret_problem(name: str, secret: str) -> str | None:
    """Why `secret` must not sign tokens outside development, or None when it may."""
    if secret in KNOWN_SECRETS:
        return f"{name} is a secret published with Atelier; {_GENERATE}"
    size = len(secret.encode("utf-8"))
    if size < MIN_SECRET_BYTES:
        return f"{name} is {size} bytes long, at least {MIN_SECRET_BYTES} are needed; {_GENERATE}"
    return None


@dataclass(frozen=True)
class Settings:
    internal_secret: str
    verifier: UserTokenVerifier
    # Backend name (gateway.registry) → host:port; backends without an address are skipped.
    service_addresses: dict[str, str] = field(default_factory=dict)
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    deadline_seconds: float = 10.0
    health_deadline_seconds: float = 2.0
    backends: tuple[Backend, ...] = BACKENDS
    log_level: str = "INFO"
    descriptor_set: str = ""
    # ATELIER_ENV=development: weak or published secrets are accepted (with a warning).
    development: bool = False

    def problems(self) -> list[str]:
        """Everything that keeps these settings from serving, in one list."""
        if not self.internal_secret:
            return ["ATELIER_INTERNAL_SECRET is required but not set"]
        if not self.verifier.key:
            return ["no key to verify user tokens"]
        found = [] if self.development else self.weak_secrets()
        if self.deadline_seconds <= 0 or self.health_deadline_seconds <= 0:
            found.append("gateway deadlines must be positive")
        return found

    def weak_secrets(self) -> list[str]:
        secrets = [("ATELIER_INTERNAL_SECRET", self.internal_secret)]
        if self.verifier.algorithms[0] in _HMAC_ALGORITHMS:
            secrets.append(("ATELIER_JWT_SECRET", self.verifier.key))
        return [p for name, secret in secrets if (p := secret_problem(name, secret)) is not None]

    def check(self) -> None:
        found = self.problems()
        if found:
            raise ConfigError("gateway cannot start:\n  - " + "\n  - ".join(found))

    @classmethod
    def from_env(cls) -> Settings:
        problems: list[str] = []
        internal_secret = os.environ.get("ATELIER_INTERNAL_SECRET", "").strip()
        if not internal_secret:
            problems.append("ATELIER_INTERNAL_SECRET is required but not set")
        verifier = None
        try:
            verifier = verifier_from_env()
        except ConfigError as exc:
            problems.append(str(exc))
        try:
            host, port = parse_address(optional("ATELIER_HTTP_ADDRESS", "0.0.0.0:8080"))
        except ConfigError as exc:
            problems.append(f"ATELIER_HTTP_ADDRESS: {exc}")
            host, port = "", 0
        deadline = _seconds("ATELIER_GATEWAY_DEADLINE_SECONDS", 10.0, problems)
        health_deadline = _seconds("ATELIER_GATEWAY_HEALTH_DEADLINE_SECONDS", 2.0, problems)
        addresses = {
            b.name: os.environ[b.address_env].strip() for b in BACKENDS if os.environ.get(b.address_env, "").strip()
        }
        settings = None
        if verifier is not None and internal_secret:
            settings = cls(
                internal_secret=internal_secret,
                verifier=verifier,
                service_addresses=addresses,
                http_host=host,
                http_port=port,
                deadline_seconds=deadline,
                health_deadline_seconds=health_deadline,
                log_level=optional("ATELIER_LOG_LEVEL", "INFO").upper(),
                descriptor_set=os.environ.get("ATELIER_DESCRIPTOR_SET", "").strip(),
                development=os.environ.get("ATELIER_ENV", "").strip().lower() == DEVELOPMENT,
            )
            problems.extend(settings.problems())
        # Report every problem at once so a broken deployment is fixed in one round.
        if problems or settings is None:
            raise ConfigError("gateway cannot start:\n  - " + "\n  - ".join(problems))
        return settings


def verifier_from_env() -> UserTokenVerifier:
    algorithms = parse_algorithms(optional("ATELIER_JWT_ALGORITHMS", "HS256"))
    secret = os.environ.get("ATELIER_JWT_SECRET", "").strip()
    public_key = os.environ.get("ATELIER_JWT_PUBLIC_KEY", "").strip()
    hmac = algorithms[0] in _HMAC_ALGORITHMS
    if hmac:
        if not secret:
            raise ConfigError(f"ATELIER_JWT_SECRET is required for {', '.join(algorithms)}")
        key = secret
    else:
        if not public_key:
            raise ConfigError(f"ATELIER_JWT_PUBLIC_KEY is required for {', '.join(algorithms)}")
        key = load_public_key(public_key, algorithms)
    return UserTokenVerifier(
        key=key,
        algorithms=algorithms,
        issuer=optional("ATELIER_JWT_ISSUER", "atelier-dev"),
        audience=optional("ATELIER_JWT_AUDIENCE", "atelier"),
    )


def parse_algorithms(raw: str) -> tuple[str, ...]:
    algorithms = tuple(a.strip() for a in raw.split(",") if a.strip())
    if not algorithms:
        raise ConfigError("ATELIER_JWT_ALGORITHMS is empty")
    if any(a.lower() == "none" for a in algorithms):
        raise ConfigError("ATELIER_JWT_ALGORITHMS must not allow 'none'")
    known = set(get_default_algorithms()) - {"none"}
    unknown = [a for a in algorithms if a not in known]
    if unknown:
        raise ConfigError(
            f"ATELIER_JWT_ALGORITHMS has unknown algorithm(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    # One key verifies every allowed algorithm, so mixing HMAC and public-key algorithms
    # would invite key-confusion attacks.
    if len({a in _HMAC_ALGORITHMS for a in algorithms}) > 1:
        raise ConfigError("ATELIER_JWT_ALGORITHMS must not mix HS* with public-key algorithms")
    return algorithms


def load_public_key(value: str, algorithms: tuple[str, ...]) -> str:
    pem = value
    if not value.startswith("-----BEGIN"):
        path = Path(value)
        if not path.is_file():
            raise ConfigError("ATELIER_JWT_PUBLIC_KEY is neither a PEM key nor a readable file")
        pem = path.read_text()
    # Loading now turns a bad key into a start-up error instead of 401s for everyone.
    for name in algorithms:
        try:
            get_default_algorithms()[name].prepare_key(pem)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigError(f"ATELIER_JWT_PUBLIC_KEY is not a usable {name} public key: {exc}") from None
    return pem


def parse_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"expected host:port, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    number = int(port)
    if not 0 <= number <= 65535:
        raise ConfigError(f"port out of range in {value!r}")
    return host, number


def _seconds(name: str, default: float, problems: list[str]) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name} must be a number of seconds, got {raw!r}")
        return default
    if value <= 0:
        problems.append(f"{name} must be positive, got {raw!r}")
    return value
