"""Child processes of `atelier up`: spawning, prefixed output, restart back-off, stopping."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Iterable

from atelierctl.embedded import die_with_parent

# A child that dies sooner than this after starting counts as a "quick" crash; that many
# in a row means it is broken, not unlucky, and restarting further only hides the error.
QUICK_CRASH_SECONDS = 30.0
MAX_QUICK_CRASHES = 5
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
RECENT_LINES = 25


class Output:
    """Writes every process's lines to one stream as ``name | line``, whole lines only."""

    def __init__(self, stream: IO[str] | None = None, width: int = 8) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self.width = width

    def line(self, name: str, text: str) -> None:
        with self._lock:
            try:
                self._stream.write(f"{name:<{self.width}} | {text}\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                pass  # our stdout went away (pipe closed); keep supervising anyway

    def say(self, text: str) -> None:
        self.line("atelier", text)


class Child:
    """One supervised process, restarted with back-off when it dies unexpectedly."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], output: Output) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self._output = output
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self.recent: collections.deque[str] = collections.deque(maxlen=RECENT_LINES)
        self.started_at = 0.0
        self.quick_crashes = 0
        self.restart_at: float | None = None  # set while waiting out a back-off
        self.ready = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Spawn the process.  Call from the main thread: the die-with-parent signal is
        tied to the thread that forks."""
        self._proc = subprocess.Popen(
            die_with_parent(self.argv, signal.SIGTERM),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own process group: a terminal Ctrl-C reaches only the supervisor, which then
            # stops children in order; and stopping the group also reaches grandchildren.
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        self.ready = False
        self.recent.clear()  # a give-up message should show the last run's output only
        self._pump = threading.Thread(
            target=self._copy_output, args=(self._proc.stdout,), name=f"{self.name}-output", daemon=True
        )
        self._pump.start()
        self._output.say(f"started {self.name} (pid {self._proc.pid})")

    def _copy_output(self, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.recent.append(text)
            self._output.line(self.name, text)
        pipe.close()

    def exit_code(self) -> int | None:
        """The exit code once the process has ended (output fully copied), else None."""
        if self._proc is None or self._proc.poll() is None:
            return None
        if self._pump is not None:
            self._pump.join(timeout=2)  # let its last words reach the terminal first
        return self._proc.returncode

    def schedule_restart(self, now: float) -> float | None:
        """Record a crash; return the back-off delay, or None when it is time to give up."""
        self._proc = None
        if now - self.started_at < QUICK_CRASH_SECONDS:
            self.quick_crashes += 1
        else:
            self.quick_crashes = 1  # it ran fine for a while: start counting again
        if self.quick_crashes >= MAX_QUICK_CRASHES:
            return None
        delay = min(FIRST_BACKOFF_SECONDS * 2 ** (self.quick_crashes - 1), MAX_BACKOFF_SECONDS)
        self.restart_at = now + delay
        return delay

    def signal_group(self, sig: int) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def reap(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=0)
            except subprocess.TimeoutExpired:
                pass
            if self._pump is not None:
                self._pump.join(timeout=2)


def stop_children(
    children: Iterable[Child], timeout: float, output: Output, hurry: threading.Event
) -> None:
    """SIGTERM every child's process group, wait up to ``timeout`` (less if ``hurry`` is
    set by a second Ctrl-C), then SIGKILL whatever is left."""
    children = [child for child in children if child.pid is not None]
    for child in children:
        child.restart_at = None
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(child.running for child in children):
        if time.monotonic() > deadline or hurry.is_set():
            break
        time.sleep(0.05)
    for child in children:
        if child.running:
            why = "asked to hurry" if hurry.is_set() else f"did not stop within {timeout:.0f}s"
            output.say(f"{child.name} {why}; killing it")
        # Also after a clean exit: grandchildren left in the group must not survive.
        child.signal_group(signal.SIGKILL)
        child.reap()
