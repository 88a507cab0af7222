"""PurchaseService over gRPC: orders and returns from POS and e-commerce. One transaction
per RPC: the purchase (or return), the customer's derived figures and computed tags, a
customer created at the till, and their events commit together."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from atelier.customer.v1 import customer_pb2, purchase_service_pb2 as api, purchase_service_pb2_grpc
from servicekit import context, names, outbox, paging
from servicekit.errors import AlreadyExists, NotFound, Violations, invalid

from . import events, guard
from .domain import access, profile, purchases as rules
from .domain.computed_tags import TagRules
from .storage import assignments, customers, mapping, matching, purchase_mapping, purchases, stats

_MATCH = ("contact_points", "given_name", "family_name", "locale")
# A concurrent first purchase of the same unknown client, or of the same order, makes one
# transaction lose on a unique constraint; replaying it once then matches what won.
_ATTEMPTS = 2


class _Retry(Exception):
    pass


class PurchaseServicer(purchase_service_pb2_grpc.PurchaseServiceServicer):
    def __init__(self, engine: AsyncEngine, tag_rules: TagRules):
        self._engine = engine
        self._rules = tag_rules

    # -- reads ---------------------------------------------------------------

    async def GetPurchase(self, request, context_):
        caller = context.principal()
        cid, pid = _purchase_name(request.name, "name")
        async with self._engine.connect() as conn:
            await guard.reached(conn, caller, cid, request.name, access.check_read)
            row = await purchases.get(conn, pid)
        if row is None or row.customer_id != cid:
            raise NotFound(request.name)
        return purchase_mapping.purchase(row)

    async def ListPurchases(self, request, context_):
        caller = context.principal()
        cid = names.parse(request.parent, "customers", "parent")
        size = paging.page_size(request.page_size)
        before = paging.decode(request.page_token, request.parent, shape=(datetime, str))
        async with self._engine.connect() as conn:
            await guard.reached(conn, caller, cid, request.parent, access.check_read)
            rows = await purchases.page(conn, cid, before, size + 1)
        response = api.ListPurchasesResponse(purchases=[purchase_mapping.purchase(r) for r in rows[:size]])
        response.next_page_token = paging.next_token(
            rows, size, request.parent, lambda last: [last.order_time.isoformat(), last.id]
        )
        return response

    # -- writes --------------------------------------------------------------

    async def RecordPurchase(self, request, context_):
        caller = context.principal()
        now = datetime.now(timezone.utc)
        violations = Violations()
        cid = None
        if request.customer:
            try:
                cid = names.parse(request.customer, "customers", "customer")
            except Exception as exc:  # collected with the rest
                violations.items.extend(exc.violations)
            if request.contact_points:
                violations.add("contact_points", "give either customer or contact_points, not both")
        elif not request.contact_points:
            violations.add("customer", "required: the customer, or contact_points of an unknown client")
        profile_msg = customer_pb2.Customer(
            contact_points=request.contact_points, given_name=request.given_name,
            family_name=request.family_name, locale=request.locale,
        )
        unknown = profile.read(profile_msg, _MATCH, "", violations) if not request.customer else None
        if not request.HasField("purchase"):
            violations.add("purchase", "required")
        new = rules.read(request.purchase, "purchase.", violations, now)
        violations.raise_if_any()

        for attempt in range(_ATTEMPTS):
            try:
                async with self._engine.begin() as conn:
                    return await self._record(conn, caller, cid, unknown, new)
            except _Retry:
                if attempt == _ATTEMPTS - 1:
                    raise AlreadyExists(
                        "the order was recorded concurrently; retry", reason="CONCURRENT_PURCHASE"
                    ) from None
        raise AssertionError("unreachable")

    async def _record(self, conn, caller, cid, unknown, new: rules.NewPurchase):
        existing = await purchases.by_order(conn, new.channel, new.order_id)
        if existing is not None:
            # A replayed order: the first recording stands, whoever the replay names.
            reach = await customers.reach_and_version(conn, existing.customer_id)
            access.check_read(caller, reach[0], f"customers/{existing.customer_id}")
            return purchase_mapping.purchase(existing)

        created = None
        if cid is None:
            cid, created = await self._match_or_create(conn, caller, unknown, new)
        current = await customers.reach_and_version(conn, cid, lock=True)
        if current is None:
            raise access.missing(caller, f"customers/{cid}")
        reach = current[0]
        if created is None:
            access.check_write(caller, reach, f"customers/{cid}")

        pid = names.new_id()
        if not await purchases.insert(conn, pid, cid, new):
            raise _Retry()  # the same order committed meanwhile: the next attempt returns it
        spend: dict[str, Decimal] = {}
        for line in new.lines:
            spend[line.category] = spend.get(line.category, Decimal(0)) + line.unit_price * line.quantity
        await stats.apply(conn, cid, new.currency, new.total, 1, new.order_time, spend)
        await self._retag(conn, cid)

        recorded = purchase_mapping.purchase(await purchases.get(conn, pid))
        name = f"customers/{cid}"
        envelopes = []
        if created is not None:
            envelopes.append(events.created(mapping.customer(await customers.get(conn, cid), self._rules), caller.subject))
        envelopes.append(
            events.purchase_recorded(name, recorded, reach.home_store, created is not None, caller.subject)
        )
        await outbox.record(conn, *envelopes)
        return recorded

    async def _match_or_create(self, conn, caller, unknown: dict, new: rules.NewPurchase):
        """The customer owning one of the contact points (in the order given), or a new one
        in the purchase's store. Returns (customer id, created values or None)."""
        points = unknown["contact_points"]
        owners = await matching.owners_of(conn, points)
        if owners:
            return owners[0], None
        violations = Violations()
        profile.check_new(unknown, customer_pb2.Customer(), "", violations)
        violations.raise_if_any()
        home_store = new.store or (access.store_scope(caller) or "")
        access.check_create(caller, home_store)
        cid = names.new_id()
        values = {**unknown, "home_store": home_store}
        try:
            await customers.insert(conn, cid, values, "", profile.search_text(values))
        except AlreadyExists:
            raise _Retry() from None  # her contact point was taken meanwhile: match it next time
        holder = access.provisional_holder(caller)
        if holder:
            # As for CreateCustomer: the associate at the till holds her new client at once.
            await assignments.hold_provisionally(conn, cid, holder)
        return cid, values

    async def RecordReturn(self, request, context_):
        caller = context.principal()
        now = datetime.now(timezone.utc)
        violations = Violations()
        try:
            cid, pid = _purchase_name(request.name, "name")
        except Exception as exc:
            violations.items.extend(exc.violations)
        new = rules.read_return(request, violations, now)
        violations.raise_if_any()

        async with self._engine.begin() as conn:
            await guard.reached(conn, caller, cid, request.name, access.check_write, lock=True)
            locked = await purchases.lock(conn, pid)
            if locked is None or locked.customer_id != cid:
                raise NotFound(request.name)
            stored = await purchases.get(conn, pid)
            if any(r[0] == new.return_id for r in stored.returns):
                return purchase_mapping.purchase(stored)  # a replayed return changes nothing
            check = Violations()
            rules.check_returnable(new, {k: (v[1], v[2]) for k, v in locked.lines.items()}, locked.order_time, check)
            check.raise_if_any()
            spend: dict[str, Decimal] = {}
            for line_id, quantity in new.quantities.items():
                category, _, _, price = locked.lines[line_id]
                spend[category] = spend.get(category, Decimal(0)) - price * quantity
            amount = -sum(spend.values(), Decimal(0))
            if not await purchases.insert_return(conn, pid, cid, new, amount):
                return purchase_mapping.purchase(await purchases.get(conn, pid))
            await stats.apply(conn, cid, locked.currency, -amount, 0, locked.order_time, spend)
            await self._retag(conn, cid)
            result = purchase_mapping.purchase(await purchases.get(conn, pid))
            await outbox.record(conn, events.purchase_returned(f"customers/{cid}", result, new.return_id, caller.subject))
        return result

    async def _retag(self, conn, cid: str) -> None:
        await stats.retag(conn, cid, self._rules)


def _purchase_name(name: str, field: str) -> tuple[str, str]:
    parent, sep, rest = name.partition("/purchases/")
    if not sep:
        raise invalid(field, "required, e.g. customers/<id>/purchases/<id>")
    cid = names.parse(parent, "customers", field)
    pid = names.parse(f"purchases/{rest}", "purchases", field)
    return cid, pid
