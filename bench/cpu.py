"""Where the CPU went during a measure: each server process (PostgreSQL with its
backends), the load generator, and everything else on the machine ("other": a busy
neighbour makes every figure of that measure lower, so the results say so)."""

from __future__ import annotations

import os
import resource
import time

import psutil

_CLK = os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLK


def _tree_cpu(pid: int, with_children: bool) -> dict[int, float]:
    out: dict[int, float] = {}
    try:
        root = psutil.Process(pid)
        procs = [root, *(root.children(recursive=True) if with_children else [])]
    except psutil.Error:
        return out
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    if with_children:
        # Backends that exit during a measure (a connection closed) leave the tree; their
        # CPU moves to the parent's reaped-children times, kept under the negative pid.
        try:
            t = root.cpu_times()
            out[-pid] = t.children_user + t.children_system
        except psutil.Error:
            pass
    return out


def _generator_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class CpuMeter:
    """`with CpuMeter({"customer": pid, "postgres": pid}) as m: …` then `m.result`."""

    TREES = ("postgres",)  # processes whose children count too (PostgreSQL backends)

    def __init__(self, pids: dict[str, int]):
        self.pids = {k: v for k, v in pids.items() if v}
        self.result: dict = {}

    def _snapshot(self) -> dict[str, dict[int, float]]:
        return {name: _tree_cpu(pid, name in self.TREES) for name, pid in self.pids.items()}

    def __enter__(self) -> CpuMeter:
        self._t0 = time.monotonic()
        self._busy0 = _machine_busy_seconds()
        self._gen0 = _generator_seconds()
        self._procs0 = self._snapshot()
        self._self0 = _own_seconds()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.monotonic() - self._t0
        busy = _machine_busy_seconds() - self._busy0
        gen = _generator_seconds() - self._gen0
        after = self._snapshot()
        procs: dict[str, float] = {}
        for name, now in after.items():
            before = self._procs0.get(name, {})
            procs[name] = sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in now.items())
            if name in self.TREES:
                # What exited backends had used before the measure is inside their parent's
                # reaped-children time now, so it is not this measure's.
                gone = sum(cpu for pid, cpu in before.items() if pid > 0 and pid not in now)
                procs[name] = max(0.0, procs[name] - gone)
        # The bench process itself: the search client, the Python fallbacks' parent.
        procs["bench"] = _own_seconds() - self._self0
        ours = sum(procs.values()) + gen
        if wall <= 0:
            return
        self.result = {
            "wall_s": round(wall, 2),
            "machine_cores_busy": round(busy / wall, 2),
            "cores": {name: round(v / wall, 2) for name, v in procs.items()},
            "generator_cores": round(gen / wall, 2),
            "other_cores": round(max(0.0, busy - ours) / wall, 2),
        }


def _own_seconds() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def describe(result: dict) -> str:
    if not result:
        return ""
    parts = [f"{name} {cores:.2f}" for name, cores in result["cores"].items() if cores >= 0.02]
    parts.append(f"generator {result['generator_cores']:.2f}")
    parts.append(f"other {result['other_cores']:.2f}")
    return "CPU cores: " + ", ".join(parts) + f" (machine {result['machine_cores_busy']:.2f} of {os.cpu_count()})"
