"""Claims: an associate of a customer's home store asks to become her primary associate;
the manager of that store (or headquarters) approves, which binds the customer, or
rejects."""

from __future__ import annotations

from atelier.associate.v1 import assignment_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from servicekit import names
from servicekit.auth import Principal
from servicekit.paging import Page
from servicekit.uow import Idempotent, Transactions, UnitOfWork

from ..domain import access, claims
from ..domain.assignment import Reason
from ..domain.claims import ClaimState
from ..messages import assignment as messages
from ..storage import assignments, associates
from ..storage import claims as claims_db
from . import customer_facts, holders
from .reads import by_creation, found


async def claim_customer(
    tx: Transactions, caller: Principal, request: api.ClaimClientRequest, customer_id: str, reason: str
) -> assignment_pb2.Claim:
    access.check_claim(caller)

    async def work(uow: UnitOfWork) -> assignment_pb2.Claim:
        me = await associates.get(uow.conn, caller.associate_id)
        claims.check_claimant(me, f"associates/{caller.associate_id}")
        holding, facts = await customer_facts.load(uow.conn, customer_id)
        access.check_claim_customer(caller, facts)
        claims.check_not_held(holding.primary, caller.associate_id, facts.name)
        row = await claims_db.insert(uow.conn, names.new_id(), customer_id, caller.associate_id, reason)
        return messages.claim(row)

    return await tx.run(caller, work, idempotent=Idempotent("ClaimClient", request, assignment_pb2.Claim))


async def list_claims(tx: Transactions, caller: Principal, state: int, page: Page) -> api.ListClaimsResponse:
    """The claims the caller may see (`state` 0: any), oldest first."""
    associate, store = claims.visible_to(caller)
    async with tx.read() as conn:
        rows = await claims_db.page(conn, state or None, associate, store, page.position, page.limit)
    items = [messages.claim(r) for r in page.items(rows)]
    return api.ListClaimsResponse(claims=items, next_page_token=page.next_token(rows, by_creation))


async def decide_claim(
    tx: Transactions, caller: Principal, claim_id: str, name: str, *, approve: bool, note: str
) -> assignment_pb2.Claim:
    """ApproveClaim / RejectClaim. Deciding a claim again the same way changes nothing;
    approving binds the customer to the claimant (a transfer the manager may make)."""
    async with tx.begin(caller) as uow:
        conn = uow.conn
        row = await claims_db.get_locked(conn, claim_id)
        if row is None:
            raise access.missing_claim(caller, name)
        await assignments.lock(conn, row.customer_id)
        _, facts = await customer_facts.load(conn, row.customer_id)
        access.check_decide_claim(caller, facts.home_store, name)
        if claims.decision_repeats(row.state, approve, name):
            return messages.claim(row)
        if approve:
            # Approving binds her: a transfer the decider must be allowed to make.
            access.check_transfer(caller, facts)
            claimant = found(await associates.get(conn, row.associate_id), f"associates/{row.associate_id}")
            access.check_receiver(caller, claimant, f"associates/{claimant.id}")
            await holders.make_primary(uow, row.customer_id, claimant.id, Reason.CLAIM, note or row.reason)
        state = ClaimState.APPROVED if approve else ClaimState.REJECTED
        decided = await claims_db.decide(conn, claim_id, state, note, caller.subject)
    return messages.claim(decided)
