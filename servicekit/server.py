"""The process around every Atelier service: gRPC server, database, NATS, outbox relay,
event consumers, health and graceful shutdown.

Health is real: NOT_SERVING until the database answers and NATS is connected (checked
continuously), NOT_SERVING again as soon as shutdown starts so load balancers drain.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.js import JetStreamContext
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from servicekit import db, events, migrations, telemetry
from servicekit.config import ServiceConfig
from servicekit.inbox import EventConsumer, Handler
from servicekit.interceptors import RequestContextInterceptor
from servicekit.outbox import OutboxRelay

log = logging.getLogger("atelier.server")

_TRY_LOCK = sa.text("SELECT pg_try_advisory_lock(hashtext(:name))")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(hashtext(:name))")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


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
    ):
        self.config = config
        self.bus = events.EventBus(config.events_prefix, config.events_stream)
        self.engine = db.create_engine(config.database_url)
        self.js: JetStreamContext | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self._consumer_specs: list[dict] = []
        self._periodic: list[tuple[str, float, Callable]] = []
        self._drained_hooks: list[Callable[[], Awaitable[object]]] = []
        self._grpc_services = list(grpc_services)
        self._migrations_dir = migrations_dir
        self._health_interval = health_interval
        self._grace = shutdown_grace
        self._nc = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._health = health.aio.HealthServicer()
        self.server = grpc.aio.server(
            interceptors=[aio_server_interceptor(), RequestContextInterceptor(config.internal_secret)],
            options=[("grpc.so_reuseport", 0)],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self.server)
        reflection.enable_server_reflection(
            [*self._grpc_services, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = 0

    def add_consumer(self, *, purpose: str, event_types: Sequence[str], handler: Handler, **options) -> None:
        """Register a durable consumer named `<service>-<purpose>`, started with the service."""
        self._consumer_specs.append(
            {"durable": f"{self.config.name}-{purpose}", "event_types": event_types, "handler": handler, **options}
        )

    def on_drained(self, hook: Callable[[], Awaitable[object]]) -> None:
        """Run `hook` at shutdown once in-flight calls have finished and before the
        database closes, e.g. to flush what those calls buffered in memory."""
        self._drained_hooks.append(hook)

    def add_periodic(self, name: str, every_seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        """Run `job` every `every_seconds` (first run soon after start). Across replicas one
        runs it at a time: each run holds a PostgreSQL advisory lock named after the job, and
        a replica that cannot take it skips that round. Jobs must be idempotent."""
        self._periodic.append((name, every_seconds, job))

    async def _run_periodic(self, name: str, every: float, job: Callable[[], Awaitable[object]]) -> None:
        delay = min(every, 5.0)
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
            delay = every
            try:
                async with self.engine.connect() as conn:
                    got = (await conn.execute(_TRY_LOCK, {"name": name})).scalar()
                    if not got:
                        continue
                    try:
                        await job()
                    finally:
                        await conn.execute(_UNLOCK, {"name": name})
                        await conn.commit()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic job %s failed; next round in %.0fs", name, every)

    async def start(self, register: Callable[[grpc.aio.Server], None]) -> int:
        """Migrate, bind, start serving (NOT_SERVING until dependencies answer); returns the port."""
        await asyncio.to_thread(migrations.upgrade, self.config.database_url, self._migrations_dir)
        register(self.server)
        self.port = self.server.add_insecure_port(self.config.grpc_address)
        if self.port == 0:
            raise RuntimeError(f"cannot bind gRPC address {self.config.grpc_address}")
        await self._set_health(NOT_SERVING)
        await self.server.start()
        self._tasks.append(asyncio.create_task(self._connect_events(), name="events"))
        self._tasks.append(asyncio.create_task(self._watch_health(), name="health"))
        for name, every, job in self._periodic:
            self._tasks.append(asyncio.create_task(self._run_periodic(name, every, job), name=name))
        log.info("%s listening on port %d", self.config.name, self.port)
        return self.port

    async def _connect_events(self) -> None:
        while not self._stop.is_set():
            try:
                self._nc = await events.connect(self.config.nats_url, f"atelier-{self.config.name}")
                self.js = self._nc.jetstream()
                await events.ensure_stream(self.js, self.bus)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("NATS not reachable yet (%s); retrying", exc)
                if self._nc is not None:
                    await _quietly(self._nc.close())
                    self._nc = None
                await asyncio.sleep(1.0)
        if self._stop.is_set():
            return
        self.relay = OutboxRelay(self.engine, self.js, self.bus, database_url=self.config.database_url)
        self._tasks.append(asyncio.create_task(self.relay.run(self._stop), name="outbox-relay"))
        for spec in self._consumer_specs:
            consumer = EventConsumer(js=self.js, engine=self.engine, bus=self.bus, **spec)
            self.consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.run(self._stop), name=consumer.durable))

    async def _watch_health(self) -> None:
        current = None
        while not self._stop.is_set():
            ok = (
                self._nc is not None
                and self._nc.is_connected
                and self.relay is not None
                and await db.ping(self.engine)
            )
            status = SERVING if ok else NOT_SERVING
            if status != current and not self._stop.is_set():
                await self._set_health(status)
                log.info("health: %s", health_pb2.HealthCheckResponse.ServingStatus.Name(status))
                current = status
            try:
                await asyncio.wait_for(self._stop.wait(), self._health_interval)
            except asyncio.TimeoutError:
                pass

    async def _set_health(self, status) -> None:
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
                log.exception("shutdown hook %r failed", hook)
        # The relay drains once more after the stop flag, then every task ends.
        done, pending = await asyncio.wait(self._tasks, timeout=self._grace)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception():
                log.error("task %s ended with %r", task.get_name(), task.exception())
        if self._nc is not None:
            await _quietly(self._nc.drain())
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


async def _quietly(awaitable) -> None:
    try:
        await awaitable
    except Exception:
        pass
