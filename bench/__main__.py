"""`python -m bench` — what the customer service and the gateway cost, against ceilings
built from the same stack, measured in one run on this machine.

    .venv/bin/python -m bench [--customers 100000] [--quick] [--concurrency 16]
                              [--duration 10] [--warmup 2] [--queries 600] [--rounds 1]
                              [--breakdown] [--generator auto|python] [--profile DIR]
                              [--output PATH] [--keep] [--import-customers N]
                              [--skip-associate] [--skip-customer-data]

It starts its own PostgreSQL and nats-server (embedded, in a temp dir) unless
ATELIER_BENCH_DATABASE_URL (admin URL) / ATELIER_BENCH_NATS_URL name servers to use, then
runs every server under test as a process of its own:

  (a) ceilings: a bare grpc.aio echo (h2load), and uvicorn + Starlette calling that echo
      over gRPC (wrk, GET and POST);
  (b) GetCustomer over gRPC against the customer service (h2load, as a1);
  (c) GET /v1/customers/{id} through the gateway (wrk, as a2);
  (d) POST /v1/customers through the gateway, a unique customer per request (wrk, as a3);
  (e) SearchCustomers latency over N seeded customers, sequential calls;
  (f) ImportCustomers rows/s against a raw COPY ceiling (a4) measured in the same run, and
  (g) StreamCustomers clients/s and the server's peak memory (bench.customer_data, issue 3);
  (h) hand-over of a 10,000-client book and (i) ListClientBook p99 for a 2,000-client book
      (bench.associate_bench, issue 4) — each on a database of its own on the same servers.

Prints a table and writes bench/results.json (machine, versions, parameters, results,
and for every measure the CPU each process used, so a run disturbed by other work on the
machine says so). --breakdown adds the echo behind the services' interceptors; --profile
samples the servers with py-spy while they are under load.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import time
import traceback
from pathlib import Path

import grpc
import httpx
import psycopg

from atelier.customer.v1 import customer_service_pb2 as api
from atelier.customer.v1 import customer_service_pb2_grpc
from servicekit.auth import PRINCIPAL_METADATA_KEY, Principal, Role, mint_internal_token, mint_user_token

from . import cpu, generators, processes, profile, report, scale, search, seeding
from . import infra as infra_mod
from .echo import ECHO_METHOD
from .generators import GeneratorError, LoadResult
from .report import Row, ratio_row

RESULTS = Path(__file__).resolve().parent / "results.json"
BENCH_SUBJECT = "staff/bench-hq"
TOKEN_TTL = 4 * 3600
GET_CUSTOMER_PATH = "/atelier.customer.v1.CustomerService/GetCustomer"

TARGETS = {"b": 0.60, "c": 0.60, "d": 0.40}
SEARCH_P99_MS = 25.0
# A measure during which other processes used this many cores is flagged in the results.
OTHER_LOAD_WARNING = 0.15


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=100_000, help="customers seeded for search (default 100000)")
    p.add_argument("--quick", action="store_true", help="3 s per measure, 1 s warm-up, 150 search queries")
    p.add_argument("--duration", type=float, help="seconds measured per throughput measure (default 10; quick 3)")
    p.add_argument("--warmup", type=float, help="seconds of warm-up before each (default 2; quick 1)")
    p.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight for throughput measures (default 16)"
    )
    p.add_argument("--queries", type=int, help="search queries measured (default 600; quick 150)")
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="also measure the gRPC echo behind the services' interceptors (where b's gap starts)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat each ceiling/measure pair N (≤ 5) times, keep the best (default 1)",
    )
    p.add_argument(
        "--generator",
        choices=("auto", "python"),
        default="auto",
        help="auto: wrk / h2load when installed, else the Python fallbacks; python: force the fallbacks",
    )
    p.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the servers under load; collapsed stacks to DIR")
    p.add_argument(
        "--output",
        type=Path,
        help="results file (default bench/results.json; a --profile run writes none unless given)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server logs, embedded data)")
    p.add_argument(
        "--import-customers", type=int, metavar="N",
        help=f"rows imported then streamed for (f)/(g) (default {scale.DEFAULT_IMPORT_CUSTOMERS:,}; quick "
             f"{scale.QUICK_IMPORT_CUSTOMERS:,}; issue 3 asks for {scale.ISSUE_IMPORT_CUSTOMERS:,}, "
             "which takes over ten minutes on 2 cores)",
    )  # fmt: skip
    p.add_argument("--skip-associate", action="store_true", help="skip (h)/(i): hand-over and client book")
    p.add_argument("--skip-customer-data", action="store_true", help="skip (a4)/(f)/(g): import and streaming")
    args = p.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.queries = args.queries or (150 if args.quick else 600)
    args.import_default = args.import_customers is None
    if args.import_customers is None:
        args.import_customers = scale.QUICK_IMPORT_CUSTOMERS if args.quick else scale.DEFAULT_IMPORT_CUSTOMERS
    if args.import_customers < 1000:
        p.error("--import-customers must be at least 1000")
    if args.customers < 100:
        p.error("--customers must be at least 100")
    if not 1 <= args.rounds <= 5:
        p.error("--rounds must be 1 to 5")
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")
    return args


def say(message: str) -> None:
    print(message, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.internal_secret = secrets.token_hex(32)
        self.gw_secrets = processes.GatewaySecrets(internal=self.internal_secret, jwt=secrets.token_hex(32))
        self.principal = Principal(subject=BENCH_SUBJECT, role=Role.HQ)
        self.rows: dict[str, Row] = {}
        self.notes: list[str] = []
        self.details: dict = {}
        self.wrk = None if args.generator == "python" else generators.tool_version("wrk")
        self.h2load = None if args.generator == "python" else generators.tool_version("h2load")
        self.profiles: list[profile.Recording] = []
        self.pids: dict[str, int] = {}
        self.all_rows: list[Row] = []  # every run of every measure, rounds included
        self._run_digit = 0

    # -- helpers -------------------------------------------------------------

    def grpc_metadata(self) -> dict[str, str]:
        return {
            PRINCIPAL_METADATA_KEY: mint_internal_token(self.principal, self.internal_secret, ttl_seconds=TOKEN_TTL)
        }

    def bearer(self) -> dict[str, str]:
        token = mint_user_token(
            secret=self.gw_secrets.jwt, issuer=self.gw_secrets.issuer, audience=self.gw_secrets.audience,
            subject=BENCH_SUBJECT, role="hq", ttl_seconds=TOKEN_TTL,
        )  # fmt: skip
        return {"Authorization": f"Bearer {token}"}

    def fallback_why(self, tool: str) -> str:
        return "forced by --generator python" if self.args.generator == "python" else f"FALLBACK: {tool} not found"

    def next_run_digit(self) -> int:
        """One digit of the phone numbers a create run sends: ten runs against one database."""
        digit = self._run_digit
        if digit > 9:
            raise RuntimeError("more than ten create runs against one database would repeat phone numbers")
        self._run_digit += 1
        return digit

    def profile_during(self, pids: dict[str, int], label: str) -> None:
        if not self.args.profile:
            return
        for name, pid in pids.items():
            rec = profile.record(
                pid,
                f"{label}-{name}",
                self.args.profile,
                delay=self.args.warmup + 0.3,
                duration=self.args.duration - 0.6,
            )
            if rec is not None:
                self.profiles.append(rec)

    def grpc_load(self, address: str, method: str, message: bytes, expected: bytes | None) -> LoadResult:
        a = self.args
        if self.h2load:
            return generators.run_h2load(
                f"http://{address}{method}", message, self.grpc_metadata(),
                concurrency=a.concurrency, duration=a.duration, warmup=a.warmup, expected_response=expected,
            )  # fmt: skip
        return generators.run_python_grpc(
            address, method, message, self.grpc_metadata(), concurrency=a.concurrency, duration=a.duration,
            warmup=a.warmup, why=self.fallback_why("h2load"),
        )  # fmt: skip

    def http_get(self, url: str) -> LoadResult:
        a = self.args
        headers = self.bearer()
        if self.wrk:
            return generators.run_wrk(
                url, generators.wrk_get_script(headers), concurrency=a.concurrency, duration=a.duration, warmup=a.warmup
            )
        return generators.run_python_http(
            url, headers, concurrency=a.concurrency, duration=a.duration, warmup=a.warmup, why=self.fallback_why("wrk")
        )

    def http_create(self, url: str, tag: str, *, stored: bool) -> LoadResult:
        """POST a unique customer body per request; run digits keep the bodies of every run
        that stores customers apart (the echo stores nothing, so it reuses digit 0)."""
        a = self.args
        headers = self.bearer()
        warm_run, run = (self.next_run_digit(), self.next_run_digit()) if stored else (0, 0)
        if self.wrk:
            script = generators.wrk_create_script(headers, tag)
            return generators.run_wrk(
                url, script, concurrency=a.concurrency, duration=a.duration, warmup=a.warmup,
                warmup_args=(str(warm_run),), args=(str(run),),
            )  # fmt: skip
        headers = {**headers, "Content-Type": "application/json"}
        return generators.run_python_http(
            url, headers, method="POST", concurrency=a.concurrency, duration=a.duration, warmup=a.warmup,
            tag=tag, run=run, why=self.fallback_why("wrk"),
        )  # fmt: skip

    @staticmethod
    def load_row(key: str, measure: str, result: LoadResult, note: str = "") -> Row:
        lat = result.latency_ms
        notes = [note] if note else []
        if result.errors:
            notes.append(f"{result.errors} errors")
        notes.extend(n for n in result.notes if "FAILED" in n or n.startswith("errors"))
        return Row(
            key=key, measure=measure, value=result.rps, unit="req/s", generator=result.generator,
            note="; ".join(notes), detail={**result.as_dict(), "latency_ms": lat},
        )  # fmt: skip

    # -- the run -------------------------------------------------------------

    def run(self) -> int:
        a = self.args
        started = time.monotonic()
        say(f"atelier bench: {a.customers:,} customers, {a.duration:g} s per measure after {a.warmup:g} s warm-up, "
            f"{a.concurrency} in flight, {a.queries} search queries")  # fmt: skip
        if not self.wrk:
            msg = "wrk not found (apt-get install wrk): HTTP measures use the Python httpx fallback (FLAGGED)"
            if a.generator == "python":
                msg = "--generator python: HTTP measures use the Python httpx generator (FLAGGED)"
            say("NOTE: " + msg)
            self.notes.append(msg)
        if not self.h2load:
            msg = "h2load not found (apt-get install nghttp2-client): gRPC measures use the Python grpc.aio fallback (FLAGGED)"
            if a.generator == "python":
                msg = "--generator python: gRPC measures use the Python grpc.aio generator (FLAGGED)"
            say("NOTE: " + msg)
            self.notes.append(msg)
        for msg in self.scale_notes():
            say("NOTE: " + msg)
            self.notes.append(msg)

        say("starting PostgreSQL and NATS …")
        with infra_mod.provide(keep_dir=a.keep) as infra:
            procs = processes.Processes(infra.work_dir / "logs")
            if a.keep:
                say(f"    work dir (kept): {infra.work_dir}")
            try:
                self._run_with(infra, procs)
            finally:
                say("stopping servers …")
                procs.stop_all()
            self._run_scale(infra)
            pg_version = infra.postgres_version()
            nats_version = infra.nats_version()
            infra_info = {
                "postgres": "embedded" if infra.embedded_postgres else "ATELIER_BENCH_DATABASE_URL",
                "nats": "embedded" if infra.embedded_nats else "ATELIER_BENCH_NATS_URL",
            }
        elapsed = time.monotonic() - started
        self.finish(pg_version, nats_version, infra_info, elapsed)
        return 0

    def _run_with(self, infra: infra_mod.Infra, procs: processes.Processes) -> None:
        a = self.args
        say("starting the ceiling servers and the customer service …")
        echo = processes.start_grpc_echo(procs)
        http_echo = processes.start_http_echo(procs, echo.address)
        customer = processes.start_customer_service(procs, infra, self.internal_secret)
        say(f"    gRPC echo {echo.address} (pid {echo.pid}), HTTP→gRPC echo {http_echo.address} (pid {http_echo.pid}), "
            f"customer {customer.address} (pid {customer.pid})")  # fmt: skip
        self.pids = {"grpc-echo": echo.pid, "http-echo": http_echo.pid, "customer": customer.pid, **infra.pids}
        echo_i = None
        if a.breakdown:
            echo_i = processes.start_grpc_echo(procs, interceptor_secret=self.internal_secret)
            self.pids["grpc-echo-interceptors"] = echo_i.pid

        # The seeded customers' stores and the one (d) creates customers in are made known
        # to the service in the same COPY transaction (it refuses unknown home stores).
        say(f"seeding {a.customers:,} customers by COPY …")
        seeded = seeding.seed(infra.database_url, a.customers, stores=(generators.CREATE_STORE,))
        self.details["seeding"] = seeded.as_dict()
        say(f"    {len(seeded.customers):,} customers, {seeded.contact_points:,} contact points, {seeded.stores} stores: "
            f"COPY {seeded.copy_seconds:.1f} s, VACUUM ANALYZE {seeded.vacuum_seconds:.1f} s")  # fmt: skip

        target = next(c for c in seeded.customers if c.email and c.phone)
        get_request = api.GetCustomerRequest(name=f"customers/{target.id}").SerializeToString()
        expected_customer = self.check_grpc(customer.address, echo.address, target.id, get_request)

        gateway, why_not = self.start_gateway(procs, customer.address, target.id)
        if gateway is not None:
            self.pids["gateway"] = gateway.pid
        grpc_gen = "h2load" if self.h2load else "python"
        http_gen = "wrk" if self.wrk else "python"

        # Each ceiling runs right before its counterpart, with the same generator, the
        # same concurrency and the same request; with --rounds N the pairs repeat and
        # each measure keeps its best round (a busy neighbour only ever slows a run down).
        get_pairs = [
            ("a1", f"raw grpc.aio echo (ceiling) [{grpc_gen}]", {"grpc-echo": echo.pid},
             lambda: self.load_row("a1", "raw grpc.aio echo (ceiling)",
                                   self.grpc_load(echo.address, ECHO_METHOD, get_request, get_request))),
            *([("a1i", f"grpc.aio echo + the services' interceptors (breakdown) [{grpc_gen}]",
                {"grpc-echo-interceptors": echo_i.pid},
                lambda: self.load_row("a1i", "echo + service interceptors (breakdown)",
                                      self.grpc_load(echo_i.address, ECHO_METHOD, get_request, get_request)))]
              if echo_i is not None else []),
            ("b", "GetCustomer over gRPC", {"customer": customer.pid},
             lambda: self.load_row("b", "GetCustomer over gRPC",
                                   self.grpc_load(customer.address, GET_CUSTOMER_PATH, get_request, expected_customer))),
            ("a2", f"HTTP→gRPC echo GET (ceiling) [{http_gen}]", {"http-echo": http_echo.pid},
             lambda: self.load_row("a2", "HTTP→gRPC echo, GET (ceiling)", self.http_get(f"{http_echo.address}/echo/{target.id}"))),
        ]  # fmt: skip
        if gateway is not None:
            get_pairs.append(
                ("c", "GET /v1/customers/{id} through the gateway", {"gateway": gateway.pid, "customer": customer.pid},
                 lambda: self.load_row("c", "GET customer via gateway", self.http_get(f"{gateway.address}/v1/customers/{target.id}")))
            )  # fmt: skip
        self.run_rounds(get_pairs)

        # (e): search latency, sequential; before (d) adds customers.
        metadata = tuple(self.grpc_metadata().items())
        self.measure(
            "e", f"SearchCustomers over {len(seeded.customers):,} customers, {a.queries} sequential queries",
            {"customer": customer.pid},
            lambda: self.search_rows(search.measure(customer.address, metadata, seeded.customers, a.queries)),
        )  # fmt: skip

        # (a3) / (d): HTTP POST, a unique customer per request.
        tag = secrets.token_hex(3)
        before = self.count_customers(infra)
        create_pairs = [
            ("a3", f"HTTP→gRPC echo POST (ceiling) [{http_gen}]", {"http-echo": http_echo.pid},
             lambda: self.load_row("a3", "HTTP→gRPC echo, POST (ceiling)", self.http_create(f"{http_echo.address}/echo", tag, stored=False))),
        ]  # fmt: skip
        if gateway is not None:
            create_pairs.append(
                ("d", "POST /v1/customers through the gateway", {"gateway": gateway.pid, "customer": customer.pid},
                 lambda: self.load_row("d", "create customer via gateway", self.http_create(f"{gateway.address}/v1/customers", tag, stored=True)))
            )  # fmt: skip
        self.run_rounds(create_pairs)
        if gateway is not None:
            self.check_created(infra, before)
            self.details["outbox_after_creates"] = self.outbox_backlog(infra)

        if "a1i" in self.rows and self.rows["a1"].value and self.rows["a1i"].value:
            row = self.rows["a1i"]
            row.ratio, row.versus = row.value / self.rows["a1"].value, "a1"
        for key, ceiling in (("b", "a1"), ("c", "a2"), ("d", "a3")):
            if key in self.rows:
                ratio_row(self.rows[key], self.rows.get(ceiling), TARGETS[key])
            else:
                self.rows[key] = self.unavailable(key, {"c": "GET customer via gateway", "d": "create customer via gateway"}[key],
                                                  why_not, ceiling, TARGETS[key])  # fmt: skip

    def scale_notes(self) -> list[str]:
        a = self.args
        notes = []
        if not a.skip_customer_data and a.import_customers < scale.ISSUE_IMPORT_CUSTOMERS:
            why = "(--quick)" if a.quick and a.import_default else ("by default: a full run would exceed ~10 minutes on 2 cores"
                                                                      if a.import_default else "(--import-customers)")  # fmt: skip
            notes.append(
                f"import/stream (f, g) use {a.import_customers:,} customers {why}; issue 3's figure is "
                f"{scale.ISSUE_IMPORT_CUSTOMERS:,}: make bench ARGS='--import-customers {scale.ISSUE_IMPORT_CUSTOMERS}'"
            )
        if a.customers < 1_000_000:
            notes.append(
                f"search (e) runs over {a.customers:,} customers (issue 2); issue 3 also asks for search p99 at "
                "1,000,000: make bench ARGS='--customers 1000000'"
            )
        return notes

    def _run_scale(self, infra: infra_mod.Infra) -> None:
        """(a4)/(f)/(g) and (h)/(i) on the run's PostgreSQL and NATS, once the servers of (a)-(e) are stopped."""
        a = self.args
        if a.skip_associate:
            self.rows.update(scale.skipped_rows("--skip-associate", ("h", "i")))
        else:
            say(f"(h)/(i) associate service: hand-over of a {scale.BOOK:,}-client book, ListClientBook over "
                f"{scale.QUERY_BOOK:,} clients …")  # fmt: skip
            rows, detail = scale.associate_rows(infra.admin_url, infra.nats_url, infra.pids, OTHER_LOAD_WARNING)
            self.add_scale_rows(rows, detail, "associate")
        if a.skip_customer_data:
            self.rows.update(scale.skipped_rows("--skip-customer-data", ("a4", "f", "g", "g-rss")))
        else:
            say(f"(a4)/(f)/(g) customer service: COPY ceiling, ImportCustomers and StreamCustomers of "
                f"{a.import_customers:,} customers …")  # fmt: skip
            rows, detail = scale.customer_data_rows(
                infra.admin_url, infra.nats_url, a.import_customers, infra.pids, OTHER_LOAD_WARNING
            )
            self.add_scale_rows(rows, detail, "customer_data")

    def add_scale_rows(self, rows: dict[str, Row], detail: dict, name: str) -> None:
        for key, row in rows.items():
            row.detail = {}  # the module's figures go once into details, not into every row
            self.rows[key] = row
            say(f"    ({row.key}) {row.measure.strip()}: {report.format_value(row)}"
                + (f" — {row.note}" if row.note else ""))  # fmt: skip
        if detail.get("cpu"):
            for row in rows.values():
                row.detail["cpu"] = detail["cpu"]
            say("    " + cpu.describe(detail["cpu"]) + " (whole module)")
        self.details[name] = detail

    def run_rounds(self, measures) -> None:
        rounds: dict[str, list[Row]] = {}
        for number in range(self.args.rounds):
            if self.args.rounds > 1:
                say(f"  round {number + 1} of {self.args.rounds}")
            for key, label, profiled, run in measures:
                rounds.setdefault(key, []).append(self.measure(key, label, profiled if number == 0 else {}, run))
        for key, rows in rounds.items():
            best = max(rows, key=lambda r: r.value or 0.0)
            if len(rows) > 1:
                best.detail["rounds_req_per_s"] = [round(r.value or 0.0, 1) for r in rows]
                best.note = "; ".join(x for x in (best.note, f"best of {len(rows)} rounds") if x)
            self.rows[key] = best

    def check_created(self, infra, before: int) -> None:
        """Every successful POST created exactly one customer (wrk cannot read the bodies)."""
        created = self.count_customers(infra) - before
        rows = [r for r in self.all_rows if r.key == "d"]
        answered = sum(
            r.detail.get("requests", 0) - r.detail.get("errors", 0) + (r.detail.get("warmup_ok") or 0) for r in rows
        )
        check = (
            f"{created} customers inserted for {answered} successful POST responses over {len(rows)} run(s), "
            f"warm-ups included (up to {self.args.concurrency} a run may still have been in flight when the generator stopped)"
        )
        self.details["created_check"] = check
        say("    " + check)
        if self.wrk and not answered <= created <= answered + self.args.concurrency * len(rows) * 2:
            self.notes.append("created-row check FAILED: " + check)

    def measure(self, key: str, label: str, profiled: dict[str, int], run) -> Row:
        """Run one measure: optional py-spy of `profiled`, CPU accounting, then the row."""
        say(f"({key}) {label} …")
        self.profile_during(profiled, key)
        with cpu.CpuMeter(self.pids) as meter:
            row = run()
        self.show_profiles()
        usage = meter.result
        row.detail["cpu"] = usage
        if usage and usage["other_cores"] >= OTHER_LOAD_WARNING:
            busy = f"machine busy: other processes used {usage['other_cores']:.2f} cores during this measure"
            row.note = f"{row.note}; {busy}" if row.note else busy
        self.all_rows.append(row)
        self.rows[key] = row
        shown = (
            "—" if row.value is None else (f"{row.value:,.0f} req/s" if row.unit == "req/s" else f"{row.value:.1f} ms")
        )
        say(f"    {shown}{' — ' + row.note if row.note else ''}")
        say("    " + cpu.describe(usage))
        return row

    # -- checks ----------------------------------------------------------------

    def check_grpc(self, customer_address: str, echo_address: str, customer_id: str, request: bytes) -> bytes:
        """Real gRPC calls first: h2load cannot see a non-OK grpc-status (it is in the trailers)."""
        metadata = tuple(self.grpc_metadata().items())
        with grpc.insecure_channel(echo_address) as ch:
            if ch.unary_unary(ECHO_METHOD)(request, metadata=metadata, timeout=5) != request:
                raise RuntimeError("the gRPC echo does not echo")
        with grpc.insecure_channel(customer_address) as ch:
            stub = customer_service_pb2_grpc.CustomerServiceStub(ch)
            for _ in range(3):
                reply = stub.GetCustomer(api.GetCustomerRequest.FromString(request), metadata=metadata, timeout=5)
            if reply.name != f"customers/{customer_id}":
                raise RuntimeError(f"GetCustomer answered {reply.name}")
            raw = ch.unary_unary(GET_CUSTOMER_PATH)(request, metadata=metadata, timeout=5)
            try:
                ch.unary_unary(GET_CUSTOMER_PATH)(request, timeout=5)
                self.notes.append("GetCustomer without a principal did not fail")
            except grpc.RpcError as exc:
                # Confirms the check below would catch errors: they come without DATA.
                self.details["grpc_error_check"] = f"no principal → {exc.code().name} (h2load would count it as 200)"
        return raw

    def start_gateway(self, procs, customer_address: str, customer_id: str):
        say("starting the gateway …")
        reason = processes.gateway_importable()
        if reason is not None:
            reason = f"gateway not available (python -m gateway cannot import: {reason})"
            say("    " + reason)
            self.notes.append(reason)
            return None, reason
        try:
            gateway = processes.start_gateway(procs, customer_address, self.gw_secrets)
        except processes.StartError as exc:
            reason = f"gateway not available (did not start: {str(exc).splitlines()[0]})"
            say("    " + reason)
            say(str(exc))
            self.notes.append(reason)
            return None, reason
        # Functional checks: a GET and a POST answer what the API promises.
        try:
            r = httpx.get(f"{gateway.address}/v1/customers/{customer_id}", headers=self.bearer(), timeout=10)
            if r.status_code != 200 or r.json().get("name") != f"customers/{customer_id}":
                raise RuntimeError(f"GET /v1/customers/{{id}} → {r.status_code} {r.text[:300]}")
            body = generators.create_body("check", 9, 9, 1)
            r = httpx.post(
                f"{gateway.address}/v1/customers", content=body,
                headers={**self.bearer(), "Content-Type": "application/json"}, timeout=10,
            )  # fmt: skip
            if r.status_code not in (200, 201) or not r.json().get("name", "").startswith("customers/"):
                raise RuntimeError(f"POST /v1/customers → {r.status_code} {r.text[:300]}")
            r = httpx.get(f"{gateway.address}/v1/customers/{customer_id}", timeout=10)
            if r.status_code != 401:
                self.notes.append(f"gateway answered {r.status_code} to a GET without a token (expected 401)")
        except Exception as exc:
            reason = f"gateway not available (functional check failed: {exc})"
            say("    " + reason)
            self.notes.append(reason)
            procs.stop(gateway)
            return None, reason
        say(f"    gateway {gateway.address} (pid {gateway.pid})")
        return gateway, ""

    @staticmethod
    def unavailable(key: str, measure: str, why: str, ceiling: str, minimum: float) -> Row:
        return Row(key=key, measure=measure, value=None, unit="req/s", note=why, target=f"≥ {minimum:.0%} of {ceiling}")

    @staticmethod
    def count_customers(infra) -> int:
        with psycopg.connect(infra.database_url) as conn:
            return conn.execute("SELECT count(*) FROM customers").fetchone()[0]

    @staticmethod
    def outbox_backlog(infra) -> dict:
        with psycopg.connect(infra.database_url) as conn:
            total, pending = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox"
            ).fetchone()
        return {"events": total, "unpublished_right_after": pending}

    def search_rows(self, found: search.SearchResult) -> Row:
        """The p99 row (the target) and, beside it, p50 and per-category rows."""
        overall = found.stats()
        self.details["search"] = found.as_dict()
        if not overall:
            return Row(key="e", measure="search p99", value=None, unit="ms", note="; ".join(found.errors[:3]),
                       target=f"p99 ≤ {SEARCH_P99_MS:g} ms")  # fmt: skip
        generator = "grpc.aio, 1 in flight"
        self.rows["e50"] = Row(key="e", measure=f"search p50 ({found.queries} queries)", value=overall["p50"],
                               unit="ms", generator=generator)  # fmt: skip
        for category in search.CATEGORIES:
            st = found.stats(category)
            if st:
                self.rows[f"e-{category}"] = Row(
                    key="e", measure=f"  {category} queries p99 (p50 {st['p50']:.1f} ms)", value=st["p99"],
                    unit="ms", generator=generator,
                )  # fmt: skip
        say(f"    search p50 {overall['p50']:.1f} ms, p90 {overall['p90']:.1f} ms, max {overall['max']:.1f} ms; "
            + ", ".join(f"{c} p99 {found.stats(c).get('p99', 0):.1f} ms" for c in search.CATEGORIES))  # fmt: skip
        return Row(
            key="e", measure="search p99", value=overall["p99"], unit="ms", generator=generator,
            target=f"p99 ≤ {SEARCH_P99_MS:g} ms", met=overall["p99"] <= SEARCH_P99_MS,
            note=f"{len(found.errors)} errors" if found.errors else "", detail={"search": found.as_dict()},
        )  # fmt: skip

    def show_profiles(self) -> None:
        if not self.profiles:
            return
        for rec in self.profiles:
            rec.wait()
            say(f"  profile {rec.name}:" + (f" py-spy error: {rec.error[0]}" if rec.error else ""))
            say("\n".join("    " + line for line in profile.summarise(rec.path).splitlines()))
        self.profiles.clear()

    # -- results ---------------------------------------------------------------

    def finish(self, pg_version: str, nats_version: str, infra_info: dict, elapsed: float) -> None:
        a = self.args
        ordered = [
            self.rows[k]
            for k in (
                "a1",
                "a1i",
                "b",
                "a2",
                "c",
                "a3",
                "d",
                "e50",
                "e",
                "e-name",
                "e-email",
                "e-phone",
                "a4",
                "f",
                "g",
                "g-rss",
                "h",
                "i",
            )
            if k in self.rows
        ]
        say("")
        say(report.table(ordered))
        if self.notes:
            say("")
            for n in self.notes:
                say(f"note: {n}")
        versions = report.package_versions()
        versions.update(
            postgresql=pg_version,
            nats_server=nats_version,
            wrk=self.wrk or generators.tool_version("wrk"),
            h2load=self.h2load or generators.tool_version("h2load"),
        )
        document = {
            "date": report.utc_now(),
            "machine": report.machine(),
            "versions": versions,
            "parameters": {
                "customers": a.customers,
                "quick": a.quick,
                "duration_s": a.duration,
                "warmup_s": a.warmup,
                "concurrency": a.concurrency,
                "search_queries": a.queries,
                "rounds": a.rounds,
                "breakdown": a.breakdown,
                "generator": a.generator,
                "infra": infra_info,
                "principal": "hq (every store: no store filter in search)",
                "profiled": bool(a.profile),
                "import_customers": None if a.skip_customer_data else a.import_customers,
                "associate_book": None if a.skip_associate else scale.BOOK,
                "associate_query_book": None if a.skip_associate else scale.QUERY_BOOK,
                "elapsed_s": round(elapsed, 1),
            },
            "targets": {
                "b": "GetCustomer over gRPC ≥ 60 % of the raw gRPC echo (a1)",
                "c": "GET through the gateway ≥ 60 % of the HTTP→gRPC echo (a2)",
                "d": "create through the gateway ≥ 40 % of the HTTP→gRPC echo (a3, POST)",
                "e": f"search p99 ≤ {SEARCH_P99_MS:g} ms",
                "f": "ImportCustomers ≥ 40 % of the raw COPY ceiling (a4) — issue 3",
                "g": "StreamCustomers ≥ 50,000 clients/s, server peak memory < 300 MB — issue 3",
                "h": "hand-over of a 10,000-client book ≤ 10 s, every event published — issue 4",
                "i": "ListClientBook p99 ≤ 30 ms for a 2,000-client book — issue 4",
            },
            "results": {k: r.as_dict() for k, r in self.rows.items()},
            "details": self.details,
            "notes": self.notes,
        }
        output = a.output or (None if a.profile else RESULTS)
        if output is not None:
            report.write_json(output, document)
            say(f"\nresults: {output}  ({elapsed:.0f} s)")
        else:
            say(f"\n(profiled run: results not written; --output PATH to keep them)  ({elapsed:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C stops the run cleanly even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return Bench(args).run()
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        return 130
    except (processes.StartError, GeneratorError) as exc:
        print(f"\nbench failed: {exc}", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print("\nbench failed (servers stopped)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
