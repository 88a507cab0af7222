"""Performance figures: set-based SQL over the service's own tables (ledger, tasks,
interaction log, assignments and their history). Two statements per request, whatever
the size of the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.access import FigureScope

# Each figure filtered to one associate, one store, or nothing. The store of an associate
# (for the assignment figures) is her row in `associates`.
_SALES = sa.text(
    """
    SELECT a.currency, COALESCE(a.channel, 0) AS channel, GROUPING(a.channel) = 1 AS total,
           sum(a.amount) AS amount, count(*) AS orders
    FROM attributions a
    WHERE a.associate_id <> '' AND a.order_time >= :start AND a.order_time < :end
      AND (CAST(:associate AS text) IS NULL OR a.associate_id = :associate)
      AND (CAST(:store AS text) IS NULL OR a.store_id = :store)
    GROUP BY GROUPING SETS ((a.currency), (a.currency, a.channel))
    ORDER BY a.currency, total DESC, channel
    """
)

_FIGURES = sa.text(
    """
    WITH
    book AS (
        SELECT count(*) AS n FROM assignments s
        LEFT JOIN associates p ON p.id = s.associate_id
        WHERE s.role = 1
          AND (CAST(:associate AS text) IS NULL OR s.associate_id = :associate)
          AND (CAST(:store AS text) IS NULL OR p.store_id = :store)
    ),
    referrals AS (
        SELECT count(DISTINCT h.customer_id) AS n
        FROM assignment_history h
        LEFT JOIN associates p ON p.id = regexp_replace(h.associate, '^associates/', '')
        WHERE h.reason = 1 AND h.role = 1 AND h.change_time >= :start AND h.change_time < :end
          AND (CAST(:associate AS text) IS NULL OR regexp_replace(h.associate, '^associates/', '') = :associate)
          AND (CAST(:store AS text) IS NULL OR p.store_id = :store)
    ),
    due AS (
        SELECT count(*) AS n,
               count(*) FILTER (WHERE t.status = 2 AND t.complete_time <= t.due_time) AS on_time
        FROM tasks t
        WHERE t.status <> 4 AND t.due_time >= :start AND t.due_time < :end AND t.due_time <= :now
          AND (CAST(:associate AS text) IS NULL OR t.associate_id = :associate)
          AND (CAST(:store AS text) IS NULL OR t.store_id = :store)
    ),
    replies AS (
        SELECT count(*) AS n,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.occur_time - i.occur_time))
                   AS median_seconds
        FROM interaction_log i
        CROSS JOIN LATERAL (
            SELECT x.occur_time, x.associate_id, x.store_id FROM interaction_log x
            WHERE x.customer_id = i.customer_id AND x.kind = 1 AND x.direction = 2
              AND x.occur_time >= i.occur_time
            ORDER BY x.occur_time LIMIT 1
        ) o
        WHERE i.kind = 1 AND i.direction = 1 AND i.occur_time >= :start AND i.occur_time < :end
          AND (CAST(:associate AS text) IS NULL OR o.associate_id = :associate)
          AND (CAST(:store AS text) IS NULL OR COALESCE(NULLIF(o.store_id, ''), i.store_id) = :store)
    ),
    till AS (
        SELECT count(*) AS n, count(*) FILTER (WHERE NOT a.customer_created) AS known
        FROM attributions a
        WHERE a.channel = 1 AND a.order_time >= :start AND a.order_time < :end
          AND (CAST(:associate AS text) IS NULL OR a.associate_id = :associate)
          AND (CAST(:store AS text) IS NULL OR a.store_id = :store)
    )
    SELECT book.n AS book_size, referrals.n AS referrals, due.n AS tasks_due, due.on_time AS tasks_on_time,
           replies.n AS answered, replies.median_seconds, till.n AS store_transactions,
           till.known AS store_transactions_known
    FROM book, referrals, due, replies, till
    """
)


@dataclass(frozen=True)
class SalesLine:
    currency: str
    channel: int
    total: bool
    amount: Decimal
    orders: int


@dataclass(frozen=True)
class Figures:
    sales: list[SalesLine]
    book_size: int
    referrals: int
    tasks_due: int
    tasks_on_time: int
    answered: int
    median_seconds: float | None
    store_transactions: int
    store_transactions_known: int


async def figures(conn: AsyncConnection, scope: FigureScope, start: datetime, end: datetime, now: datetime) -> Figures:
    params = {"associate": scope.associate, "store": scope.store, "start": start, "end": end, "now": now}
    sales = [
        SalesLine(r.currency, int(r.channel), bool(r.total), r.amount, int(r.orders))
        for r in await conn.execute(_SALES, params)
    ]
    r = (await conn.execute(_FIGURES, params)).one()
    return Figures(
        sales=sales,
        book_size=int(r.book_size),
        referrals=int(r.referrals),
        tasks_due=int(r.tasks_due),
        tasks_on_time=int(r.tasks_on_time),
        answered=int(r.answered),
        median_seconds=None if r.median_seconds is None else float(r.median_seconds),
        store_transactions=int(r.store_transactions),
        store_transactions_known=int(r.store_transactions_known),
    )
