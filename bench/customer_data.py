"""What the customer service's bulk paths cost: ImportCustomers against a raw COPY
ceiling measured in the same run, and StreamCustomers' rate and the server's peak memory.

    .venv/bin/python -m bench.customer_data [--customers 1000000] [--batch 5000]

or from the bench driver: `customer_data.run(admin_url=..., nats_url=...) -> dict`.

  copy_ceiling_rows_per_s: the same rows (profile + one e-mail contact point) COPY'd by a
      Python client straight into tables shaped like `customers` and `contact_points`
      (same columns, indexes and constraints), in one transaction — what the database can
      take with no service in between.
  import_rows_per_s: ImportCustomers from a Python gRPC client streaming pre-built
      batches, from the first message until the response (every batch committed, every
      customer.created event in the outbox). Target: ≥ 40 % of the ceiling.
  stream_customers_per_s / stream_peak_rss_mb: StreamCustomers of the whole imported
      segment (one home store) in chunks of 1,000; the server's resident memory is sampled
      every 20 ms while it streams. Targets: ≥ 50,000 customers/s, < 300 MB.

The customer service runs as a process of its own on a fresh database. The store every
row names is made known to it first, as the associate service's store_created event would
(bench.stores): the service refuses rows whose home store it does not know.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import grpc
import psycopg

from atelier.customer.v1 import customer_pb2, customer_service_pb2_grpc, segment_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from bench import stores
from bench.sandbox import service_sandbox
from servicekit.auth import PRINCIPAL_METADATA_KEY, Principal, Role, mint_internal_token

IMPORT_SHARE_TARGET = 0.40
STREAM_RATE_TARGET = 50_000
STREAM_RSS_TARGET_MB = 300
STORE = "stores/bench-import"


def _profile(i: int) -> tuple[str, str, str, int, str]:
    return (f"Given{i}", f"Family{i}", "fr-FR", 1 + i % 4, f"client{i}@bench.example")


def _copy_ceiling(database_url: str, n: int) -> float:
    rows = [_profile(i) for i in range(n)]
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE ceiling_customers (LIKE customers INCLUDING ALL)")
        conn.execute("CREATE TABLE ceiling_contacts (LIKE contact_points INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy(
                "COPY ceiling_customers (id, given_name, family_name, locale, home_store, tier, search_text) FROM STDIN"
            ) as copy:
                for i, (g, f, loc, tier, mail) in enumerate(rows):
                    copy.write_row((f"c{i}", g, f, loc, STORE, tier, f"{g} {f} {mail}".lower()))
            with cur.copy("COPY ceiling_contacts (customer_id, kind, value, is_primary, position) FROM STDIN") as copy:
                for i, (*_, mail) in enumerate(rows):
                    copy.write_row((f"c{i}", 1, mail, True, 0))
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE ceiling_customers, ceiling_contacts")
        conn.commit()
    return n / elapsed


def _batches(n: int, batch: int) -> list[api.ImportCustomersRequest]:
    out = []
    for start in range(0, n, batch):
        request = api.ImportCustomersRequest(import_id="bench", batch_id=f"rows-{start}")
        for i in range(start, min(start + batch, n)):
            g, f, loc, tier, mail = _profile(i)
            customer = customer_pb2.Customer(given_name=g, family_name=f, locale=loc, home_store=STORE, tier=tier)
            customer.contact_points.add(kind=customer_pb2.CONTACT_KIND_EMAIL, value=mail)
            request.rows.add(row_number=i + 1, customer=customer)
        out.append(request)
    return out


def _rss_sampler(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            return
        stop.wait(0.02)


def _measure(proc: subprocess.Popen, address: str, database_url: str, secret: str, n: int, batch: int) -> dict:
    stores.make_known(database_url, [STORE])
    ceiling = _copy_ceiling(database_url, n)
    metadata = ((PRINCIPAL_METADATA_KEY, mint_internal_token(Principal("staff/bench-hq", Role.HQ), secret, 3600)),)
    batches = _batches(n, batch)
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        stub = customer_service_pb2_grpc.CustomerServiceStub(channel)
        started = time.perf_counter()
        reply = stub.ImportCustomers(iter(batches), metadata=metadata, timeout=3600)
        import_rate = n / (time.perf_counter() - started)
        del batches
        if reply.accepted != n:
            why = ""
            if reply.rejected_rows:
                first = reply.rejected_rows[0]
                why = f"; row {first.row_number}: " + ", ".join(
                    f"{v.field}: {v.description}" for v in first.field_violations
                )
            raise RuntimeError(f"import accepted {reply.accepted} of {n} rows ({reply.rejected} rejected{why})")

        peak, stop = [0], threading.Event()
        sampler = threading.Thread(target=_rss_sampler, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        started = time.perf_counter()
        count = 0
        request = api.StreamCustomersRequest(segment=segment_pb2.Segment(home_stores=[STORE]), chunk_size=1000)
        for chunk in stub.StreamCustomers(request, metadata=metadata, timeout=3600):
            count += len(chunk.customers)
        stream_rate = count / (time.perf_counter() - started)
        stop.set()
        sampler.join()
    rss_mb = peak[0] / 1024
    return {
        "customers": n,
        "copy_ceiling_rows_per_s": round(ceiling),
        "import_rows_per_s": round(import_rate),
        "import_share_of_ceiling": round(import_rate / ceiling, 3),
        "import_target_share": IMPORT_SHARE_TARGET,
        "import_ok": import_rate / ceiling >= IMPORT_SHARE_TARGET,
        "streamed": count,
        "stream_customers_per_s": round(stream_rate),
        "stream_peak_rss_mb": round(rss_mb, 1),
        "stream_ok": stream_rate >= STREAM_RATE_TARGET and rss_mb < STREAM_RSS_TARGET_MB and count == n,
    }


def run(
    *, admin_url: str | None = None, nats_url: str | None = None, customers: int = 1_000_000, batch: int = 5000
) -> dict:
    """Measure on the given servers (an admin PostgreSQL URL — a database is created and
    dropped — and a NATS URL with JetStream), or on embedded ones started here."""
    with service_sandbox("customer", admin_url=admin_url, nats_url=nats_url) as box:
        return _measure(box.proc, box.address, box.database_url, box.secret, customers, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    result = run(
        admin_url=os.environ.get("ATELIER_BENCH_DATABASE_URL") or None,
        nats_url=os.environ.get("ATELIER_BENCH_NATS_URL") or None,
        customers=args.customers,
        batch=args.batch,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
