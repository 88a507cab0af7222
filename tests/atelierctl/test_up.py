"""`atelier up` end to end (slow), plus the CLI's small pure helpers (fast)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import jwt
import psutil
import pytest

from atelierctl import registry, state
from atelierctl.embedded import free_port, port_is_free
from atelierctl.token import TokenError, parse_duration
from atelierctl.up import database_url_for

REPO = Path(__file__).resolve().parents[2]
ATELIER = Path(sys.executable).with_name("atelier")
READY = re.compile(r"Atelier is up: (http://\S+)")


# ------------------------------------------------------------------- end to end


@pytest.mark.slow
@pytest.mark.skipif(
    not (registry.module_runnable("gateway") and registry.available_services()),
    reason="needs a runnable gateway and at least one service (python -m gateway / services.customer)",
)
def test_up_serves_healthz_mints_tokens_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    gateway_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    proc = subprocess.Popen(
        [str(ATELIER), "up", "--state-dir", str(state_dir), "--gateway-port", str(gateway_port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []
    threading.Thread(target=_read_lines, args=(proc, lines), daemon=True).start()
    descendants: list[psutil.Process] = []
    try:
        url = _wait_for_url(proc, lines, output, timeout=180)
        assert url == f"http://127.0.0.1:{gateway_port}"
        response = httpx.get(f"{url}/healthz", timeout=5, trust_env=False)
        assert response.status_code == 200, response.text

        token = subprocess.run(
            [str(ATELIER), "token", "--role", "hq", "--state-dir", str(state_dir)],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        secret = json.loads((state_dir / "secrets.json").read_text())["ATELIER_JWT_SECRET"]
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience="atelier", issuer="atelier-dev")
        assert claims["role"] == "hq"

        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert descendants, "up should have child processes"
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _drain(lines, output)
    assert code == 0, "\n".join(output[-60:])

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in descendants):
        time.sleep(0.2)
    leftovers = [p for p in descendants if _alive(p)]
    leftovers += [p for p in psutil.process_iter() if _serves_from(p, state_dir)]
    assert not leftovers, f"processes left behind: {leftovers}"
    assert port_is_free(gateway_port)
    assert (state_dir / "postgres" / "PG_VERSION").exists()  # data stays for the next run


def _read_lines(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _wait_for_url(
    proc: subprocess.Popen[str], lines: queue.Queue[str | None], output: list[str], timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            pytest.fail(f"atelier up exited with {proc.wait()} before it was ready:\n" + "\n".join(output[-60:]))
        output.append(line)
        match = READY.search(line)
        if match:
            return match.group(1)
    pytest.fail(f"atelier up not ready after {timeout}s:\n" + "\n".join(output[-60:]))


def _drain(lines: queue.Queue[str | None], output: list[str]) -> None:
    while True:
        try:
            line = lines.get(timeout=2)
        except queue.Empty:
            return
        if line is None:
            return
        output.append(line)


def _serves_from(proc: psutil.Process, directory: Path) -> bool:
    try:
        if any(str(directory) in part for part in proc.cmdline()):
            return True
        return Path(proc.cwd()).is_relative_to(directory)  # postgres as root: -D /proc/self/cwd
    except (psutil.Error, OSError):
        return False


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# ---------------------------------------------------------------- fast helpers


def test_registry_names_each_service_once_with_its_own_database() -> None:
    names = [spec.name for spec in registry.SERVICES]
    assert names[0] == "customer"
    assert len(set(names)) == len(names)
    assert len({spec.database for spec in registry.SERVICES}) == len(names)
    assert registry.SERVICES[0].address_env == "ATELIER_CUSTOMER_ADDRESS"


def test_registry_skips_modules_that_cannot_run() -> None:
    assert not registry.module_runnable("atelier_no_such_module")
    assert not registry.module_runnable("servicekit")  # a package without __main__.py
    assert registry.module_runnable("atelierctl")  # a package with one
    assert registry.module_runnable("atelierctl.main")


def test_database_url_for_replaces_only_the_database() -> None:
    assert (
        database_url_for("postgresql://u:p%40ss@db.example:6432/postgres?sslmode=require", "atelier_customer")
        == "postgresql://u:p%40ss@db.example:6432/atelier_customer?sslmode=require"
    )
    assert database_url_for("postgresql://postgres@127.0.0.1:5433", "x") == "postgresql://postgres@127.0.0.1:5433/x"


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30m", 1800), ("8h", 28800), ("1h30m", 5400), ("7d", 604800)])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "8x", "h", "0", "1h 30m"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(TokenError):
        parse_duration(text)


def test_secrets_are_generated_once_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in state.SECRET_NAMES:
        monkeypatch.delenv(name, raising=False)
    first = state.ensure_secrets(tmp_path)
    assert set(first) == set(state.SECRET_NAMES) and all(first.values())
    assert state.ensure_secrets(tmp_path) == first
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("ATELIER_JWT_SECRET", "from-env")
    assert state.load_secrets(tmp_path)["ATELIER_JWT_SECRET"] == "from-env"


def test_fresh_refuses_to_wipe_a_directory_that_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(state.StateError, match="refusing"):
        state.wipe_state_dir(tmp_path)
    assert (tmp_path / "thesis.tex").exists()


def test_fresh_wipes_our_state_but_keeps_the_lock(tmp_path: Path) -> None:
    lock = state.lock_state_dir(tmp_path)
    try:
        (tmp_path / "postgres").mkdir()
        (tmp_path / "postgres" / "PG_VERSION").write_text("18")
        (tmp_path / "secrets.json").write_text("{}")
        state.wipe_state_dir(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == [state.LOCK_FILE]
    finally:
        lock.close()


def test_one_up_per_state_dir(tmp_path: Path) -> None:
    lock = state.lock_state_dir(tmp_path)
    try:
        with pytest.raises(state.StateError, match="already running"):
            state.lock_state_dir(tmp_path)
    finally:
        lock.close()
    state.lock_state_dir(tmp_path).close()  # free again once released


def test_token_without_secrets_explains_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    result = subprocess.run(
        [str(ATELIER), "token", "--role", "hq", "--state-dir", str(tmp_path)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "atelier up" in result.stderr
