"""Bearer tokens at the edge: a bad credential is answered 401 and never reaches a service."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.gateway.conftest import AUDIENCE, ISSUER, JWT_SECRET, auth, user_token


def assert_unauthenticated(response) -> str:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["code"] == 401
    assert error["status"] == "UNAUTHENTICATED"
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert error["details"][0]["reason"] == "UNAUTHENTICATED"
    return error["message"]


def claims(**overrides) -> dict:
    now = int(time.time())
    values = {
        "sub": "associates/a-1",
        "role": "associate",
        "associate_id": "a-1",
        "store": "stores/paris",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    values.update(overrides)
    return values


async def test_missing_token(client, backend):
    response = await client.get("/v1/customers/c1")
    assert "missing" in assert_unauthenticated(response)
    assert backend.servicer.calls == []


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-jwt",
        "bearer " + "x.y.z",
    ],
)
async def test_malformed_authorization(client, backend, header):
    response = await client.get("/v1/customers/c1", headers={"Authorization": header})
    assert_unauthenticated(response)
    assert backend.servicer.calls == []


async def test_expired_token(client, backend):
    response = await client.get("/v1/customers/c1", headers=auth(ttl_seconds=-3600))
    assert "expired" in assert_unauthenticated(response).lower()
    assert backend.servicer.calls == []


async def test_wrong_audience_and_issuer(client, backend):
    assert (
        "audience"
        in assert_unauthenticated(await client.get("/v1/customers/c1", headers=auth(audience="someone-else"))).lower()
    )
    assert (
        "issuer"
        in assert_unauthenticated(
            await client.get("/v1/customers/c1", headers=auth(issuer="https://evil.example"))
        ).lower()
    )
    assert backend.servicer.calls == []


async def test_alg_none_is_refused(client, backend):
    unsigned = jwt.encode(claims(), key=None, algorithm="none")
    response = await client.get("/v1/customers/c1", headers={"Authorization": f"Bearer {unsigned}"})
    assert "not allowed" in assert_unauthenticated(response)
    assert backend.servicer.calls == []


async def test_wrong_signature_and_disallowed_algorithm(client, backend):
    forged = jwt.encode(claims(), "another-secret-of-enough-length-0123456789", algorithm="HS256")
    assert_unauthenticated(await client.get("/v1/customers/c1", headers={"Authorization": f"Bearer {forged}"}))
    other_alg = jwt.encode(claims(), JWT_SECRET, algorithm="HS512")
    assert "not allowed" in assert_unauthenticated(
        await client.get("/v1/customers/c1", headers={"Authorization": f"Bearer {other_alg}"})
    )
    assert backend.servicer.calls == []


async def test_token_without_a_valid_principal(client, backend):
    no_store = jwt.encode(claims(store=""), JWT_SECRET, algorithm="HS256")
    assert "store" in assert_unauthenticated(
        await client.get("/v1/customers/c1", headers={"Authorization": f"Bearer {no_store}"})
    )
    bad_role = jwt.encode(claims(role="admin"), JWT_SECRET, algorithm="HS256")
    assert "role" in assert_unauthenticated(
        await client.get("/v1/customers/c1", headers={"Authorization": f"Bearer {bad_role}"})
    )
    assert backend.servicer.calls == []


async def test_unknown_routes_need_a_token_too(client):
    # Anonymous callers learn nothing, not even which paths exist.
    assert_unauthenticated(await client.get("/v1/nothing-here"))
    assert_unauthenticated(await client.post("/v1/customers", content=b"{not json"))


async def test_public_endpoints_need_no_token(client):
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert (await client.get(path)).status_code == 200, path


async def test_hq_token(client, backend):
    response = await client.get(
        "/v1/customers/c1",
        headers={"Authorization": f"Bearer {user_token(subject='staff/hq-1', role='hq', associate_id='', store='')}"},
    )
    assert response.status_code == 200


def test_verified_tokens_are_cached_only_until_they_expire(monkeypatch):
    from gateway import identity as identity_module
    from servicekit.auth import UserTokenVerifier

    real = UserTokenVerifier(key=JWT_SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE, leeway_seconds=0)
    verified = []

    class CountingVerifier:
        def verify(self, token):
            verified.append(token)
            return real.verify(token)

    identity = identity_module.Identity(CountingVerifier(), "internal")
    token = user_token(ttl_seconds=60)
    first = identity.authenticate(f"Bearer {token}")
    assert identity.authenticate(f"Bearer {token}") == first
    assert len(verified) == 1

    # Past the token's exp the cache no longer answers: the verifier is asked again.
    later = time.time() + 120
    monkeypatch.setattr(identity_module.time, "time", lambda: later)
    identity.authenticate(f"Bearer {token}")
    assert len(verified) == 2


async def test_the_internal_service_role_is_refused_in_user_tokens(live, backend):
    """Issue 8, item 3: `service` is the platform's own identity (consumers, jobs, internal
    calls); a user token claiming it, even validly signed, is 401 and reaches no service."""
    service_token = user_token(subject="services/pos", role="service", associate_id="", store="")
    response = await live.get("/v1/customers/c1", headers={"Authorization": f"Bearer {service_token}"})
    message = assert_unauthenticated(response)
    assert "role 'service'" in message and "not accepted in a user token" in message
    # Not by any spelling of the route, and not once the token has been seen before.
    response = await live.post(
        "/v1/customers", json={"givenName": "Ann"}, headers={"Authorization": f"Bearer {service_token}"}
    )
    assert_unauthenticated(response)
    assert backend.servicer.calls == []
    # The same holder with a staff role is served.
    hq_token = user_token(subject="staff/hq-1", role="hq", associate_id="", store="")
    response = await live.get("/v1/customers/c1", headers={"Authorization": f"Bearer {hq_token}"})
    assert response.status_code == 200, response.text
