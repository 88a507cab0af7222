"""SearchCustomers latency over gRPC: sequential calls (one in flight), the way an associate
types into a search box, with queries drawn from the seeded customers:

* name:  a family name, "given family", the first 4-6 letters of a family name, a given name;
* email: 5-9 characters from inside the local part, or a whole address;
* phone: the last 6-8 digits typed with spaces, or the whole number in international form.

The client is grpc.aio in the bench process; its own overhead (≈ 0.2 ms a call) is inside
the figures, so they are an upper bound of the server's.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field

import grpc

from atelier.customer.v1 import customer_service_pb2 as api
from atelier.customer.v1 import customer_service_pb2_grpc

from .seeding import SeedCustomer

CATEGORIES = ("name", "email", "phone")


@dataclass
class SearchResult:
    queries: int
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    hits: dict[str, list[int]] = field(default_factory=dict)
    found_target: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    timed: list[tuple[float, str, str, int]] = field(default_factory=list)  # (ms, category, query, results)

    def stats(self, category: str | None = None) -> dict[str, float]:
        if category is None:
            samples = [x for xs in self.latencies_ms.values() for x in xs]
        else:
            samples = self.latencies_ms.get(category, [])
        return percentiles(samples)

    def as_dict(self) -> dict:
        slowest = sorted(self.timed, reverse=True)[:12]
        out = {
            "queries": self.queries,
            "all": self.stats(),
            "errors": self.errors[:10],
            "slowest": [f"{ms:.1f} ms  {cat}  {q!r} → {n} results" for ms, cat, q, n in slowest],
        }
        for c in CATEGORIES:
            hits = self.hits.get(c, [])
            n = len(self.latencies_ms.get(c, []))
            out[c] = {
                **self.stats(c),
                "queries": n,
                "mean_results": round(statistics.fmean(hits), 1) if hits else 0,
                "target_customer_found": f"{self.found_target.get(c, 0)}/{n}",
                "examples": self.examples.get(c, [])[:6],
            }
        return out


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def pct(p: float) -> float:
        # Nearest-rank percentile.
        rank = max(1, int(-(-p * len(ordered) // 100)))
        return ordered[min(rank, len(ordered)) - 1]

    return {
        "p50": round(pct(50), 3),
        "p90": round(pct(90), 3),
        "p99": round(pct(99), 3),
        "mean": round(statistics.fmean(ordered), 3),
        "max": round(ordered[-1], 3),
    }


def build_queries(customers: list[SeedCustomer], count: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(category, query text, id of the customer it was drawn from) × count, categories interleaved."""
    rng = random.Random(seed)
    out: list[tuple[str, str, str]] = []
    with_mail = [c for c in customers if c.email]
    with_phone = [c for c in customers if c.phone]
    while len(out) < count:
        c = rng.choice(customers)
        style = rng.randrange(4)
        if style == 0:
            q = c.family_name
        elif style == 1:
            q = f"{c.given_name} {c.family_name}"
        elif style == 2:
            q = c.family_name[: rng.randint(4, 6)]
        else:
            q = c.given_name
        out.append(("name", q, c.id))
        if with_mail and len(out) < count:
            c = rng.choice(with_mail)
            local = c.email.split("@")[0]
            if rng.random() < 0.25 or len(local) <= 5:
                q = c.email
            else:
                size = rng.randint(5, min(9, len(local)))
                start = rng.randrange(0, len(local) - size + 1)
                q = local[start : start + size]
            out.append(("email", q, c.id))
        if with_phone and len(out) < count:
            c = rng.choice(with_phone)
            digits = c.phone.lstrip("+")
            if rng.random() < 0.25:
                q = _spaced("+" + digits[:2], digits[2:])
            else:
                tail = digits[-rng.randint(6, 8) :]
                q = " ".join(tail[i : i + 2] for i in range(0, len(tail), 2))
            out.append(("phone", q, c.id))
    return out[:count]


def _spaced(country: str, national: str) -> str:
    return country + " " + " ".join(national[i : i + 2] for i in range(0, len(national), 2))


async def _run(address: str, metadata: tuple, warm, queries, page_size: int) -> SearchResult:
    result = SearchResult(queries=len(queries))
    async with grpc.aio.insecure_channel(address) as channel:
        stub = customer_service_pb2_grpc.CustomerServiceStub(channel)
        for _, q, _ in warm:
            await stub.SearchCustomers(
                api.SearchCustomersRequest(query=q, page_size=page_size), metadata=metadata, timeout=30
            )
        for category, q, target in queries:
            request = api.SearchCustomersRequest(query=q, page_size=page_size)
            t0 = time.perf_counter()
            try:
                reply = await stub.SearchCustomers(request, metadata=metadata, timeout=30)
            except grpc.aio.AioRpcError as exc:
                result.errors.append(f"{q!r}: {exc.code().name} {exc.details()}")
                continue
            elapsed = (time.perf_counter() - t0) * 1000
            result.latencies_ms.setdefault(category, []).append(elapsed)
            result.hits.setdefault(category, []).append(len(reply.results))
            result.timed.append((elapsed, category, q, len(reply.results)))
            if any(r.customer.name == f"customers/{target}" for r in reply.results):
                result.found_target[category] = result.found_target.get(category, 0) + 1
            examples = result.examples.setdefault(category, [])
            if len(examples) < 6:
                examples.append(f"{q} → {len(reply.results)} results, {elapsed:.1f} ms")
    return result


def measure(
    address: str, metadata: tuple, customers: list[SeedCustomer], count: int, warmup: int = 30, page_size: int = 10
) -> SearchResult:
    queries = build_queries(customers, count + warmup)
    # The warm-up uses its own queries, so the measured ones are not cache-hot repeats.
    return asyncio.run(_run(address, metadata, queries[:warmup], queries[warmup:], page_size))
