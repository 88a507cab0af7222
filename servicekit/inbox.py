"""Event consumers: one durable pull consumer per (service, purpose), effects applied once.

All replicas of a service bind to the same durable consumer, so each event is handled by
one of them. The event id is recorded in the `inbox` table in the same transaction as the
handler's effect: a redelivered event finds its id there and changes nothing. A failing
handler gets the message back with growing delays; after `max_deliver` attempts the
message is terminated and logged as poison rather than blocking the consumer forever.

A message not acknowledged within `ack_wait` (10 s) goes to another replica: that is
how long the effects of a killed consumer's messages lag. While a batch is being
handled, every message of it still waiting is kept alive with in-progress acks
(`+WPI`, every third of `ack_wait`), so a slow handler or a long batch is never handed
out twice. When a consumer stops (shutdown, cancellation) the messages it fetched but
did not handle are nak'ed at once, so another replica takes them without waiting out
`ack_wait`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import sqlalchemy as sa
from google.protobuf.message import DecodeError
from nats import errors as nats_errors
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import context as otel_context
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from atelier.events.v1 import envelope_pb2
from servicekit import telemetry
from servicekit.auth import SYSTEM
from servicekit.events import EventBus
from servicekit.uow import UnitOfWork, in_unit_of_work

log = telemetry.logger("atelier.inbox")

# A handler applies one event inside a unit of work opened by the consumer (the inbox row
# and the handler's effect and events commit together); it acts as the platform (SYSTEM).
Handler = Callable[[UnitOfWork, envelope_pb2.EventEnvelope], Awaitable[None]]

inbox_table = sa.table(
    "inbox",
    sa.column("consumer", sa.Text),
    sa.column("event_id", sa.Uuid),
)

DEFAULT_BACKOFF = (1.0, 5.0, 15.0, 60.0, 300.0)
# How long JetStream waits for an ack before redelivering to another replica (seconds).
DEFAULT_ACK_WAIT = 10.0


class PoisonEvent(Exception):
    """Raised by a handler for an event it can never apply; it is terminated at once."""


class EventConsumer:
    def __init__(
        self,
        *,
        js: JetStreamContext,
        engine: AsyncEngine,
        bus: EventBus,
        durable: str,
        event_types: Sequence[str],
        handler: Handler,
        batch_size: int = 64,
        max_deliver: int = 8,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        ack_wait: float = DEFAULT_ACK_WAIT,
    ):
        self._js = js
        self._engine = engine
        self._bus = bus
        self.durable = durable
        self._types = set(event_types)
        self._handler = handler
        self._batch = batch_size
        self._max_deliver = max_deliver
        self._backoff = list(backoff)
        self._ack_wait = ack_wait
        self.handled = 0
        self.skipped_duplicates = 0
        self.terminated = 0
        self.handed_back = 0

    def _filter_subject(self) -> str:
        # NATS 2.9 supports a single filter subject per consumer (filter_subjects is 2.10+),
        # so a consumer listens to one area's events and ignores the types it does not want.
        areas = {t.split(".")[1] for t in self._types}
        if len(areas) == 1:
            return f"{self._bus.prefix}.{areas.pop()}.>"
        return self._bus.all_subjects

    def _config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait,
            max_deliver=self._max_deliver,
            filter_subject=self._filter_subject(),
            max_ack_pending=self._batch * 4,
        )

    async def _ensure_consumer(self, config: ConsumerConfig) -> None:
        """Create the durable consumer, or bring an existing one's ack wait and delivery
        limit up to date (a consumer created by an older release keeps its own otherwise)."""
        try:
            info = await self._js.consumer_info(self._bus.stream, self.durable)
        except NotFoundError:
            return  # pull_subscribe creates it
        current = info.config
        if current.ack_wait != config.ack_wait or current.max_deliver != config.max_deliver:
            await self._js.add_consumer(self._bus.stream, config)
            log.info("consumer %s updated (ack_wait %ss)", self.durable, config.ack_wait)

    async def run(self, stop: asyncio.Event) -> None:
        config = self._config()
        await self._ensure_consumer(config)
        sub = await self._js.pull_subscribe(
            self._filter_subject(), durable=self.durable, stream=self._bus.stream, config=config
        )
        try:
            while not stop.is_set():
                try:
                    messages = await sub.fetch(self._batch, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    continue  # nothing to do within the fetch window
                except (nats_errors.Error, OSError) as exc:
                    log.warning("fetch on %s failed: %r", self.durable, exc)
                    await asyncio.sleep(1.0)
                    continue
                await self._handle_batch(messages, stop)
        finally:
            with contextlib.suppress(nats_errors.Error, OSError):
                await sub.unsubscribe()

    async def _handle_batch(self, messages: list[Msg], stop: asyncio.Event) -> None:
        """Handle the messages in order; whatever is left when the consumer stops or is
        cancelled (the one being handled included) is nak'ed for another replica."""
        waiting = list(messages)
        keeper = asyncio.create_task(self._keep_alive(waiting), name=f"{self.durable}-in-progress")
        try:
            while waiting and not stop.is_set():
                try:
                    await self._process(waiting[0])
                except (nats_errors.Error, OSError) as exc:
                    # The effect is committed with its inbox row; a lost ack only means a
                    # redelivery that changes nothing.
                    log.warning("settling a message on %s failed: %r", self.durable, exc)
                waiting.pop(0)
        finally:
            keeper.cancel()
            if waiting:
                await self._hand_back(waiting)

    async def _keep_alive(self, waiting: list[Msg]) -> None:
        """Tell JetStream the batch is being worked on, so no message of it is redelivered
        while this replica is alive and busy with it."""
        while True:
            await asyncio.sleep(self._ack_wait / 3)
            for msg in list(waiting):
                if not msg.is_acked:
                    with contextlib.suppress(nats_errors.Error, OSError):
                        await msg.in_progress()

    async def _hand_back(self, messages: list[Msg]) -> None:
        handed = 0
        for msg in messages:
            if msg.is_acked:
                continue
            with contextlib.suppress(nats_errors.Error, OSError):
                await msg.nak()
                handed += 1
        self.handed_back += handed
        log.info("consumer %s handed back %d unhandled messages", self.durable, handed)

    async def _process(self, msg: Msg) -> None:
        try:
            envelope = envelope_pb2.EventEnvelope.FromString(msg.data)
        except DecodeError:
            log.error("poison message on %s: not an EventEnvelope", msg.subject)
            self.terminated += 1
            await msg.term()
            return
        if envelope.type not in self._types:
            await msg.ack()
            return
        token = otel_context.attach(telemetry.extract_context(envelope.trace_context))
        try:
            with telemetry.tracer("atelier.inbox").start_as_current_span(f"consume {envelope.type}"):
                applied = await self.apply(envelope)
            await msg.ack()
            if applied:
                self.handled += 1
            else:
                self.skipped_duplicates += 1
        except PoisonEvent as exc:
            log.error("event %s (%s) cannot be applied: %s", envelope.id, envelope.type, exc)
            self.terminated += 1
            await msg.term()
        except Exception:
            # Any fault of a handler is retried with back-off, then terminated: one bad
            # event must not stop the consumer. Logged with its traceback (database
            # errors without the values they quote).
            attempt = msg.metadata.num_delivered
            if attempt >= self._max_deliver:
                log.exception("event %s (%s) failed %d times; terminated", envelope.id, envelope.type, attempt)
                self.terminated += 1
                await msg.term()
            else:
                delay = self._backoff[min(attempt - 1, len(self._backoff) - 1)]
                log.warning(
                    "event %s (%s) failed on attempt %d; retry in %.0fs",
                    envelope.id,
                    envelope.type,
                    attempt,
                    delay,
                    exc_info=True,
                )
                await msg.nak(delay=delay)
        finally:
            otel_context.detach(token)

    async def apply(self, envelope: envelope_pb2.EventEnvelope) -> bool:
        """Run the handler once per event id; False when the event was already handled."""
        async with self._engine.begin() as conn:
            inserted = await conn.execute(
                insert(inbox_table)
                .values(consumer=self.durable, event_id=envelope.id)
                .on_conflict_do_nothing()
                .returning(inbox_table.c.event_id)
            )
            if inserted.first() is None:
                return False
            await in_unit_of_work(conn, SYSTEM, lambda uow: self._handler(uow, envelope))
            return True
