"""A person's data across the mesh (audit items 21, 22): the customer and associate
services on an event bus of their own, the customer service asking the associate service
for exports.

- After EraseCustomer nothing of her personal data is readable from the JetStream stream:
  canaries in every personal field (names, e-mail, phone, WeChat id, preferences,
  important dates, tags, consent source, note, interaction text, a purchase line, an
  associate's task outcome), her events carried to the associate service, then erased:
  the whole stream read raw from the start holds no canary, and a new durable consumer
  replaying from the start finds nothing of her but the erased event.
- ExportCustomer holds what every service holds about her, gathered over gRPC with the
  caller's principal; an associate service that cannot answer fails the export with
  UNAVAILABLE instead of a silently partial one.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
import pytest
from google.type import money_pb2
from nats.js.api import ConsumerConfig, DeliverPolicy

from atelier.associate.v1 import associate_service_pb2_grpc, task_pb2, task_service_pb2_grpc
from atelier.associate.v1 import task_service_pb2 as task_api
from atelier.common.v1 import common_pb2
from atelier.customer.v1 import (
    customer_pb2,
    customer_service_pb2_grpc,
    privacy_service_pb2_grpc,
    purchase_pb2,
    purchase_service_pb2,
    purchase_service_pb2_grpc,
)
from atelier.customer.v1 import customer_service_pb2 as api
from atelier.customer.v1 import privacy_service_pb2 as papi
from atelier.events.v1 import envelope_pb2
from atelierctl.embedded import free_port
from servicekit import event_types
from servicekit.db import libpq_url
from tests.associate.support import make_associate, make_store
from tests.conftest import RunningService, associate, hq, manager, metadata_for, start_service
from tests.customer.support import email, error_info, known_store, phone, record_interaction, rpc_error, unique_phone

TIMEOUT = 10
WAIT = 30.0


@dataclass
class Pair:
    customer: RunningService
    associate: RunningService
    channels: list[grpc.aio.Channel]

    def stub(self, service: RunningService, kind: Any) -> Any:
        channel = service.channel()
        self.channels.append(channel)
        return kind(channel)


@pytest.fixture(scope="module")
async def pair(infra) -> AsyncIterator[Pair]:
    from services.associate.app import build as build_associate
    from services.customer.app import build as build_customer

    bus = infra.private_bus("erasure")
    associate_service = await start_service(build_associate, infra.service_config("erasure_associate", **bus))
    try:
        customer_service = await start_service(
            functools.partial(build_customer, associate_address=associate_service.address),
            infra.service_config("erasure_customer", **bus),
        )
        try:
            running = Pair(customer_service, associate_service, [])
            yield running
            for channel in running.channels:
                await channel.close()
        finally:
            await customer_service.runtime.stop()
    finally:
        await associate_service.runtime.stop()


def md(principal=None) -> tuple:
    return metadata_for(principal or hq())


async def eventually(probe, what: str, seconds: float = WAIT) -> Any:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"never happened within {seconds}s: {what}")
        await asyncio.sleep(0.05)


async def query(service: RunningService, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    url = libpq_url(service.runtime.config.database_url)  # type: ignore[attr-defined]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await (await conn.execute(sql, params)).fetchall()


@dataclass
class Her:
    customer: customer_pb2.Customer
    canaries: list[str]
    store: str
    holder: str
    # A task made by hand about her, with the request id it was made with.
    task_request: task_api.CreateTaskRequest


async def seed(pair: Pair) -> Her:
    """A customer with a canary in every personal field, her store and associate made in
    the associate service, her create, update, interaction, purchase, consent and note in
    the customer service, and an associate's note on her follow-up task; her events
    carried to the associate service."""
    directory = pair.stub(pair.associate, associate_service_pb2_grpc.AssociateServiceStub)
    customers = pair.stub(pair.customer, customer_service_pb2_grpc.CustomerServiceStub)
    purchases = pair.stub(pair.customer, purchase_service_pb2_grpc.PurchaseServiceStub)
    tasks = pair.stub(pair.associate, task_service_pb2_grpc.TaskServiceStub)
    store = await make_store(directory)
    holder = await make_associate(directory, store.name)

    canary = f"zqk{uuid.uuid4().hex[:10]}"
    national, e164 = unique_phone()
    date = customer_pb2.ImportantDate(kind=customer_pb2.IMPORTANT_DATE_KIND_OTHER, label=f"{canary} graduation")
    date.date.year, date.date.month, date.date.day = 2001, 6, 30
    profile = customer_pb2.Customer(
        given_name=f"{canary}g",
        family_name=f"{canary}f",
        preferred_name=f"{canary}p",
        locale="fr-FR",  # her phone is written the French way
        home_store=store.name,
        referral_code=holder.referral_code,
        contact_points=[
            email(f"{canary}@example.com"),
            phone(national),
            customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_WECHAT, value=f"w{canary}"),
        ],
        preferences=[customer_pb2.Preference(category="colour", value=f"{canary} green")],
        important_dates=[date],
        tags=[f"t{canary}"],
    )

    async def created() -> customer_pb2.Customer | None:
        # The customer service learns of the store and her associate from their events.
        try:
            request = api.CreateCustomerRequest(customer=profile, request_id=str(uuid.uuid4()))
            return await customers.CreateCustomer(request, metadata=md(), timeout=TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            return None

    customer = await eventually(created, "the customer service knows her store and associate")
    customer.given_name = f"{canary}u"
    customer = await customers.UpdateCustomer(
        api.UpdateCustomerRequest(customer=customer, update_mask={"paths": ["given_name"]}),
        metadata=md(),
        timeout=TIMEOUT,
    )
    await customers.GrantConsent(
        api.GrantConsentRequest(
            name=customer.name,
            channel=common_pb2.CHANNEL_EMAIL,
            purpose=common_pb2.PURPOSE_MARKETING,
            source=f"form-{canary}",
        ),
        metadata=md(),
        timeout=TIMEOUT,
    )
    await customers.CreateNote(
        api.CreateNoteRequest(parent=customer.name, note=customer_pb2.Note(text=f"met {canary} at the opening")),
        metadata=md(),
        timeout=TIMEOUT,
    )
    channel = pair.customer.channel()
    pair.channels.append(channel)
    await record_interaction(channel, customer.name, f"hello from {canary}")
    purchase = purchase_pb2.Purchase(
        channel=purchase_pb2.SALES_CHANNEL_STORE, order_id=f"o-{uuid.uuid4().hex[:10]}", store=store.name
    )
    purchase.lines.add(
        sku="bag-1",
        product_name=f"{canary} monogram bag",
        quantity=1,
        unit_price=money_pb2.Money(currency_code="EUR", units=2400),
    )
    purchase.order_time.FromDatetime(datetime.now(UTC) - timedelta(minutes=5))
    await purchases.RecordPurchase(
        purchase_service_pb2.RecordPurchaseRequest(customer=customer.name, purchase=purchase),
        metadata=md(),
        timeout=TIMEOUT,
    )

    customer_id = customer.name.split("/")[1]
    ((task,),) = await eventually(
        lambda: query(
            pair.associate,
            "SELECT id FROM tasks WHERE customer_id = %s AND rule = 'follow_up_purchase'",
            customer_id,
        ),
        "her follow-up task in the associate service",
    )
    await tasks.CompleteTask(
        task_api.CompleteTaskRequest(name=f"tasks/{task}", outcome_note=f"{canary} wants it in rose gold"),
        metadata=md(),
        timeout=TIMEOUT,
    )
    manual = task_pb2.Task(customer=customer.name, title=f"call {canary} about the ring resizing")
    manual.due_time.FromDatetime(datetime.now(UTC) + timedelta(days=2))
    task_request = task_api.CreateTaskRequest(task=manual, request_id=str(uuid.uuid4()))
    await tasks.CreateTask(task_request, metadata=md(), timeout=TIMEOUT)
    await eventually(
        lambda: query(pair.associate, "SELECT 1 FROM book_customers WHERE customer_id = %s", customer_id),
        "her client-book entry in the associate service",
    )
    await eventually(
        lambda: query(pair.associate, "SELECT 1 FROM attributions WHERE customer_id = %s", customer_id),
        "her purchase attributed in the associate service",
    )
    return Her(customer, [canary, e164, e164.lstrip("+")], store.name, holder.name, task_request)


async def everything_published(pair: Pair) -> bool:
    for service in (pair.customer, pair.associate):
        if (await query(service, "SELECT count(*) FROM outbox WHERE published_at IS NULL"))[0][0]:
            return False
    return True


async def whole_stream(service: RunningService) -> list[tuple[str, bytes, dict[str, str]]]:
    """Every message of the stream, all subjects, read raw from the start by a fresh
    ephemeral consumer: (subject, data, headers)."""
    runtime: Any = service.runtime
    js, bus = runtime.js, runtime.bus
    total = (await js.stream_info(bus.stream)).state.messages
    sub = await js.pull_subscribe(
        bus.all_subjects, stream=bus.stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    seen: list[tuple[str, bytes, dict[str, str]]] = []
    while len(seen) < total:
        for msg in await sub.fetch(min(500, total - len(seen)), timeout=5):
            seen.append((msg.subject, msg.data, dict(msg.headers or {})))
            await msg.ack()
    await sub.unsubscribe()
    return seen


async def scan(service: RunningService, needles: list[str]) -> list[str]:
    """Every text, json, array and bytea column of every table of the service's database
    that holds a needle."""
    columns = await query(
        service,
        """
        SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
          AND c.data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea', 'ARRAY')
        """,
    )
    hits = []
    for table, column, kind in columns:
        for needle in needles:
            if kind == "bytea":
                cond = f"position(convert_to(%s, 'UTF8') IN \"{column}\") > 0"
            else:
                cond = f'position(%s IN lower("{column}"::text)) > 0'
            if (await query(service, f'SELECT count(*) FROM "{table}" WHERE {cond}', needle.lower()))[0][0]:
                hits.append(f"{table}.{column} holds {needle}")
    return hits


def holding(messages: list[tuple[str, bytes, dict[str, str]]], needles: list[str]) -> list[str]:
    found = []
    for subject, data, headers in messages:
        text = data + json.dumps(headers).encode()
        for needle in needles:
            if needle.encode() in text or needle.lower().encode() in text.lower():
                found.append(f"{subject} holds {needle}")
    return found


async def test_after_erasure_nothing_of_her_is_readable_from_the_stream(pair: Pair) -> None:
    her = await seed(pair)
    name = her.customer.name
    await eventually(lambda: everything_published(pair), "both outboxes published")
    before = await whole_stream(pair.customer)
    assert holding(before, her.canaries)  # the scans find her while she exists
    assert await scan(pair.associate, her.canaries)
    assert any(s.endswith(f".{name.replace('/', '.')}") and s.split(".")[1] == "associate" for s, _, _ in before)

    privacy = pair.stub(pair.customer, privacy_service_pb2_grpc.PrivacyServiceStub)
    await privacy.EraseCustomer(
        papi.EraseCustomerRequest(name=name, reason="GDPR art. 17 request"), metadata=md(), timeout=TIMEOUT
    )
    customer_id = name.split("/")[1]

    async def erased_everywhere() -> bool:
        # Every associate consumer that publishes about her handled the erasure (their
        # purges recorded), both relays carried out every purge, the book forgot her.
        purges = await query(
            pair.associate,
            "SELECT published_at IS NOT NULL FROM outbox WHERE event_type = 'purge' AND customer = %s",
            name,
        )
        book = await query(pair.associate, "SELECT 1 FROM book_customers WHERE customer_id = %s", customer_id)
        return len(purges) == 3 and all(done for (done,) in purges) and not book and await everything_published(pair)

    await eventually(erased_everywhere, "her erasure carried out by both services")

    after = await whole_stream(pair.customer)
    assert holding(after, her.canaries) == []
    # The associate service kept no copy either (rows, outbox, stored replies), and her
    # task made by hand cannot be made again by replaying its request.
    assert await scan(pair.associate, her.canaries) == []
    tasks = pair.stub(pair.associate, task_service_pb2_grpc.TaskServiceStub)
    replay = await rpc_error(tasks.CreateTask(her.task_request, metadata=md(), timeout=TIMEOUT))
    assert replay.code() == grpc.StatusCode.FAILED_PRECONDITION, replay.details()
    mentions = [envelope_pb2.EventEnvelope.FromString(data) for _, data, _ in after if customer_id.encode() in data]
    assert mentions and {e.type for e in mentions} == {event_types.CUSTOMER_ERASED}
    assert [s for s, _, _ in after if customer_id in s] == []

    # A consumer created now, replaying the stream from the start, learns only that she
    # was erased.
    runtime: Any = pair.customer.runtime
    replay = await runtime.js.pull_subscribe(
        runtime.bus.all_subjects,
        durable=f"replay-{uuid.uuid4().hex[:8]}",
        stream=runtime.bus.stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    replayed: list[envelope_pb2.EventEnvelope] = []
    while len(replayed) < len(after):
        for msg in await replay.fetch(min(500, len(after) - len(replayed)), timeout=5):
            replayed.append(envelope_pb2.EventEnvelope.FromString(msg.data))
            await msg.ack()
    about_her = [e for e in replayed if customer_id in e.subject or customer_id.encode() in e.payload.value]
    assert [(e.type, e.subject) for e in about_her] == [(event_types.CUSTOMER_ERASED, name)]
    await replay.unsubscribe()


async def test_export_gathers_what_every_service_holds(pair: Pair) -> None:
    her = await seed(pair)
    name = her.customer.name
    privacy = pair.stub(pair.customer, privacy_service_pb2_grpc.PrivacyServiceStub)
    reply = await privacy.ExportCustomer(papi.ExportCustomerRequest(name=name), metadata=md(), timeout=TIMEOUT)
    doc = json.loads(reply.json)
    assert "incomplete" not in doc
    assert doc["customer"]["givenName"] == f"{her.canaries[0]}u"
    held = doc["associate"]
    assert [(a["associate_id"], a["role"]) for a in held["assignments"]] == [(her.holder.split("/")[1], 1)]
    assert held["assignment_history"] and held["book_customers"][0]["given_name"] == f"{her.canaries[0]}u"
    assert f"{her.canaries[0]} wants it in rose gold" in [t["outcome_note"] for t in held["tasks"]]
    assert len(held["attributions"]) == 1 and held["attribution_corrections"] == []

    # The caller's principal travels with the internal call: her store's manager exports
    # (both services let her), an associate is refused by the customer service before
    # anything is asked.
    by_manager = await privacy.ExportCustomer(
        papi.ExportCustomerRequest(name=name), metadata=md(manager(her.store)), timeout=TIMEOUT
    )
    assert json.loads(by_manager.json)["associate"]["tasks"]
    refused = await rpc_error(
        privacy.ExportCustomer(
            papi.ExportCustomerRequest(name=name), metadata=md(associate(her.store)), timeout=TIMEOUT
        )
    )
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED

    # Asked directly, the associate service applies the same rules to the same callers.
    directory = pair.stub(pair.associate, associate_service_pb2_grpc.AssociateServiceStub)
    from atelier.associate.v1 import associate_service_pb2 as associate_api

    direct = associate_api.ExportCustomerDataRequest(name=name)
    assert json.loads((await directory.ExportCustomerData(direct, metadata=md(), timeout=TIMEOUT)).json) == held
    for caller in (associate(her.store), manager(await make_store_name(pair))):
        exc = await rpc_error(directory.ExportCustomerData(direct, metadata=md(caller), timeout=TIMEOUT))
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
    nobody = associate_api.ExportCustomerDataRequest(name=f"customers/zz-{uuid.uuid4().hex[:8]}")
    exc = await rpc_error(directory.ExportCustomerData(nobody, metadata=md(), timeout=TIMEOUT))
    assert exc.code() == grpc.StatusCode.NOT_FOUND


async def make_store_name(pair: Pair) -> str:
    directory = pair.stub(pair.associate, associate_service_pb2_grpc.AssociateServiceStub)
    return (await make_store(directory)).name


async def test_export_fails_unavailable_when_the_associate_service_does_not_answer(infra) -> None:
    from services.customer.app import build as build_customer

    nobody_there = f"127.0.0.1:{free_port()}"
    service = await start_service(
        functools.partial(build_customer, associate_address=nobody_there),
        infra.service_config("erasure_lonely_customer", **infra.private_bus("lonely")),
    )
    try:
        store = await known_store(service)
        channel = service.channel()
        customers = customer_service_pb2_grpc.CustomerServiceStub(channel)
        privacy = privacy_service_pb2_grpc.PrivacyServiceStub(channel)
        made = await customers.CreateCustomer(
            api.CreateCustomerRequest(customer=customer_pb2.Customer(given_name="Ines", home_store=store)),
            metadata=md(),
            timeout=TIMEOUT,
        )
        exc = await rpc_error(
            privacy.ExportCustomer(papi.ExportCustomerRequest(name=made.name), metadata=md(), timeout=TIMEOUT)
        )
        assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc.details()
        assert error_info(exc).reason == "EXPORT_SOURCE_UNAVAILABLE"
        trail = await privacy.ListAuditRecords(
            papi.ListAuditRecordsRequest(customer=made.name), metadata=md(), timeout=TIMEOUT
        )
        assert [r.action for r in trail.audit_records] == []  # no export was made, none recorded
        await channel.close()
    finally:
        await service.runtime.stop()
