"""The gateway over real HTTP: uvicorn in-process on port 0, and `python -m gateway`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time

import httpx
import pytest
import uvicorn

from gateway import create_app
from tests.gateway.conftest import AUDIENCE, GATEWAY_INTERNAL_SECRET, ISSUER, JWT_SECRET, auth, make_settings


async def test_real_uvicorn_server(backend):
    app = create_app(make_settings({"customer": backend.address}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            response = await http.get("/v1/customers/c1", headers={**auth(), "X-Request-Id": "over-the-wire"})
            assert response.status_code == 200, response.text
            assert response.json()["givenName"] == "Hélène"
            assert response.headers["x-request-id"] == "over-the-wire"
            # Percent-escapes reach the router intact through a real HTTP parser.
            response = await http.get("/v1/customers/a%2Fb", headers=auth())
            assert response.status_code == 404
            assert backend.servicer.last("GetCustomer").request.name == "customers/a%2Fb"
            assert (await http.get("/healthz")).json()["status"] == "SERVING"
    finally:
        server.should_exit = True
        await task
    # Lifespan shutdown closed the backend channel.
    assert app.state.gateway.channels._open == {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
async def test_python_m_gateway(backend, tmp_path):
    port = _free_port()
    env = dict(
        os.environ,
        ATELIER_HTTP_ADDRESS=f"127.0.0.1:{port}",
        ATELIER_INTERNAL_SECRET=GATEWAY_INTERNAL_SECRET,
        ATELIER_JWT_SECRET=JWT_SECRET,
        ATELIER_JWT_ISSUER=ISSUER,
        ATELIER_JWT_AUDIENCE=AUDIENCE,
        ATELIER_CUSTOMER_ADDRESS=backend.address,
        ATELIER_LOG_LEVEL="WARNING",
        NO_PROXY="*",
    )
    env.pop("ATELIER_ASSOCIATE_ADDRESS", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, (await process.stderr.read()).decode()
                assert time.monotonic() < deadline, "gateway never became healthy"
                await asyncio.sleep(0.1)
            response = await http.get("/v1/customers/c1", headers=auth())
            assert response.status_code == 200, response.text
            assert (await http.get("/v1/customers/c1")).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0
