"""`atelier up` keeps the mesh alive and announces only itself (issue 8 items 25 and 26).

Real processes: `atelier up` as a subprocess with its embedded PostgreSQL and NATS, the
services and the gateway; faults injected with SIGKILL and with a foreign HTTP server.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest

from atelierctl.embedded import free_port
from tests.atelierctl.support import Up, client, eventually, needs_mesh, token

pytestmark = [pytest.mark.slow, needs_mesh]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    state_dir = tmp_path_factory.mktemp("supervised") / "state"
    with Up("--gateway-port", str(free_port()), state_dir=state_dir) as up:
        up.wait_ready()
        yield up


def _create_customer(url: str, bearer: str, family: str) -> str:
    """A write through the gateway; the created customer's name."""
    with client(url, bearer) as api:
        reply = api.post(
            "/v1/customers",
            params={"request_id": str(uuid.uuid4())},
            json={"givenName": "Amélie", "familyName": family, "locale": "fr-FR"},
        )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["name"])


def _in_pool(url: str, bearer: str, customer: str) -> bool:
    """True once the associate service has heard of her over NATS (no home store: the pool)."""
    with client(url, bearer) as api:
        reply = api.get(f"/v1/{customer}/assignment")
    return reply.status_code == 200 and bool(reply.json().get("inPool"))


def _kill_and_wait_for_return(mesh: Up, process_name: str, label: str) -> None:
    victim = mesh.child_named(process_name)
    ports_before = {c.laddr.port for c in victim.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}
    mark = len(mesh.lines)
    os.kill(victim.pid, signal.SIGKILL)
    mesh.wait_for(rf"embedded {label} stopped unexpectedly; restarting", 30, start=mark)
    back = mesh.wait_for(rf"{label} is back on port (\d+)", 120, start=mark)
    assert int(back.group(1)) in ports_before, "restarted where the services expect it"
    reborn = mesh.child_named(process_name)
    assert reborn.pid != victim.pid
    assert mesh.proc is not None and mesh.proc.poll() is None, "the mesh is still up"


def test_a_killed_nats_is_restarted_and_events_flow_again(mesh: Up) -> None:
    bearer = token(mesh.state_dir, "hq")
    before = _create_customer(mesh.url, bearer, "Avant")
    eventually(lambda: _in_pool(mesh.url, bearer, before))

    _kill_and_wait_for_return(mesh, "nats-server", "NATS")

    # A write through the gateway succeeds, and its event reaches the associate service
    # over the restarted NATS (the services reconnected on their own).
    after = eventually(lambda: _try(lambda: _create_customer(mesh.url, bearer, "Après")), timeout=60)
    eventually(lambda: _in_pool(mesh.url, bearer, after), timeout=90)


def test_a_killed_postgres_is_restarted_and_writes_succeed_again(mesh: Up) -> None:
    bearer = token(mesh.state_dir, "hq")
    postmaster = next(p for p in mesh.descendants() if p.name() == "postgres" and _parent_name(p) != "postgres")
    ports = {c.laddr.port for c in postmaster.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}
    mark = len(mesh.lines)
    os.kill(postmaster.pid, signal.SIGKILL)
    mesh.wait_for(r"embedded PostgreSQL stopped unexpectedly; restarting", 30, start=mark)
    back = mesh.wait_for(r"PostgreSQL is back on port (\d+)", 180, start=mark)
    assert int(back.group(1)) in ports
    assert mesh.proc is not None and mesh.proc.poll() is None

    customer = eventually(lambda: _try(lambda: _create_customer(mesh.url, bearer, "Reprise")), timeout=90)
    eventually(lambda: _in_pool(mesh.url, bearer, customer), timeout=90)


def _parent_name(process: psutil.Process) -> str:
    parent = process.parent()
    return parent.name() if parent is not None else ""


def _try(write: Callable[[], str]) -> str | None:
    """``write()``'s result, or None while the mesh is still recovering (it answers 5xx or
    the assertion inside fails)."""
    try:
        return write()
    except (AssertionError, httpx.HTTPError):
        return None


# --------------------------------------------------------------------------- item 26


class _Foreign(BaseHTTPRequestHandler):
    """Another program on the port: answers 200 to everything, like a second mesh's gateway."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "SERVING", "foreign": True}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def _foreign_server(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Foreign)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_up_announces_its_own_gateway_when_another_server_takes_the_port(tmp_path: Path) -> None:
    """The port `up` chose is free when it looks, and taken by another program before the
    gateway binds it (as when two meshes start together). `up` must not announce that
    program's 200s as its gateway: the gateway moves to a free port, and the demo loads
    into this mesh."""
    chosen = free_port()
    up = Up("--preferred-gateway-port", str(chosen), "--demo", "--demo-count", "3", state_dir=tmp_path / "state")
    with up:
        up.wait_for("starting PostgreSQL", 60)  # the port was chosen before this line
        foreign = _foreign_server(chosen)
        try:
            url = up.wait_ready()
            assert url != f"http://127.0.0.1:{chosen}"
            up.wait_for(rf"gateway port {chosen} is taken by another program; the gateway moves to", 5)
            health = httpx.get(f"{url}/healthz", timeout=5, trust_env=False)
            assert health.status_code == 200 and "foreign" not in health.json()
            up.wait_for(r"--demo: done", 240)
            with client(url, token(up.state_dir, "hq")) as api:
                assert api.get("/v1/stores/paris").json()["timeZone"] == "Europe/Paris"
        finally:
            foreign.shutdown()
            foreign.server_close()
    assert not any("warning: --demo" in line for line in up.lines), up.tail()


def test_up_with_an_explicit_port_taken_meanwhile_stops_instead_of_announcing_it(tmp_path: Path) -> None:
    port = free_port()
    up = Up("--gateway-port", str(port), state_dir=tmp_path / "state").start()
    try:
        up.wait_for("starting PostgreSQL", 60)
        foreign = _foreign_server(port)
        try:
            up.wait_for(rf"gateway port {port} was taken by another program", 180)
            code = up.stop()
        finally:
            foreign.shutdown()
            foreign.server_close()
    finally:
        if up.proc is not None and up.proc.poll() is None:
            up.stop()
    assert code == 1
    assert not any("Atelier is up" in line for line in up.lines), up.tail()
