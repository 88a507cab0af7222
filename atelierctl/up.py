"""`atelier up`: the whole mesh on one machine, supervised until Ctrl-C / SIGTERM.

Start order: PostgreSQL (embedded unless an external URL is given) → one database per
service → NATS JetStream (embedded unless external) → the services and the gateway as
child processes on free ports → wait for gRPC health / GET /healthz → print the URL.
Stop order is the reverse: gateway, services, NATS, PostgreSQL.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

from atelierctl import registry, state
from atelierctl.children import QUICK_CRASH_SECONDS, Child, Output, stop_children
from atelierctl.embedded import (
    LOCALHOST,
    EmbeddedError,
    EmbeddedNats,
    EmbeddedPostgres,
    ensure_database,
    free_port,
    port_is_free,
)
from atelierctl.readiness import grpc_serving, http_ok

PREFERRED_GATEWAY_PORT = 8080


@dataclass
class UpOptions:
    state_dir: Path
    fresh: bool = False
    demo: bool = False
    demo_count: int = 300
    gateway_port: int | None = None  # None: 8080 when free, else any free port
    database_url: str | None = None  # external PostgreSQL (admin URL) instead of embedded
    nats_url: str | None = None  # external NATS instead of embedded
    log_level: str = "INFO"
    ready_timeout: float = 120.0
    stop_timeout: float = 15.0


class UpError(RuntimeError):
    """Start-up cannot continue; the message says why."""


def database_url_for(server_url: str, database: str) -> str:
    """``server_url`` with its database (URL path) replaced, credentials and query kept."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _pick_gateway_port(requested: int | None) -> int:
    if requested is not None:
        if not port_is_free(requested):
            raise UpError(f"gateway port {requested} is already in use; pick another with --gateway-port")
        return requested
    return PREFERRED_GATEWAY_PORT if port_is_free(PREFERRED_GATEWAY_PORT) else free_port()


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


class Supervisor:
    def __init__(self, options: UpOptions, output: Output | None = None) -> None:
        self.options = options
        self.output = output or Output()
        self._stop = threading.Event()  # first Ctrl-C / SIGTERM: stop in order
        self._hurry = threading.Event()  # second one: do not wait for graceful exits
        self._postgres: EmbeddedPostgres | None = None
        self._nats: EmbeddedNats | None = None
        self._services: list[Child] = []
        self._gateway: Child | None = None
        self._exit_code = 0
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
            gateway_port = _pick_gateway_port(self.options.gateway_port)
            database_server = self._start_postgres(services)
            nats_url = self._start_nats() if not self._stop.is_set() else ""
            if not self._stop.is_set():
                self._start_children(services, database_server, nats_url, secrets, gateway_port)
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

    # ---------------------------------------------------------------- infrastructure

    def _start_postgres(self, services: tuple[registry.ServiceSpec, ...]) -> str:
        """Start or reach PostgreSQL, create the service databases; return the server URL."""
        if self.options.database_url:
            server_url = self.options.database_url
            self.output.say(f"PostgreSQL: external {urlsplit(server_url).hostname}:{urlsplit(server_url).port or 5432}")
        else:
            data_dir = self.options.state_dir / "postgres"
            self.output.say(f"PostgreSQL: starting embedded server (data {data_dir})")
            self._postgres = EmbeddedPostgres(data_dir)
            self._postgres.start()
            server_url = self._postgres.url()
            self.output.say(f"PostgreSQL: ready on {LOCALHOST}:{self._postgres.port} (log {self._postgres.log_path})")
        for spec in services:
            try:
                ensure_database(server_url, spec.database)
            except Exception as exc:  # psycopg errors: report them as a start-up failure
                raise UpError(f"cannot create database {spec.database}: {exc}") from None
        return server_url

    def _start_nats(self) -> str:
        if self.options.nats_url:
            self.output.say(f"NATS: external {self.options.nats_url}")
            return self.options.nats_url
        store = self.options.state_dir / "nats"
        self._nats = EmbeddedNats(store)
        self._nats.start()
        self.output.say(f"NATS: JetStream ready on {self._nats.url()} (log {self._nats.log_path})")
        return self._nats.url()

    # --------------------------------------------------------------------- children

    def _start_children(
        self,
        services: tuple[registry.ServiceSpec, ...],
        database_server: str,
        nats_url: str,
        secrets: dict[str, str],
        gateway_port: int,
    ) -> None:
        ports = _distinct_free_ports(len(services), {gateway_port})
        self.output.width = max(len(name) for name in ["atelier", registry.GATEWAY_NAME, *(s.name for s in services)])
        base = _with_no_proxy(dict(os.environ, PYTHONUNBUFFERED="1"))
        internal_secret = secrets["ATELIER_INTERNAL_SECRET"]

        gateway_env = dict(
            base,
            ATELIER_HTTP_ADDRESS=f"{LOCALHOST}:{gateway_port}",
            ATELIER_INTERNAL_SECRET=internal_secret,
            ATELIER_JWT_SECRET=secrets["ATELIER_JWT_SECRET"],
            ATELIER_JWT_ISSUER=state.JWT_ISSUER,
            ATELIER_JWT_AUDIENCE=state.JWT_AUDIENCE,
            ATELIER_LOG_LEVEL=self.options.log_level,
            OTEL_SERVICE_NAME=f"atelier-{registry.GATEWAY_NAME}",
        )
        for spec, port in zip(services, ports):
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
            self._services.append(Child(spec.name, [sys.executable, "-m", spec.module], env, self.output))
        state.record_addresses(
            self.options.state_dir, {spec.name: f"{LOCALHOST}:{port}" for spec, port in zip(services, ports)}
        )

        if registry.module_runnable(registry.GATEWAY_MODULE):
            self._gateway = Child(
                registry.GATEWAY_NAME, [sys.executable, "-m", registry.GATEWAY_MODULE], gateway_env, self.output
            )
        else:
            self.output.say("gateway: module not found yet; running services only")
        self.gateway_url = f"http://{LOCALHOST}:{gateway_port}"
        for child in self._children():
            child.start()

    def _children(self) -> list[Child]:
        return [*self._services, *([self._gateway] if self._gateway else [])]

    # -------------------------------------------------------------------- supervision

    def _supervise(self) -> None:
        deadline = time.monotonic() + self.options.ready_timeout
        announced = False
        while not self._stop.is_set():
            self._check_infrastructure()
            self._restart_crashed()
            if self._stop.is_set():
                break
            if not announced:
                if self._probe_readiness():
                    self._announce()
                    announced = True
                elif time.monotonic() > deadline:
                    waiting = ", ".join(c.name for c in self._children() if not c.ready)
                    raise UpError(f"not ready after {self.options.ready_timeout:.0f}s: still waiting for {waiting}")
            self._stop.wait(0.3 if not announced else 0.5)

    def _check_infrastructure(self) -> None:
        for name, server in (("PostgreSQL", self._postgres), ("NATS", self._nats)):
            if server is not None and not server.running:
                raise UpError(f"embedded {name} stopped unexpectedly; see {server.log_path}")

    def _restart_crashed(self) -> None:
        now = time.monotonic()
        for child in self._children():
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self.output.say(f"restarting {child.name}")
                    child.start()
                continue
            code = child.exit_code()
            if code is None:
                continue
            ran_for = now - child.started_at
            delay = child.schedule_restart(now)
            if delay is None:
                last = "\n".join(f"    {line}" for line in list(child.recent)[-15:]) or "    (no output)"
                raise UpError(
                    f"{child.name} crashed {child.quick_crashes} times in a row, each within "
                    f"{QUICK_CRASH_SECONDS:.0f}s of starting; giving up. Last output:\n{last}"
                )
            self.output.say(
                f"{child.name} exited with code {code} after {ran_for:.1f}s; restarting in {delay:.0f}s"
            )

    def _probe_readiness(self) -> bool:
        for child in self._services:
            if not child.ready and child.running:
                child.ready = grpc_serving(child.env["ATELIER_GRPC_ADDRESS"])
                if child.ready:
                    self.output.say(f"{child.name} is ready")
        services_ready = all(child.ready for child in self._services)
        gateway = self._gateway
        # The gateway's /healthz reflects the services behind it, so asking before they
        # serve only fills the terminal with 503s in its access log.
        if gateway is not None and services_ready and not gateway.ready and gateway.running:
            gateway.ready = http_ok(f"{self.gateway_url}/healthz")
            if gateway.ready:
                self.output.say(f"{gateway.name} is ready")
        return services_ready and (gateway is None or gateway.ready)

    def _announce(self) -> None:
        say = self.output.say
        if self._gateway is not None:
            say(f"Atelier is up: {self.gateway_url}  (docs: /docs, health: /healthz)")
        else:
            say("Services are up (no gateway yet): " + ", ".join(
                f"{c.name} {c.env['ATELIER_GRPC_ADDRESS']}" for c in self._services))
        state_flag = ""
        if self.options.state_dir != Path(state.DEFAULT_STATE_DIR).absolute():
            state_flag = f" --state-dir {self.options.state_dir}"
        say(f"  token:  TOKEN=$(atelier token --role hq{state_flag})")
        say(f'  try:    curl -H "Authorization: Bearer $TOKEN" {self.gateway_url}/healthz')
        say("  stop:   Ctrl-C")
        if self.options.demo:
            self._start_demo(state_flag)

    def _start_demo(self, state_flag: str) -> None:
        if importlib.util.find_spec("atelierctl.demo") is None:
            self.output.say("--demo: demo data is not available yet (atelierctl.demo is missing)")
            return

        def load() -> None:
            try:
                from atelierctl.demo import load_demo
                from atelierctl.token import mint_for_state

                token = mint_for_state(self.options.state_dir, role="hq", subject="atelier-demo")
                self.output.say(f"--demo: loading {self.options.demo_count} demo customers")
                loaded = load_demo(self.gateway_url, token, self.options.demo_count)
                self.output.say(f"--demo: loaded {loaded} demo customers")
            except Exception as exc:  # a failed demo load must not take the mesh down
                self.output.say(f"--demo: loading demo data failed: {exc!r}")

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
        if self._nats is not None:
            self.output.say("stopping NATS")
            self._nats.stop()
        if self._postgres is not None:
            self.output.say("stopping PostgreSQL")
            self._postgres.stop()
        self.output.say("stopped")


def run_up(options: UpOptions) -> int:
    return Supervisor(options).run()
