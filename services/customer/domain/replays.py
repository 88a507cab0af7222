"""Replays of writes keyed by an id the caller's system chose (a till's order id, a
webhook's external id), without I/O.

Tills and webhooks re-send what they are not sure was recorded. The same id with the
same request is a replay: it records nothing and answers what the first one recorded.
The same id with another request (other lines, amounts, customer, text, ...) is a
conflict, refused with FAILED_PRECONDITION (as a reused `request_id` is), the reason
saying which and the field naming the id, rather than silently answering with what was
recorded first. Requests are compared by a fingerprint: a digest of the values the
service read from them (normalised), stored with the row.

Rows recorded before fingerprints were stored have none: a replay of one answers the
stored row, as it always did.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, is_dataclass
from datetime import datetime
from decimal import Decimal

from servicekit.errors import FailedPrecondition

ORDER_ID_REUSED = "ORDER_ID_REUSED"
EXTERNAL_ID_REUSED = "EXTERNAL_ID_REUSED"


def _plain(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize())
    return value


def fingerprint(*parts: object) -> str:
    """A digest of the request's values (dataclasses, dicts, lists, times, amounts)."""
    text = json.dumps([_plain(p) for p in parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_replay(stored: str | None, given: str, *, field: str, reason: str, what: str) -> None:
    """Raise when a row recorded under the same id came from another request."""
    if stored is not None and stored != given:
        raise FailedPrecondition(
            f"{what} was already recorded from a different request; a replay must repeat it exactly",
            reason=reason,
            metadata={"field": field},
        )
