"""`atelier up --demo`: a living maison, built through the gateway's public API.

Three boutiques in their own time zones and hours (Paris, Shanghai, New York), each with a
manager and four associates; customers bound to an associate by the QR card they scanned
(referral code) or by the home-store rule (the least-loaded associate), a few online-only
ones waiting in the headquarters pool; two years of purchases, store visits and messages;
consents, notes written by the associates, and tasks due today (follow-ups of purchases
and visits three days ago, and errands a manager gave her associates this morning).

Everything goes over HTTP with tokens minted for each role, the path a store tablet takes.
Ids, request ids, order ids and interaction external ids derive from the seed and today's
date, so running it again the same day (after an interruption) creates nothing twice.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import phonenumbers

Json = dict[str, Any]
Mint = Callable[..., str]  # mint(role, store="", associate_id="") -> bearer token
NAMESPACE = uuid.UUID("4b0d5c3e-7d0e-4c52-9a51-0a7e11e7de70")
ASSIGNMENT_TIMEOUT_SECONDS = 120.0
SETTLE_TIMEOUT_SECONDS = 90.0
SETTLE_PAUSE_SECONDS = 3.0


class DemoError(RuntimeError):
    """The demo could not be loaded; the message names the request that failed."""


@dataclass(frozen=True)
class Staff:
    id: str  # the associate id (also the principal's associate id in tokens)
    display_name: str
    role: str  # STAFF_ROLE_MANAGER or STAFF_ROLE_ASSOCIATE
    specialities: tuple[str, ...]
    capacity: int

    @property
    def name(self) -> str:
        return f"associates/{self.id}"

    @property
    def token_role(self) -> str:
        return "manager" if self.role == "STAFF_ROLE_MANAGER" else "associate"


@dataclass(frozen=True)
class DemoStore:
    id: str
    code: str
    display_name: str
    city: str
    time_zone: str
    region: str
    locale: str
    country: str  # phone-number region
    currency: str
    languages: tuple[str, ...]
    # (weekday names, opening "HH:MM", closing "HH:MM")
    hours: tuple[tuple[tuple[str, ...], str, str], ...]
    staff: tuple[Staff, ...]
    message_channel: str
    given_names: tuple[str, ...]
    family_names: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"stores/{self.id}"

    @property
    def manager(self) -> Staff:
        return next(s for s in self.staff if s.role == "STAFF_ROLE_MANAGER")

    @property
    def associates(self) -> tuple[Staff, ...]:
        return tuple(s for s in self.staff if s.role == "STAFF_ROLE_ASSOCIATE")


def _manager(store: str, first: str, display: str) -> Staff:
    return Staff(f"{store}-{first}", display, "STAFF_ROLE_MANAGER", ("high-jewellery",), 30)


def _associate(store: str, first: str, display: str, *specialities: str) -> Staff:
    return Staff(f"{store}-{first}", display, "STAFF_ROLE_ASSOCIATE", specialities, 120)


WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")
STORES: tuple[DemoStore, ...] = (
    DemoStore(
        id="paris",
        code="PAR-01",
        display_name="Paris Faubourg Saint-Honoré",
        city="Paris",
        time_zone="Europe/Paris",
        region="EMEA",
        locale="fr-FR",
        country="FR",
        currency="EUR",
        languages=("fr", "en"),
        hours=((WEEKDAYS, "10:30", "19:00"),),
        staff=(
            _manager("paris", "claire", "Claire Fontaine"),
            _associate("paris", "camille", "Camille Laurent", "high-jewellery", "watches"),
            _associate("paris", "louis", "Louis Girard", "watches"),
            _associate("paris", "ines", "Inès Moreau", "leather-goods"),
            _associate("paris", "hugo", "Hugo Lefèvre", "ready-to-wear"),
        ),
        message_channel="CHANNEL_WHATSAPP",
        given_names=("Hélène", "Margaux", "Étienne", "Clémence", "Aurélien", "Sophie", "Amélie", "Bertrand"),
        family_names=("Dubois", "Chevalier", "Rousseau", "Fournier", "Mercier", "Bonnet", "Lambert", "Durand"),
    ),
    DemoStore(
        id="shanghai",
        code="SHA-01",
        display_name="Shanghai Plaza 66",
        city="Shanghai",
        time_zone="Asia/Shanghai",
        region="Greater China",
        locale="zh-Hans-CN",
        country="CN",
        currency="CNY",
        languages=("zh-Hans", "en"),
        hours=((("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"), "10:00", "22:00"),),
        staff=(
            _manager("shanghai", "lina", "Li Na"),
            _associate("shanghai", "fang", "Wang Fang", "high-jewellery"),
            _associate("shanghai", "wei", "Zhang Wei", "watches"),
            _associate("shanghai", "jing", "Chen Jing", "leather-goods"),
            _associate("shanghai", "yang", "Liu Yang", "ready-to-wear", "fragrance"),
        ),
        message_channel="CHANNEL_WECHAT",
        given_names=("Xiaoling", "Hao", "Mei", "Yutong", "Zihan", "Lan", "Jun", "Ying"),
        family_names=("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang"),
    ),
    DemoStore(
        id="new-york",
        code="NYC-01",
        display_name="New York Fifth Avenue",
        city="New York",
        time_zone="America/New_York",
        region="Americas",
        locale="en-US",
        country="US",
        currency="USD",
        languages=("en", "es"),
        hours=((WEEKDAYS, "10:00", "20:00"), (("SUNDAY",), "12:00", "18:00")),
        staff=(
            _manager("new-york", "rachel", "Rachel Carter"),
            _associate("new-york", "james", "James Brooks", "watches"),
            _associate("new-york", "olivia", "Olivia Hayes", "high-jewellery"),
            _associate("new-york", "ethan", "Ethan Morgan", "leather-goods"),
            _associate("new-york", "grace", "Grace Whitney", "ready-to-wear"),
        ),
        message_channel="CHANNEL_SMS",
        given_names=("Olivia", "Charlotte", "William", "Amelia", "Henry", "Harper", "Theodore", "Madison"),
        family_names=("Smith", "Johnson", "Vanderbilt", "Carter", "Brooks", "Hayes", "Morgan", "Astor"),
    ),
)
STORE_BY_NAME = {store.name: store for store in STORES}

PREFERENCES = {
    "ring_size": ["48", "50", "52", "54", "56"],
    "colour": ["emerald", "ivory", "noir", "bordeaux", "sapphire", "blush"],
    "material": ["yellow gold", "white gold", "platinum", "calfskin", "silk", "cashmere"],
    "category": ["high jewellery", "watches", "leather goods", "ready-to-wear", "fragrance"],
    "occasion": ["anniversary", "wedding", "gala", "lunar new year", "graduation"],
}
TAGS = ["press", "collector", "bridal", "watch-lover", "gifting", "vic-event", "travel-retail"]
TIERS = ["TIER_PROSPECT", "TIER_CLIENT", "TIER_CLIENT", "TIER_VIP", "TIER_VVIP"]
# Rough list prices in EUR; each boutique sells in its own currency.
EUR_RATE = {"EUR": 1.0, "CNY": 7.8, "USD": 1.1}
CATALOGUE = [
    ("RING-SERPENTI", "Serpenti ring, yellow gold", "high-jewellery", 8900),
    ("NECK-EMERALD", "Emerald rivière necklace", "high-jewellery", 48000),
    ("EAR-PEARL", "Pearl drop earrings", "jewellery", 3200),
    ("WATCH-TANK", "Tank watch, steel", "watches", 4300),
    ("WATCH-TOURB", "Tourbillon, platinum", "watches", 96000),
    ("BAG-KELLY", "Top-handle bag, calfskin", "leather-goods", 9800),
    ("BAG-TOTE", "Canvas tote", "leather-goods", 2100),
    ("SLG-WALLET", "Compact wallet", "small-leather-goods", 650),
    ("RTW-COAT", "Cashmere coat", "ready-to-wear", 5400),
    ("RTW-SILK", "Silk scarf 90", "accessories", 480),
    ("FRAG-NOIR", "Eau de parfum 100 ml", "fragrance", 290),
]
NOTES = [
    "Prefers to be contacted after 6 pm; never on Sundays.",
    "Ring size 52, loves emeralds. Her husband plans a surprise for their anniversary.",
    "Collects vintage watches; ask before sending the catalogue.",
    "Travels to Paris every spring for the couture shows.",
    "Bought the silk scarf as a gift for her mother; wants the matching bag.",
    "Allergic to nickel: white gold or platinum only.",
    "Interested in the high-jewellery preview; bring the emerald set.",
]
ERRANDS = [
    "Invite her to the high-jewellery private viewing",
    "Call about the ring resizing",
    "Send the new watch catalogue",
    "Confirm her fitting appointment",
    "Thank her for the visit with a handwritten card",
]
MESSAGES = [
    "Is the emerald necklace still available?",
    "Thank you for yesterday!",
    "Your order is ready for collection.",
    "New arrivals this week",
]


# ------------------------------------------------------------------------- the plan


@dataclass
class PlannedCustomer:
    index: int
    body: Json
    store: DemoStore | None  # None: an online customer without a home store
    referrer: Staff | None  # the associate whose QR card she scanned
    consents: list[Json]
    holder: str = ""  # associates/X once the associate service has bound her
    name: str = ""  # customers/X once created


@dataclass
class Counts:
    customers: int = 0
    by_referral: int = 0
    by_store_rule: int = 0
    in_pool: int = 0
    purchases: int = 0
    returns: int = 0
    visits: int = 0
    interactions: int = 0
    consents: int = 0
    notes: int = 0
    errands: int = 0
    done: int = 0

    def __str__(self) -> str:
        return (
            f"{len(STORES)} stores ({', '.join(s.city for s in STORES)}), "
            f"{sum(len(s.staff) for s in STORES)} staff, {self.customers} customers "
            f"({self.by_referral} by QR referral, {self.by_store_rule} by the store rule, {self.in_pool} in the pool), "
            f"{self.purchases} purchases ({self.returns} returned), {self.visits} store visits, {self.interactions} other interactions, "
            f"{self.consents} consents, {self.notes} notes, {self.errands} tasks given today, "
            f"{self.done} past follow-ups done"
        )


def sign_in_roles() -> list[tuple[str, str, str, str]]:
    """(label, role, store, associate id) of the people worth signing in as."""
    roles = [("headquarters", "hq", "", "")]
    for store in STORES:
        roles.append((f"{store.city} manager", "manager", store.name, store.manager.id))
        roles.append((f"{store.city} associate", "associate", store.name, store.associates[0].id))
    return roles


def _request_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "-".join(str(p) for p in parts)))


def _phone(rng: random.Random, region: str) -> str | None:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return None
    national = str(example.national_number)
    for _ in range(20):
        digits = national[:3] + "".join(rng.choice("0123456789") for _ in national[3:])
        number = phonenumbers.parse(f"+{example.country_code}{digits}")
        if phonenumbers.is_valid_number(number):
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return None


def plan_customer(i: int, rng: random.Random, referral_codes: dict[str, str]) -> PlannedCustomer:
    """Customer ``i``: her profile, where she belongs and how she will be bound."""
    online_only = rng.random() < 0.05
    store = rng.choice(STORES)
    given, family = rng.choice(store.given_names), rng.choice(store.family_names)
    local = unicodedata.normalize("NFKD", f"{given}.{family}.{i}").encode("ascii", "ignore").decode()
    contacts: list[Json] = [{"kind": "CONTACT_KIND_EMAIL", "value": f"{local.replace(' ', '').lower()}@example.com"}]
    phone = _phone(rng, store.country)
    if phone:
        contacts.append({"kind": "CONTACT_KIND_PHONE", "value": phone, "primary": True})
        if store.message_channel == "CHANNEL_WHATSAPP" and rng.random() < 0.6:
            contacts.append({"kind": "CONTACT_KIND_WHATSAPP", "value": phone})
    if store.country == "CN":
        contacts.append({"kind": "CONTACT_KIND_WECHAT", "value": f"wx_{family.lower()}{i:05d}"})
    body: Json = {
        "givenName": given,
        "familyName": family,
        "locale": store.locale,
        "tier": rng.choice(TIERS),
        "contactPoints": contacts,
        "preferences": [
            {"category": category, "value": rng.choice(values)}
            for category, values in rng.sample(sorted(PREFERENCES.items()), k=rng.randint(1, 3))
        ],
        "importantDates": [
            {
                "kind": "IMPORTANT_DATE_KIND_BIRTHDAY",
                "date": {"year": rng.randint(1950, 2002), "month": rng.randint(1, 12), "day": rng.randint(1, 28)},
            }
        ],
        "tags": rng.sample(TAGS, k=rng.randint(0, 2)),
    }
    referrer = None
    if not online_only:
        body["homeStore"] = store.name
        # About a third scanned an associate's QR card; the rest are placed by the store rule.
        if rng.random() < 0.35:
            referrer = rng.choice(store.associates)
            body["referralCode"] = referral_codes[referrer.id]
    channels = ["CHANNEL_EMAIL", "CHANNEL_WECHAT" if store.country == "CN" else "CHANNEL_WHATSAPP"]
    consents = [
        {"channel": channel, "purpose": "PURPOSE_MARKETING", "source": "store-tablet"}
        for channel in channels
        if rng.random() < 0.7
    ]
    return PlannedCustomer(i, body, None if online_only else store, referrer, consents)


def _money(eur: float, currency: str) -> Json:
    amount = round(eur * EUR_RATE[currency])
    step = 100 if amount > 10_000 else 10  # prices end in round figures, as on a price tag
    return {"currencyCode": currency, "units": str(max(step, amount // step * step))}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(day: date, hour: int, minute: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))


@dataclass
class Activity:
    purchases: list[Json] = field(default_factory=list)
    # (index into purchases, RecordReturn body): a few things come back
    returns: list[tuple[int, Json]] = field(default_factory=list)
    visits: list[Json] = field(default_factory=list)
    interactions: list[Json] = field(default_factory=list)


def plan_activity(customer: PlannedCustomer, seed: int, today: date) -> Activity:
    """Her purchases, visits and messages over two years, with some three days ago, whose
    follow-up tasks therefore fall due today in her store."""
    rng = random.Random(f"{seed}-{customer.index}-activity")
    store = customer.store or STORES[customer.index % len(STORES)]
    zone = store.time_zone
    holder = customer.holder if customer.holder.startswith("associates/") else ""
    staff_names = [s.name for s in store.associates]
    activity = Activity()
    key = f"demo-{seed}-{today.isoformat()}-{customer.index}"

    def assisting() -> str:
        return holder if holder and rng.random() < 0.8 else rng.choice(staff_names)

    days_ago = [rng.uniform(4, 730) for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4]))]
    if customer.store is not None and rng.random() < 0.15:
        days_ago.append(3)  # her follow-up is due today
    for k, back in enumerate(days_ago):
        day = today - timedelta(days=int(back))
        when = _local(day, rng.randint(11, 18), rng.choice([0, 15, 30, 45]), zone)
        online = customer.store is None or rng.random() < 0.25
        lines = [
            {
                "lineId": str(n + 1),
                "sku": sku,
                "productName": product,
                "category": category,
                "quantity": 1 if price > 1000 else rng.randint(1, 3),
                "unitPrice": _money(price, store.currency),
            }
            for n, (sku, product, category, price) in enumerate(rng.sample(CATALOGUE, k=rng.randint(1, 3)))
        ]
        purchase: Json = {
            "channel": "SALES_CHANNEL_ONLINE" if online else "SALES_CHANNEL_STORE",
            "orderId": f"{key}-p{k}",
            "orderTime": _iso(when),
            "lines": lines,
        }
        if not online:
            purchase["store"] = store.name
            purchase["assistingAssociate"] = assisting()
        activity.purchases.append(purchase)
        if back > 20 and rng.random() < 0.07:
            returned = _iso(when + timedelta(days=rng.randint(1, 14)))
            body = {"returnId": f"{key}-p{k}-r", "lines": [{"lineId": "1", "quantity": 1}], "returnTime": returned}
            activity.returns.append((len(activity.purchases) - 1, body))

    if customer.store is not None:
        visit_days = [rng.uniform(4, 365) for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.15:
            visit_days.append(3)
        for k, back in enumerate(visit_days):
            when = _local(today - timedelta(days=int(back)), rng.randint(11, 18), 0, zone)
            activity.visits.append(
                {
                    "kind": "INTERACTION_KIND_STORE_VISIT",
                    "occurTime": _iso(when),
                    "externalId": f"{key}-v{k}",
                    "store": store.name,
                    "associate": assisting(),
                }
            )
    for k in range(rng.randint(0, 4)):
        day = today - timedelta(days=rng.randint(4, 400))
        when = _local(day, rng.randint(8, 21), rng.choice([0, 20, 40]), zone)
        kind = rng.choice(["message", "message", "web", "campaign", "call"])
        item: Json = {"occurTime": _iso(when), "externalId": f"{key}-x{k}"}
        if kind in ("message", "call"):
            item.update(
                kind="INTERACTION_KIND_MESSAGE" if kind == "message" else "INTERACTION_KIND_CALL",
                channel=store.message_channel if kind == "message" else "CHANNEL_PHONE",
                direction="DIRECTION_OUTBOUND" if rng.random() < 0.6 else "DIRECTION_INBOUND",
                preview=rng.choice(MESSAGES),
                associate=assisting(),
            )
        elif kind == "web":
            item.update(
                kind="INTERACTION_KIND_WEB_VISIT", reference=f"https://shop.example.com/{rng.choice(CATALOGUE)[2]}"
            )
        else:
            item.update(
                kind="INTERACTION_KIND_CAMPAIGN_OPENED",
                reference=rng.choice(["campaigns/lunar-new-year", "campaigns/high-jewellery-preview"]),
                channel="CHANNEL_EMAIL",
            )
        activity.interactions.append(item)
    return activity


def _errand_due(store: DemoStore, now: datetime) -> datetime:
    """Today at 18:00 in the store (late already, when its evening has passed). A function
    of the store's date only, so that loading again the same day sends the same task."""
    return _local(now.astimezone(ZoneInfo(store.time_zone)).date(), 18, 0, store.time_zone)


def _store_body(store: DemoStore, today: date) -> Json:
    hours = [
        {"day": day, "openTime": _time_of_day(opening), "closeTime": _time_of_day(closing)}
        for days, opening, closing in store.hours
        for day in days
    ]
    christmas = date(today.year if (today.month, today.day) <= (12, 25) else today.year + 1, 12, 25)
    return {
        "code": store.code,
        "displayName": store.display_name,
        "timeZone": store.time_zone,
        "region": store.region,
        "weeklyHours": hours,
        "exceptions": [
            {
                "date": {"year": christmas.year, "month": 12, "day": 24},
                "openTime": _time_of_day(store.hours[0][1]),
                "closeTime": {"hours": 16},
                "label": "Christmas Eve",
            },
            {"date": {"year": christmas.year, "month": 12, "day": 25}, "closed": True, "label": "Christmas"},
        ],
    }


def _time_of_day(text: str) -> Json:
    hours, minutes = (int(part) for part in text.split(":"))
    return {"hours": hours, "minutes": minutes} if minutes else {"hours": hours}


# --------------------------------------------------------------------------- loading


class _Api:
    """The gateway, with a token per person and errors that name the request."""

    def __init__(self, client: httpx.AsyncClient, mint: Mint) -> None:
        self._client = client
        self._mint = mint
        self._tokens: dict[tuple[str, str, str], str] = {}

    def _headers(self, role: str, store: str, associate_id: str) -> dict[str, str]:
        key = (role, store, associate_id)
        if key not in self._tokens:
            self._tokens[key] = self._mint(role, store=store, associate_id=associate_id)
        return {"authorization": f"Bearer {self._tokens[key]}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        as_: tuple[str, str, str] = ("hq", "", ""),
        body: Json | None = None,
        params: dict[str, str] | None = None,
        accept: Sequence[int] = (),
    ) -> tuple[int, Json]:
        try:
            reply = await self._client.request(method, path, json=body, params=params, headers=self._headers(*as_))
        except httpx.HTTPError as exc:
            raise DemoError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if reply.status_code >= 400 and reply.status_code not in accept:
            raise DemoError(f"{method} {path} answered {reply.status_code}: {reply.text[:300]}")
        try:
            data = reply.json() if reply.content else {}
        except ValueError:
            raise DemoError(f"{method} {path} answered {reply.status_code} with a body that is not JSON") from None
        return reply.status_code, data if isinstance(data, dict) else {}


def _as(staff: Staff, store: DemoStore) -> tuple[str, str, str]:
    return (staff.token_role, store.name, staff.id)


async def _gather(concurrency: int, jobs: Sequence[Callable[[], Awaitable[None]]]) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def run(job: Callable[[], Awaitable[None]]) -> None:
        async with semaphore:
            await job()

    await asyncio.gather(*(run(job) for job in jobs))


async def _create_or_get(api: _Api, collection: str, id_field: str, resource_id: str, body: Json, key: str) -> Json:
    """Create ``collection/resource_id``; when it already exists (an earlier load), read it."""
    status, data = await api.call(
        "POST",
        f"/v1/{collection}",
        body=body,
        params={id_field: resource_id, "request_id": _request_id(key)},
        accept=(409,),
    )
    if status == 409:
        _, data = await api.call("GET", f"/v1/{collection}/{resource_id}")
    return data


async def _stores_and_staff(api: _Api, seed: int, today: date) -> dict[str, str]:
    """The boutiques and their staff; returns each associate's referral code."""
    codes: dict[str, str] = {}
    for store in STORES:
        await _create_or_get(api, "stores", "store_id", store.id, _store_body(store, today), f"{seed}-store-{store.id}")
        for staff in store.staff:
            body = {
                "store": store.name,
                "displayName": staff.display_name,
                "role": staff.role,
                "languages": list(store.languages),
                "specialities": list(staff.specialities),
                "capacity": staff.capacity,
            }
            created = await _create_or_get(
                api, "associates", "associate_id", staff.id, body, f"{seed}-staff-{staff.id}"
            )
            codes[staff.id] = str(created.get("referralCode", ""))
    return codes


async def _wait_for_assignments(api: _Api, customers: Sequence[PlannedCustomer], concurrency: int) -> None:
    """The associate service binds new customers from their created events; wait until
    each one has her associate (or her place in the pool)."""
    deadline = asyncio.get_running_loop().time() + ASSIGNMENT_TIMEOUT_SECONDS
    waiting = [c for c in customers if c.name]
    while waiting:

        def check(customer: PlannedCustomer) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                status, data = await api.call("GET", f"/v1/{customer.name}/assignment", accept=(404,))
                if status == 200 and (data.get("primaryAssociate") or data.get("inPool")):
                    customer.holder = str(data.get("primaryAssociate", "")) or "pool"

            return job

        await _gather(concurrency, [check(c) for c in waiting])
        waiting = [c for c in waiting if not c.holder]
        if waiting:
            if asyncio.get_running_loop().time() > deadline:
                raise DemoError(
                    f"{len(waiting)} customers still have no associate after {ASSIGNMENT_TIMEOUT_SECONDS:.0f}s "
                    "(is the associate service consuming customer events?)"
                )
            await asyncio.sleep(1.0)


async def _load(
    gateway_url: str, mint: Mint, count: int, seed: int, concurrency: int, progress: Callable[[str], None]
) -> Counts:
    now = datetime.now(UTC)
    today = now.date()
    counts = Counts()
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30, trust_env=False) as client:
        api = _Api(client, mint)
        codes = await _stores_and_staff(api, seed, today)
        progress(f"{len(STORES)} stores and {len(codes)} staff in place")

        rng = random.Random(seed)
        customers = [plan_customer(i, rng, codes) for i in range(count)]

        def create(customer: PlannedCustomer) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                status, data = await api.call(
                    "POST",
                    "/v1/customers",
                    body=customer.body,
                    params={"request_id": _request_id(seed, "customer", customer.index)},
                    accept=(409,),
                )
                if status == 409:
                    return  # a generated contact point clashed with an existing customer: skip her
                if not data.get("name"):
                    raise DemoError(f"POST /v1/customers answered without a customer name: {str(data)[:200]}")
                customer.name = str(data["name"])
                for consent in customer.consents:
                    await api.call("POST", f"/v1/{customer.name}:grantConsent", body=consent)
                    counts.consents += 1

            return job

        await _gather(concurrency, [create(c) for c in customers])
        created = [c for c in customers if c.name]
        counts.customers = len(created)
        progress(f"{counts.customers} customers created; waiting for the associate service to bind them")
        await _wait_for_assignments(api, created, concurrency)
        for customer in created:
            if customer.holder == "pool":
                counts.in_pool += 1
            elif customer.referrer is not None and customer.holder == customer.referrer.name:
                counts.by_referral += 1
            else:
                counts.by_store_rule += 1

        def record(customer: PlannedCustomer) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                activity = plan_activity(customer, seed, today)
                recorded: list[str] = []
                for purchase in activity.purchases:
                    _, done = await api.call(
                        "POST", "/v1/purchases:record", body={"customer": customer.name, "purchase": purchase}
                    )
                    recorded.append(str(done.get("name", "")))
                    counts.purchases += 1
                for index, body in activity.returns:
                    if recorded[index]:
                        await api.call("POST", f"/v1/{recorded[index]}:recordReturn", body=body)
                        counts.returns += 1
                for item in activity.visits:
                    await api.call("POST", f"/v1/{customer.name}/interactions", body=item)
                    counts.visits += 1
                for item in activity.interactions:
                    await api.call("POST", f"/v1/{customer.name}/interactions", body=item)
                    counts.interactions += 1

            return job

        await _gather(concurrency, [record(c) for c in created])
        progress(
            f"{counts.purchases} purchases ({counts.returns} returned), {counts.visits} store visits, {counts.interactions} other interactions"
        )

        staff_by_name = {staff.name: (staff, store) for store in STORES for staff in store.staff}

        def attend(customer: PlannedCustomer) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                held = staff_by_name.get(customer.holder)
                if held is None:
                    return  # in the pool: nobody writes about her yet
                staff, store = held
                pick = random.Random(f"{seed}-{customer.index}-attend")
                if pick.random() < 0.4:
                    await api.call(
                        "POST",
                        f"/v1/{customer.name}/notes",
                        as_=_as(staff, store),
                        body={"text": pick.choice(NOTES)},
                        params={"request_id": _request_id(seed, "note", customer.index)},
                    )
                    counts.notes += 1
                if pick.random() < 0.3:
                    due = _iso(_errand_due(store, now))
                    task = {
                        "kind": "TASK_KIND_MANUAL",
                        "customer": customer.name,
                        "associate": staff.name,
                        "store": store.name,
                        "dueTime": due,
                        "title": pick.choice(ERRANDS),
                    }
                    await api.call(
                        "POST",
                        "/v1/tasks",
                        as_=_as(store.manager, store),
                        body=task,
                        params={"request_id": _request_id(seed, "errand", due, customer.index)},
                    )
                    counts.errands += 1

            return job

        await _gather(concurrency, [attend(c) for c in created])
        progress(f"{counts.notes} notes, {counts.errands} tasks given for today")

        closed_in_pass = 0

        def close_the_past(staff: Staff, store: DemoStore) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                nonlocal closed_in_pass
                closed = await _close_past_tasks(api, staff, store, now, seed)
                closed_in_pass += closed
                counts.done += closed

            return job

        # Tasks are opened by the associate service as it consumes the events of the
        # activity above, a little behind; pass again until a pass finds nothing left.
        deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT_SECONDS
        for passes in itertools.count(1):
            closed_in_pass = 0
            await _gather(concurrency, [close_the_past(staff, store) for store in STORES for staff in store.staff])
            if (closed_in_pass == 0 and passes > 1) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(SETTLE_PAUSE_SECONDS)
    return counts


OUTCOMES = ["Called her; she will visit next week.", "Sent a thank-you message.", "Left a voicemail.", "Done."]


async def _close_past_tasks(api: _Api, staff: Staff, store: DemoStore, now: datetime, seed: int) -> int:
    """The history is two years long, and so are its follow-ups: an associate did the ones
    due before today. Today's stay open."""
    start_of_day = _local(now.astimezone(ZoneInfo(store.time_zone)).date(), 0, 0, store.time_zone)
    closed = 0
    page_token = ""
    past: list[Json] = []
    while True:
        params = {"view": "TASK_VIEW_MINE", "overdue_only": "true", "page_size": "200"}
        if page_token:
            params["page_token"] = page_token
        _, data = await api.call("GET", "/v1/tasks", as_=_as(staff, store), params=params)
        for task in data.get("tasks", []):
            due = datetime.fromisoformat(str(task.get("dueTime", "")).replace("Z", "+00:00"))
            if due < start_of_day:
                past.append(task)
        page_token = str(data.get("nextPageToken", ""))
        if not page_token:
            break
    pick = random.Random(f"{seed}-{staff.id}-outcomes")
    for task in past:
        await api.call(
            "POST",
            f"/v1/{task['name']}:complete",
            as_=_as(staff, store),
            body={"outcomeNote": pick.choice(OUTCOMES), "etag": task.get("etag", "")},
            accept=(409,),  # changed meanwhile (someone is using the demo already): leave it
        )
        closed += 1
    return closed


def load_demo(
    gateway_url: str,
    mint: Mint,
    count: int = 300,
    *,
    seed: int = 7,
    concurrency: int = 8,
    progress: Callable[[str], None] = lambda text: None,
) -> Counts:
    """Build the demo maison through the gateway at ``gateway_url``. ``mint(role, store=,
    associate_id=)`` returns a bearer token for that person. Raises DemoError."""
    return asyncio.run(_load(gateway_url, mint, count, seed, concurrency, progress))
