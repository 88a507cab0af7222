"""`atelier token`: a bearer token for the local gateway, signed with the mesh's dev secret.

The signing itself is servicekit.auth.mint_user_token; this module only finds the secret
(STATE/secrets.json written by `atelier up`, or $ATELIER_JWT_SECRET) and the options, and
says how to run `atelier token` from where the user stands (`atelier` is rarely on PATH:
it lives in the project's .venv).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

from atelierctl import state

# Staff roles only: the internal `service` identity is never carried by a user token.
ROLES = ("associate", "manager", "hq")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TokenError(RuntimeError):
    pass


def parse_duration(text: str) -> int:
    """Seconds in '90', '90s', '30m', '8h', '7d' or combinations like '1h30m'."""
    text = text.strip().lower()
    if text.isdigit():
        seconds = int(text)
    else:
        parts = re.findall(r"(\d+)([smhd])", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise TokenError(f"cannot read duration {text!r}; use e.g. 30m, 8h, 7d or seconds")
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise TokenError("duration must be positive")
    return seconds


def default_subject(role: str, associate_id: str) -> str:
    """Staff with an associate id sign in as `associates/<id>` (the subject the services
    record as the actor, e.g. for the "created on her tablet" assignment rule)."""
    return f"associates/{associate_id}" if associate_id else f"dev-{role}"


def mint_for_state(
    state_dir: Path,
    *,
    role: str,
    subject: str = "",
    associate_id: str = "",
    store: str = "",
    ttl_seconds: int = 8 * 3600,
) -> str:
    secret = state.load_secrets(state_dir).get("ATELIER_JWT_SECRET")
    if not secret:
        raise TokenError(
            f"no JWT secret in {state_dir / state.SECRETS_FILE}: run `atelier up` first "
            "(it creates the secrets) or set ATELIER_JWT_SECRET"
        )
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}")
    # Imported here so the rest of the CLI starts without the crypto stack.
    from servicekit.auth import AuthError, mint_user_token

    try:
        return mint_user_token(
            secret=secret,
            issuer=state.JWT_ISSUER,
            audience=state.JWT_AUDIENCE,
            subject=subject or default_subject(role, associate_id),
            role=role,
            associate_id=associate_id,
            store=store,
            ttl_seconds=ttl_seconds,
        )
    except AuthError as exc:  # e.g. an associate token without --store: say what is wrong
        raise TokenError(str(exc)) from None


def atelier_command(cwd: Path | None = None) -> str:
    """How to run the `atelier` of this interpreter from ``cwd`` in a shell: `atelier` when
    PATH finds this very script, else its path (relative when it is under ``cwd``, e.g.
    `.venv/bin/atelier`), else `python -m atelierctl` with this interpreter."""
    here = Path(cwd) if cwd is not None else Path.cwd()
    script = Path(sys.executable).absolute().parent / "atelier"
    if not script.is_file():
        return f"{shlex.quote(sys.executable)} -m atelierctl"
    on_path = shutil.which("atelier")
    if on_path is not None and os.path.samefile(on_path, script):
        return "atelier"
    try:
        relative = script.relative_to(here.absolute())
    except ValueError:
        return shlex.quote(str(script))
    return shlex.quote(str(relative)) if relative.parent != Path(".") else f"./{shlex.quote(str(relative))}"


def token_command(
    atelier: str, state_flag: str, *, role: str, store: str = "", associate_id: str = "", variable: str = "TOKEN"
) -> str:
    """The shell line that puts a token for this role into ``$variable``."""
    args = [f"--role {role}"]
    if store:
        args.append(f"--store {shlex.quote(store)}")
    if associate_id:
        args.append(f"--associate-id {shlex.quote(associate_id)}")
    return f"{variable}=$({atelier} token {' '.join(args)}{state_flag})"
