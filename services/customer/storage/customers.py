"""Customer storage: SQLAlchemy Core statements over one connection (one transaction per
RPC). A customer is read with its contact points and current consents in one query, and
lists load all their rows in that same one query — never one round trip per row."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import AlreadyExists

from ..domain import contacts
from ..domain.access import Reach, Scope
from ..domain.computed_tags import CurrencyStats, Tag
from ..domain.consent import Answer
from ..domain.filters import CustomerFilter
from ..domain.profile import ContactPoint
from . import stats
from .stats import STATS_JSON, TAGS_JSON

# Whether she was erased (domain/access.Reach.erased); `c` is her customers row.
ERASED = "EXISTS (SELECT 1 FROM erasures e WHERE e.customer_id = c.id)"
NOT_ERASED = f"NOT {ERASED}"

SELECT_FULL = (
    """
SELECT c.id, c.given_name, c.family_name, c.preferred_name, c.locale, c.home_store, c.tier,
       c.referral_code, c.preferences, c.important_dates, c.tags, c.version,
       c.create_time, c.update_time,
       COALESCE((SELECT json_agg(json_build_array(p.kind, p.value, p.is_primary) ORDER BY p.position)
                 FROM contact_points p WHERE p.customer_id = c.id), '[]') AS contacts,
       COALESCE((SELECT json_agg(json_build_array(s.channel, s.purpose, s.granted, s.source, s.actor, s.change_time))
                 FROM (SELECT DISTINCT ON (channel, purpose) channel, purpose, granted, source, actor, change_time
                       FROM consent_changes WHERE customer_id = c.id
                       ORDER BY channel, purpose, id DESC) s), '[]') AS consents,
       """
    + STATS_JSON
    + """ AS purchase_stats,
       """
    + TAGS_JSON
    + """ AS computed_tags,
       ARRAY(SELECT ca.associate_id FROM customer_assignments ca WHERE ca.customer_id = c.id) AS associates,
       """
    + ERASED
    + """ AS erased
FROM customers c
"""
)

_GET_MANY = sa.text(SELECT_FULL + " WHERE c.id = ANY(:ids)")


@dataclass(frozen=True)
class CustomerRow:
    id: str
    given_name: str
    family_name: str
    preferred_name: str
    locale: str
    home_store: str
    tier: int
    referral_code: str
    # [{"category", "value"}]
    preferences: list[dict[str, str]]
    # [{"kind", "year", "month", "day", "label"}]
    important_dates: list[dict[str, Any]]
    tags: list[str]
    version: int
    create_time: datetime
    update_time: datetime
    contacts: list[ContactPoint]
    # Her current answer per channel × purpose (the latest of each).
    consents: list[Answer]
    purchase_stats: list[CurrencyStats]
    # The stored (fact-based) computed tags.
    computed_tags: list[Tag]
    # Ids of the associates holding her (primary or secondary), from assignment events.
    associates: list[str] = field(default_factory=list)
    erased: bool = False

    @property
    def reach(self) -> Reach:
        return Reach(home_store=self.home_store, associates=frozenset(self.associates), erased=self.erased)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def row_of(r: sa.Row[Any]) -> CustomerRow:
    """A customer from a row of SELECT_FULL."""
    return CustomerRow(
        id=r.id,
        given_name=r.given_name,
        family_name=r.family_name,
        preferred_name=r.preferred_name,
        locale=r.locale,
        home_store=r.home_store,
        tier=r.tier,
        referral_code=r.referral_code,
        preferences=_json(r.preferences),
        important_dates=_json(r.important_dates),
        tags=list(r.tags),
        version=r.version,
        create_time=r.create_time,
        update_time=r.update_time,
        contacts=[ContactPoint(kind, value, primary) for kind, value, primary in _json(r.contacts)],
        consents=[
            Answer(channel, purpose, granted, source, actor, stats.parse_time(changed))
            for channel, purpose, granted, source, actor, changed in _json(r.consents)
        ],
        purchase_stats=stats.parse(r.purchase_stats),
        computed_tags=[Tag(tag, reason, stats.parse_time(since)) for tag, reason, since in _json(r.computed_tags)],
        associates=list(r.associates),
        erased=r.erased,
    )


async def get_many(conn: AsyncConnection, ids: list[str]) -> dict[str, CustomerRow]:
    if not ids:
        return {}
    rows = (await conn.execute(_GET_MANY, {"ids": ids})).all()
    return {r.id: row_of(r) for r in rows}


async def get(conn: AsyncConnection, customer_id: str) -> CustomerRow | None:
    return (await get_many(conn, [customer_id])).get(customer_id)


_REACH = (
    "SELECT c.home_store, c.version, "
    "ARRAY(SELECT ca.associate_id FROM customer_assignments ca WHERE ca.customer_id = c.id) AS associates, "
    f"{ERASED} AS erased "
    "FROM customers c WHERE c.id = :id"
)
_STORE_OF = sa.text(_REACH)
_STORE_OF_LOCKED = sa.text(_REACH + " FOR UPDATE OF c")


async def reach_and_version(conn: AsyncConnection, customer_id: str, *, lock: bool = False) -> tuple[Reach, int] | None:
    """Who may reach the customer and her current version; with `lock`, the row stays
    locked until the transaction ends (writes serialise per customer)."""
    row = (await conn.execute(_STORE_OF_LOCKED if lock else _STORE_OF, {"id": customer_id})).first()
    return (_reach(row), row.version) if row else None


def _reach(row: sa.Row[Any]) -> Reach:
    return Reach(home_store=row.home_store, associates=frozenset(row.associates), erased=row.erased)


_REACH_OF_MANY = sa.text(
    "SELECT c.id, c.home_store, "
    "ARRAY(SELECT ca.associate_id FROM customer_assignments ca WHERE ca.customer_id = c.id) AS associates, "
    f"{ERASED} AS erased "
    "FROM customers c WHERE c.id = ANY(:ids)"
)


async def reach_of_many(conn: AsyncConnection, customer_ids: list[str]) -> dict[str, Reach]:
    """Who may reach each of the customers found."""
    if not customer_ids:
        return {}
    rows = await conn.execute(_REACH_OF_MANY, {"ids": customer_ids})
    return {r.id: _reach(r) for r in rows}


_LOCALE_OF = sa.text("SELECT locale FROM customers WHERE id = :id")


async def locale_of(conn: AsyncConnection, customer_id: str) -> str | None:
    return (await conn.execute(_LOCALE_OF, {"id": customer_id})).scalar_one_or_none()


_INSERT = sa.text(
    """
    INSERT INTO customers (id, given_name, family_name, preferred_name, locale, home_store, tier,
                           referral_code, preferences, important_dates, tags, search_text)
    VALUES (:id, :given_name, :family_name, :preferred_name, :locale, :home_store, :tier,
            :referral_code, :preferences, :important_dates, :tags, :search_text)
    ON CONFLICT (id) DO NOTHING
    RETURNING id, version, create_time, update_time
    """
).bindparams(
    sa.bindparam("preferences", type_=JSONB),
    sa.bindparam("important_dates", type_=JSONB),
    sa.bindparam("tags", type_=ARRAY(sa.Text)),
)


async def insert(
    conn: AsyncConnection, customer_id: str, values: dict[str, Any], referral_code: str, search_text: str
) -> CustomerRow:
    """Insert a new customer; returns her row as stored, built from what was written (no
    re-read: a fresh customer has no consents, purchases or computed tags yet)."""
    params = {
        "id": customer_id,
        "given_name": values.get("given_name", ""),
        "family_name": values.get("family_name", ""),
        "preferred_name": values.get("preferred_name", ""),
        "locale": values.get("locale", ""),
        "home_store": values.get("home_store", ""),
        "tier": values.get("tier", 0),
        "referral_code": referral_code,
        "preferences": values.get("preferences", []),
        "important_dates": values.get("important_dates", []),
        "tags": values.get("tags", []),
        "search_text": search_text,
    }
    stored = (await conn.execute(_INSERT, params)).first()
    if stored is None:
        raise AlreadyExists(
            f"customers/{customer_id} already exists",
            reason="CUSTOMER_EXISTS",
            metadata={"resource": f"customers/{customer_id}"},
        )
    points = values.get("contact_points", [])
    await replace_contact_points(conn, customer_id, points, fresh=True)
    return CustomerRow(
        id=customer_id,
        given_name=params["given_name"],
        family_name=params["family_name"],
        preferred_name=params["preferred_name"],
        locale=params["locale"],
        home_store=params["home_store"],
        tier=params["tier"],
        referral_code=referral_code,
        preferences=params["preferences"],
        important_dates=params["important_dates"],
        tags=params["tags"],
        version=stored.version,
        create_time=stored.create_time,
        update_time=stored.update_time,
        contacts=list(points),
        consents=[],
        purchase_stats=[],
        computed_tags=[],
    )


_DELETE_CONTACTS = sa.text("DELETE FROM contact_points WHERE customer_id = :id")
_INSERT_CONTACTS = sa.text(
    """
    INSERT INTO contact_points (customer_id, kind, value, is_primary, position)
    SELECT :id, t.kind, t.value, t.is_primary, t.position
    FROM unnest(CAST(:kinds AS smallint[]), CAST(:vals AS text[]), CAST(:prims AS boolean[]),
                CAST(:positions AS smallint[])) AS t(kind, value, is_primary, position)
    ON CONFLICT (kind, value) DO NOTHING
    RETURNING kind, value
    """
)
_OWNERS = sa.text(
    "SELECT kind, value, customer_id FROM contact_points "
    "WHERE (kind, value) IN (SELECT * FROM unnest(CAST(:kinds AS smallint[]), CAST(:vals AS text[])))"
)


class ContactPointTaken(AlreadyExists):
    """A contact point the write gives belongs to another customer (the unique constraint
    decided). Whether the answer may name her is the use case's decision
    (domain/access.contact_point_taken); as raised here it names no one."""

    reason = "CONTACT_POINT_TAKEN"

    def __init__(self, owner: str, value: str):
        super().__init__(f"contact point {value} already belongs to another customer", metadata={"value": value})
        # Her id ("" when she could not be read), for the use case only.
        self.owner = owner
        self.value = value


async def replace_contact_points(
    conn: AsyncConnection, customer_id: str, points: list[ContactPoint], *, fresh: bool = False
) -> None:
    """Replace a customer's contact points. A point owned by another customer aborts the
    transaction with ContactPointTaken (the unique constraint decides)."""
    if not fresh:
        await conn.execute(_DELETE_CONTACTS, {"id": customer_id})
    if not points:
        return
    params = {
        "id": customer_id,
        "kinds": [p.kind for p in points],
        "vals": [p.value for p in points],
        "prims": [p.primary for p in points],
        "positions": list(range(len(points))),
    }
    inserted = {(r.kind, r.value) for r in (await conn.execute(_INSERT_CONTACTS, params))}
    if len(inserted) == len(points):
        return
    clashes = [p for p in points if (p.kind, p.value) not in inserted]
    owners = (
        await conn.execute(_OWNERS, {"kinds": [p.kind for p in clashes], "vals": [p.value for p in clashes]})
    ).all()
    owner = next((o for o in owners if o.customer_id != customer_id), owners[0] if owners else None)
    raise ContactPointTaken(owner.customer_id if owner else "", owner.value if owner else clashes[0].value)


_COLUMNS = {
    "given_name": None,
    "family_name": None,
    "preferred_name": None,
    "locale": None,
    "home_store": None,
    "tier": None,
    "preferences": JSONB,
    "important_dates": JSONB,
    "tags": ARRAY(sa.Text),
    "search_text": None,
}


async def update(conn: AsyncConnection, customer_id: str, values: dict[str, Any]) -> None:
    """Write the given columns (contact points handled separately) and bump the version.
    The caller holds the row lock taken by reach_and_version(lock=True)."""
    columns = {k: v for k, v in values.items() if k in _COLUMNS}
    sets = ", ".join(f"{k} = :{k}" for k in columns)
    stmt = sa.text(
        f"UPDATE customers SET {sets + ', ' if sets else ''}version = version + 1, update_time = now() WHERE id = :id"
    )
    binds = [sa.bindparam(k, type_=t) for k, t in _COLUMNS.items() if k in columns and t is not None]
    if binds:
        stmt = stmt.bindparams(*binds)
    await conn.execute(stmt, {"id": customer_id, **columns})
    if "contact_points" in values:
        await replace_contact_points(conn, customer_id, values["contact_points"])


_CONTACTS_OF = sa.text("SELECT kind, value FROM contact_points WHERE customer_id = :id ORDER BY position")
_NAMES_OF = sa.text("SELECT given_name, family_name, preferred_name FROM customers WHERE id = :id")


async def search_inputs(conn: AsyncConnection, customer_id: str) -> dict[str, Any]:
    """Current names and contact points, to rebuild the search text after a partial update."""
    names = (await conn.execute(_NAMES_OF, {"id": customer_id})).one()
    points = [ContactPoint(r.kind, r.value, False) for r in await conn.execute(_CONTACTS_OF, {"id": customer_id})]
    return {**names._asdict(), "contact_points": points}


_DELETE = sa.text("DELETE FROM customers WHERE id = :id")


async def delete(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(_DELETE, {"id": customer_id})


def _scope_clause(scope: Scope, params: dict[str, Any]) -> list[str]:
    """The customers in `scope`: never an erased one, whoever asks."""
    where = [NOT_ERASED]
    if scope.store is not None:
        where.append("c.home_store = :store")
        params["store"] = scope.store
    if scope.associate is not None:
        where.append(
            "EXISTS (SELECT 1 FROM customer_assignments ca WHERE ca.customer_id = c.id AND ca.associate_id = :scope_associate)"
        )
        params["scope_associate"] = scope.associate
    return where


def _list_statement(flt: CustomerFilter, scope: Scope, after: list[Any] | None) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    where = _scope_clause(scope, params)
    if flt.home_store is not None:
        where.append("c.home_store = :filter_store")
        params["filter_store"] = flt.home_store
    if flt.tier is not None:
        where.append("c.tier = :tier")
        params["tier"] = flt.tier
    if flt.tags:
        where.append("c.tags @> CAST(:tags AS text[])")
        params["tags"] = list(flt.tags)
    if after is not None:
        where.append("(c.create_time, c.id) > (CAST(:after_time AS timestamptz), :after_id)")
        params["after_time"], params["after_id"] = after
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return clause, params


async def list_page(
    conn: AsyncConnection, flt: CustomerFilter, scope: Scope, after: list[Any] | None, limit: int
) -> list[CustomerRow]:
    clause, params = _list_statement(flt, scope, after)
    stmt = sa.text(SELECT_FULL + clause + " ORDER BY c.create_time, c.id LIMIT :limit")
    rows = (await conn.execute(stmt, {**params, "limit": limit})).all()
    return [row_of(r) for r in rows]


# How well a candidate matches, whichever path found it: the best word run of the search
# text, and 0.95 for a row holding the query verbatim (an e-mail or phone fragment).
_SCORE = "GREATEST(word_similarity(:q, c.search_text), CASE WHEN strpos(c.search_text, :q) > 0 THEN 0.95 ELSE 0 END)"
# Must stay identical to the expression of the customers_search_names index (migration 0303).
_NAMES = "lower(c.given_name || ' ' || c.family_name || ' ' || c.preferred_name)"

# Names, nearest first on the GiST index: a common or two-letter name ("Ma", "Yu") stops
# after `limit` rows instead of scoring the tens of thousands that share its trigrams, and
# `<%` prunes the walk for a name nobody has.
_BY_NAME = f"""
SELECT c.id, {_SCORE} AS score FROM customers c
WHERE :q <% {_NAMES} {{scope}}
ORDER BY :q <<-> {_NAMES}
LIMIT :limit
"""
# Rows holding the query verbatim all score ≥ 0.95, so a few of them are enough to fill a
# page: no ORDER BY, the scan stops at :probe.
_VERBATIM = f"""
SELECT c.id, {_SCORE} AS score FROM customers c
WHERE c.search_text LIKE :like {{scope}}
LIMIT :probe
"""
# A whole e-mail / phone number or its leading part, on contact_points' prefix index.
_BY_CONTACT = f"""
SELECT c.id, {_SCORE} AS score FROM customers c
WHERE c.id IN (SELECT p.customer_id FROM contact_points p
               WHERE p.kind = ANY(:kinds) AND p.value LIKE :prefix LIMIT :probe) {{scope}}
"""
# Verbatim or fuzzy over the whole search text: for phone fragments (digit trigrams are
# selective, and "06 12 34 56 78" must find +33612345678) and for an associate's own
# clients, read first and scored — a few hundred rows — rather than walked for in the
# whole table.
_FUZZY = f"""
SELECT c.id, {_SCORE} AS score FROM {{source}}
WHERE (c.search_text LIKE :like OR :q <% c.search_text) {{scope}}
ORDER BY score DESC, c.id
LIMIT :limit
"""
# MATERIALIZED: otherwise the planner reads the trigram index for the whole table and
# joins, which costs what an unscoped search does.
_MINE = (
    "(WITH mine AS MATERIALIZED (SELECT c.id, c.home_store, c.search_text FROM customer_assignments ca"
    " JOIN customers c ON c.id = ca.customer_id WHERE ca.associate_id = :scope_associate) SELECT * FROM mine) c"
)
_NO_BITMAP = sa.text("SET LOCAL enable_bitmapscan = off")
_BITMAP = sa.text("SET LOCAL enable_bitmapscan = on")
_ALL_KINDS = [int(k) for k in contacts.ContactKind if k]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(conn: AsyncConnection, query: str, scope: Scope, limit: int) -> list[tuple[str, float]]:
    """The `limit` best matches in the caller's scope as (id, score in 0..1), best first."""
    params: dict[str, Any] = {"q": query, "like": f"%{_like(query)}%", "limit": limit, "probe": 4 * limit}
    shape = contacts.search_shape(query)

    async def run(statement: str, source: str = "customers c", where: list[str] | None = None) -> list[sa.Row[Any]]:
        where = _scope_clause(scope, params) if where is None else where
        clause = "".join(f" AND {w}" for w in where)
        return list((await conn.execute(sa.text(statement.format(scope=clause, source=source)), params)).all())

    if scope.associate is not None:
        params.update(scope_associate=scope.associate, store=scope.store)
        rows = await run(_FUZZY, _MINE, [NOT_ERASED, *(["c.home_store = :store"] if scope.store is not None else [])])
    elif shape == "phone":
        rows = await run(_FUZZY)
    elif shape == "contact":
        params.update(kinds=_ALL_KINDS, prefix=f"{_like(query)}%")
        rows = await run(_BY_CONTACT)
        if len(rows) < limit and len(query) >= 3:
            rows += await run(_VERBATIM)
    else:
        # A name held verbatim scores ≥ 0.95, so when at least a page but fewer than
        # :probe rows hold it (the trigram index finds them), they are the page and
        # nothing is walked; when more hold it, the nearest-first walk finds the whole
        # words among them (1.0) in a few pages of the index. Below
        # three letters there is no trigram to find them by, and a word start is what a
        # two-letter query means.
        rows = await run(_VERBATIM) if len(query) >= 3 else []
        if len(rows) < limit or len(rows) == params["probe"]:
            # Nearest first, with `<%` pruning the walk: a bitmap scan would read every
            # row sharing the trigrams, and the planner cannot tell which is cheaper.
            await conn.execute(_NO_BITMAP)
            rows += await run(_BY_NAME)
            await conn.execute(_BITMAP)
    best: dict[str, float] = {}
    for r in rows:
        best[r.id] = max(best.get(r.id, 0.0), float(r.score))
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]
