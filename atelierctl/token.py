"""`atelier token`: a bearer token for the local gateway, signed with the mesh's dev secret.

The signing itself is servicekit.auth.mint_user_token; this module only finds the secret
(STATE/secrets.json written by `atelier up`, or $ATELIER_JWT_SECRET) and the options.
"""

from __future__ import annotations

import re
from pathlib import Path

from atelierctl import state

ROLES = ("associate", "manager", "hq", "service")
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
    try:
        # Imported here so the rest of the CLI works even when auth is broken or missing.
        from servicekit.auth import mint_user_token
    except ImportError as exc:
        raise TokenError(f"token signing is not available: {exc}") from None
    try:
        return mint_user_token(
            secret=secret,
            issuer=state.JWT_ISSUER,
            audience=state.JWT_AUDIENCE,
            subject=subject or f"dev-{role}",
            role=role,
            associate_id=associate_id,
            store=store,
            ttl_seconds=ttl_seconds,
        )
    except Exception as exc:  # e.g. an associate token without --store: say what is wrong
        raise TokenError(str(exc)) from None
