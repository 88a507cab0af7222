"""The state directory of a local mesh: where it is, its dev secrets, and its lock.

Layout of STATE (default ./.atelier):
    postgres/                 embedded PostgreSQL data
    nats/                     embedded NATS JetStream store
    logs/<process>.log        each process's full log of the current `atelier up` run
                              (postgres, nats, the services, gateway)
    secrets.json              dev secrets shared by `atelier up` and `atelier token`
    addresses.json            gRPC address of each service of the running mesh (`atelier import`)
    demo.json                 when `--demo` built the demo data (it is built once per state dir)
    up.lock                   held while an `atelier up` runs on this directory
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import IO

DEFAULT_STATE_DIR = ".atelier"
SECRETS_FILE = "secrets.json"
ADDRESSES_FILE = "addresses.json"
LOCK_FILE = "up.lock"
LOGS_DIR = "logs"
DEMO_FILE = "demo.json"

# The development token issuer/audience; the gateway is told the same values.
JWT_ISSUER = "atelier-dev"
JWT_AUDIENCE = "atelier"

SECRET_NAMES = ("ATELIER_INTERNAL_SECRET", "ATELIER_JWT_SECRET")
# What an atelier state dir may contain; --fresh refuses to wipe anything else.
_KNOWN_ENTRIES = {
    "postgres", "postgres.log", "postgres.initdb",
    "nats", "nats.log", LOGS_DIR, DEMO_FILE,
    SECRETS_FILE, LOCK_FILE, ADDRESSES_FILE,
}  # fmt: skip


class StateError(RuntimeError):
    pass


def resolve_state_dir(cli_value: str | None) -> Path:
    raw = cli_value or os.environ.get("ATELIER_STATE_DIR") or DEFAULT_STATE_DIR
    return Path(raw).expanduser().absolute()


def load_secrets(state_dir: Path) -> dict[str, str]:
    """Secrets from STATE/secrets.json ({} when absent), overridden by the environment."""
    stored: dict[str, str] = {}
    path = state_dir / SECRETS_FILE
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read {path}: {exc}") from None
    for name in SECRET_NAMES:
        if os.environ.get(name):
            stored[name] = os.environ[name]
    return stored


def ensure_secrets(state_dir: Path) -> dict[str, str]:
    """Secrets for this state dir, generating and persisting missing ones (mode 0600).

    Persisting them is what lets tokens minted by `atelier token` stay valid for the
    running mesh and across restarts.
    """
    path = state_dir / SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StateError(
                f"cannot read {path}: {exc}; fix or delete it (tokens minted before become invalid)"
            ) from None
    missing = [name for name in SECRET_NAMES if not stored.get(name)]
    if missing:
        for name in missing:
            stored[name] = secrets.token_urlsafe(32)
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
        os.replace(tmp, path)
    return load_secrets(state_dir)


def wipe_state_dir(state_dir: Path) -> None:
    """Delete everything in the state dir for --fresh, except the lock we hold.

    Refuses when the directory holds things we did not put there: a mistyped
    --state-dir must not cost someone their files.
    """
    if not state_dir.exists():
        return
    entries = [entry for entry in state_dir.iterdir() if entry.name != LOCK_FILE]
    foreign = sorted(entry.name for entry in entries if entry.name not in _KNOWN_ENTRIES)
    if foreign:
        raise StateError(
            f"refusing to wipe {state_dir}: it does not look like an Atelier state directory "
            f"(unexpected entries: {', '.join(foreign[:5])})"
        )
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def lock_state_dir(state_dir: Path) -> IO[str]:
    """Hold an exclusive lock for the lifetime of the returned file object.

    Two `atelier up` on one data directory would fight over PostgreSQL's data dir.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / LOCK_FILE, "a+")  # noqa: SIM115 (held open by the caller: that is the lock)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StateError(f"another `atelier up` is already running with state dir {state_dir}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def start_logs(state_dir: Path) -> Path:
    """STATE/logs, emptied of the previous run's logs (each run's logs start afresh; a
    process restarted during the run appends to its file)."""
    logs = state_dir / LOGS_DIR
    logs.mkdir(parents=True, exist_ok=True)
    for entry in logs.glob("*.log"):
        entry.unlink()
    return logs


def record_addresses(state_dir: Path, addresses: dict[str, str]) -> None:
    """Where each service of the running mesh listens (service name → host:port), for
    tools that talk gRPC to a service directly."""
    path = state_dir / ADDRESSES_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(addresses, indent=2))
    os.replace(tmp, path)


def load_addresses(state_dir: Path) -> dict[str, str]:
    path = state_dir / ADDRESSES_FILE
    if not path.exists():
        raise StateError(f"no {path}: is `atelier up` running with this state dir?")
    try:
        addresses = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read {path}: {exc}") from None
    if not isinstance(addresses, dict):
        raise StateError(f"cannot read {path}: not a JSON object")
    return {str(name): str(address) for name, address in addresses.items()}


def record_demo(state_dir: Path, summary: str) -> None:
    path = state_dir / DEMO_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"loaded": time.strftime("%Y-%m-%d %H:%M"), "summary": summary}, indent=2))
    os.replace(tmp, path)


def demo_loaded(state_dir: Path) -> str | None:
    """When the demo data were built in this state dir, or None."""
    try:
        recorded = json.loads((state_dir / DEMO_FILE).read_text())
    except (OSError, ValueError):
        return None
    return str(recorded.get("loaded", "earlier")) if isinstance(recorded, dict) else None
