"""The caller gate's lookup: what this service's own tables say of a member of staff now
(domain.access.standing), for the gate every RPC passes once the caller's token verified
(servicekit.callers.CallerGate, wired in app.py): a departed, suspended, moved or demoted
member of staff can do nothing here (audit item 7)."""

from __future__ import annotations

from servicekit.callers import Lookup, Standing
from servicekit.uow import Transactions

from ..domain import access
from ..storage import associates


def standings(tx: Transactions) -> Lookup:
    """The standing of an associate id, read from the associates table (None: no record)."""

    async def standing(associate_id: str) -> Standing | None:
        async with tx.read() as conn:
            return access.standing(await associates.standing(conn, associate_id))

    return standing
