"""Seed the customer service's own tables with N realistic customers, fast: pre-rendered
COPY text straight into `customers` and `contact_points`, with `search_text` computed by
the service's own rule (services.customer.domain.profile.search_text), so what search
sees is exactly what CreateCustomer would have written. The service must have migrated
the database first (it does at start-up). The stores they live in are made known to the
service in the same transaction: the rows its `directory` read model holds for a store
whose store_created event it applied (bench.stores.copy_rows).

Customers: names from six markets (pinyin for Chinese names), a locale and home store of
that market, a tier, an e-mail (85 %), a mobile phone in E.164 (80 %), a WeChat id for
half the Chinese ones; all unique like the service requires. Deterministic per seed.
"""

from __future__ import annotations

import functools
import itertools
import random
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from atelier.customer.v1 import customer_pb2
from services.customer.domain.profile import ContactPoint, search_text

from .stores import copy_rows as copy_store_rows

EMAIL = customer_pb2.ContactKind.CONTACT_KIND_EMAIL
PHONE = customer_pb2.ContactKind.CONTACT_KIND_PHONE
WECHAT = customer_pb2.ContactKind.CONTACT_KIND_WECHAT

_MARKETS = {
    # region: (share, locale, stores, given names, family names, phone prefixes and length, mail domains)
    "CN": (
        0.40,
        "zh-CN",
        [
            "stores/shanghai-plaza66",
            "stores/beijing-skp",
            "stores/chengdu-taikoo-li",
            "stores/shenzhen-mixc",
            "stores/hangzhou-tower",
            "stores/online-cn",
        ],
        "Wei Fang Xiuying Na Min Jing Li Qiang Lei Jun Yang Yong Yan Jie Juan Tao Xiaoming Mei Ling Hui Ying Xin "
        "Yu Hao Zhen Lan Xue Yun Ting Bo Chen Peng Rui Kai Lin Qing Hong Jia Yi Hua Shan Dan Ning Xiaoyu Zihan "
        "Yuxuan Haoran Ziyi Yutong Xinyi Jiayi Muchen Ruoxi",
        "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo Zheng Liang Xie Song "
        "Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang Yu Du Ye Cheng Wei Su Lu Ding Ren Shen "
        "Yao Fu Zhong Jin Qian Qin Shi Dai",
        (["+86139", "+86135", "+86186", "+86138", "+86136", "+86187"], 14),
        ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com", "icloud.com"],
    ),
    "FR": (
        0.25,
        "fr-FR",
        [
            "stores/paris-faubourg",
            "stores/paris-montaigne",
            "stores/lyon-republique",
            "stores/cannes-croisette",
            "stores/online-fr",
        ],
        "Camille Hélène Marie Sophie Claire Julien Antoine Louis Chloé Léa Manon Élodie Mathilde Juliette Pauline "
        "Aurélie Céline Isabelle Nathalie Valérie Thomas Nicolas Pierre Guillaume Maxime Alexandre Baptiste Hugo "
        "Lucas Émile Margaux Inès Zoé Anaïs Océane Victoire Apolline Diane Bérénice Gaspard Arthur Raphaël Adèle "
        "Joséphine Constance Héloïse Benoît François Amélie Sébastien",
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel "
        "Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefèvre Mercier Dupont Lambert Bonnet "
        "François Martinez Legrand Garnier Faure Rousseau Blanc Guérin Muller Henry Roussel Nicolas Perrin Morin "
        "Mathieu Clément Gauthier Dumont Lopez Fontaine Chevalier Robin Masson Sanchez Boyer Denis Lemaire "
        "Duval Joly Gautier Roger Roche Roy Noël Meyer Lucas Meunier Jean Perez Marchand Dufour Blanchard "
        "Gillet Chevallier Fabre Brun Leclerc Barbier Arnaud Martel Rolland Rey Colin Aubert Giraud",
        (["+3362", "+3364", "+3365", "+3366", "+3367", "+3368", "+3375", "+3376", "+3377", "+3378"], 12),
        ["gmail.com", "orange.fr", "free.fr", "yahoo.fr", "hotmail.fr", "wanadoo.fr", "icloud.com", "laposte.net"],
    ),
    "GB": (
        0.10,
        "en-GB",
        ["stores/london-bond-street", "stores/london-harrods", "stores/online-uk"],
        "Oliver George Harry Jack Charlie Thomas James William Henry Olivia Amelia Isla Ava Emily Sophia Grace "
        "Lily Charlotte Florence Evie Poppy Freddie Alfie Archie Arthur Edward Imogen Harriet Rosie",
        "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
        "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
        "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis",
        (["+4474", "+4475", "+4477", "+4478"], 13),
        ["gmail.com", "outlook.com", "hotmail.co.uk", "btinternet.com", "icloud.com", "yahoo.co.uk"],
    ),
    "US": (
        0.10,
        "en-US",
        ["stores/new-york-madison", "stores/beverly-hills-rodeo", "stores/miami-design-district", "stores/online-us"],
        "Emma Olivia Ava Isabella Sophia Mia Charlotte Amelia Harper Evelyn Liam Noah William James Logan "
        "Benjamin Mason Elijah Oliver Jacob Madison Abigail Elizabeth Ella Scarlett Grace Chloe Victoria Avery",
        "Smith Johnson Williams Brown Jones Miller Davis Garcia Rodriguez Wilson Martinez Anderson Taylor Thomas "
        "Hernandez Moore Martin Jackson Thompson White Lopez Lee Gonzalez Harris Clark Lewis Robinson Walker "
        "Perez Hall Young Allen Sanchez Wright King Scott Green Baker Adams Nelson Hill Ramirez Campbell Mitchell",
        (["+1212", "+1310", "+1305", "+1646", "+1917", "+1415"], 12),
        ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "me.com"],
    ),
    "JP": (
        0.08,
        "ja-JP",
        ["stores/tokyo-ginza", "stores/tokyo-omotesando", "stores/osaka-shinsaibashi"],
        "Haruto Yuto Sota Yuki Hayato Haruki Ryusei Koki Sora Riku Yui Aoi Hina Sakura Rin Yuna Mei Akari "
        "Hinata Mio Kaito Ren Daiki Kenta Naoki Ayaka Misaki Nanami Saki Emi",
        "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada Sasaki "
        "Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu Yamazaki Mori Abe Ikeda Hashimoto Ishikawa Ogawa",
        (["+8180", "+8190"], 13),
        ["gmail.com", "yahoo.co.jp", "docomo.ne.jp", "icloud.com", "outlook.jp"],
    ),
    "IT": (
        0.07,
        "it-IT",
        ["stores/milano-montenapoleone", "stores/roma-condotti", "stores/firenze-tornabuoni"],
        "Giulia Francesca Chiara Sofia Aurora Alice Ginevra Emma Giorgia Beatrice Alessandro Lorenzo Matteo "
        "Leonardo Francesco Andrea Marco Luca Riccardo Tommaso Gabriele Federico Martina Elena Valentina",
        "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti De Luca "
        "Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani Rinaldi Caruso Ferrara "
        "Galli Martini Leone Longo Gentile Martinelli Vitale Lombardo Serra Coppola De Santis",
        (["+39333", "+39347", "+39320", "+39338", "+39340"], 13),
        ["gmail.com", "libero.it", "hotmail.it", "yahoo.it", "alice.it", "icloud.com"],
    ),
}
# Every store a seeded customer may live in.
STORES = tuple(store for spec in _MARKETS.values() for store in spec[2])
_TIERS = [(1, 0.30), (2, 0.55), (3, 0.12), (4, 0.03)]
_TAGS = ["vip", "lapsed", "leather-goods", "watches", "jewellery", "ready-to-wear", "fragrance", "new"]


@dataclass(frozen=True)
class SeedCustomer:
    id: str
    given_name: str
    family_name: str
    email: str
    phone: str  # E.164, "" when none
    home_store: str


@dataclass
class SeedResult:
    customers: list[SeedCustomer]
    contact_points: int
    seconds: float
    copy_seconds: float
    vacuum_seconds: float
    stores: int = 0

    def as_dict(self) -> dict:
        n = len(self.customers)
        return {
            "customers": n,
            "contact_points": self.contact_points,
            "stores": self.stores,
            "seconds_total": round(self.seconds, 2),
            "seconds_copy": round(self.copy_seconds, 2),
            "seconds_vacuum_analyze": round(self.vacuum_seconds, 2),
            "customers_per_s_copy": round(n / self.copy_seconds) if self.copy_seconds else None,
            "method": "COPY (pre-rendered text) into customers + contact_points and their stores into "
            "directory_stores, one transaction, then VACUUM ANALYZE",
        }


@functools.cache
def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if c.isascii() and (c.isalnum())).lower()


def _copy_text(value: object) -> str:
    s = str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def generate(count: int, seed: int = 20261122):
    """Yield (customer row fields, [ContactPoint], SeedCustomer) for `count` customers."""
    rng = random.Random(seed)
    markets = list(_MARKETS.items())
    regions = [r for r, _ in markets]
    cum_weights = list(itertools.accumulate(spec[0] for _, spec in markets))
    tiers = [t for t, _ in _TIERS]
    tier_weights = list(itertools.accumulate(w for _, w in _TIERS))
    parsed = {
        region: (spec[1], spec[2], spec[3].split(), _family_names(spec[4]), spec[5], spec[6])
        for region, spec in markets
    }
    used_mail: set[str] = set()
    used_phone: set[str] = set()
    used_wechat: set[str] = set()
    now = datetime.now(UTC)
    for _ in range(count):
        region = rng.choices(regions, cum_weights=cum_weights)[0]
        locale, stores, givens, families, (prefixes, length), domains = parsed[region]
        given, family = rng.choice(givens), rng.choice(families)
        points: list[ContactPoint] = []
        email = phone = ""
        if rng.random() < 0.85:
            g, f = _ascii(given), _ascii(family)
            style = rng.randrange(4)
            local = (f"{g}.{f}", f"{g[0]}{f}", f"{f}.{g}", f"{g}{f}")[style]
            if rng.random() < 0.6:
                local += str(rng.randrange(1, 100 if rng.random() < 0.5 else 10000))
            email = f"{local}@{rng.choice(domains)}"
            while email in used_mail:
                email = f"{local}{rng.randrange(10, 100000)}@{rng.choice(domains)}"
            used_mail.add(email)
            points.append(ContactPoint(EMAIL, email, True))
        if rng.random() < 0.80:
            prefix = rng.choice(prefixes)
            digits = length - len(prefix)
            while True:
                phone = f"{prefix}{rng.randrange(10**digits):0{digits}d}"
                if phone not in used_phone:
                    break
            used_phone.add(phone)
            points.append(ContactPoint(PHONE, phone, True))
        if region == "CN" and rng.random() < 0.5:
            while True:
                wechat = f"wx{_ascii(given)}{_ascii(family)}{rng.randrange(100, 10**6)}"[:20]
                if wechat not in used_wechat:
                    break
            used_wechat.add(wechat)
            points.append(ContactPoint(WECHAT, wechat, True))
        tier = rng.choices(tiers, cum_weights=tier_weights)[0]
        tags = rng.sample(_TAGS, rng.choice((0, 0, 1, 1, 2)))
        created = now - timedelta(seconds=rng.randrange(3 * 365 * 86400))
        values = {"given_name": given, "family_name": family, "preferred_name": "", "contact_points": points}
        h = f"{rng.getrandbits(128):032x}"
        cid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
        row = {
            "id": cid, "given_name": given, "family_name": family, "locale": locale,
            "home_store": rng.choice(stores), "tier": tier, "tags": tags, "search_text": search_text(values),
            "create_time": created,
        }  # fmt: skip
        yield row, points, SeedCustomer(cid, given, family, email, phone, row["home_store"])


def _family_names(text: str) -> list[str]:
    # "De Luca" / "De Santis" are one family name.
    words, out = text.split(), []
    i = 0
    while i < len(words):
        if words[i] in ("De",) and i + 1 < len(words):
            out.append(f"{words[i]} {words[i + 1]}")
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


_CUSTOMER_COLUMNS = "id, given_name, family_name, locale, home_store, tier, tags, search_text, create_time, update_time"
_CONTACT_COLUMNS = "customer_id, kind, value, is_primary, position"


def seed(database_url: str, count: int, *, stores: tuple[str, ...] = (), batch: int = 5000) -> SeedResult:
    """`count` customers, and STORES plus `stores` (others the caller's requests name)
    made known to the service, in one transaction."""
    started = time.perf_counter()
    customers: list[SeedCustomer] = []
    customer_lines: list[str] = []
    contact_lines: list[str] = []
    contact_count = 0
    for row, points, sc in generate(count):
        ts = row["create_time"].isoformat()
        tags = "{" + ",".join(row["tags"]) + "}"
        customer_lines.append(
            "\t".join(
                _copy_text(v)
                for v in (row["id"], row["given_name"], row["family_name"], row["locale"], row["home_store"],
                          row["tier"], tags, row["search_text"], ts, ts)
            ) + "\n"
        )  # fmt: skip
        for position, p in enumerate(points):
            contact_lines.append(
                f"{row['id']}\t{p.kind}\t{_copy_text(p.value)}\t{'t' if p.primary else 'f'}\t{position}\n"
            )
        contact_count += len(points)
        customers.append(sc)
    copy_started = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        # New rows go to the GIN pending list and are merged in bulk by the VACUUM below
        # (a session setting: the service's own inserts are unaffected).
        conn.execute("SET gin_pending_list_limit = '512MB'")
        with conn.cursor() as cur:
            with cur.copy(f"COPY customers ({_CUSTOMER_COLUMNS}) FROM STDIN") as copy:
                for i in range(0, len(customer_lines), batch):
                    copy.write("".join(customer_lines[i : i + batch]))
            with cur.copy(f"COPY contact_points ({_CONTACT_COLUMNS}) FROM STDIN") as copy:
                for i in range(0, len(contact_lines), batch):
                    copy.write("".join(contact_lines[i : i + batch]))
            store_count = copy_store_rows(cur, (*STORES, *stores))
        conn.commit()
    copy_seconds = time.perf_counter() - copy_started
    vacuum_started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Settle the table as a long-running system would be: visibility map set, the GIN
        # pending list merged, statistics current for the planner.
        conn.execute("VACUUM ANALYZE customers")
        conn.execute("VACUUM ANALYZE contact_points")
    vacuum_seconds = time.perf_counter() - vacuum_started
    return SeedResult(
        customers=customers,
        contact_points=contact_count,
        seconds=time.perf_counter() - started,
        copy_seconds=copy_seconds,
        vacuum_seconds=vacuum_seconds,
        stores=store_count,
    )
