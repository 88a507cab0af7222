"""The servers under test, each in a process of its own so the load generator never shares
a process (or a GIL) with them: the two ceiling servers, the customer service and the
gateway. Every process started here is stopped by `Processes.stop_all()`, also on Ctrl-C
and errors; each also gets SIGTERM from the kernel if the bench itself is killed (via
`setpriv --pdeathsig`, when util-linux is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx

from atelierctl.embedded import free_port, stop_process

REPO = Path(__file__).resolve().parent.parent
LOCALHOST = "127.0.0.1"
# Children get SIGTERM if the bench dies without stopping them (Linux, util-linux setpriv).
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None
_PDEATHSIG = [_SETPRIV, "--pdeathsig", "TERM", "--"] if _SETPRIV else []


class StartError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path
    address: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class Processes:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.children: list[Child] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str], address: str) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [*_PDEATHSIG, *argv],
                cwd=str(REPO),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the bench, which stops them in order
                # No preexec_fn: it forces fork(), and once this process has used grpc,
                # grpc's pthread_atfork handler can block fork() forever. Without it
                # subprocess uses vfork(); setpriv sets the parent-death signal instead.
            )
        child = Child(name, proc, log_path, address)
        self.children.append(child)
        return child

    def stop(self, child: Child) -> None:
        stop_process(child.proc, timeout=15.0)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            self.stop(child)


def base_env(**extra: str) -> dict[str, str]:
    """The parent environment without other ATELIER_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def wait_until(child: Child, probe: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not child.alive():
            raise StartError(
                f"{what} exited with code {child.proc.returncode}; log {child.log_path}:\n{child.log_tail()}"
            )
        try:
            if probe():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise StartError(f"{what} not ready after {timeout:.0f}s; log {child.log_path}:\n{child.log_tail()}")
        time.sleep(0.2)


def grpc_serving(address: str) -> bool:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def grpc_echoes(address: str) -> bool:
    from bench.echo import ECHO_METHOD

    with grpc.insecure_channel(address) as channel:
        return channel.unary_unary(ECHO_METHOD)(b"ping", timeout=1) == b"ping"


def http_ok(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


# ------------------------------------------------------------------------ servers


def start_grpc_echo(procs: Processes, *, interceptor_secret: str = "") -> Child:
    """The bare echo; with `interceptor_secret`, the same echo behind the services'
    interceptor stack (a breakdown of the gap, not a ceiling)."""
    address = f"{LOCALHOST}:{free_port()}"
    argv = [sys.executable, "-m", "bench.echo", "grpc", "--address", address]
    name = "grpc-echo"
    if interceptor_secret:
        argv += ["--servicekit-interceptors", interceptor_secret]
        name = "grpc-echo-interceptors"
    child = procs.spawn(name, argv, base_env(), address)
    wait_until(child, lambda: grpc_echoes(address), 30, "gRPC echo server")
    return child


def start_http_echo(procs: Processes, grpc_address: str) -> Child:
    port = free_port()
    address = f"{LOCALHOST}:{port}"
    child = procs.spawn(
        "http-echo",
        [sys.executable, "-m", "bench.echo", "http", "--address", address, "--target", grpc_address],
        base_env(),
        f"http://{address}",
    )
    wait_until(child, lambda: http_ok(f"http://{address}/echo/ping"), 30, "HTTP→gRPC echo server")
    return child


def start_customer_service(procs: Processes, infra, secret: str) -> Child:
    address = f"{LOCALHOST}:{free_port()}"
    env = base_env(
        ATELIER_DATABASE_URL=infra.database_url,
        ATELIER_NATS_URL=infra.nats_url,
        ATELIER_GRPC_ADDRESS=address,
        ATELIER_INTERNAL_SECRET=secret,
        ATELIER_LOG_LEVEL="WARNING",
        ATELIER_EVENTS_PREFIX=infra.events_prefix,
        ATELIER_EVENTS_STREAM=infra.events_stream,
    )
    child = procs.spawn("customer", [sys.executable, "-m", "services.customer"], env, address)
    wait_until(child, lambda: grpc_serving(address), 90, "customer service")
    return child


@dataclass(frozen=True)
class GatewaySecrets:
    internal: str
    jwt: str
    issuer: str = "atelier-bench"
    audience: str = "atelier"


def gateway_importable() -> str | None:
    """None when `python -m gateway` can run, else why not."""
    result = subprocess.run(
        [sys.executable, "-c", "import gateway.__main__, gateway.app; gateway.app.create_app"],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode == 0:
        return None
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit code {result.returncode}"


def start_gateway(procs: Processes, customer_address: str, secrets: GatewaySecrets) -> Child:
    port = free_port()
    address = f"{LOCALHOST}:{port}"
    env = base_env(
        ATELIER_HTTP_ADDRESS=address,
        ATELIER_CUSTOMER_ADDRESS=customer_address,
        ATELIER_INTERNAL_SECRET=secrets.internal,
        ATELIER_JWT_SECRET=secrets.jwt,
        ATELIER_JWT_ISSUER=secrets.issuer,
        ATELIER_JWT_AUDIENCE=secrets.audience,
        ATELIER_LOG_LEVEL="WARNING",
    )
    child = procs.spawn("gateway", [sys.executable, "-m", "gateway"], env, f"http://{address}")
    wait_until(child, lambda: http_ok(f"http://{address}/healthz"), 60, "gateway")
    return child
