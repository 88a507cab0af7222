"""`atelier import FILE.csv|jsonl`: load a legacy CRM / POS export into the customer
service through ImportCustomers, with a progress bar on stderr.

Rows are sent in fixed-size batches whose ids are their row ranges, under an import id
derived from the file's content and the batch size. Running the same command again after
an interruption therefore re-sends the same batches, and the service skips the ones it
has already applied: the import resumes where it stopped, and nothing is loaded twice.

CSV columns (header row; all optional except a name): customer_id, given_name,
family_name, preferred_name, locale, home_store, tier (VIP, TIER_VIP or 3), email, phone,
whatsapp, wechat, line, tags (separated by ";"), preferences ("category=value;..."),
birthday (YYYY-MM-DD, or MM-DD when the year is unknown), referral_code.
JSONL: one customer per line in the API's JSON form (as GET /v1/customers/{id} returns
it), plus an optional "customerId".
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import grpc
from google.protobuf import json_format

from atelier.customer.v1 import customer_pb2, customer_service_pb2_grpc
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.auth import PRINCIPAL_METADATA_KEY, Principal, Role, mint_internal_token

DEFAULT_BATCH = 1000
_KINDS = {
    "email": customer_pb2.CONTACT_KIND_EMAIL,
    "phone": customer_pb2.CONTACT_KIND_PHONE,
    "whatsapp": customer_pb2.CONTACT_KIND_WHATSAPP,
    "wechat": customer_pb2.CONTACT_KIND_WECHAT,
    "line": customer_pb2.CONTACT_KIND_LINE,
}


class ImportFailed(RuntimeError):
    """The file cannot be imported; the message says why."""


@dataclass
class Summary:
    accepted: int = 0
    merged: int = 0
    rejected: int = 0
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    rejected_rows: list[api.RejectedRow] = field(default_factory=list)
    batches_applied: int = 0
    batches_skipped: int = 0


def import_id_of(path: Path, batch_size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"{digest.hexdigest()[:32]}-b{batch_size}"


def _tier(raw: str) -> customer_pb2.Tier.ValueType:
    raw = raw.strip().upper()
    if not raw:
        return customer_pb2.TIER_UNSPECIFIED
    if raw.isdigit():
        return customer_pb2.Tier.ValueType(int(raw))
    return customer_pb2.Tier.Value(raw if raw.startswith("TIER_") else f"TIER_{raw}")


def customer_from_csv(record: dict[str, str]) -> tuple[str, customer_pb2.Customer]:
    def get(column: str) -> str:
        return (record.get(column) or "").strip()

    msg = customer_pb2.Customer(
        given_name=get("given_name"),
        family_name=get("family_name"),
        preferred_name=get("preferred_name"),
        locale=get("locale"),
        home_store=get("home_store"),
        tier=_tier(get("tier")),
        referral_code=get("referral_code"),
        tags=[t for t in get("tags").split(";") if t.strip()],
    )
    for column, kind in _KINDS.items():
        for value in filter(None, (v.strip() for v in get(column).split(";"))):
            msg.contact_points.add(kind=kind, value=value)
    for item in filter(None, (p.strip() for p in get("preferences").split(";"))):
        category, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"preference {item!r} is not category=value")
        msg.preferences.add(category=category, value=value)
    if get("birthday"):
        parts = [int(p) for p in get("birthday").split("-")]
        year, month, day = ([0] + parts)[-3:] if len(parts) == 2 else parts
        date = msg.important_dates.add(kind=customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY)
        date.date.year, date.date.month, date.date.day = year, month, day
    return get("customer_id"), msg


def customer_from_json(line: str) -> tuple[str, customer_pb2.Customer]:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    customer_id = str(data.pop("customerId", data.pop("customer_id", "")) or "")
    return customer_id, json_format.ParseDict(data, customer_pb2.Customer())


_Raw = TypeVar("_Raw")


def read_rows(path: Path, summary: Summary) -> Iterator[api.ImportRow]:
    """Rows of the file, numbered from 1 (the CSV header is not a row); unreadable rows
    are kept in the summary, not sent."""
    suffix = path.suffix.lower()
    with path.open(newline="", encoding="utf-8-sig") as fh:
        if suffix == ".csv":
            for number, record in enumerate(csv.DictReader(fh), start=1):
                yield from _row(number, summary, customer_from_csv, record)
        elif suffix in (".jsonl", ".ndjson"):
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    yield from _row(number, summary, customer_from_json, line)
        else:
            raise ImportFailed(f"{path.name}: expected a .csv or .jsonl file")


def _row(
    number: int, summary: Summary, parse: Callable[[_Raw], tuple[str, customer_pb2.Customer]], raw: _Raw
) -> Iterator[api.ImportRow]:
    try:
        customer_id, customer = parse(raw)
    except (ValueError, json_format.ParseError) as exc:
        summary.unreadable.append((number, str(exc)))
        return
    yield api.ImportRow(row_number=number, customer=customer, customer_id=customer_id)


class Progress:
    """A one-line progress bar on stderr (carriage return, no dependency)."""

    def __init__(self, total_bytes: int, out: IO[str]):
        self.total = max(total_bytes, 1)
        self.out = out
        self.started = time.monotonic()

    def show(self, done_bytes: float, rows: int) -> None:
        share = min(done_bytes / self.total, 1.0)
        bar = "#" * int(share * 30)
        rate = rows / max(time.monotonic() - self.started, 1e-6)
        self.out.write(f"\r[{bar:<30}] {share:6.1%}  {rows:,} rows  {rate:,.0f} rows/s")
        self.out.flush()

    def done(self) -> None:
        self.out.write("\n")
        self.out.flush()


def batches(
    path: Path,
    import_id: str,
    batch_size: int,
    summary: Summary,
    progress: Progress | None,
    fh_pos: Callable[[int], float],
) -> Iterator[api.ImportCustomersRequest]:
    rows: list[api.ImportRow] = []
    sent = 0

    def request() -> api.ImportCustomersRequest:
        batch_id = f"rows-{rows[0].row_number}-{rows[-1].row_number}"
        return api.ImportCustomersRequest(import_id=import_id, batch_id=batch_id, rows=rows)

    for row in read_rows(path, summary):
        rows.append(row)
        if len(rows) == batch_size:
            yield request()
            sent += len(rows)
            rows = []
            if progress:
                progress.show(fh_pos(sent), sent)
    if rows:
        yield request()
        sent += len(rows)
    if progress:
        progress.show(progress.total, sent)


def run_import(
    path: Path,
    *,
    address: str,
    internal_secret: str,
    batch_size: int = DEFAULT_BATCH,
    progress_out: IO[str] | None = sys.stderr,
) -> Summary:
    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    summary = Summary()
    import_id = import_id_of(path, batch_size)
    principal = Principal(subject="tools/atelier-import", role=Role.HQ)
    metadata = ((PRINCIPAL_METADATA_KEY, mint_internal_token(principal, internal_secret)),)
    size = path.stat().st_size
    progress = Progress(size, progress_out) if progress_out is not None else None
    # Rows are spread evenly enough over a file for a byte estimate from the row count
    # to be a fair progress measure without a second pass to count lines.
    rows_estimate = max(sum(1 for _ in path.open("rb")) - (1 if path.suffix.lower() == ".csv" else 0), 1)

    def fh_pos(sent: int) -> float:
        return size * sent / rows_estimate

    with grpc.insecure_channel(address) as channel:
        stub = customer_service_pb2_grpc.CustomerServiceStub(channel)
        try:
            reply = stub.ImportCustomers(
                batches(path, import_id, batch_size, summary, progress, fh_pos), metadata=metadata
            )
        except grpc.RpcError as exc:
            if progress:
                progress.done()
            raise ImportFailed(f"import failed: {exc.code().name}: {exc.details()}") from None
    if progress:
        progress.done()
    summary.accepted, summary.merged, summary.rejected = reply.accepted, reply.merged, reply.rejected
    summary.rejected_rows = list(reply.rejected_rows)
    summary.batches_applied, summary.batches_skipped = reply.batches_applied, reply.batches_skipped
    return summary


def report(summary: Summary, out: IO[str]) -> None:
    print(
        f"accepted {summary.accepted:,}, merged into existing customers {summary.merged:,}, "
        f"rejected {summary.rejected + len(summary.unreadable):,} "
        f"(batches applied {summary.batches_applied}, already applied before {summary.batches_skipped})",
        file=out,
    )
    for number, why in summary.unreadable[:50]:
        print(f"  row {number}: unreadable: {why}", file=out)
    for r in summary.rejected_rows[:50]:
        reasons = "; ".join(f"{v.field}: {v.description}" for v in r.field_violations)
        print(f"  row {r.row_number}: {reasons}", file=out)
    hidden = len(summary.unreadable) + len(summary.rejected_rows) - 100
    if hidden > 0:
        print(f"  … and {hidden:,} more", file=out)
