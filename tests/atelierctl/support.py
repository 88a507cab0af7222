"""`atelier up` as a real subprocess, its terminal read line by line, for the slow tests."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import psutil
import pytest

from atelierctl import registry

REPO = Path(__file__).resolve().parents[2]
ATELIER = Path(sys.executable).with_name("atelier")
T = TypeVar("T")
READY = re.compile(r"Atelier is up: (http://\S+)")

needs_mesh = pytest.mark.skipif(
    not (registry.module_runnable("gateway") and registry.available_services()),
    reason="needs a runnable gateway and at least one service (python -m gateway / services.customer)",
)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any ATELIER_* setting of the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATELIER_")}
    env.update(extra)
    return env


def path_without_venv() -> str:
    """PATH as a newcomer's shell has it: without the project's .venv/bin."""
    venv_bin = str(Path(sys.executable).parent)
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin)


class Up:
    """`atelier up ARGS` running in the repository, every terminal line kept in ``lines``."""

    def __init__(self, *args: str, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.args = ["up", "--state-dir", str(state_dir), *args]
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Up:
        self.proc = subprocess.Popen(
            [str(ATELIER), *self.args],
            cwd=REPO,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _drain(self, timeout: float) -> bool:
        """Move what arrived within ``timeout`` into ``lines``; False once output ended."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            return True
        while True:
            if line is None:
                return False
            self.lines.append(line)
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return True

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float, start: int = 0) -> re.Match[str]:
        """The first line from index ``start`` on matching ``pattern``, waiting for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            for index in range(seen, len(self.lines)):
                match = regex.search(self.lines[index])
                if match:
                    return match
            seen = len(self.lines)
            if time.monotonic() > deadline:
                pytest.fail(f"no line matching {regex.pattern!r} after {timeout:.0f}s:\n{self.tail()}")
            if not self._drain(0.5) and not any(regex.search(line) for line in self.lines[seen:]):
                assert self.proc is not None
                pytest.fail(f"atelier up exited with {self.proc.wait()} first:\n{self.tail()}")

    def wait_ready(self, timeout: float = 180) -> str:
        self.url = self.wait_for(READY, timeout).group(1)
        return self.url

    def tail(self, count: int = 80) -> str:
        return "\n".join(self.lines[-count:])

    def descendants(self) -> list[psutil.Process]:
        assert self.proc is not None
        return list(psutil.Process(self.proc.pid).children(recursive=True))

    def child_named(self, name: str) -> psutil.Process:
        for process in self.descendants():
            try:
                if process.name() == name:
                    return process
            except psutil.Error:
                continue
        raise AssertionError(f"no {name} among the children of atelier up")

    def stop(self, timeout: float = 90) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        while self._drain(1.0):
            pass
        return code

    def __enter__(self) -> Up:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()


def token(state_dir: Path, role: str, store: str = "", associate_id: str = "") -> str:
    args = [str(ATELIER), "token", "--role", role, "--state-dir", str(state_dir)]
    if store:
        args += ["--store", store]
    if associate_id:
        args += ["--associate-id", associate_id]
    return subprocess.run(args, env=clean_env(), capture_output=True, text=True, check=True).stdout.strip()


def client(url: str, bearer: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"authorization": f"Bearer {bearer}"}, timeout=30, trust_env=False)


def eventually(check: Callable[[], T | None], timeout: float = 60, every: float = 0.5) -> T:
    """``check()``'s first truthy result within ``timeout`` seconds, else fail with the last."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"not true after {timeout:.0f}s; last result: {last!r}")
