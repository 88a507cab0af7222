"""Fixtures of the end-to-end tests: one mesh (customer + associate + gateway on a private
event bus) per test module, and the cast of two boutiques built on it (tests/e2e/mesh.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.mesh import Mesh, World, build_world, running_mesh


@pytest.fixture(scope="module")
async def mesh(infra, request) -> AsyncIterator[Mesh]:
    async with running_mesh(infra, request.module.__name__) as running:
        yield running


@pytest.fixture(scope="module")
async def world(mesh: Mesh) -> World:
    return await build_world(mesh.client)
