"""The `atelier` command line: `atelier up` runs the mesh locally, `atelier token` signs in,
`atelier import` loads customers from a file."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from atelierctl import state


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"atelier: {name} must be a port number, got {raw!r}") from None


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atelier", description="Atelier clienteling platform tools")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="run the whole mesh locally (embedded PostgreSQL and NATS, services, gateway)",
        description="Run PostgreSQL, NATS, every service and the gateway until Ctrl-C.",
    )
    up.add_argument("--fresh", action="store_true", help="wipe the state directory first")
    up.add_argument("--demo", action="store_true", help="load demo data once the mesh is ready")
    up.add_argument("--demo-count", type=int, default=300, metavar="N", help="demo customers to create (300)")
    _add_state_dir(up)
    up.add_argument(
        "--gateway-port",
        type=int,
        metavar="N",
        help="gateway HTTP port (default $ATELIER_GATEWAY_PORT, else 8080 when free, else any free port)",
    )
    up.add_argument(
        "--database-url",
        metavar="URL",
        help="use this PostgreSQL server instead of the embedded one; per-service databases are "
        "created there (default $ATELIER_EXTERNAL_DATABASE_URL)",
    )
    up.add_argument(
        "--nats-url",
        metavar="URL",
        help="use this NATS JetStream server instead of the embedded one (default $ATELIER_EXTERNAL_NATS_URL)",
    )
    up.add_argument(
        "--log-level",
        default=os.environ.get("ATELIER_LOG_LEVEL", "INFO"),
        metavar="LEVEL",
        help="level of the processes' logs in STATE/logs/ (default $ATELIER_LOG_LEVEL or INFO)",
    )
    up.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show every process's log lines in the terminal (default: warnings and errors only)",
    )
    up.add_argument("--ready-timeout", type=float, default=120.0, metavar="SECONDS", help=argparse.SUPPRESS)
    # The port tried first when --gateway-port is not given (tests use a port of their own).
    up.add_argument("--preferred-gateway-port", type=int, default=8080, metavar="N", help=argparse.SUPPRESS)
    up.set_defaults(handler=_cmd_up)

    from atelierctl.token import ROLES

    token = commands.add_parser(
        "token",
        help="print a bearer token for the local gateway",
        description="Print a JWT signed with the dev secret of the mesh in the state directory.",
    )
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument(
        "--subject", default="", help="token subject (default associates/<associate id>, or dev-<role> without one)"
    )
    token.add_argument("--associate-id", default="", help="associate id (required for --role associate)")
    token.add_argument("--store", default="", metavar="stores/X", help="store (required for associate and manager)")
    token.add_argument("--ttl", default="8h", help="lifetime, e.g. 30m, 8h, 7d (8h)")
    _add_state_dir(token)
    token.set_defaults(handler=_cmd_token)

    imp = commands.add_parser(
        "import",
        help="load customers from a CSV or JSONL export (resumable)",
        description="Stream FILE.csv or FILE.jsonl to the customer service in batches. Running the "
        "same command again after an interruption skips the batches already applied.",
    )
    imp.add_argument("file", metavar="FILE", help="a .csv (with a header row) or .jsonl file")
    imp.add_argument("--batch-size", type=int, default=1000, metavar="N", help="rows per batch (1000)")
    imp.add_argument(
        "--address",
        metavar="HOST:PORT",
        help="customer service gRPC address (default: the one `atelier up` recorded in the state dir)",
    )
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_state_dir(imp)
    imp.set_defaults(handler=_cmd_import)
    return parser


def _add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help=f"where data and dev secrets live (default $ATELIER_STATE_DIR or ./{state.DEFAULT_STATE_DIR})",
    )


def _cmd_up(args: argparse.Namespace) -> int:
    from atelierctl.up import UpOptions, run_up

    gateway_port = args.gateway_port if args.gateway_port is not None else _env_int("ATELIER_GATEWAY_PORT")
    options = UpOptions(
        state_dir=state.resolve_state_dir(args.state_dir),
        fresh=args.fresh,
        demo=args.demo,
        demo_count=args.demo_count,
        gateway_port=gateway_port,
        database_url=args.database_url or os.environ.get("ATELIER_EXTERNAL_DATABASE_URL") or None,
        nats_url=args.nats_url or os.environ.get("ATELIER_EXTERNAL_NATS_URL") or None,
        log_level=args.log_level.upper(),
        verbose=args.verbose,
        ready_timeout=args.ready_timeout,
        preferred_gateway_port=args.preferred_gateway_port,
    )
    return run_up(options)


def _cmd_token(args: argparse.Namespace) -> int:
    from atelierctl.token import TokenError, mint_for_state, parse_duration

    try:
        token = mint_for_state(
            state.resolve_state_dir(args.state_dir),
            role=args.role,
            subject=args.subject,
            associate_id=args.associate_id,
            store=args.store,
            ttl_seconds=parse_duration(args.ttl),
        )
    except (TokenError, state.StateError) as exc:
        print(f"atelier token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from atelierctl.importer import ImportFailed, report, run_import

    state_dir = state.resolve_state_dir(args.state_dir)
    try:
        address = args.address or state.load_addresses(state_dir).get("customer", "")
        secret = state.load_secrets(state_dir).get("ATELIER_INTERNAL_SECRET", "")
        if not address:
            raise state.StateError("no customer service address recorded; pass --address")
        if not secret:
            raise state.StateError(f"no internal secret in {state_dir}: run `atelier up` first")
        if not 1 <= args.batch_size <= 5000:
            raise state.StateError("--batch-size must be between 1 and 5000")
        summary = run_import(
            Path(args.file),
            address=address,
            internal_secret=secret,
            batch_size=args.batch_size,
            progress_out=None if args.quiet else sys.stderr,
        )
    except (ImportFailed, state.StateError) as exc:
        print(f"atelier import: {exc}", file=sys.stderr)
        return 2
    report(summary, sys.stdout)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
