"""Load generators: `wrk` for HTTP, `h2load` speaking gRPC framing for gRPC, and
multi-process Python fallbacks (httpx / grpc.aio) when a binary is missing — flagged in
the results, since a Python generator is itself the bottleneck long before the server.

Every generator runs a warm-up (not counted) and then the measured interval, with a fixed
number of requests in flight, and returns a LoadResult.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import statistics
import string
import subprocess
import tempfile
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    generator: str
    concurrency: int
    duration_s: float
    requests: int
    errors: int
    rps: float
    latency_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Successful requests of the warm-up run, when the generator reports them.
    warmup_ok: int | None = None

    def as_dict(self) -> dict:
        return {
            "warmup_ok": self.warmup_ok,
            "generator": self.generator,
            "concurrency": self.concurrency,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "errors": self.errors,
            "req_per_s": round(self.rps, 1),
            "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()},
            "notes": self.notes,
        }


class GeneratorError(RuntimeError):
    pass


def tool_version(tool: str) -> str | None:
    path = shutil.which(tool)
    if path is None:
        return None
    flag = "--version"
    try:
        out = subprocess.run([path, flag], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].split(" Copyright")[0].strip() if text else "unknown"


# ----------------------------------------------------------------------------- wrk

# A unique JSON body per request. {tid} is the wrk thread (1-based) or the Python worker,
# {run} one digit distinguishing generator runs against the same database, {n} a counter.
# The phone range +33 61… is kept free of seeded customers (bench.seeding). The home store
# must be one the service knows: the bench makes it known when it seeds (bench.seeding).
CREATE_STORE = "stores/paris-faubourg"
CREATE_BODY = (
    '{{"givenName":"Camille","familyName":"Bench","locale":"fr-FR",'
    '"homeStore":"' + CREATE_STORE + '","tier":"TIER_CLIENT",'
    '"contactPoints":[{{"kind":"CONTACT_KIND_EMAIL","value":"camille.{tag}.{run}.{tid}.{n}@bench.example"}},'
    '{{"kind":"CONTACT_KIND_PHONE","value":"+33 61{run}{tid}{n:05d}"}}]}}'
)
MAX_PER_THREAD = 99_999


def create_body(tag: str, run: int, tid: int, n: int) -> str:
    return CREATE_BODY.format(tag=tag, run=run, tid=tid, n=n)


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT %d %d %d %d %d %d %d %d %.3f %d %d %d %d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def wrk_get_script(headers: dict[str, str]) -> str:
    lines = ['wrk.method = "GET"']
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n" + _DONE


def wrk_create_script(headers: dict[str, str], tag: str) -> str:
    """POST with a unique body per request, built in Lua from the same template as
    create_body() (string.Formatter splits it into literals and per-request fields).
    The run digit is the script's first argument (`wrk … URL -- 3`), so the warm-up and
    the measured run of one script never send the same body."""
    pieces: list[str] = []
    for literal, name, spec, _ in string.Formatter().parse(CREATE_BODY):
        if literal:
            pieces.append(_lua_string(literal))
        if name is None:
            continue
        if name == "tag":
            pieces.append(_lua_string(format(tag, spec or "")))
        elif name == "run":
            pieces.append("run")
        elif name in ("tid", "n"):
            pieces.append(f'string.format("%{spec or "d"}", {name})')
        else:
            raise ValueError(f"unknown field {name} in CREATE_BODY")
    lines = [
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/json"',
        *(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()),
        "local threads = 0",
        'local run = "0"',
        "function init(args)",
        "  run = args[1] or run",
        "end",
        "function setup(thread)",
        "  threads = threads + 1",
        '  thread:set("tid", threads)',
        "end",
        "local n = 0",
        "function request()",
        f"  n = n % {MAX_PER_THREAD} + 1",
        "  local body = " + " .. ".join(pieces),
        "  return wrk.format(nil, nil, nil, body)",
        "end",
    ]
    return "\n".join(lines) + "\n" + _DONE


_WRK_LINE = re.compile(r"^BENCH_RESULT (.*)$", re.M)


def run_wrk(
    url: str,
    script: str,
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    threads: int = 1,
    warmup_args: tuple[str, ...] = (),
    args: tuple[str, ...] = (),
) -> LoadResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise GeneratorError("wrk not found")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        warm_ok = None
        if warmup > 0:
            warm = _wrk_once(wrk, url, path, concurrency, warmup, threads, warmup_args)
            warm_ok = int(warm[0] - warm[6])
        fields = _wrk_once(wrk, url, path, concurrency, duration, threads, args)
    finally:
        os.unlink(path)
    (requests, duration_us, _bytes, connect, read, write, status, timeout, mean, p50, p90, p99, mx) = fields
    errors = int(connect + read + write + status + timeout)
    notes = []
    if errors:
        notes.append(
            f"errors: connect {int(connect)}, read {int(read)}, write {int(write)}, "
            f"non-2xx/3xx {int(status)}, timeout {int(timeout)}"
        )
    seconds = duration_us / 1e6
    return LoadResult(
        generator="wrk",
        concurrency=concurrency,
        duration_s=seconds,
        requests=int(requests),
        errors=errors,
        rps=(requests - status) / seconds if seconds else 0.0,
        latency_ms={"p50": p50 / 1000, "p90": p90 / 1000, "p99": p99 / 1000, "mean": mean / 1000, "max": mx / 1000},
        notes=notes,
        warmup_ok=warm_ok,
    )


def _wrk_once(
    wrk: str, url: str, script: str, concurrency: int, seconds: float, threads: int, args: tuple[str, ...]
) -> list[float]:
    argv = [
        wrk, "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", script, url,
    ]  # fmt: skip
    if args:
        argv += ["--", *args]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    match = _WRK_LINE.search(out.stdout)
    if out.returncode != 0 or match is None:
        raise GeneratorError(f"wrk failed ({out.returncode}): {out.stdout[-800:]} {out.stderr[-800:]}")
    return [float(x) for x in match.group(1).split()]


# -------------------------------------------------------------------------- h2load


def grpc_frame(message: bytes) -> bytes:
    """The gRPC length-prefixed message: 0 (not compressed), 4-byte big-endian length."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def run_h2load(
    url: str,
    message: bytes,
    headers: dict[str, str],
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    expected_response: bytes | None = None,
    connections: int = 4,
) -> LoadResult:
    """gRPC unary calls with h2load: POST of the framed request, gRPC headers.

    h2load sees only HTTP status 200, not the grpc-status trailer, so a failing call would
    count as a success. When `expected_response` is given, the DATA bytes received must be
    exactly one framed response per completed request: an error (trailers-only, no DATA)
    or a different answer breaks that equality and fails the run.
    """
    h2load = shutil.which("h2load")
    if h2load is None:
        raise GeneratorError("h2load not found")
    connections = max(1, min(connections, concurrency))
    streams = max(1, concurrency // connections)
    with tempfile.NamedTemporaryFile("wb", suffix=".grpc", delete=False) as f:
        f.write(grpc_frame(message))
        path = f.name
    argv = [
        h2load, "-c", str(connections), "-m", str(streams), "-t", "1",
        "-d", path,
        "-H", "content-type: application/grpc",
        "-H", "te: trailers",
    ]  # fmt: skip
    for k, v in headers.items():
        argv += ["-H", f"{k}: {v}"]
    argv.append(url)
    # The warm-up is a run of its own: h2load's --warm-up-time leaves the warm-up's bytes
    # in the traffic totals (and skews req/s), which would break the response check.
    try:
        if warmup > 0:
            _h2load_once(argv, warmup)
        text = _h2load_once(argv, duration)
    finally:
        os.unlink(path)
    finished = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", text)
    counts = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
        text,
    )
    status = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    traffic = re.search(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?, .*?\((\d+)\) data", text)
    latency = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if not (finished and counts and status and traffic):
        raise GeneratorError(f"cannot read h2load output:\n{text[-1500:]}")
    if int(counts.group(3)) == 0:
        raise GeneratorError(f"h2load completed no request against {url}:\n{text[-1500:]}")
    seconds = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
    done, succeeded, failed, errored, timeouts = (int(counts.group(i)) for i in (3, 4, 5, 6, 7))
    non_2xx = sum(int(status.group(i)) for i in (2, 3, 4))
    data_bytes = int(traffic.group(3))
    notes = []
    errors = failed + errored + timeouts + non_2xx
    if expected_response is not None and succeeded:
        expected = len(grpc_frame(expected_response))
        per_request = data_bytes / succeeded
        # Every 2xx must have carried exactly the expected framed answer.
        if abs(per_request - expected) > 0.5:
            errors = max(errors, 1)
            notes.append(
                f"response check FAILED: {per_request:.1f} DATA bytes per request, expected {expected} "
                "(some calls ended with a non-OK grpc-status or another answer)"
            )
        else:
            notes.append(f"response check: {data_bytes} DATA bytes = {succeeded} × {expected} (every call answered OK)")
    mean_ms = _h2load_time_ms(latency.group(3)) if latency else float("nan")
    lat = {"mean": mean_ms}
    if latency:
        lat["min"] = _h2load_time_ms(latency.group(1))
        lat["max"] = _h2load_time_ms(latency.group(2))
    return LoadResult(
        generator="h2load",
        concurrency=connections * streams,
        duration_s=seconds,
        requests=done,
        errors=errors,
        rps=succeeded / seconds if seconds else 0.0,
        latency_ms=lat,
        notes=notes,
    )


def _h2load_once(argv: list[str], seconds: float) -> str:
    full = argv[:-1] + ["-D", str(max(1, round(seconds))), argv[-1]]
    out = subprocess.run(full, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise GeneratorError(f"h2load failed ({out.returncode}): {out.stdout[-800:]} {out.stderr[-800:]}")
    return out.stdout


def _h2load_time_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    number = float(m.group(1))
    return {"us": number / 1000, "ms": number, "s": number * 1000}[m.group(2)]


# ------------------------------------------------------------------ Python fallbacks


def _stats(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {"p50": pct(50), "p90": pct(90), "p99": pct(99), "mean": statistics.fmean(ordered), "max": ordered[-1]}


def _http_worker(spec: dict, queue) -> None:
    import asyncio

    import httpx

    async def run() -> tuple[int, int, list[float], float]:
        limits = httpx.Limits(max_connections=spec["in_flight"], max_keepalive_connections=spec["in_flight"])
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            counter = [0]
            latencies: list[float] = []
            errors = [0]
            start = time.monotonic()
            measure_from = start + spec["warmup"]
            stop_at = measure_from + spec["duration"]

            async def one_client() -> None:
                while True:
                    now = time.monotonic()
                    if now >= stop_at:
                        return
                    counter[0] += 1
                    if spec["method"] == "POST":
                        body = create_body(spec["tag"], spec["run"], spec["tid"], counter[0] % MAX_PER_THREAD)
                        request = client.post(spec["url"], content=body, headers=spec["headers"])
                    else:
                        request = client.get(spec["url"], headers=spec["headers"])
                    t0 = time.perf_counter()
                    try:
                        response = await request
                        ok = response.status_code < 400
                    except httpx.HTTPError:
                        ok = False
                    if t0 >= 0 and time.monotonic() >= measure_from:
                        latencies.append((time.perf_counter() - t0) * 1000)
                        if not ok:
                            errors[0] += 1

            await asyncio.gather(*(one_client() for _ in range(spec["in_flight"])))
            return len(latencies), errors[0], latencies, spec["duration"]

    queue.put(asyncio.run(run()))


def _grpc_worker(spec: dict, queue) -> None:
    import asyncio

    import grpc

    async def run() -> tuple[int, int, list[float], float]:
        async with grpc.aio.insecure_channel(spec["target"]) as channel:
            call = channel.unary_unary(spec["method"])
            metadata = tuple(spec["headers"].items())
            latencies: list[float] = []
            errors = [0]
            start = time.monotonic()
            measure_from = start + spec["warmup"]
            stop_at = measure_from + spec["duration"]

            async def one_client() -> None:
                while time.monotonic() < stop_at:
                    t0 = time.perf_counter()
                    try:
                        await call(spec["message"], metadata=metadata, timeout=10)
                        ok = True
                    except grpc.RpcError:
                        ok = False
                    if time.monotonic() >= measure_from:
                        latencies.append((time.perf_counter() - t0) * 1000)
                        if not ok:
                            errors[0] += 1

            await asyncio.gather(*(one_client() for _ in range(spec["in_flight"])))
            return len(latencies), errors[0], latencies, spec["duration"]

    queue.put(asyncio.run(run()))


def _run_workers(target, specs: list[dict], generator: str, concurrency: int, duration: float) -> LoadResult:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=target, args=(spec, queue), daemon=True) for spec in specs]
    for w in workers:
        w.start()
    try:
        results = [queue.get(timeout=duration + 120) for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()
    requests = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    samples = [x for r in results for x in r[2]]
    return LoadResult(
        generator=generator,
        concurrency=concurrency,
        duration_s=duration,
        requests=requests,
        errors=errors,
        rps=(requests - errors) / duration,
        latency_ms=_stats(samples),
        notes=[f"{len(specs)} worker processes; a Python generator saturates before the server does"],
    )


def _split(concurrency: int, processes: int) -> list[int]:
    processes = max(1, min(processes, concurrency))
    base, extra = divmod(concurrency, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


def run_python_http(
    url: str,
    headers: dict[str, str],
    *,
    method: str = "GET",
    concurrency: int,
    duration: float,
    warmup: float,
    processes: int = 2,
    tag: str = "",
    run: int = 0,
    why: str = "FALLBACK: wrk not found",
) -> LoadResult:
    specs = [
        dict(url=url, headers=headers, method=method, in_flight=n, duration=duration, warmup=warmup,
             tag=tag, run=run, tid=i + 1)
        for i, n in enumerate(_split(concurrency, processes))
    ]  # fmt: skip
    return _run_workers(_http_worker, specs, f"python-httpx ({why})", concurrency, duration)


def run_python_grpc(
    target: str,
    method: str,
    message: bytes,
    headers: dict[str, str],
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    processes: int = 2,
    why: str = "FALLBACK: h2load not found",
) -> LoadResult:
    specs = [
        dict(target=target, method=method, message=message, headers=headers, in_flight=n,
             duration=duration, warmup=warmup)
        for n in _split(concurrency, processes)
    ]  # fmt: skip
    return _run_workers(_grpc_worker, specs, f"python-grpc.aio ({why})", concurrency, duration)


def dump(result: LoadResult) -> str:
    return json.dumps(result.as_dict())


__all__ = [
    "GeneratorError",
    "LoadResult",
    "create_body",
    "grpc_frame",
    "run_h2load",
    "run_python_grpc",
    "run_python_http",
    "run_wrk",
    "tool_version",
    "wrk_create_script",
    "wrk_get_script",
]
