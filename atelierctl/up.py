"""`atelier up`: the whole mesh on one machine, supervised until Ctrl-C / SIGTERM.

Start order: PostgreSQL (embedded unless an external URL is given) → one database per
service → NATS JetStream (embedded unless external) → the services and the gateway as
child processes on free ports → wait for gRPC health, and for GET /healthz answered by
*our* gateway → print the URL. Stop order is the reverse: gateway, services, NATS,
PostgreSQL.

Everything started is supervised: a service, the gateway, or the embedded PostgreSQL or
NATS that dies is restarted with back-off (the servers on the port they had, so the
services reconnect to the same URL). The terminal shows the supervisor's progress and
the processes' warnings and errors; each process's full log is in STATE/logs/.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import psycopg

from atelierctl import registry, state
from atelierctl.children import QUICK_CRASH_SECONDS, Backoff, Child, Output, stop_children
from atelierctl.embedded import (
    LOCALHOST,
    EmbeddedError,
    EmbeddedNats,
    EmbeddedPostgres,
    ensure_database,
    free_port,
    port_is_free,
)
from atelierctl.readiness import grpc_serving, http_ok, listens_on
from atelierctl.token import atelier_command, token_command

PREFERRED_GATEWAY_PORT = 8080
DEMO_ATTEMPTS = 4


@dataclass
class UpOptions:
    state_dir: Path
    fresh: bool = False
    demo: bool = False
    demo_count: int = 300
    gateway_port: int | None = None  # None: the preferred port when free, else any free port
    preferred_gateway_port: int = PREFERRED_GATEWAY_PORT
    database_url: str | None = None  # external PostgreSQL (admin URL) instead of embedded
    nats_url: str | None = None  # external NATS instead of embedded
    log_level: str = "INFO"
    verbose: bool = False  # also copy every process's log lines to the terminal
    ready_timeout: float = 120.0
    stop_timeout: float = 15.0


class UpError(RuntimeError):
    """Start-up cannot continue; the message says why."""


def database_url_for(server_url: str, database: str) -> str:
    """``server_url`` with its database (URL path) replaced, credentials and query kept."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _distinct_free_ports(count: int, taken: set[int]) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in taken and port not in ports:
            ports.append(port)
    return ports


def _with_no_proxy(env: dict[str, str]) -> dict[str, str]:
    # A corporate HTTP(S)_PROXY must not capture gateway → service calls on loopback.
    for key in ("NO_PROXY", "no_proxy"):
        existing = [item for item in env.get(key, "").split(",") if item]
        for host in (LOCALHOST, "localhost"):
            if host not in existing:
                existing.append(host)
        env[key] = ",".join(existing)
    return env


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass
class _Server:
    """An embedded PostgreSQL or NATS under supervision."""

    name: str
    server: EmbeddedPostgres | EmbeddedNats
    backoff: Backoff = field(default_factory=Backoff)
    down: bool = False


class Supervisor:
    def __init__(self, options: UpOptions, output: Output | None = None) -> None:
        self.options = options
        self.output = output or Output()
        self.output.width = max(
            len(name) for name in ["atelier", registry.GATEWAY_NAME, *(s.name for s in registry.available_services())]
        )
        self._stop = threading.Event()  # first Ctrl-C / SIGTERM: stop in order
        self._hurry = threading.Event()  # second one: do not wait for graceful exits
        self._servers: list[_Server] = []
        self._services: list[Child] = []
        self._gateway: Child | None = None
        self._gateway_port = 0
        self._exit_code = 0
        self.logs_dir = options.state_dir / state.LOGS_DIR
        self.gateway_url = ""

    # ------------------------------------------------------------------ entry point

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        lock = None
        try:
            lock = state.lock_state_dir(self.options.state_dir)
            if self.options.fresh:
                self.output.say(f"--fresh: wiping {self.options.state_dir}")
                state.wipe_state_dir(self.options.state_dir)
            secrets = state.ensure_secrets(self.options.state_dir)
            services = registry.available_services()
            if not services:
                raise UpError("no service modules found (expected e.g. services/customer/__main__.py)")
            # Before anything slow: a busy --gateway-port should fail in a second.
            self._gateway_port = self._pick_gateway_port()
            state.start_logs(self.options.state_dir)
            self.output.say(
                f"logs: {_shown_path(self.logs_dir)}/<process>.log (the terminal shows warnings and errors)"
            )
            database_server = self._start_postgres(services)
            nats_url = self._start_nats() if not self._stop.is_set() else ""
            if not self._stop.is_set():
                self._start_children(services, database_server, nats_url, secrets)
                self._supervise()
        except (UpError, EmbeddedError, state.StateError) as exc:
            self.output.say(f"error: {exc}")
            self._exit_code = 1
        finally:
            self._shutdown()
            if lock is not None:
                lock.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self._exit_code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop.is_set():
            self._hurry.set()
            return
        self._stop.set()

    def _pick_gateway_port(self) -> int:
        requested = self.options.gateway_port
        if requested is not None:
            if not port_is_free(requested):
                raise UpError(f"gateway port {requested} is already in use; pick another with --gateway-port")
            return requested
        preferred = self.options.preferred_gateway_port
        return preferred if port_is_free(preferred) else free_port()

    # ---------------------------------------------------------------- infrastructure

    def _start_postgres(self, services: tuple[registry.ServiceSpec, ...]) -> str:
        """Start or reach PostgreSQL, create the service databases; return the server URL."""
        if self.options.database_url:
            server_url = self.options.database_url
            self.output.say(f"PostgreSQL: external {urlsplit(server_url).hostname}:{urlsplit(server_url).port or 5432}")
        else:
            data_dir = self.options.state_dir / "postgres"
            first_time = not (data_dir / "PG_VERSION").exists()
            self.output.say(
                "starting PostgreSQL… (first run: creating its data directory)"
                if first_time
                else "starting PostgreSQL…"
            )
            postgres = EmbeddedPostgres(data_dir, log_path=self.logs_dir / "postgres.log")
            self._servers.append(_Server("PostgreSQL", postgres, Backoff(started_at=time.monotonic())))
            postgres.start()
            server_url = postgres.url()
            self.output.say(f"PostgreSQL ready on {LOCALHOST}:{postgres.port}")
        self.output.say("creating the service databases…")
        for spec in services:
            try:
                ensure_database(server_url, spec.database)
            except (psycopg.Error, OSError) as exc:  # report them as a start-up failure
                raise UpError(f"cannot create database {spec.database}: {exc}") from None
        return server_url

    def _start_nats(self) -> str:
        if self.options.nats_url:
            self.output.say(f"NATS: external {self.options.nats_url}")
            return self.options.nats_url
        self.output.say("starting NATS JetStream…")
        nats = EmbeddedNats(self.options.state_dir / "nats", log_path=self.logs_dir / "nats.log")
        self._servers.append(_Server("NATS", nats, Backoff(started_at=time.monotonic())))
        nats.start()
        self.output.say(f"NATS ready on {nats.url()}")
        return nats.url()

    def _watch_servers(self) -> None:
        """Restart an embedded server that died, on its port, with back-off; give up (and
        stop the mesh) only when it keeps dying right after each start."""
        now = time.monotonic()
        for watched in self._servers:
            server, backoff = watched.server, watched.backoff
            if not watched.down:
                if server.running:
                    continue
                watched.down = True
                self._server_crashed(watched, now, "stopped unexpectedly")
                continue
            if not backoff.due(now):
                continue
            self.output.say(f"restarting {watched.name}…")
            backoff.started(now)
            try:
                server.restart()
            except EmbeddedError as exc:
                first_line = str(exc).splitlines()[0]
                self._server_crashed(watched, time.monotonic(), f"did not start again ({first_line})")
                continue
            watched.down = False
            self.output.say(f"{watched.name} is back on port {server.port}")

    def _server_crashed(self, watched: _Server, now: float, what: str) -> None:
        delay = watched.backoff.crashed(now)
        log = _shown_path(watched.server.log_path)
        if delay is None:
            raise UpError(
                f"embedded {watched.name} {what} {watched.backoff.quick_crashes} times in a row, each within "
                f"{QUICK_CRASH_SECONDS:.0f}s of starting; giving up (log {log})"
            )
        self.output.say(f"warning: embedded {watched.name} {what}; restarting in {delay:.0f}s (log {log})")

    def _infrastructure_up(self) -> bool:
        return not any(watched.down for watched in self._servers)

    # --------------------------------------------------------------------- children

    def _start_children(
        self,
        services: tuple[registry.ServiceSpec, ...],
        database_server: str,
        nats_url: str,
        secrets: dict[str, str],
    ) -> None:
        ports = _distinct_free_ports(len(services), {self._gateway_port})
        base = _with_no_proxy(dict(os.environ, PYTHONUNBUFFERED="1"))
        internal_secret = secrets["ATELIER_INTERNAL_SECRET"]

        gateway_env = dict(
            base,
            ATELIER_HTTP_ADDRESS=f"{LOCALHOST}:{self._gateway_port}",
            ATELIER_INTERNAL_SECRET=internal_secret,
            ATELIER_JWT_SECRET=secrets["ATELIER_JWT_SECRET"],
            ATELIER_JWT_ISSUER=state.JWT_ISSUER,
            ATELIER_JWT_AUDIENCE=state.JWT_AUDIENCE,
            ATELIER_LOG_LEVEL=self.options.log_level,
            OTEL_SERVICE_NAME=f"atelier-{registry.GATEWAY_NAME}",
            # A laptop mesh: the gateway's production checks of its secrets do not apply.
            ATELIER_ENV="development",
        )
        for spec, port in zip(services, ports, strict=True):
            address = f"{LOCALHOST}:{port}"
            gateway_env[spec.address_env] = address
            env = dict(
                base,
                ATELIER_DATABASE_URL=database_url_for(database_server, spec.database),
                ATELIER_NATS_URL=nats_url,
                ATELIER_GRPC_ADDRESS=address,
                ATELIER_INTERNAL_SECRET=internal_secret,
                ATELIER_LOG_LEVEL=self.options.log_level,
                OTEL_SERVICE_NAME=f"atelier-{spec.name}",
            )
            # Services ask each other over gRPC (e.g. an export gathers every service's data).
            env.update(
                {
                    other.address_env: f"{LOCALHOST}:{p}"
                    for other, p in zip(services, ports, strict=True)
                    if other is not spec
                }
            )
            self._services.append(self._child(spec.name, spec.module, env))
        state.record_addresses(
            self.options.state_dir,
            {spec.name: f"{LOCALHOST}:{port}" for spec, port in zip(services, ports, strict=True)},
        )

        if registry.module_runnable(registry.GATEWAY_MODULE):
            self._gateway = self._child(registry.GATEWAY_NAME, registry.GATEWAY_MODULE, gateway_env)
        else:
            self.output.say("gateway: module not found yet; running services only")
        self.gateway_url = f"http://{LOCALHOST}:{self._gateway_port}"
        children = self._children()
        self.output.say(f"starting {', '.join(child.name for child in children)}…")
        for child in children:
            child.start()

    def _child(self, name: str, module: str, env: dict[str, str]) -> Child:
        return Child(
            name,
            [sys.executable, "-m", module],
            env,
            self.output,
            log_path=self.logs_dir / f"{name}.log",
            verbose=self.options.verbose,
        )

    def _children(self) -> list[Child]:
        return [*self._services, *([self._gateway] if self._gateway else [])]

    # -------------------------------------------------------------------- supervision

    def _supervise(self) -> None:
        deadline = time.monotonic() + self.options.ready_timeout
        announced = False
        while not self._stop.is_set():
            self._watch_servers()
            self._restart_crashed()
            if self._stop.is_set():
                break
            if not announced:
                if self._probe_readiness():
                    self._announce()
                    announced = True
                elif time.monotonic() > deadline:
                    waiting = ", ".join(c.name for c in self._children() if not c.ready)
                    raise UpError(
                        f"not ready after {self.options.ready_timeout:.0f}s: still waiting for {waiting} "
                        f"(logs in {_shown_path(self.logs_dir)})"
                    )
            self._stop.wait(0.3 if not announced else 0.5)

    def _restart_crashed(self) -> None:
        now = time.monotonic()
        for child in self._children():
            if child.backoff.restart_at is not None:
                if child.backoff.due(now):
                    if child is self._gateway:
                        self._make_room_for_gateway(child)
                    self.output.say(f"restarting {child.name}")
                    child.start()
                continue
            code = child.exit_code()
            if code is None:
                continue
            ran_for = now - child.backoff.started_at
            # While PostgreSQL or NATS is down a service may well die of it; that is no
            # reason to give up on it, they are being restarted.
            delay = child.crashed(now, may_give_up=self._infrastructure_up())
            if delay is None:
                last = "\n".join(f"    {line}" for line in list(child.recent)[-15:]) or "    (no output)"
                raise UpError(
                    f"{child.name} crashed {child.backoff.quick_crashes} times in a row, each within "
                    f"{QUICK_CRASH_SECONDS:.0f}s of starting; giving up (log {_shown_path(child.log_path)}). "
                    f"Last output:\n{last}"
                )
            self.output.say(
                f"warning: {child.name} exited with code {code} after {ran_for:.1f}s; restarting in {delay:.0f}s"
            )

    def _make_room_for_gateway(self, gateway: Child) -> None:
        """Before restarting the gateway: when another program took its port meanwhile (the
        gateway then dies at once, unable to bind), move to a free port if the port was
        ours to choose, else stop with a clear error."""
        if port_is_free(self._gateway_port):
            return
        taken = self._gateway_port
        if self.options.gateway_port is not None:
            raise UpError(
                f"gateway port {taken} was taken by another program before the gateway could bind it; "
                "pick another with --gateway-port"
            )
        self._gateway_port = free_port()
        gateway.env["ATELIER_HTTP_ADDRESS"] = f"{LOCALHOST}:{self._gateway_port}"
        self.gateway_url = f"http://{LOCALHOST}:{self._gateway_port}"
        self.output.say(f"gateway port {taken} is taken by another program; the gateway moves to {self._gateway_port}")

    def _probe_readiness(self) -> bool:
        for child in self._services:
            if not child.ready and child.running:
                child.ready = grpc_serving(child.env["ATELIER_GRPC_ADDRESS"])
                if child.ready:
                    self.output.say(f"{child.name} is ready")
        services_ready = all(child.ready for child in self._services)
        gateway = self._gateway
        # The gateway's /healthz reflects the services behind it, so asking before they
        # serve only fills its log with 503s. Only the gateway we started counts: its
        # process must hold the listening socket, else the 200 comes from someone else.
        if gateway is not None and services_ready and not gateway.ready and gateway.pid is not None:
            gateway.ready = (
                gateway.running
                and listens_on(gateway.pid, self._gateway_port)
                and http_ok(f"{self.gateway_url}/healthz")
                and listens_on(gateway.pid, self._gateway_port)
            )
            if gateway.ready:
                self.output.say(f"{gateway.name} is ready")
        return services_ready and (gateway is None or gateway.ready)

    # ------------------------------------------------------------------- announcement

    def _state_flag(self) -> str:
        """What `atelier token` needs to find this state dir when run from here."""
        if self.options.state_dir == state.resolve_state_dir(None):
            return ""
        return f" --state-dir {shlex.quote(str(self.options.state_dir))}"

    def _announce(self) -> None:
        say = self.output.say
        atelier = atelier_command()
        state_flag = self._state_flag()
        if self._gateway is not None:
            say(f"Atelier is up: {self.gateway_url}  (API docs: {self.gateway_url}/docs)")
        else:
            say(
                "Services are up (no gateway yet): "
                + ", ".join(f"{c.name} {c.env['ATELIER_GRPC_ADDRESS']}" for c in self._services)
            )
        say(f"  sign in:  {token_command(atelier, state_flag, role='hq')}")
        say(f'  try:      curl -H "authorization: Bearer $TOKEN" {self.gateway_url}/v1/stores')
        say(f"  logs:     {_shown_path(self.logs_dir)}/")
        say("  stop:     Ctrl-C")
        if self.options.demo:
            self._start_demo(atelier, state_flag)

    def _start_demo(self, atelier: str, state_flag: str) -> None:
        from atelierctl import demo

        def mint(role: str, store: str = "", associate_id: str = "") -> str:
            from atelierctl.token import mint_for_state

            subject = "" if associate_id else "atelier-demo"
            return mint_for_state(
                self.options.state_dir, role=role, subject=subject, store=store, associate_id=associate_id
            )

        def sign_in() -> None:
            say = self.output.say
            say("--demo: sign in as (each line puts a token valid 8h into $TOKEN):")
            for label, role, store, associate_id in demo.sign_in_roles():
                command = token_command(atelier, state_flag, role=role, store=store, associate_id=associate_id)
                say(f"    {label:<22} {command}")
            say('--demo: a guided tour of these data is in README.md, section "Try it"')

        loaded = state.demo_loaded(self.options.state_dir)
        if loaded is not None:
            self.output.say(f"--demo: the demo maison was built on {loaded}; --fresh --demo builds a new one")
            sign_in()
            return

        def load() -> None:
            say = self.output.say
            for attempt in range(1, DEMO_ATTEMPTS + 1):
                if self._stop.is_set():
                    return
                say(f"--demo: building the demo maison ({self.options.demo_count} customers)…")
                try:
                    summary = demo.load_demo(
                        self.gateway_url, mint, self.options.demo_count, progress=lambda text: say(f"--demo: {text}")
                    )
                except demo.DemoError as exc:
                    if attempt == DEMO_ATTEMPTS:
                        say(f"warning: --demo: loading demo data failed: {exc}")
                        return
                    say(f"warning: --demo: {exc}; trying again in {2 * attempt}s (loading is idempotent)")
                    if self._stop.wait(2 * attempt):
                        return
                    continue
                state.record_demo(self.options.state_dir, str(summary))
                say(f"--demo: done: {summary}")
                sign_in()
                return

        # A thread, so supervision (restarts, Ctrl-C) carries on while data loads.
        threading.Thread(target=load, name="demo-loader", daemon=True).start()

    # ---------------------------------------------------------------------- shutdown

    def _shutdown(self) -> None:
        timeout = self.options.stop_timeout
        if self._gateway is not None and self._gateway.pid is not None:
            self.output.say("stopping gateway")
            stop_children([self._gateway], timeout, self.output, self._hurry)
        if self._services:
            self.output.say("stopping services")
            stop_children(self._services, timeout, self.output, self._hurry)
        for watched in reversed(self._servers):
            self.output.say(f"stopping {watched.name}")
            watched.server.stop()
        self.output.say("stopped")


def run_up(options: UpOptions) -> int:
    return Supervisor(options).run()
