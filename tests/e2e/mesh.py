"""Both services behind a real gateway on an event bus of their own, and the people and
customers of two boutiques, set up through the public HTTP API as headquarters would.

Used by the authorisation matrix and the audit regressions: one mesh per test module.

The cast (`World`):
- store S1: `holder` (associate holding customer X), `same_store_associate` (holds no one),
  `same_store_manager`, and `departed` (an associate whose departure headquarters recorded);
- store S2: `other_store_associate` (holds customer Y of S2) and `other_store_manager`;
- headquarters and an anonymous caller (no token).
Every associate has capacity 0, so a customer created without a referral code stays in
the headquarters pool instead of being placed by the store rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from gateway.http_rules import Router
from gateway.registry import BACKENDS, resolve
from gateway.transcode import Operation, build_operations
from tests.conftest import bearer, running_gateway, start_service

HOLDER = "holder"
SAME_STORE_ASSOCIATE = "same_store_associate"
OTHER_STORE_ASSOCIATE = "other_store_associate"
SAME_STORE_MANAGER = "same_store_manager"
OTHER_STORE_MANAGER = "other_store_manager"
HQ = "hq"
ANONYMOUS = "anonymous"
DEPARTED = "departed"
CALLER_KINDS = (
    HOLDER,
    SAME_STORE_ASSOCIATE,
    OTHER_STORE_ASSOCIATE,
    SAME_STORE_MANAGER,
    OTHER_STORE_MANAGER,
    HQ,
    ANONYMOUS,
    DEPARTED,
)

WAIT_SECONDS = 20.0


def uid() -> str:
    return uuid.uuid4().hex[:12]


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_plus(**delta: float) -> str:
    return rfc3339(datetime.now(UTC) + timedelta(**delta))


# -- the gateway's own route table -------------------------------------------------


def route_key(op: Operation) -> str:
    """`GET /v1/{name=customers/*}`: one HTTP binding of one RPC."""
    return f"{op.binding.method} {op.binding.template.text}"


def gateway_routes(addresses: dict[str, str] | None = None) -> tuple[Router, dict[str, Operation]]:
    """The routes the gateway derives from the descriptors of the services it fronts
    (every backend it knows of when no addresses are given)."""
    if addresses is None:
        addresses = {backend.name: "127.0.0.1:1" for backend in BACKENDS}
    router, operations = build_operations(resolve(addresses))
    return router, {route_key(op): op for op in operations}


_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)(?:=[^}]*)?\}")


def expand(template: str, values: dict[str, str]) -> str:
    """The request path of a template with its variables bound (`/v1/{name=customers/*}`
    with name=customers/x gives `/v1/customers/x`)."""

    def bind(match: re.Match[str]) -> str:
        return quote(values[match.group(1)], safe="/")

    missing = set(_VARIABLE.findall(template)) - set(values)
    if missing:
        raise KeyError(f"{template} needs {sorted(missing)}")
    return _VARIABLE.sub(bind, template)


def missing_like(name: str) -> str:
    """A name shaped like `name` that names nothing: every id replaced by a fresh one
    (`customers/a/purchases/b` gives `customers/<new>/purchases/<new>`)."""
    parts = name.split("/")
    return "/".join(f"zz-missing-{uid()}" if i % 2 else part for i, part in enumerate(parts))


# -- the mesh ---------------------------------------------------------------------


@dataclass
class Mesh:
    client: httpx.AsyncClient
    addresses: dict[str, str]
    router: Router
    routes: dict[str, Operation]


@contextlib.asynccontextmanager
async def running_mesh(infra: Any, label: str) -> AsyncIterator[Mesh]:
    """The customer and associate services on a private bus, with a gateway in front."""
    from services.associate.app import build as build_associate
    from services.customer.app import build as build_customer

    tag = "e" + hashlib.sha1(label.encode()).hexdigest()[:6]
    bus = infra.private_bus(tag)
    customer = await start_service(build_customer, infra.service_config(f"{tag}customer", **bus))
    try:
        associate = await start_service(build_associate, infra.service_config(f"{tag}associate", **bus))
        try:
            addresses = {"customer": customer.address, "associate": associate.address}
            router, routes = gateway_routes(addresses)
            async with running_gateway(addresses) as client:
                yield Mesh(client=client, addresses=addresses, router=router, routes=routes)
        finally:
            await associate.runtime.stop()
    finally:
        await customer.runtime.stop()


# -- callers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    kind: str
    headers: dict[str, str]
    store: str = ""
    # Her staff record (associates/<id>) when she has one.
    associate: str = ""
    # An associate of her own store other callers' requests would not name: the one she
    # would hand a customer, a claim or a credit to (S1's same-store associate for HQ).
    colleague: str = ""


@dataclass(frozen=True)
class Staff:
    name: str
    store: str
    referral_code: str

    @property
    def id(self) -> str:
        return self.name.split("/", 1)[1]


def token_for(role: str, member: Staff) -> dict[str, str]:
    return bearer(role, store=member.store, associate_id=member.id, subject=member.name)


# -- HTTP helpers -------------------------------------------------------------------


class SetupError(RuntimeError):
    """Building a scenario failed: an error of the test, never an expected failure."""


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    *,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return await client.request(method, path, headers=headers, params=params, json=body)


async def ok(response: Awaitable[httpx.Response]) -> dict[str, Any]:
    got = await response
    if not got.is_success:
        raise SetupError(f"{got.request.method} {got.request.url.path} → {got.status_code}: {got.text[:500]}")
    return got.json() if got.content else {}


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, seconds: float = WAIT_SECONDS) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise SetupError(f"never happened: {what}")
        await asyncio.sleep(0.05)


async def gather_bounded(jobs: list[Awaitable[Any]], limit: int = 6) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[Any]) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


# -- the world ----------------------------------------------------------------------


@dataclass
class World:
    client: httpx.AsyncClient
    hq: dict[str, str]
    s1: str = ""
    s2: str = ""
    # The staff record of each kind of caller that has one (all but HQ and anonymous).
    cast: dict[str, Staff] = field(default_factory=dict)
    callers: dict[str, Caller] = field(default_factory=dict)
    # Names of the shared resources, by role in the scenarios (see build_world).
    shared: dict[str, str] = field(default_factory=dict)

    @property
    def holder(self) -> Staff:
        return self.cast[HOLDER]

    def member(self, name: str) -> Staff:
        """The cast member named `associates/<id>`."""
        for member in self.cast.values():
            if member.name == name:
                return member
        raise SetupError(f"{name} is not in the cast")

    # -- building blocks (all through the public API, as headquarters unless said) --

    async def create_store(self, label: str) -> str:
        store_id = f"s-{label}-{uid()}"
        await ok(
            call(
                self.client,
                "POST",
                "/v1/stores",
                self.hq,
                params={"storeId": store_id},
                body={
                    "code": f"{label.upper()}-{uid()}",
                    "displayName": f"Boutique {label}",
                    "timeZone": "Europe/Paris",
                },
            )
        )
        return f"stores/{store_id}"

    async def create_staff(self, store: str, role: str = "STAFF_ROLE_ASSOCIATE", label: str = "a") -> Staff:
        made = await ok(
            call(
                self.client,
                "POST",
                "/v1/associates",
                self.hq,
                params={"associateId": f"{label}-{uid()}"},
                body={"store": store, "displayName": f"Staff {label}", "role": role},
            )
        )
        return Staff(name=made["name"], store=store, referral_code=made["referralCode"])

    async def create_customer(
        self, store: str, *, referred_by: Staff | None = None, headers: dict[str, str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"givenName": "Mei", "familyName": f"Tanaka{uid()}", "homeStore": store, **extra}
        if referred_by is not None:
            body["referralCode"] = referred_by.referral_code
        return await ok(call(self.client, "POST", "/v1/customers", headers or self.hq, body=body))

    async def held_customer(self, holder: Staff, **extra: Any) -> dict[str, Any]:
        """A customer of her store bound to `holder` by her QR card, once the customer
        service knows the holder may reach her."""
        customer = await self.create_customer(holder.store, referred_by=holder, **extra)
        headers = token_for("associate", holder)

        async def readable() -> bool:
            got = await call(self.client, "GET", f"/v1/{customer['name']}", headers)
            return got.status_code == 200

        await eventually(readable, f"{holder.name} reaches {customer['name']}")
        return customer

    async def pool_customer(self, store: str) -> dict[str, Any]:
        """A customer of `store` nobody holds (in the headquarters pool)."""
        customer = await self.create_customer(store)

        async def pooled() -> bool:
            got = await call(self.client, "GET", f"/v1/{customer['name']}/assignment", self.hq)
            return got.status_code == 200 and bool(got.json().get("inPool"))

        await eventually(pooled, f"{customer['name']} in the pool")
        return customer

    async def claim(self, claimant: Staff, customer: str, headers: dict[str, str] | None = None) -> httpx.Response:
        managers = (self.cast.get(SAME_STORE_MANAGER), self.cast.get(OTHER_STORE_MANAGER))
        role = "manager" if claimant in managers else "associate"
        return await call(
            self.client,
            "POST",
            "/v1/claims",
            headers or token_for(role, claimant),
            params={"requestId": str(uuid.uuid4())},
            body={"customer": customer, "reason": "she asked for me"},
        )

    async def purchase(self, customer: str, store: str, *, assisting: str = "") -> dict[str, Any]:
        purchase: dict[str, Any] = {
            "channel": "SALES_CHANNEL_STORE",
            "orderId": f"o-{uid()}",
            "store": store,
            "lines": [
                {
                    "lineId": "l1",
                    "sku": "BAG-1",
                    "productName": "Bag",
                    "category": "bags",
                    "quantity": 5,
                    "unitPrice": {"currencyCode": "EUR", "units": "1200"},
                }
            ],
            "orderTime": now_plus(hours=-1),
        }
        if assisting:
            purchase["assistingAssociate"] = assisting
        return await ok(
            call(
                self.client, "POST", "/v1/purchases:record", self.hq, body={"customer": customer, "purchase": purchase}
            )
        )

    async def attribution_of(self, purchase: str, associate: Staff) -> str:
        """The ledger entry the associate service made for `purchase` (credited to `associate`)."""

        async def entry() -> str:
            got = await call(
                self.client, "GET", "/v1/attributions", self.hq, params={"scope": associate.name, "pageSize": 100}
            )
            if got.status_code != 200:
                return ""
            return next((a["name"] for a in got.json().get("attributions", []) if a.get("purchase") == purchase), "")

        return str(await eventually(entry, f"an attribution of {purchase}"))

    async def attributed_purchase(self, customer: str, holder: Staff) -> tuple[str, str]:
        bought = await self.purchase(customer, holder.store, assisting=holder.name)
        return bought["name"], await self.attribution_of(bought["name"], holder)

    async def task(self, customer: str, associate: Staff) -> str:
        made = await ok(
            call(
                self.client,
                "POST",
                "/v1/tasks",
                self.hq,
                params={"requestId": str(uuid.uuid4())},
                body={
                    "customer": customer,
                    "associate": associate.name,
                    "kind": "TASK_KIND_MANUAL",
                    "title": "Call her about the new bag",
                    "dueTime": now_plus(days=2),
                },
            )
        )
        return str(made["name"])

    async def merge(self, survivor: str, duplicate: str) -> str:
        made = await ok(
            call(
                self.client,
                "POST",
                f"/v1/{survivor}:merge",
                self.hq,
                body={"duplicate": duplicate, "requestId": str(uuid.uuid4())},
            )
        )
        return str(made["name"])

    async def fresh_merge(self) -> str:
        a, b = await asyncio.gather(self.create_customer(self.s1), self.create_customer(self.s1))
        return await self.merge(a["name"], b["name"])

    async def depart(self, member: Staff) -> str:
        made = await ok(call(self.client, "POST", f"/v1/{member.name}:depart", self.hq, body={}))
        return str(made["name"])


async def build_world(client: httpx.AsyncClient) -> World:
    """Two stores, their staff, and the customers and records every scenario reads:

    shared["customer"]      X, of S1, held by the holder (QR referral), with a note, a
                            consent answer, an interaction and an attributed purchase
    shared["family_name"]   X's family name (unique: a search for it finds only her)
    shared["purchase"]      X's purchase (assisted by the holder, in S1)
    shared["attribution"]   its attribution (credited to the holder)
    shared["task"]          a task on X in the holder's list
    shared["other"]         Y, of S2, held by the other store's associate
    shared["pool_customer"] Q, of S1, in the pool
    shared["claim"]         the holder's pending claim on another pool customer of S1
    shared["merge"]         a merge of two S1 customers
    shared["hand_over"]     the hand-over recorded at her departure (an empty book)
    shared["store"], shared["associate"]  S1 and the holder
    """
    world = World(client=client, hq=bearer("hq"))
    world.s1, world.s2 = await asyncio.gather(world.create_store("one"), world.create_store("two"))
    roles = {
        HOLDER: (world.s1, "STAFF_ROLE_ASSOCIATE"),
        SAME_STORE_ASSOCIATE: (world.s1, "STAFF_ROLE_ASSOCIATE"),
        SAME_STORE_MANAGER: (world.s1, "STAFF_ROLE_MANAGER"),
        DEPARTED: (world.s1, "STAFF_ROLE_ASSOCIATE"),
        OTHER_STORE_ASSOCIATE: (world.s2, "STAFF_ROLE_ASSOCIATE"),
        OTHER_STORE_MANAGER: (world.s2, "STAFF_ROLE_MANAGER"),
    }
    members = await asyncio.gather(
        *(world.create_staff(store, role, label=kind.replace("_", "-")) for kind, (store, role) in roles.items())
    )
    world.cast = dict(zip(roles, members, strict=True))
    hand_over = await world.depart(world.cast[DEPARTED])
    colleague = {world.s1: world.cast[SAME_STORE_ASSOCIATE].name, world.s2: world.cast[OTHER_STORE_ASSOCIATE].name}
    world.callers = {
        kind: Caller(
            kind,
            token_for("manager" if role == "STAFF_ROLE_MANAGER" else "associate", world.cast[kind]),
            store=store,
            associate=world.cast[kind].name,
            colleague=colleague[store],
        )
        for kind, (store, role) in roles.items()
    }
    world.callers[HQ] = Caller(HQ, world.hq, colleague=colleague[world.s1])
    world.callers[ANONYMOUS] = Caller(ANONYMOUS, {}, colleague=colleague[world.s1])

    x, y, q, q2, merge = await asyncio.gather(
        world.held_customer(world.holder),
        world.held_customer(world.cast[OTHER_STORE_ASSOCIATE]),
        world.pool_customer(world.s1),
        world.pool_customer(world.s1),
        world.fresh_merge(),
    )
    holder_headers = world.callers[HOLDER].headers
    await ok(
        call(client, "POST", f"/v1/{x['name']}/notes", holder_headers, body={"text": "Prefers the Ginza boutique"})
    )
    await ok(
        call(
            client,
            "POST",
            f"/v1/{x['name']}:grantConsent",
            holder_headers,
            body={"channel": "CHANNEL_EMAIL", "purpose": "PURPOSE_MARKETING", "source": "store tablet"},
        )
    )
    await ok(
        call(
            client,
            "POST",
            f"/v1/{x['name']}/interactions",
            holder_headers,
            body={"kind": "INTERACTION_KIND_STORE_VISIT", "occurTime": now_plus(hours=-2), "externalId": f"v-{uid()}"},
        )
    )
    (purchase, attribution), task, claimed = await asyncio.gather(
        world.attributed_purchase(x["name"], world.holder),
        world.task(x["name"], world.holder),
        world.claim(world.holder, q2["name"]),
    )
    if not claimed.is_success:
        raise SetupError(f"the holder's claim: {claimed.status_code} {claimed.text[:300]}")
    world.shared = {
        "customer": x["name"],
        "family_name": x["familyName"],
        "purchase": purchase,
        "attribution": attribution,
        "task": task,
        "other": y["name"],
        "pool_customer": q["name"],
        "claim": claimed.json()["name"],
        "merge": merge,
        "hand_over": hand_over,
        "store": world.s1,
        "associate": world.holder.name,
    }
    return world
