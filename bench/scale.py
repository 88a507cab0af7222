"""The issue 3 and issue 4 measures inside `python -m bench`: customer_data (ImportCustomers
against a raw COPY ceiling, StreamCustomers rate and server memory) and associate_bench
(hand-over of a 10,000-client book, ListClientBook latency), run on the harness's own
PostgreSQL and NATS, turned into rows of the same table.

Each module starts its service as a child of the bench process and reaps it before it
returns, so bench.cpu counts that service's CPU among the bench's children ("generator"):
here it is reported as "services", and "other" stays what the rest of the machine used.
"""

from __future__ import annotations

import traceback

from . import associate_bench, cpu, customer_data
from .report import Row, ratio_row

# Issue 3 asks for 1,000,000 rows; on a 2-core box that alone takes well over ten minutes
# (≈ 2,600 rows/s imported, ≈ 3,600 clients/s streamed), so the default is smaller.
ISSUE_IMPORT_CUSTOMERS = 1_000_000
DEFAULT_IMPORT_CUSTOMERS = 200_000
QUICK_IMPORT_CUSTOMERS = 50_000
BOOK = 10_000
QUERY_BOOK = 2_000
BOOK_QUERIES = 400


def _metered(pids: dict[str, int], run) -> tuple[dict | None, dict, str]:
    """(result or None, CPU usage, error text) of one module run."""
    result, error = None, ""
    with cpu.CpuMeter(pids) as meter:
        try:
            result = run()
        except Exception as exc:  # one module failing leaves the rest of the table standing
            error = f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            traceback.print_exc()
    usage = meter.result
    if usage:
        usage["cores"]["services"] = usage.pop("generator_cores")
        usage["generator_cores"] = 0.0
    return result, usage, error


def _busy(usage: dict, threshold: float) -> str:
    if usage and usage["other_cores"] >= threshold:
        return f"machine busy: other processes used {usage['other_cores']:.2f} cores during this module"
    return ""


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def customer_data_rows(
    admin_url: str, nats_url: str, customers: int, pids: dict[str, int], busy_threshold: float
) -> tuple[dict[str, Row], dict]:
    result, usage, error = _metered(
        pids, lambda: customer_data.run(admin_url=admin_url, nats_url=nats_url, customers=customers)
    )
    busy = _busy(usage, busy_threshold)
    detail = {"cpu": usage, "customer_data": result}
    size = f"{customers:,}"
    rows: dict[str, Row] = {}
    if result is None:
        for key, measure, unit, target in (
            ("a4", f"raw COPY of {size} rows (ceiling)", "rows/s", ""),
            ("f", f"ImportCustomers, {size} rows", "rows/s", f"≥ {customer_data.IMPORT_SHARE_TARGET:.0%} of a4"),
            ("g", f"StreamCustomers, {size}-client segment", "clients/s", f"≥ {customer_data.STREAM_RATE_TARGET:,}/s"),
            ("g-rss", "  StreamCustomers server peak RSS", "MB", f"< {customer_data.STREAM_RSS_TARGET_MB} MB"),
        ):
            rows[key] = Row(key=key.split("-")[0], measure=measure, value=None, unit=unit, target=target,
                            note=_join(error, busy), detail=detail)  # fmt: skip
        return rows, detail
    rows["a4"] = Row(
        key="a4", measure=f"raw COPY of {size} rows (ceiling)", value=result["copy_ceiling_rows_per_s"], unit="rows/s",
        generator="psycopg COPY, 1 tx", note=busy, detail=detail,
    )  # fmt: skip
    rows["f"] = ratio_row(
        Row(key="f", measure=f"ImportCustomers, {size} rows", value=result["import_rows_per_s"], unit="rows/s",
            generator="grpc client stream, 5,000/batch", note=busy, detail=detail),
        rows["a4"], customer_data.IMPORT_SHARE_TARGET,
    )  # fmt: skip
    streamed_all = result["streamed"] == customers
    short = "" if streamed_all else f"streamed {result['streamed']:,} of {customers:,}"
    rate = result["stream_customers_per_s"]
    rows["g"] = Row(
        key="g", measure=f"StreamCustomers, {size}-client segment", value=rate, unit="clients/s",
        generator="grpc server stream, 1,000/chunk", target=f"≥ {customer_data.STREAM_RATE_TARGET:,}/s",
        met=rate >= customer_data.STREAM_RATE_TARGET and streamed_all, note=_join(short, busy), detail=detail,
    )  # fmt: skip
    rss = result["stream_peak_rss_mb"]
    rows["g-rss"] = Row(
        key="g", measure="  StreamCustomers server peak RSS", value=rss, unit="MB", generator="/proc VmRSS every 20 ms",
        target=f"< {customer_data.STREAM_RSS_TARGET_MB} MB", met=rss < customer_data.STREAM_RSS_TARGET_MB, detail=detail,
    )  # fmt: skip
    return rows, detail


def associate_rows(
    admin_url: str, nats_url: str, pids: dict[str, int], busy_threshold: float
) -> tuple[dict[str, Row], dict]:
    result, usage, error = _metered(
        pids,
        lambda: associate_bench.run(
            admin_url=admin_url, nats_url=nats_url, book=BOOK, query_book=QUERY_BOOK, queries=BOOK_QUERIES
        ),
    )
    busy = _busy(usage, busy_threshold)
    detail = {"cpu": usage, "associate": result}
    handover_target = f"≤ {associate_bench.HANDOVER_TARGET_SECONDS:g} s"
    book_target = f"p99 ≤ {associate_bench.BOOK_P99_TARGET_MS:g} ms"
    rows: dict[str, Row] = {}
    if result is None:
        rows["h"] = Row(key="h", measure=f"hand-over of a {BOOK:,}-client book", value=None, unit="s",
                        target=handover_target, note=_join(error, busy), detail=detail)  # fmt: skip
        rows["i"] = Row(key="i", measure=f"ListClientBook p99, {QUERY_BOOK:,}-client book", value=None, unit="ms",
                        target=book_target, note=_join(error, busy), detail=detail)  # fmt: skip
        return rows, detail
    h, b = result["handover"], result["client_book"]
    moved_all = h["moved"] == h["book"]
    rows["h"] = Row(
        key="h", measure=f"hand-over of a {h['book']:,}-client book to {h['colleagues']} colleagues",
        value=h["seconds"], unit="s", generator="DepartAssociate → outbox all published",
        target=handover_target, met=moved_all and h["seconds"] <= associate_bench.HANDOVER_TARGET_SECONDS,
        note=_join(
            f"assignments committed after {h['assignments_seconds']:.2f} s, {h['events']:,} events",
            "" if moved_all else f"only {h['moved']:,} of {h['book']:,} clients moved", busy,
        ),
        detail=detail,
    )  # fmt: skip
    rows["i"] = Row(
        key="i", measure=f"ListClientBook p99, {b['book']:,}-client book (p50 {b['p50_ms']:.1f} ms, {b['queries']} queries)",
        value=b["p99_ms"], unit="ms", generator="grpc, 1 in flight", target=book_target,
        met=b["p99_ms"] <= associate_bench.BOOK_P99_TARGET_MS, note=busy, detail=detail,
    )  # fmt: skip
    return rows, detail


def skipped_rows(flag: str, keys: tuple[str, ...]) -> dict[str, Row]:
    names = {
        "a4": ("raw COPY (ceiling)", "rows/s", ""),
        "f": ("ImportCustomers", "rows/s", f"≥ {customer_data.IMPORT_SHARE_TARGET:.0%} of a4"),
        "g": ("StreamCustomers", "clients/s", f"≥ {customer_data.STREAM_RATE_TARGET:,}/s"),
        "g-rss": ("  StreamCustomers server peak RSS", "MB", f"< {customer_data.STREAM_RSS_TARGET_MB} MB"),
        "h": (f"hand-over of a {BOOK:,}-client book", "s", f"≤ {associate_bench.HANDOVER_TARGET_SECONDS:g} s"),
        "i": (
            f"ListClientBook p99, {QUERY_BOOK:,}-client book",
            "ms",
            f"p99 ≤ {associate_bench.BOOK_P99_TARGET_MS:g} ms",
        ),
    }
    return {
        k: Row(
            key=k.split("-")[0],
            measure=names[k][0],
            value=None,
            unit=names[k][1],
            target=names[k][2],
            note=f"skipped ({flag})",
        )
        for k in keys
    }
