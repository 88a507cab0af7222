"""The process around every Atelier service: gRPC server, database, NATS, outbox relay,
event consumers, periodic jobs, health and graceful shutdown.

What health means (grpc.health.v1):

* `""` and each of the service's gRPC service names answer SERVING when the service can
  do its work: its migrations are applied, its database answers (checked every
  `health_interval` seconds over a connection of its own, so a busy pool does not look
  like an outage) and the server accepts calls. This is readiness: a load balancer or
  the gateway sends traffic only to SERVING replicas.
* NATS is not part of it. Writes record their events in the outbox in the same
  transaction; the relay publishes them once NATS is back, and consumers resume where
  they stopped. A replica whose NATS is down serves every RPC correctly, so it stays
  SERVING. The state of events is reported on its own name, `atelier.events`
  (EVENTS_HEALTH): SERVING while the NATS connection is up and the relay runs,
  NOT_SERVING while events are being held back. Operators alert on it; routing ignores it.
* No RPC is answered before SERVING: the status is set after the migrations and a first
  database check, before the server starts accepting calls. At shutdown every name turns
  NOT_SERVING first, then the server stops accepting and lets calls in flight finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats import errors as nats_errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.instrumentation.grpc import filters as otel_filters

from servicekit import db, events, migrations, telemetry
from servicekit.config import ConfigError, ServiceConfig
from servicekit.inbox import DEFAULT_ACK_WAIT, DEFAULT_BACKOFF, EventConsumer, Handler
from servicekit.interceptors import CallerCheck, RequestContextInterceptor
from servicekit.outbox import OutboxRelay

log = telemetry.logger("atelier.server")

_TRY_LOCK = sa.text("SELECT pg_try_advisory_lock(hashtext(:name))")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(hashtext(:name))")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# The health name reporting whether events flow (NATS connected, relay running).
EVENTS_HEALTH = "atelier.events"

Job = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class _ConsumerSpec:
    durable: str
    event_types: Sequence[str]
    handler: Handler
    batch_size: int
    max_deliver: int
    backoff: Sequence[float]
    ack_wait: float


@dataclass
class _Periodic:
    name: str
    every_seconds: float
    job: Job = field(repr=False)


class ServiceRuntime:
    """Create it inside the running event loop (grpc.aio binds its server to the loop)."""

    def __init__(
        self,
        config: ServiceConfig,
        *,
        grpc_services: Sequence[str],
        migrations_dir: Path,
        health_interval: float = 2.0,
        shutdown_grace: float = 10.0,
        events_wait: float = 5.0,
    ):
        self.config = config
        self.bus = events.EventBus(config.events_prefix, config.events_stream)
        self.engine = db.create_engine(config.database_url)
        self.js: JetStreamContext | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self._consumer_specs: list[_ConsumerSpec] = []
        self._periodic: list[_Periodic] = []
        self._drained_hooks: list[Job] = []
        self._grpc_services = list(grpc_services)
        self._migrations_dir = migrations_dir
        self._health_interval = health_interval
        self._grace = shutdown_grace
        self._events_wait = events_wait
        self._events_started = asyncio.Event()
        self._nc: NATS | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._health = health.aio.HealthServicer()
        self._probe = db.DatabaseProbe(config.database_url)
        self._context_interceptor = RequestContextInterceptor(config.internal_secret)
        self.server = grpc.aio.server(
            interceptors=[
                # Not around health checks: they are noise in traces, and the tracing
                # wrapper breaks Health.Watch (a coroutine, not an async generator).
                aio_server_interceptor(filter_=otel_filters.negate(otel_filters.health_check())),
                self._context_interceptor,
            ],
            options=[("grpc.so_reuseport", 0)],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self.server)
        reflection.enable_server_reflection(
            [*self._grpc_services, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = 0

    def set_caller_gate(self, gate: CallerCheck) -> None:
        """The service's own check of every verified caller, awaited before each RPC
        (raise servicekit.errors.PermissionDenied to refuse, e.g. a departed associate).
        Keep it cheap: it runs on every call."""
        self._context_interceptor.caller_gate = gate

    def add_consumer(
        self,
        *,
        purpose: str,
        event_types: Sequence[str],
        handler: Handler,
        batch_size: int = 64,
        max_deliver: int = 8,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        ack_wait: float = DEFAULT_ACK_WAIT,
    ) -> None:
        """Register a durable consumer named `<service>-<purpose>`, started with the service."""
        self._consumer_specs.append(
            _ConsumerSpec(
                durable=f"{self.config.name}-{purpose}",
                event_types=event_types,
                handler=handler,
                batch_size=batch_size,
                max_deliver=max_deliver,
                backoff=backoff,
                ack_wait=ack_wait,
            )
        )

    def on_drained(self, hook: Job) -> None:
        """Run `hook` at shutdown once in-flight calls have finished and before the
        database closes, e.g. to flush what those calls buffered in memory."""
        self._drained_hooks.append(hook)

    def add_periodic(self, name: str, every_seconds: float, job: Job) -> None:
        """Run `job` every `every_seconds` (first run soon after start). Across replicas one
        runs it at a time: each run holds a PostgreSQL advisory lock named after the job, and
        a replica that cannot take it skips that round. Jobs must be idempotent."""
        self._periodic.append(_Periodic(name, every_seconds, job))

    async def _run_periodic(self, periodic: _Periodic) -> None:
        delay = min(periodic.every_seconds, 5.0)
        while not self._stop.is_set():
            if await _set_within(self._stop, delay):
                return
            delay = periodic.every_seconds
            try:
                async with self.engine.connect() as conn:
                    got = (await conn.execute(_TRY_LOCK, {"name": periodic.name})).scalar()
                    if not got:
                        continue
                    try:
                        await periodic.job()
                    finally:
                        await conn.execute(_UNLOCK, {"name": periodic.name})
                        await conn.commit()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A failing round must not end the schedule; the next round retries.
                log.exception("periodic job %s failed; next round in %.0fs", periodic.name, periodic.every_seconds)

    async def start(self, register: Callable[[grpc.aio.Server], None]) -> int:
        """Migrate, bind, report SERVING, then accept calls; returns the port once events
        (NATS, relay, consumers) flow, or after `events_wait` seconds with them still
        connecting in the background (NATS down does not hold a replica back)."""
        await asyncio.to_thread(migrations.upgrade, self.config.database_url, self._migrations_dir)
        register(self.server)
        self.port = self.server.add_insecure_port(self.config.grpc_address)
        if self.port == 0:
            raise RuntimeError(f"cannot bind gRPC address {self.config.grpc_address}")
        # Health first, then accepting: the first answer the server gives is ready.
        database_ok = await self._probe.ok()
        await self._set_health(SERVING if database_ok else NOT_SERVING)
        await self._health.set(EVENTS_HEALTH, NOT_SERVING)
        await self.server.start()
        self._tasks.append(asyncio.create_task(self._connect_events(), name="events"))
        self._tasks.append(asyncio.create_task(self._watch_health(database_ok), name="health"))
        for periodic in self._periodic:
            self._tasks.append(asyncio.create_task(self._run_periodic(periodic), name=periodic.name))
        # Usually NATS answers at once: return with events flowing (runtime.js set, relay
        # and consumers running). When it does not, they keep connecting in the background.
        if not await _set_within(self._events_started, self._events_wait):
            log.warning("%s: NATS not reachable yet; events stay in the outbox until it is", self.config.name)
        log.info("%s listening on port %d", self.config.name, self.port)
        return self.port

    async def _connect_events(self) -> None:
        js: JetStreamContext | None = None
        while not self._stop.is_set():
            try:
                self._nc = await events.connect(self.config.nats_url, f"atelier-{self.config.name}")
                js = self._nc.jetstream()
                await events.ensure_stream(js, self.bus)
                break
            except (nats_errors.Error, OSError) as exc:
                log.warning("NATS not reachable yet (%r); retrying", exc)
                if self._nc is not None:
                    await _quietly(self._nc.close())
                    self._nc = None
                await asyncio.sleep(1.0)
        if js is None or self._stop.is_set():
            return
        self.js = js
        self.relay = OutboxRelay(self.engine, js, self.bus, database_url=self.config.database_url)
        self._tasks.append(asyncio.create_task(self.relay.run(self._stop), name="outbox-relay"))
        for spec in self._consumer_specs:
            consumer = EventConsumer(
                js=js,
                engine=self.engine,
                bus=self.bus,
                durable=spec.durable,
                event_types=spec.event_types,
                handler=spec.handler,
                batch_size=spec.batch_size,
                max_deliver=spec.max_deliver,
                backoff=spec.backoff,
                ack_wait=spec.ack_wait,
            )
            self.consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.run(self._stop), name=consumer.durable))
        self._events_started.set()

    def events_flowing(self) -> bool:
        """NATS connected and the outbox relay running."""
        return self._nc is not None and self._nc.is_connected and self.relay is not None

    async def _watch_health(self, database_ok: bool) -> None:
        serving, flowing = database_ok, False
        while not await _set_within(self._stop, self._health_interval):
            now_serving = await self._probe.ok()
            now_flowing = self.events_flowing()
            if self._stop.is_set():
                return
            if now_serving != serving:
                serving = now_serving
                await self._set_health(SERVING if serving else NOT_SERVING)
                log.warning("health: %s", "SERVING" if serving else "NOT_SERVING (database unreachable)")
            if now_flowing != flowing:
                flowing = now_flowing
                await self._health.set(EVENTS_HEALTH, SERVING if flowing else NOT_SERVING)
                log.info("events: %s", "flowing" if flowing else "held in the outbox (NATS unreachable)")

    async def _set_health(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        for name in ("", *self._grpc_services):
            await self._health.set(name, status)

    async def stop(self) -> None:
        """Stop accepting, let in-flight calls finish, flush the outbox, close connections."""
        if self._stop.is_set():
            return
        log.info("%s shutting down", self.config.name)
        await self._health.enter_graceful_shutdown()
        self._stop.set()
        await self.server.stop(self._grace)
        for hook in self._drained_hooks:
            try:
                await hook()
            except Exception:
                # One failing hook must not keep the others (or the shutdown) from running.
                log.exception("shutdown hook %r failed", hook)
        # The relay drains once more after the stop flag; consumers hand back what they
        # fetched but did not handle; then every task ends.
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=self._grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=self._grace)
            for task in done:
                if not task.cancelled() and task.exception():
                    log.error("task %s ended with %r", task.get_name(), task.exception())
        if self._nc is not None:
            await _quietly(self._nc.drain())
        await self._probe.close()
        await self.engine.dispose()

    async def run_until_signalled(self, register: Callable[[grpc.aio.Server], None]) -> None:
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop_requested.set)
        await self.start(register)
        await stop_requested.wait()
        await self.stop()
        telemetry.shutdown()


Build = Callable[[ServiceConfig], tuple["ServiceRuntime", Callable[[grpc.aio.Server], None]]]


def main(name: str, build: Build) -> None:
    """A service process (`python -m services.<name>`): configuration from the environment,
    JSON logs and traces, then serve until SIGTERM or SIGINT."""
    try:
        config = ServiceConfig.from_env(name)
    except ConfigError as exc:
        raise SystemExit(f"atelier: {exc}") from None
    telemetry.configure(f"atelier-{name}", config.log_level)

    async def serve() -> None:
        # Built inside the running loop: grpc.aio binds its server to the current loop.
        runtime, register = build(config)
        await runtime.run_until_signalled(register)

    asyncio.run(serve())


async def _set_within(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for `event`; whether it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


async def _quietly(awaitable: Awaitable[object]) -> None:
    """Closing a NATS connection that is already gone fails; that is fine at shutdown."""
    with contextlib.suppress(nats_errors.Error, OSError):
        await awaitable
