"""Configuration from the environment fails fast and clearly; the registry skips what is absent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway import create_app
from gateway.registry import BACKENDS, Backend, proto_module, resolve
from gateway.settings import Settings, parse_address
from servicekit.auth import AuthError, UserTokenVerifier, mint_user_token
from servicekit.config import ConfigError

GATEWAY_VARS = [
    "ATELIER_HTTP_ADDRESS",
    "ATELIER_INTERNAL_SECRET",
    "ATELIER_JWT_SECRET",
    "ATELIER_JWT_PUBLIC_KEY",
    "ATELIER_JWT_ALGORITHMS",
    "ATELIER_JWT_ISSUER",
    "ATELIER_JWT_AUDIENCE",
    "ATELIER_GATEWAY_DEADLINE_SECONDS",
    "ATELIER_GATEWAY_HEALTH_DEADLINE_SECONDS",
    *(b.address_env for b in BACKENDS),
]


@pytest.fixture
def env(monkeypatch):
    for name in GATEWAY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATELIER_INTERNAL_SECRET", "internal-secret")
    monkeypatch.setenv("ATELIER_JWT_SECRET", "jwt-secret-" + "x" * 40)
    return monkeypatch


def test_defaults(env):
    env.setenv("ATELIER_CUSTOMER_ADDRESS", "127.0.0.1:50051")
    settings = Settings.from_env()
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8080)
    assert settings.deadline_seconds == 10.0
    assert settings.verifier.algorithms == ("HS256",)
    assert (settings.verifier.issuer, settings.verifier.audience) == ("atelier-dev", "atelier")
    assert settings.service_addresses == {"customer": "127.0.0.1:50051"}


def test_overrides(env):
    env.setenv("ATELIER_HTTP_ADDRESS", "[::1]:9090")
    env.setenv("ATELIER_GATEWAY_DEADLINE_SECONDS", "2.5")
    env.setenv("ATELIER_JWT_ALGORITHMS", "HS512, HS256")
    env.setenv("ATELIER_JWT_ISSUER", "https://login.example")
    env.setenv("ATELIER_JWT_AUDIENCE", "atelier-prod")
    settings = Settings.from_env()
    assert (settings.http_host, settings.http_port) == ("::1", 9090)
    assert settings.deadline_seconds == 2.5
    assert settings.verifier.algorithms == ("HS512", "HS256")
    assert settings.verifier.issuer == "https://login.example"


def test_every_problem_is_reported_at_once(env):
    env.delenv("ATELIER_INTERNAL_SECRET")
    env.delenv("ATELIER_JWT_SECRET")
    env.setenv("ATELIER_GATEWAY_DEADLINE_SECONDS", "soon")
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env()
    message = str(excinfo.value)
    assert "ATELIER_INTERNAL_SECRET" in message
    assert "ATELIER_JWT_SECRET" in message
    assert "ATELIER_GATEWAY_DEADLINE_SECONDS" in message


@pytest.mark.parametrize(
    "algorithms, needle",
    [
        ("none", "none"),
        ("HS256,none", "none"),
        ("HS256,RS256", "mix"),
        ("HS999", "unknown"),
        (" , ", "empty"),
    ],
)
def test_bad_algorithm_lists(env, algorithms, needle):
    env.setenv("ATELIER_JWT_ALGORITHMS", algorithms)
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env()


def test_public_key_algorithms_need_a_public_key(env):
    env.setenv("ATELIER_JWT_ALGORITHMS", "RS256")
    with pytest.raises(ConfigError, match="ATELIER_JWT_PUBLIC_KEY"):
        Settings.from_env()
    env.setenv("ATELIER_JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----")
    with pytest.raises(ConfigError, match="not a usable RS256"):
        Settings.from_env()


def _pem(private_key) -> tuple[str, str]:
    public = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return public.decode(), private.decode()


def _hmac_token_signed_with(key: str) -> str:
    # Hand-made, because PyJWT itself refuses to HMAC with a PEM key.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(
        json.dumps(
            {"sub": "staff/x", "role": "hq", "iss": "atelier-dev", "aud": "atelier", "exp": 2**40}
        ).encode()
    )
    signature = hmac.new(key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def test_rs256_and_es256_tokens(env, tmp_path):
    rsa_public, rsa_private = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    env.setenv("ATELIER_JWT_ALGORITHMS", "RS256")
    env.setenv("ATELIER_JWT_PUBLIC_KEY", rsa_public)
    verifier = Settings.from_env().verifier
    token = mint_user_token(
        secret=rsa_private,
        issuer="atelier-dev",
        audience="atelier",
        subject="staff/hq-1",
        role="hq",
        algorithm="RS256",
    )
    assert verifier.verify(token).subject == "staff/hq-1"
    # Algorithm confusion: a token HMAC-signed with the (public) key is refused.
    with pytest.raises(AuthError, match="not allowed"):
        verifier.verify(_hmac_token_signed_with(rsa_public))

    ec_public, ec_private = _pem(ec.generate_private_key(ec.SECP256R1()))
    key_file = tmp_path / "jwt.pem"
    key_file.write_text(ec_public)
    env.setenv("ATELIER_JWT_ALGORITHMS", "ES256")
    env.setenv("ATELIER_JWT_PUBLIC_KEY", str(key_file))
    verifier = Settings.from_env().verifier
    token = mint_user_token(
        secret=ec_private,
        issuer="atelier-dev",
        audience="atelier",
        subject="staff/hq-2",
        role="hq",
        algorithm="ES256",
    )
    assert verifier.verify(token).subject == "staff/hq-2"
    hs_token = mint_user_token(
        secret="x" * 64, issuer="atelier-dev", audience="atelier", subject="staff/hq-3", role="hq"
    )
    with pytest.raises(AuthError, match="not allowed"):
        verifier.verify(hs_token)


def test_create_app_refuses_unusable_settings():
    verifier = UserTokenVerifier(key="k", algorithms=("HS256",), issuer="i", audience="a")
    with pytest.raises(ConfigError, match="ATELIER_INTERNAL_SECRET"):
        create_app(Settings(internal_secret="", verifier=verifier))
    with pytest.raises(ConfigError, match="key"):
        create_app(
            Settings(
                internal_secret="s",
                verifier=UserTokenVerifier(key="", algorithms=("HS256",), issuer="i", audience="a"),
            )
        )


@pytest.mark.parametrize("bad", ["8080", "host:", "host:http", "host:70000"])
def test_bad_addresses(bad):
    with pytest.raises(ConfigError):
        parse_address(bad)


def test_proto_module_convention():
    assert proto_module("atelier.customer.v1.CustomerService") == "atelier.customer.v1.customer_service_pb2"
    assert (
        proto_module("atelier.appointments.v1.AppointmentsService")
        == "atelier.appointments.v1.appointments_service_pb2"
    )


def test_registry_skips_missing_addresses_and_modules(caplog):
    backends = (
        Backend("customer", ("atelier.customer.v1.CustomerService",), "ATELIER_CUSTOMER_ADDRESS"),
        Backend("ghost", ("atelier.ghost.v1.GhostService",), "ATELIER_GHOST_ADDRESS"),
        Backend("unset", ("atelier.customer.v1.CustomerService",), "ATELIER_UNSET_ADDRESS"),
    )
    with caplog.at_level(logging.INFO, logger="gateway.registry"):
        resolved = resolve({"customer": "127.0.0.1:1", "ghost": "127.0.0.1:2"}, backends)
    assert [(b.name, [s.full_name for s in b.services]) for b in resolved] == [
        ("customer", ["atelier.customer.v1.CustomerService"])
    ]
    assert "atelier.ghost.v1.ghost_service_pb2" in caplog.text
    assert "ATELIER_UNSET_ADDRESS is not set" in caplog.text


def test_python_m_gateway_fails_fast_without_config(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in GATEWAY_VARS}
    result = subprocess.run(
        [sys.executable, "-m", "gateway"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "ATELIER_INTERNAL_SECRET" in result.stderr
    assert "ATELIER_JWT_SECRET" in result.stderr
