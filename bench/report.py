"""The printed table and bench/results.json."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Row:
    key: str
    measure: str
    value: float | None  # req/s or ms; None when not measured
    unit: str
    generator: str = ""
    ratio: float | None = None  # of the ceiling named in `versus`
    versus: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "measure": self.measure,
            "value": None if self.value is None else round(self.value, 3 if self.unit in ("ms", "s") else 1),
            "unit": self.unit,
            "generator": self.generator,
            "ratio_to_ceiling": None if self.ratio is None else round(self.ratio, 3),
            "ceiling": self.versus or None,
            "target": self.target or None,
            "met": self.met,
            "note": self.note or None,
            "server_cpu_ms_per_request": None
            if cpu_ms_per_request(self) is None
            else round(cpu_ms_per_request(self), 3),
            "detail": self.detail,
        }


def ratio_row(row: Row, ceiling: Row | None, minimum: float) -> Row:
    """Fill ratio / target / met of `row` against `ceiling` (same generator and concurrency)."""
    row.target = f"≥ {minimum:.0%} of {ceiling.key if ceiling else '?'}"
    if ceiling is not None and ceiling.value and row.value is not None:
        row.ratio = row.value / ceiling.value
        row.versus = ceiling.key
        row.met = row.ratio >= minimum
    return row


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "cpu_model": model,
        "ram_gib": ram_gib,
        "kernel": platform.release(),
        "hostname": platform.node(),
    }


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in (
        "grpcio",
        "protobuf",
        "SQLAlchemy",
        "psycopg",
        "psycopg-binary",
        "starlette",
        "uvicorn",
        "nats-py",
        "PyJWT",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    # What uvicorn picks with http="auto" / loop="auto" (the gateway and the ceiling alike).
    out["uvicorn_http"] = "httptools" if importlib.util.find_spec("httptools") else "h11"
    out["uvicorn_loop"] = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return out


def format_value(row: Row) -> str:
    if row.value is None:
        return "—"
    if row.unit == "ms":
        return f"{row.value:.1f} ms"
    if row.unit == "s":
        return f"{row.value:.2f} s"
    if row.unit == "MB":
        return f"{row.value:.0f} MB"
    return f"{row.value:,.0f} {row.unit}"


def cpu_ms_per_request(row: Row) -> float | None:
    """CPU time all server processes (PostgreSQL included) spent per answered request:
    steadier than req/s on a shared machine, since a neighbour delays work more than it
    inflates it."""
    usage = row.detail.get("cpu") or {}
    if row.unit != "req/s" or not row.value or not usage.get("cores"):
        return None
    cores = sum(v for name, v in usage["cores"].items() if name != "bench")
    return cores / row.value * 1000


def _cpu(row: Row) -> str:
    usage = row.detail.get("cpu") or {}
    cores = usage.get("cores", {})
    shown = [
        f"{name} {v:.2f}" for name, v in sorted(cores.items(), key=lambda kv: -kv[1]) if v >= 0.05 and name != "bench"
    ]
    return ", ".join(shown)


def table(rows: list[Row]) -> str:
    header = (
        "",
        "measure",
        "result",
        "vs ceiling",
        "target",
        "met?",
        "generator",
        "server CPU/req",
        "CPU cores used (server processes)",
    )
    lines = []
    body = []
    for r in rows:
        ratio = f"{r.ratio:.0%} of {r.versus}" if r.ratio is not None else ("ceiling" if r.key.startswith("a") else "")
        met = "—" if r.met is None else ("yes" if r.met else "NO")
        per_req = cpu_ms_per_request(r)
        body.append((r.key, r.measure, format_value(r), ratio, r.target, met, r.generator,
                     f"{per_req:.2f} ms" if per_req else "", _cpu(r)))  # fmt: skip
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines.append(fmt.format(*header))
    lines.append("  ".join("-" * w for w in widths))
    for x in body:
        lines.append(fmt.format(*x))
    notes = [f"  {r.key}: {r.note}" for r in rows if r.note]
    if notes:
        lines.append("")
        lines.append("notes:")
        lines.extend(notes)
    return "\n".join(lines)


def write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
