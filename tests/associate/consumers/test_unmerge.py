"""The `assignment` and `book` consumers on customer.unmerged (audit item 28): the
customer an unmerge brought back was left with no associate and in no pool. She is held
by the usual rules again: her previous primary associate if she still holds books, else
her home store's least-loaded active associate, else the headquarters pool; her
client-book entry is back."""

from __future__ import annotations

from atelier.customer.v1 import customer_pb2
from atelier.events.v1 import associate_events_pb2 as ev
from atelier.events.v1 import customer_events_pb2 as cev
from servicekit import event_types
from servicekit.events import new_envelope

from ..support import (
    aid,
    bound,
    customer_created,
    eventually,
    make_associate,
    make_store,
    merged,
    primary_of,
    publish,
    uid,
)

Reason = ev.AssignmentReason


def unmerged(survivor: str, duplicate: str, home_store: str, merge: str):
    restored = customer_pb2.Customer(name=f"customers/{duplicate}", given_name="Mei", home_store=home_store)
    return new_envelope(
        event_type=event_types.CUSTOMER_UNMERGED,
        source="customer",
        subject=f"customers/{duplicate}",
        payload=cev.CustomerUnmerged(
            survivor=f"customers/{survivor}", duplicate=f"customers/{duplicate}", merge=merge, customer=restored
        ),
        actor="staff/hq-1",
    )


async def _merged_away(associate_service, adb, store: str, referral_code: str) -> tuple[str, str]:
    """A duplicate bound by referral, merged into a survivor: (survivor, duplicate)."""
    survivor, duplicate = f"c-{uid()}", f"c-{uid()}"
    await publish(
        associate_service,
        customer_created(survivor, store),
        customer_created(duplicate, store, referral_code=referral_code),
    )
    await bound(adb, duplicate)
    await bound(adb, survivor)
    await publish(associate_service, merged(survivor, duplicate))

    async def gone():
        return await primary_of(adb, duplicate) is None

    await eventually(gone)
    return survivor, duplicate


async def _in_book(adb, customer_id: str) -> bool:
    cur = await adb.execute("SELECT given_name FROM book_customers WHERE customer_id = %s", (customer_id,))
    return (await cur.fetchone()) == ("Mei",)


async def test_an_unmerged_customer_goes_back_to_her_previous_associate(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    await make_associate(associate_stub, store.name)  # would win the store rule
    referrer = await make_associate(associate_stub, store.name)
    survivor, duplicate = await _merged_away(associate_service, adb, store.name, referrer.referral_code)

    await publish(associate_service, unmerged(survivor, duplicate, store.name, "merges/m-1"))
    assert await bound(adb, duplicate) == (aid(referrer), Reason.ASSIGNMENT_REASON_REFERRAL)
    await eventually(lambda: _in_book(adb, duplicate))
    cur = await adb.execute(
        "SELECT associate, note FROM assignment_history WHERE customer_id = %s ORDER BY id DESC LIMIT 1", (duplicate,)
    )
    assert await cur.fetchone() == (aid(referrer), "restored by merges/m-1")


async def test_without_her_previous_associate_the_store_rule_then_the_pool_holds_her(
    associate_service, associate_stub, adb
):
    store = await make_store(associate_stub)
    referrer = await make_associate(associate_stub, store.name)
    survivor, duplicate = await _merged_away(associate_service, adb, store.name, referrer.referral_code)
    await adb.execute("UPDATE associates SET status = 3 WHERE id = %s", (aid(referrer),))  # she left meanwhile
    colleague = await make_associate(associate_stub, store.name)
    await publish(associate_service, unmerged(survivor, duplicate, store.name, "merges/m-2"))
    assert await bound(adb, duplicate) == (aid(colleague), Reason.ASSIGNMENT_REASON_STORE_RULE)

    # A store with nobody to hold her: the headquarters pool.
    empty = await make_store(associate_stub)
    leaver = await make_associate(associate_stub, empty.name)
    survivor, duplicate = await _merged_away(associate_service, adb, empty.name, leaver.referral_code)
    await adb.execute("UPDATE associates SET status = 3 WHERE id = %s", (aid(leaver),))
    await publish(associate_service, unmerged(survivor, duplicate, empty.name, "merges/m-3"))

    async def pooled():
        cur = await adb.execute("SELECT reason FROM hq_pool WHERE customer_id = %s", (duplicate,))
        return await cur.fetchone()

    assert await eventually(pooled) == (Reason.ASSIGNMENT_REASON_HQ_POOL,)
