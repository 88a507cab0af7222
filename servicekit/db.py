"""PostgreSQL access: SQLAlchemy 2 async engine over psycopg 3, one transaction per RPC.

Database errors are classified and described here, once for the whole runtime:

* `as_atelier_error` turns "the database is not there right now" (connection refused or
  lost, pool exhausted, server shutting down) into UNAVAILABLE, so clients retry (the
  gateway answers 503), and a serialization failure or deadlock into ABORTED;
* `describe` and `safe_traceback` render a database error without the data it may quote.
  Engines never render bound parameters (`hide_parameters=True`), and PostgreSQL's own
  messages can still quote values (`Key (email)=(...) already exists`, `Failing row
  contains (...)`, `invalid input syntax for type uuid: "..."`): logs keep the error's
  class, SQLSTATE, constraint / table / column names and the SQL text, never a DETAIL or
  a message of a class that quotes data. servicekit.telemetry applies this to every log
  record carrying such an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback

import psycopg
import sqlalchemy.exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from servicekit.errors import Aborted, AtelierError, Unavailable

# How long opening a connection may take before the call fails as UNAVAILABLE (seconds).
CONNECT_TIMEOUT = 5
# How long a call waits for a pooled connection when all are busy (seconds).
POOL_TIMEOUT = 10.0


def sqlalchemy_url(url: str, *, driver: str = "psycopg") -> str:
    """Accept plain `postgresql://` URLs (as in the environment) and pick the psycopg driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL for psycopg itself (LISTEN connections, COPY, admin)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = POOL_TIMEOUT
) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=False,
        # Errors and logs never carry bound parameters (names, e-mails, phones).
        hide_parameters=True,
        # Prepared statements server-side after first use: hot paths are a handful of
        # fixed queries.
        connect_args={"prepare_threshold": 1, "connect_timeout": CONNECT_TIMEOUT},
    )


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, without BEGIN/ROLLBACK around each use: for reads that are a single
    statement (or tolerate statements seeing different snapshots), it saves two round
    trips per call. Switching a pooled psycopg connection to autocommit is client-side."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except (sa_exc.SQLAlchemyError, psycopg.Error, OSError):
        return False


# ------------------------------------------------------------------ errors


def _driver_error(exc: BaseException) -> BaseException:
    """The psycopg error behind a SQLAlchemy wrapper, or the error itself."""
    if isinstance(exc, sa_exc.DBAPIError) and isinstance(exc.orig, BaseException):
        return exc.orig
    return exc


def is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, sa_exc.SQLAlchemyError | psycopg.Error)


_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def as_atelier_error(exc: BaseException) -> AtelierError | None:
    """The status a database failure should answer with, None for a plain fault (a bug,
    a constraint the code should have checked first: INTERNAL)."""
    if not is_database_error(exc):
        return None
    driver = _driver_error(exc)
    if isinstance(driver, psycopg.Error) and driver.sqlstate in _CONFLICT_SQLSTATES:
        return Aborted("the transaction conflicted with a concurrent one; retry", reason="TRANSACTION_CONFLICT")
    unavailable = (
        isinstance(driver, psycopg.OperationalError | psycopg.InterfaceError)
        or isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError | sa_exc.InterfaceError)
        or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)
    )
    if unavailable:
        return Unavailable("the database is unavailable; retry shortly", reason="DATABASE_UNAVAILABLE")
    return None


# SQLSTATE classes whose primary message names objects but never quotes a value:
# connection, integrity constraint (the values are in DETAIL), transaction rollback,
# syntax / access rule, insufficient resources, prerequisite state, operator
# intervention, system error, internal error. Class 22 (data exception: `invalid input
# syntax for type uuid: "..."`) and P0 (raised by functions) may quote data.
_SAFE_MESSAGE_CLASSES = frozenset({"08", "23", "40", "42", "53", "55", "57", "58", "XX"})


def _describe_driver(exc: BaseException) -> str:
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if not isinstance(exc, psycopg.Error):
        return f"{name}: {exc}"
    parts = [name]
    state = exc.sqlstate
    if state:
        parts.append(f"SQLSTATE {state}")
    diag = exc.diag
    for label, value in (
        ("constraint", diag.constraint_name),
        ("table", diag.table_name),
        ("column", diag.column_name),
        ("type", diag.datatype_name),
    ):
        if value:
            parts.append(f"{label} {value}")
    connection_level = state is None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    if connection_level or (state is not None and state[:2] in _SAFE_MESSAGE_CLASSES):
        message = diag.message_primary if state else str(exc)
        parts.append(f"message: {(message or '').strip()}")
    else:
        parts.append("message withheld: it may quote data")
    return "; ".join(parts)


def describe(exc: BaseException) -> str:
    """One line about a database error that quotes no data (see the module docstring)."""
    if isinstance(exc, sa_exc.StatementError):
        driver = _driver_error(exc)
        inner = _describe_driver(driver) if driver is not exc else type(exc).__qualname__
        statement = " ".join((exc.statement or "").split())
        if len(statement) > 300:
            statement = statement[:300] + "…"
        return f"{type(exc).__module__}.{type(exc).__qualname__} ({inner}) [SQL: {statement}]"
    if isinstance(exc, psycopg.Error):
        return _describe_driver(exc)
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


def _chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """The exception and those it was raised from, innermost first, each with the line
    that introduces the next one."""
    found: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of the following exception:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = (
                current.__context__,
                "During handling of the above exception, another exception occurred:",
            )
        else:
            current = None
    # Innermost first, as Python prints them; each entry's sentence follows it.
    return found[::-1]


def chain_has_database_error(exc: BaseException) -> bool:
    return any(is_database_error(e) for e, _ in _chain(exc))


def safe_traceback(exc: BaseException) -> str:
    """The traceback Python would print, with every database error's message replaced by
    `describe` (frames show code, never values)."""
    lines: list[str] = []
    for error, link in _chain(exc):
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(error.__traceback__))
        if is_database_error(error):
            lines.append(describe(error) + "\n")
        else:
            lines.extend(traceback.format_exception_only(type(error), error))
        if link:
            lines.append(f"\n{link}\n\n")
    return "".join(lines).rstrip("\n")


class DatabaseProbe:
    """Answers "does the database answer?" over a connection of its own, so a busy pool
    never makes a healthy database look down (health checks run every few seconds)."""

    def __init__(self, url: str, *, timeout: float = CONNECT_TIMEOUT):
        self._url = libpq_url(url)
        self._timeout = timeout
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def ok(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=max(1, int(self._timeout))
                )
            await asyncio.wait_for(self._conn.execute("SELECT 1"), self._timeout)
            return True
        except (psycopg.Error, OSError):  # TimeoutError is an OSError
            await self.close()
            return False

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()


_TABLES_WITH_COLUMN = text(
    """
    SELECT table_name::text FROM information_schema.columns
    WHERE table_schema = current_schema() AND column_name = :column
      AND table_name IN (SELECT table_name FROM information_schema.tables
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')
    ORDER BY table_name
    """
)


async def tables_with_column(conn: AsyncConnection, column: str) -> list[str]:
    """The service's own tables that have `column` (e.g. every table holding rows about a
    customer, for export and erasure: a new table is covered without being listed)."""
    return [r[0] for r in await conn.execute(_TABLES_WITH_COLUMN, {"column": column})]
