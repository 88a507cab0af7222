"""Demo data: realistic luxury clients across boutiques in several time zones, with two
years of purchases (in store and online, in several currencies) and interactions across
channels.

Loaded through the gateway's public API (so it exercises the same path as a store
tablet). Request ids, order ids, return ids and interaction external ids are derived
from the seed, so loading twice creates nothing new.
"""

from __future__ import annotations

import asyncio
import random
import unicodedata
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import phonenumbers

STORES = {
    "stores/paris-faubourg": ("fr-FR", "FR"),
    "stores/shanghai-plaza66": ("zh-Hans-CN", "CN"),
    "stores/tokyo-ginza": ("ja-JP", "JP"),
    "stores/dubai-mall": ("ar-AE", "AE"),
    "stores/milan-montenapoleone": ("it-IT", "IT"),
    "stores/new-york-fifth": ("en-US", "US"),
}

NAMES = {
    "FR": (["Hélène", "Camille", "Louis", "Margaux", "Étienne", "Inès", "Clémence", "Aurélien"],
           ["Laurent", "Dubois", "Moreau", "Lefèvre", "Girard", "Fontaine", "Chevalier", "Rousseau"]),
    "CN": (["Wei", "Jing", "Xiaoling", "Hao", "Mei", "Yutong", "Zihan", "Lan"],
           ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang"]),
    "JP": (["Yuki", "Haruto", "Sakura", "Ren", "Aoi", "Hina", "Sota", "Mio"],
           ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"]),
    "AE": (["Fatima", "Omar", "Layla", "Khalid", "Mariam", "Rashid", "Noura", "Hamdan"],
           ["Al Maktoum", "Al Nahyan", "Haddad", "Khoury", "Al Falasi", "Mansour", "Saleh", "Nasser"]),
    "IT": (["Giulia", "Alessandro", "Francesca", "Lorenzo", "Chiara", "Matteo", "Beatrice", "Tommaso"],
           ["Rossi", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino"]),
    "US": (["Olivia", "James", "Charlotte", "William", "Amelia", "Henry", "Harper", "Theodore"],
           ["Smith", "Johnson", "Whitney", "Vanderbilt", "Carter", "Brooks", "Hayes", "Morgan"]),
}

PREFERENCES = {
    "ring_size": ["48", "50", "52", "54", "56"],
    "colour": ["emerald", "ivory", "noir", "bordeaux", "sapphire", "blush"],
    "material": ["yellow gold", "white gold", "platinum", "calfskin", "silk", "cashmere"],
    "category": ["high jewellery", "watches", "leather goods", "ready-to-wear", "fragrance"],
    "occasion": ["anniversary", "wedding", "gala", "lunar new year", "eid", "graduation"],
}
TAGS = ["press", "collector", "bridal", "watch-lover", "gifting", "vic-event", "travel-retail"]
TIERS = ["TIER_PROSPECT", "TIER_CLIENT", "TIER_CLIENT", "TIER_VIP", "TIER_VVIP"]
NAMESPACE = uuid.UUID("4b0d5c3e-7d0e-4c52-9a51-0a7e11e7de70")


def _phone(rng: random.Random, region: str) -> str | None:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return None
    national = str(example.national_number)
    for _ in range(20):
        digits = national[:3] + "".join(rng.choice("0123456789") for _ in national[3:])
        number = phonenumbers.parse(f"+{example.country_code}{digits}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def customer(i: int, rng: random.Random) -> tuple[dict, list[dict]]:
    store, (locale, region) = rng.choice(list(STORES.items()))
    given, family = rng.choice(NAMES[region][0]), rng.choice(NAMES[region][1])
    local = unicodedata.normalize("NFKD", f"{given}.{family}.{i}").encode("ascii", "ignore").decode()
    contacts = [{"kind": "CONTACT_KIND_EMAIL", "value": f"{local.replace(' ', '').lower()}@example.com"}]
    phone = _phone(rng, region)
    if phone:
        contacts.append({"kind": "CONTACT_KIND_PHONE", "value": phone, "primary": True})
        if region in ("AE", "IT", "FR") and rng.random() < 0.6:
            contacts.append({"kind": "CONTACT_KIND_WHATSAPP", "value": phone})
    if region == "CN":
        contacts.append({"kind": "CONTACT_KIND_WECHAT", "value": f"wx_{family.lower()}{i:05d}"})
    prefs = [
        {"category": cat, "value": rng.choice(values)}
        for cat, values in rng.sample(sorted(PREFERENCES.items()), k=rng.randint(1, 3))
    ]
    body = {
        "givenName": given,
        "familyName": family,
        "locale": locale,
        "homeStore": store,
        "tier": rng.choice(TIERS),
        "contactPoints": contacts,
        "preferences": prefs,
        "importantDates": [
            {"kind": "IMPORTANT_DATE_KIND_BIRTHDAY",
             "date": {"year": rng.randint(1950, 2002), "month": rng.randint(1, 12), "day": rng.randint(1, 28)}}
        ],
        "tags": rng.sample(TAGS, k=rng.randint(0, 2)),
    }
    consents = [
        {"channel": channel, "purpose": "PURPOSE_MARKETING", "source": "store-tablet"}
        for channel in ("CHANNEL_EMAIL", "CHANNEL_WHATSAPP" if region != "CN" else "CHANNEL_WECHAT")
        if rng.random() < 0.7
    ]
    return body, consents


CURRENCY = {"FR": "EUR", "IT": "EUR", "CN": "CNY", "JP": "JPY", "AE": "AED", "US": "USD"}
# Rough list prices are in EUR; each boutique sells in its own currency.
EUR_RATE = {"EUR": 1, "CNY": 7.8, "JPY": 160, "AED": 4, "USD": 1.1}
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
MESSAGE_CHANNEL = {"CN": "CHANNEL_WECHAT", "US": "CHANNEL_SMS"}


def _money(eur: float, currency: str) -> dict:
    amount = round(eur * EUR_RATE[currency])
    # Prices end in round figures, as on a price tag.
    step = 100 if amount > 10_000 else 10
    return {"currencyCode": currency, "units": str(max(step, amount // step * step))}


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def activity(i: int, seed: int, store: str, region: str, now: datetime) -> tuple[list[dict], list[dict], list[dict]]:
    """Purchases (each with an optional return) and interactions of demo customer `i`."""
    rng = random.Random(f"{seed}-{i}-activity")
    slug = store.split("/", 1)[1]
    currency = CURRENCY[region]
    purchases, returns, interactions = [], [], []
    for k in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 6])):
        when = now - timedelta(days=rng.uniform(1, 730), minutes=rng.randint(0, 600))
        online = rng.random() < 0.3
        paid_in = currency if rng.random() < 0.85 else rng.choice(sorted(EUR_RATE))
        lines = [
            {"lineId": str(n + 1), "sku": sku, "productName": name, "category": category,
             "quantity": 1 if price > 1000 else rng.randint(1, 3), "unitPrice": _money(price, paid_in)}
            for n, (sku, name, category, price) in enumerate(rng.sample(CATALOGUE, k=rng.randint(1, 3)))
        ]
        body = {
            "channel": "SALES_CHANNEL_ONLINE" if online else "SALES_CHANNEL_STORE",
            "orderId": f"demo-{seed}-{i}-{k}", "store": store, "orderTime": _iso(when), "lines": lines,
        }
        if not online and rng.random() < 0.8:
            body["assistingAssociate"] = f"associates/{slug}-a{rng.randint(1, 4)}"
        purchases.append(body)
        if rng.random() < 0.07:
            returns.append({"order": len(purchases) - 1, "returnId": f"demo-{seed}-{i}-{k}-r",
                            "lines": [{"lineId": "1", "quantity": 1}],
                            "returnTime": _iso(min(now, when + timedelta(days=rng.randint(1, 14))))})
    channel = MESSAGE_CHANNEL.get(region, "CHANNEL_WHATSAPP")
    for k in range(rng.randint(1, 8)):
        when = now - timedelta(days=rng.uniform(0, 730))
        kind = rng.choice([
            "INTERACTION_KIND_MESSAGE", "INTERACTION_KIND_MESSAGE", "INTERACTION_KIND_STORE_VISIT",
            "INTERACTION_KIND_QR_SCAN", "INTERACTION_KIND_WEB_VISIT", "INTERACTION_KIND_MENU_CLICK",
            "INTERACTION_KIND_CAMPAIGN_DELIVERED", "INTERACTION_KIND_CAMPAIGN_OPENED",
            "INTERACTION_KIND_CAMPAIGN_CLICKED", "INTERACTION_KIND_CALL", "INTERACTION_KIND_APPOINTMENT",
        ])
        item = {"kind": kind, "occurTime": _iso(when), "externalId": f"demo-{seed}-{i}-x{k}", "store": store}
        if kind in ("INTERACTION_KIND_MESSAGE", "INTERACTION_KIND_CALL"):
            inbound = rng.random() < 0.5
            item.update(channel=channel if kind.endswith("MESSAGE") else "CHANNEL_PHONE",
                        direction="DIRECTION_INBOUND" if inbound else "DIRECTION_OUTBOUND",
                        preview=rng.choice(["Is the emerald necklace still available?", "Thank you for yesterday!",
                                            "Your order is ready for collection.", "New arrivals this week"]),
                        associate=f"associates/{slug}-a{rng.randint(1, 4)}")
        elif kind == "INTERACTION_KIND_QR_SCAN":
            item.update(referralCode=f"{slug[:20]}-a{rng.randint(1, 4)}", associate=f"associates/{slug}-a1")
        elif kind in ("INTERACTION_KIND_WEB_VISIT", "INTERACTION_KIND_MENU_CLICK"):
            item.update(reference=f"https://shop.example.com/{rng.choice(CATALOGUE)[2]}")
        elif kind.startswith("INTERACTION_KIND_CAMPAIGN"):
            item.update(reference=rng.choice(["campaigns/lunar-new-year", "campaigns/high-jewellery-preview"]),
                        channel=channel)
        elif kind == "INTERACTION_KIND_APPOINTMENT":
            item.update(reference=f"appointments/demo-{seed}-{i}-{k}", preview="Private viewing")
        interactions.append(item)
    return purchases, returns, interactions


async def _load(gateway_url: str, token: str, count: int, seed: int, concurrency: int) -> int:
    rng = random.Random(seed)
    items = [customer(i, rng) for i in range(count)]
    headers = {"authorization": f"Bearer {token}"}
    # Activity dates count back from midnight, so a reload on the same day sends the same
    # bodies (and replays of the same order or return are answered from what is stored).
    now = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    created = 0
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=gateway_url, headers=headers, timeout=30) as client:

        async def one(i: int, body: dict, consents: list[dict]) -> None:
            nonlocal created
            async with semaphore:
                request_id = str(uuid.uuid5(NAMESPACE, f"{seed}-{i}"))
                reply = await client.post("/v1/customers", json=body, params={"request_id": request_id})
                if reply.status_code == 409:
                    return  # a contact point clashed with an existing client: skip her
                reply.raise_for_status()
                name = reply.json()["name"]
                for consent in consents:
                    (await client.post(f"/v1/{name}:grantConsent", json=consent)).raise_for_status()
                region = STORES[body["homeStore"]][1]
                purchases, returns, interactions = activity(i, seed, body["homeStore"], region, now)
                recorded = []
                for order in purchases:
                    done = await client.post("/v1/purchases:record", json={"customer": name, "purchase": order})
                    done.raise_for_status()
                    recorded.append(done.json()["name"])
                for item in returns:
                    target = recorded[item.pop("order")]
                    (await client.post(f"/v1/{target}:recordReturn", json=item)).raise_for_status()
                for item in interactions:
                    (await client.post(f"/v1/{name}/interactions", json=item)).raise_for_status()
                created += 1

        await asyncio.gather(*(one(i, body, consents) for i, (body, consents) in enumerate(items)))
    return created


def load_demo(gateway_url: str, token: str, count: int = 300, seed: int = 7, concurrency: int = 8) -> int:
    """Create `count` demo customers through the gateway; returns how many were loaded."""
    return asyncio.run(_load(gateway_url, token, count, seed, concurrency))
