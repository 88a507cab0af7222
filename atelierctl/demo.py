"""Demo data: realistic luxury clients across boutiques in several time zones.

Loaded through the gateway's public API (so it exercises the same path as a store
tablet). Request ids are derived from the seed, so loading twice creates nothing new.
"""

from __future__ import annotations

import asyncio
import random
import unicodedata
import uuid

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


async def _load(gateway_url: str, token: str, count: int, seed: int, concurrency: int) -> int:
    rng = random.Random(seed)
    items = [customer(i, rng) for i in range(count)]
    headers = {"authorization": f"Bearer {token}"}
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
                created += 1

        await asyncio.gather(*(one(i, body, consents) for i, (body, consents) in enumerate(items)))
    return created


def load_demo(gateway_url: str, token: str, count: int = 300, seed: int = 7, concurrency: int = 8) -> int:
    """Create `count` demo customers through the gateway; returns how many were loaded."""
    return asyncio.run(_load(gateway_url, token, count, seed, concurrency))
