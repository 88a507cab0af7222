"""Real embedded PostgreSQL and NATS: start, use, restart on the same data, clean exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import nats
import psutil
import psycopg
import pytest

from atelierctl.embedded import EmbeddedError, EmbeddedNats, EmbeddedPostgres, free_port, port_is_free

# Real servers (seconds each): not part of `make test-fast`.
pytestmark = pytest.mark.integration


def test_postgres_serves_tcp_with_pg_trgm_and_keeps_data_across_restart(tmp_path: Path) -> None:
    data = tmp_path / "postgres"
    with EmbeddedPostgres(data) as pg:
        first_port = pg.port
        assert pg.url("shop") == f"postgresql://postgres@127.0.0.1:{first_port}/shop"
        pg.create_database("shop")
        pg.create_database("shop")  # idempotent
        with psycopg.connect(pg.url("shop"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            conn.execute("CREATE TABLE client (name text)")
            conn.execute("INSERT INTO client VALUES ('Amélie Durand')")
            row = conn.execute("SELECT similarity('Amelie Durand', name) FROM client").fetchone()
            assert row is not None and row[0] > 0.5
    assert not pg.running
    pg.stop()  # idempotent

    # Same data dir, explicit port: the row is still there.
    port = free_port()
    with EmbeddedPostgres(data, port=port) as pg:
        assert pg.port == port
        with psycopg.connect(pg.url("shop")) as conn:
            assert conn.execute("SELECT name FROM client").fetchall() == [("Amélie Durand",)]


def test_postgres_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats") as nats_server, pytest.raises(EmbeddedError, match="already in use"):
        EmbeddedPostgres(tmp_path / "postgres", port=nats_server.port).start()


def test_postgres_copes_with_stale_postmaster_pid(tmp_path: Path) -> None:
    data = tmp_path / "postgres"
    with EmbeddedPostgres(data):
        pass
    # A crashed run leaves postmaster.pid behind; in containers its pid is often
    # reused by an unrelated live process (here: the test process itself).
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n0\n0\n\n\n\n")
    with EmbeddedPostgres(data) as pg, psycopg.connect(pg.url()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


async def test_nats_jetstream_works_and_streams_survive_restart(tmp_path: Path) -> None:
    store = tmp_path / "nats"
    server = EmbeddedNats(store)
    server.start()
    try:
        assert server.url() == f"nats://127.0.0.1:{server.port}"
        nc = await nats.connect(server.url())
        js = nc.jetstream()
        await js.add_stream(name="CUSTOMER", subjects=["customer.>"])
        ack = await js.publish("customer.created", b'{"id": "c1"}')
        assert ack.seq == 1
        await nc.close()
    finally:
        server.stop()
    server.stop()  # idempotent

    with EmbeddedNats(store) as server:
        nc = await nats.connect(server.url())
        js = nc.jetstream()
        info = await js.stream_info("CUSTOMER")
        assert info.state.messages == 1
        msg = await js.get_msg("CUSTOMER", 1)
        assert msg.data == b'{"id": "c1"}'
        await nc.close()


def test_a_killed_postgres_restarts_on_its_port_with_its_data(tmp_path: Path) -> None:
    """What `atelier up` does when its PostgreSQL dies: start it again where the services
    expect it (same port), on the same data."""
    with EmbeddedPostgres(tmp_path / "postgres", log_path=tmp_path / "logs" / "postgres.log") as pg:
        port = pg.port
        pg.create_database("shop")
        with psycopg.connect(pg.url("shop"), autocommit=True) as conn:
            conn.execute("CREATE TABLE client AS SELECT 'Amélie' AS name")
        assert pg.pid is not None
        os.kill(pg.pid, signal.SIGKILL)
        _wait_until(lambda: not pg.running)
        _wait_until(lambda: port_is_free(port))  # its backends notice and leave
        pg.restart()
        assert pg.running and pg.port == port
        with psycopg.connect(pg.url("shop")) as conn:
            assert conn.execute("SELECT name FROM client").fetchall() == [("Amélie",)]
    assert (tmp_path / "logs" / "postgres.log").is_file()  # the log goes where it was asked to


async def test_a_killed_nats_restarts_on_its_port_with_its_streams(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats", log_path=tmp_path / "logs" / "nats.log") as server:
        port = server.port
        nc = await nats.connect(server.url())
        await nc.jetstream().add_stream(name="CUSTOMER", subjects=["customer.>"])
        await nc.jetstream().publish("customer.created", b"c1")
        await nc.close()
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        _wait_until(lambda: not server.running)
        server.restart()
        assert server.running and server.port == port
        nc = await nats.connect(server.url())
        assert (await nc.jetstream().stream_info("CUSTOMER")).state.messages == 1
        await nc.close()
    assert (tmp_path / "logs" / "nats.log").stat().st_size > 0


def test_servers_die_with_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL the owning process: neither server may outlive it."""
    script = textwrap.dedent(
        f"""
        import json, sys, time
        from pathlib import Path
        from atelierctl.embedded import EmbeddedNats, EmbeddedPostgres
        pg = EmbeddedPostgres(Path({str(tmp_path / "postgres")!r})); pg.start()
        ns = EmbeddedNats(Path({str(tmp_path / "nats")!r})); ns.start()
        print(json.dumps([pg.pid, ns.pid]), flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(owner.stdout.readline())  # type: ignore[union-attr]
        assert all(psutil.pid_exists(pid) for pid in pids)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            break
        time.sleep(0.2)
    assert not alive, f"servers outlived their parent: {alive}"
    assert [p.pid for p in psutil.process_iter() if _serves_from(p, tmp_path)] == []


def test_postgres_survives_its_parent_directories_turning_private(tmp_path: Path) -> None:
    """As root, postgres runs as another account; a parent directory re-tightened while
    it runs (pytest does that to /tmp/pytest-of-root) must not crash it at checkpoint."""
    parent = tmp_path / "private"
    parent.mkdir()
    with EmbeddedPostgres(parent / "postgres") as pg:
        parent.chmod(0o700)
        tmp_path.chmod(0o700)
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE t AS SELECT generate_series(1, 1000) AS n")
            conn.execute("CHECKPOINT")  # opens global/pg_control
        with psycopg.connect(pg.url()) as conn:  # a fresh backend works too
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1000,)
    assert parent.stat().st_mode & 0o777 == 0o700  # and we did not widen it


def _serves_from(proc: psutil.Process, directory: Path) -> bool:
    """Whether ``proc`` names ``directory`` on its command line or works inside it."""
    try:
        if any(str(directory) in part for part in proc.cmdline()):
            return True
        return Path(proc.cwd()).is_relative_to(directory)
    except (psutil.Error, OSError):
        return False


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
