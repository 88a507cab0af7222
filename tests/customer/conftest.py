"""Fixtures of the customer service's gRPC tests; helpers are in support.py."""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture
async def db(customer_service):
    """A direct connection to the customer service's database, to check what was stored."""
    conn = await psycopg.AsyncConnection.connect(customer_service.runtime.config.database_url, autocommit=True)
    try:
        yield conn
    finally:
        await conn.close()
