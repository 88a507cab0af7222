"""Optional sampling profiles of the servers while they are under load (`--profile DIR`).

Uses py-spy when it is installed (not a project dependency: `pip install py-spy`). It
samples the target process from outside at `rate` Hz without pausing it (--nonblocking),
writes collapsed stacks (one "frame;frame;frame count" line per distinct stack), and this
module summarises them: where the sampled CPU time goes, by own time and inclusive time.
A profiled run perturbs the figures, so its results are not written to results.json
unless --output is given.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


@dataclass
class Recording:
    name: str
    path: Path
    thread: threading.Thread
    error: list[str]

    def wait(self) -> None:
        self.thread.join()


def record(pid: int, name: str, out_dir: Path, *, delay: float, duration: float, rate: int = 250) -> Recording | None:
    """Start sampling `pid` after `delay` s, for `duration` s, in a background thread."""
    exe = py_spy()
    if exe is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.collapsed.txt"
    error: list[str] = []

    def run() -> None:
        import time

        time.sleep(delay)
        argv = [
            exe, "record", "--pid", str(pid), "--duration", str(max(1, round(duration))),
            "--rate", str(rate), "--format", "raw", "--output", str(path), "--nonblocking",
        ]  # fmt: skip
        out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
        if out.returncode != 0:
            error.append((out.stderr or out.stdout).strip()[-500:])

    thread = threading.Thread(target=run, name=f"py-spy-{name}", daemon=True)
    thread.start()
    return Recording(name, path, thread, error)


_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


# Frames of this checkout are shown relative to it, wherever it is cloned.
ROOT = str(Path(__file__).resolve().parent.parent)


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    file = m.group("file")
    for marker in ("site-packages/", f"{ROOT}/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({file})"


def summarise(path: Path, top: int = 25) -> str:
    try:
        text = path.read_text()
    except OSError as exc:
        return f"(no profile: {exc})"
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        count = int(m.group(2))
        frames = [_short(f) for f in m.group(1).split(";")]
        # The first frame is the thread ("process 123:..." / thread name) in py-spy's raw output.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            inclusive[f] += count
        leaf_file = frames[-1].rsplit("(", 1)[-1].rstrip(")")
        by_file[_package_of(leaf_file)] += count
    if not total:
        return "(no samples)"
    lines = [f"{total} samples"]
    lines.append("  own time by package:")
    for name, n in by_file.most_common(12):
        lines.append(f"    {n / total:6.1%}  {name}")
    lines.append("  own time by function:")
    for name, n in own.most_common(top):
        lines.append(f"    {n / total:6.1%}  {name}")
    lines.append("  inclusive time (selected frames of the project and its libraries):")
    shown = 0
    for name, n in inclusive.most_common(400):
        if any(
            k in name
            for k in (
                "services/",
                "servicekit/",
                "gateway/",
                "sqlalchemy/",
                "psycopg/",
                "grpc/",
                "json_format",
                "starlette/",
                "uvicorn/",
                "jwt/",
                "opentelemetry/",
                "phonenumbers/",
                "h11/",
            )
        ):
            lines.append(f"    {n / total:6.1%}  {name}")
            shown += 1
            if shown >= top + 15:
                break
    return "\n".join(lines)


def _package_of(file: str) -> str:
    file = file.split(":", 1)[0]
    if "/" not in file:
        return file or "?"
    parts = file.split("/")
    if parts[0] in ("services", "servicekit", "gateway", "bench"):
        return "/".join(parts[:2]) if parts[0] == "services" else parts[0]
    if parts[0].startswith("python3"):
        return f"stdlib:{parts[1] if len(parts) > 1 else parts[0]}"
    return parts[0]
