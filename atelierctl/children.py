"""Child processes of `atelier up`: spawning, their logs, restart back-off, stopping.

Each child's whole output goes to its own file (STATE/logs/<name>.log). The terminal gets
only what a person should act on: the supervisor's progress and the children's warnings
and errors (their structured log lines at WARNING or above, and anything that is not a
structured log line, such as a traceback printed as a process dies).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from atelierctl.embedded import die_with_parent

# A process that dies sooner than this after starting counts as a "quick" crash; that many
# in a row means it is broken, not unlucky, and restarting further only hides the error.
QUICK_CRASH_SECONDS = 30.0
MAX_QUICK_CRASHES = 5
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
RECENT_LINES = 25
_SHOWN_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


class Output:
    """The terminal: whole lines as ``name | text``, from any thread."""

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


def terminal_form(text: str) -> str | None:
    """How a child's output line appears in the terminal, or None when it belongs only in
    the child's log file (a structured log line below WARNING)."""
    stripped = text.strip()
    if not stripped:
        return None
    if stripped.startswith("{"):
        try:
            entry = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(entry, dict) and isinstance(entry.get("level"), str):
            level = entry["level"]
            if level not in _SHOWN_LEVELS:
                return None
            shown = f"{level} {entry.get('message', '')}"
            exception = entry.get("exception")
            if isinstance(exception, str) and exception.strip():
                shown += f" ({exception.strip().splitlines()[-1]})"
            return shown
    return text


@dataclass
class Backoff:
    """When to restart something that keeps dying, and when to stop trying."""

    started_at: float = 0.0
    quick_crashes: int = 0
    restart_at: float | None = None  # set while waiting out a back-off

    def started(self, now: float) -> None:
        self.started_at = now
        self.restart_at = None

    def crashed(self, now: float, *, may_give_up: bool = True) -> float | None:
        """Record a crash; return the delay before the next start, or None when it is
        time to give up (``may_give_up`` False: never, e.g. while what it depends on is
        itself down)."""
        if now - self.started_at < QUICK_CRASH_SECONDS:
            self.quick_crashes += 1
        else:
            self.quick_crashes = 1  # it ran fine for a while: start counting again
        if self.quick_crashes >= MAX_QUICK_CRASHES:
            if may_give_up:
                return None
            self.quick_crashes = MAX_QUICK_CRASHES - 1
        delay: float = min(FIRST_BACKOFF_SECONDS * 2.0 ** (self.quick_crashes - 1), MAX_BACKOFF_SECONDS)
        self.restart_at = now + delay
        return delay

    def due(self, now: float) -> bool:
        return self.restart_at is not None and now >= self.restart_at


class Child:
    """One supervised process, restarted with back-off when it dies unexpectedly."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], output: Output, log_path: Path, verbose: bool = False
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.verbose = verbose
        self._output = output
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self.recent: collections.deque[str] = collections.deque(maxlen=RECENT_LINES)
        self.backoff = Backoff()
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
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
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
        self.backoff.started(time.monotonic())
        self.ready = False
        self.recent.clear()  # a give-up message should show the last run's output only
        assert self._proc.stdout is not None
        log = open(self.log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (the pump thread closes it)
        log.write(f"---- {time.strftime('%Y-%m-%d %H:%M:%S')} started {self.name} (pid {self._proc.pid})\n")
        self._pump = threading.Thread(
            target=self._copy_output, args=(self._proc.stdout, log), name=f"{self.name}-output", daemon=True
        )
        self._pump.start()

    def _copy_output(self, pipe: IO[bytes], log: IO[str]) -> None:
        with log:
            for raw in iter(pipe.readline, b""):
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                self.recent.append(text)
                # A full disk must not stop the pump (the child would block on its pipe).
                with contextlib.suppress(OSError, ValueError):
                    log.write(text + "\n")
                shown = text if self.verbose else terminal_form(text)
                if shown is not None:
                    self._output.line(self.name, shown)
        pipe.close()

    def exit_code(self) -> int | None:
        """The exit code once the process has ended (output fully copied), else None."""
        if self._proc is None or self._proc.poll() is None:
            return None
        if self._pump is not None:
            self._pump.join(timeout=2)  # let its last words reach the log and terminal first
        return self._proc.returncode

    def crashed(self, now: float, *, may_give_up: bool = True) -> float | None:
        """Forget the dead process; the back-off delay, or None when it is time to give up."""
        self._proc = None
        return self.backoff.crashed(now, may_give_up=may_give_up)

    def signal_group(self, sig: int) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=0)
            if self._pump is not None:
                self._pump.join(timeout=2)


def stop_children(children: Iterable[Child], timeout: float, output: Output, hurry: threading.Event) -> None:
    """SIGTERM every child's process group, wait up to ``timeout`` (less if ``hurry`` is
    set by a second Ctrl-C), then SIGKILL whatever is left."""
    children = [child for child in children if child.pid is not None]
    for child in children:
        child.backoff.restart_at = None
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
