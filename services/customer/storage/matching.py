"""Finding the customer behind contact points given at the till."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.contacts import PHONE_KINDS
from ..domain.matching import Owned
from ..domain.profile import ContactPoint

# A phone number given at the till also finds the client known by her WhatsApp number
# (both are E.164), and the other way round.
_OWNERS = sa.text(
    """
    SELECT t.ord - 1 AS position, p.customer_id
    FROM unnest(CAST(:kinds AS smallint[]), CAST(:vals AS text[])) WITH ORDINALITY AS t(kind, value, ord)
    JOIN contact_points p
      ON p.value = t.value
     AND (p.kind = t.kind OR (p.kind = ANY(CAST(:phones AS smallint[])) AND t.kind = ANY(CAST(:phones AS smallint[]))))
    ORDER BY t.ord, p.kind = t.kind DESC
    """
)


async def owners_of(conn: AsyncConnection, points: list[ContactPoint]) -> list[Owned]:
    """The customers owning each of the points (by position in `points`), in the order
    of the points given, the same kind before the other phone kind."""
    if not points:
        return []
    rows = await conn.execute(
        _OWNERS,
        {"kinds": [p.kind for p in points], "vals": [p.value for p in points], "phones": [int(k) for k in PHONE_KINDS]},
    )
    return [Owned(int(r.position), r.customer_id) for r in rows]
