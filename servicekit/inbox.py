"""Event consumers: one durable pull consumer per (service, purpose), effects applied once.

All replicas of a service bind to the same durable consumer, so each event is handled by
one of them. The event id is recorded in the `inbox` table in the same transaction as the
handler's effect: a redelivered event finds its id there and changes nothing. A failing
handler gets the message back with growing delays; after `max_deliver` attempts the
message is terminated and logged as poison rather than blocking the consumer forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import sqlalchemy as sa
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import context as otel_context
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from atelier.events.v1 import envelope_pb2
from servicekit import telemetry
from servicekit.auth import SYSTEM
from servicekit.events import EventBus
from servicekit.uow import UnitOfWork, in_unit_of_work

log = logging.getLogger("atelier.inbox")

# A handler applies one event inside a unit of work opened by the consumer (the inbox row
# and the handler's effect and events commit together); it acts as the platform (SYSTEM).
Handler = Callable[[UnitOfWork, envelope_pb2.EventEnvelope], Awaitable[None]]

inbox_table = sa.table(
    "inbox",
    sa.column("consumer", sa.Text),
    sa.column("event_id", sa.Uuid),
)

DEFAULT_BACKOFF = (1.0, 5.0, 15.0, 60.0, 300.0)


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
        ack_wait: float = 30.0,
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

    def _filter_subject(self) -> str:
        # NATS 2.9 supports a single filter subject per consumer (filter_subjects is 2.10+),
        # so a consumer listens to one area's events and ignores the types it does not want.
        areas = {t.split(".")[1] for t in self._types}
        if len(areas) == 1:
            return f"{self._bus.prefix}.{areas.pop()}.>"
        return self._bus.all_subjects

    async def run(self, stop: asyncio.Event) -> None:
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait,
            max_deliver=self._max_deliver,
            filter_subject=self._filter_subject(),
            max_ack_pending=self._batch * 4,
        )
        sub = await self._js.pull_subscribe(
            self._filter_subject(), durable=self.durable, stream=self._bus.stream, config=config
        )
        try:
            while not stop.is_set():
                try:
                    messages = await sub.fetch(self._batch, timeout=1.0)
                except (NatsTimeoutError, asyncio.TimeoutError):
                    continue  # nothing to do within the fetch window
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("fetch on %s failed: %r", self.durable, exc)
                    await asyncio.sleep(1.0)
                    continue
                for msg in messages:
                    await self._process(msg)
        finally:
            try:
                await sub.unsubscribe()
            except Exception:
                pass

    async def _process(self, msg) -> None:
        try:
            envelope = envelope_pb2.EventEnvelope.FromString(msg.data)
        except Exception:
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
            attempt = msg.metadata.num_delivered
            if attempt >= self._max_deliver:
                log.exception(
                    "event %s (%s) failed %d times; terminated", envelope.id, envelope.type, attempt
                )
                self.terminated += 1
                await msg.term()
            else:
                delay = self._backoff[min(attempt - 1, len(self._backoff) - 1)]
                log.warning(
                    "event %s (%s) failed on attempt %d; retry in %.0fs",
                    envelope.id, envelope.type, attempt, delay, exc_info=True,
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
