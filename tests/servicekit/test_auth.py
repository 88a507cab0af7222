"""Principal tokens between gateway and services (servicekit.auth), no network."""

from __future__ import annotations

import time

import pytest

from servicekit import auth
from servicekit.auth import AuthError, Principal, PrincipalTokenCache, Role, mint_internal_token

SECRET = "a-long-enough-internal-secret-for-hs256-tests"


def test_cached_principal_is_trusted_only_until_the_token_expires(monkeypatch):
    principal = Principal(subject="associates/a-1", role=Role.ASSOCIATE, associate_id="a-1", store="stores/paris")
    token = mint_internal_token(principal, SECRET, ttl_seconds=60)
    cache = PrincipalTokenCache(SECRET)
    assert cache.verify(token) == principal
    assert cache.verify(token) == principal  # from memory
    now = time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now + 3600)

    def expired(token, secret):
        raise AuthError("invalid principal token: Signature has expired")

    # Past its expiry the cached entry is not used: the token is decoded (and refused) again.
    monkeypatch.setattr(auth, "_decode_internal", expired)
    with pytest.raises(AuthError):
        cache.verify(token)


def test_cache_refuses_a_token_signed_with_another_secret():
    token = mint_internal_token(Principal(subject="staff/hq", role=Role.HQ), SECRET + "-other")
    with pytest.raises(AuthError):
        PrincipalTokenCache(SECRET).verify(token)


def test_cache_stays_bounded():
    cache = PrincipalTokenCache(SECRET, max_entries=3)
    for i in range(10):
        cache.verify(mint_internal_token(Principal(subject=f"staff/{i}", role=Role.HQ), SECRET))
    assert len(cache._known) <= 3
