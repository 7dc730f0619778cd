"""Engine and session factory, plus the classification of "the database is unavailable".

PostgreSQL connections use a short connect timeout and a command timeout, and the pool pings a
connection that sat idle before handing it out, so a restarted server is picked up without an
app restart.
SQLite gets WAL mode, foreign keys and a busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

from ringrift.server import codec
from ringrift.server.config import Settings
from ringrift.server.db.direct import DirectConnection
from ringrift.server.db.spans import instrument_engine
from ringrift.server.security.files import create_private
from ringrift.server.tracing import Tracing


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            # The database holds password hashes and emails: owner-only from the start (SQLite
            # gives its -wal and -shm files the database file's mode).
            path = Path(url.database)
            if path.parent.is_dir():
                create_private(path)
        engine = create_async_engine(
            url,
            connect_args={"timeout": settings.sqlite_busy_timeout_seconds},
            pool_pre_ping=True,
            json_serializer=codec.dumps,
            json_deserializer=codec.loads,
        )
        busy_ms = int(settings.sqlite_busy_timeout_seconds * 1000)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if url.database and url.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        return engine
    if backend == "postgresql":
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            pool_recycle=1800,
            json_serializer=codec.dumps,
            json_deserializer=codec.loads,
            connect_args={
                "timeout": settings.db_connect_timeout_seconds,
                "command_timeout": settings.db_command_timeout_seconds,
                "server_settings": {"application_name": "ringrift-app"},
            },
        )
        ping_when_idle(engine, PING_IDLE_SECONDS)
        return engine
    raise ValueError(
        f"unsupported DATABASE_URL backend {backend!r}: use sqlite+aiosqlite or postgresql+asyncpg"
    )


# A pooled connection back within this many seconds is handed out without a ping.
PING_IDLE_SECONDS = 1.0


def ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Ping a pooled connection before handing it out only when it sat idle for
    ``idle_seconds``. SQLAlchemy's ``pool_pre_ping`` pings on every checkout: with asyncpg that
    is a BEGIN and a ROLLBACK, two round trips per transaction, and 6% of the app's CPU at
    200 concurrent games. A connection checked in a moment ago was working a moment ago; one
    that waited (through a restart or a failover, say) is pinged, and a failed ping makes the
    pool replace it (``DisconnectionError``), as pre-ping does. A connection that dies while
    it is busy fails its statement, and the pool invalidates it (a disconnect error)."""
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["ringrift_checked_in"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("ringrift_checked_in")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or back a moment ago
        try:
            alive = dialect.do_ping(dbapi_conn)
        except (dialect.loaded_dbapi.Error, OSError, TimeoutError) as error:
            # What pre-ping treats as a dead connection: any driver error.
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            raise exc.DisconnectionError("ping failed")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# SQLSTATEs that mean "this server cannot serve you now" rather than "your query is wrong":
# class 08 (connection exceptions), 53300 too many connections, 53400 configuration limit,
# 57014 query cancelled (statement timeout), 57P01 admin shutdown, 57P02 crash shutdown,
# 57P03 cannot connect now (starting up or shutting down), 57P04 database dropped,
# 57P05 idle session timeout.
_UNAVAILABLE_SQLSTATES = frozenset(
    {"53300", "53400", "57014", "57P01", "57P02", "57P03", "57P04", "57P05"}
)
_UNAVAILABLE_SQLSTATE_CLASSES = ("08",)

# SQLite messages (sqlite3.OperationalError) that mean the file cannot be used right now.
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    "readonly database",
)


def _driver_errors(error: BaseException) -> list[BaseException]:
    """``error`` and everything underneath it: SQLAlchemy's ``orig``, the asyncpg adapter's
    cause, and the ``__cause__``/``__context__`` chain (cycles and depth bounded)."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(seen) < 16:
        current = pending.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        for attribute in ("orig", "__cause__", "__context__"):
            inner = getattr(current, attribute, None)
            if isinstance(inner, BaseException):
                pending.append(inner)
    return seen


def _sqlstate(error: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(error, attribute, None)
        if isinstance(value, str) and len(value) == 5:
            return value
    return None


def _is_connection_problem(error: BaseException) -> bool:
    """Classify by what the driver said (SQLSTATE, OS error, SQLite message), not by the class
    name of whatever wrapped it."""
    for inner in _driver_errors(error):
        state = _sqlstate(inner)
        if state is not None:
            if state in _UNAVAILABLE_SQLSTATES or state.startswith(_UNAVAILABLE_SQLSTATE_CLASSES):
                return True
            continue
        if isinstance(inner, ConnectionError | TimeoutError | asyncio.TimeoutError | OSError):
            return True
        if type(inner).__module__.startswith("asyncpg") and type(inner).__name__ in {
            "ConnectionDoesNotExistError",
            "InterfaceError",
            "InternalClientError",
        }:
            return True
        if type(inner).__module__ == "sqlite3" and any(
            text in str(inner).lower() for text in _SQLITE_UNAVAILABLE
        ):
            return True
    return False


def is_database_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached or is shutting down, starting
    up or overloaded, as opposed to a bug in a query or a constraint violation."""
    if isinstance(error, exc.TimeoutError):  # pool checkout timed out
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return _is_connection_problem(error)


class DatabaseUnavailable(Exception):
    """Raised (from the original driver error) when the database cannot serve a request."""


def _unavailable(error: BaseException) -> DatabaseUnavailable:
    return DatabaseUnavailable(str(error) or type(error).__name__)


class Database:
    """Owns the engine and hands out sessions whose connection failures become
    :class:`DatabaseUnavailable` (rendered as 503 ``SERVER_DATABASE_UNAVAILABLE``)."""

    def __init__(self, settings: Settings, tracing: Tracing | None = None) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessionmaker = create_sessionmaker(self.engine)
        self.backend = self.engine.dialect.name
        # ``direct()`` serves PostgreSQL through asyncpg only.
        self.has_direct = self.backend == "postgresql" and self.engine.dialect.driver == "asyncpg"
        self._tracing = tracing
        self._namespace = make_url(settings.database_url).database or ""
        if self.backend == "sqlite":
            self._namespace = Path(self._namespace).name  # the file, not where it lives
        if tracing is not None:
            instrument_engine(self.engine.sync_engine, tracing, self.backend, self._namespace)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self.sessionmaker() as session:
                yield session
        except DatabaseUnavailable:
            raise
        except Exception as error:
            if is_database_unavailable(error):
                raise _unavailable(error) from error
            raise

    @contextlib.asynccontextmanager
    async def direct(self) -> AsyncIterator[DirectConnection]:
        """A pooled connection for SQL on the driver (``has_direct``; see ``db.direct``),
        returned on exit. Nothing runs on it through SQLAlchemy, so no transaction is opened:
        each statement commits on its own. A connection failure is
        :class:`DatabaseUnavailable`, and the pool replaces that connection and every one
        opened before it."""
        if not self.has_direct:
            raise RuntimeError("direct connections are for PostgreSQL through asyncpg")
        try:
            # The pool's connection itself, without SQLAlchemy's Connection around it: half
            # the cost of a checkout and return (47 against 104 us, measured).
            fairy = await self.engine.raw_connection()
        except Exception as error:
            if is_database_unavailable(error):
                raise _unavailable(error) from error
            raise
        try:
            yield DirectConnection(fairy.driver_connection, self._tracing, self._namespace)
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            if isinstance(error, TimeoutError):
                # A statement past the command timeout: this connection is in an unknown
                # state, the others are not.
                await greenlet_spawn(fairy.invalidate, error)
            else:
                # What SQLAlchemy does when one of its statements finds the server gone: this
                # connection and every one opened before it are replaced (pooled ones on their
                # next checkout), since they saw the same server.
                await greenlet_spawn(self.engine.sync_engine.pool._invalidate, fairy, error)
            raise _unavailable(error) from error
        except asyncio.CancelledError:
            # Cancelled, perhaps in the middle of a statement: not handed out again.
            await greenlet_spawn(fairy.invalidate)
            raise
        finally:
            # Back to the pool (closing it instead when the pool is full), in a greenlet: the
            # pool's own clean-up may await the driver.
            await greenlet_spawn(fairy.close)

    async def ping(self) -> None:
        """Run ``SELECT 1`` on a fresh checkout (pre-ping included)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as error:
            if is_database_unavailable(error):
                raise _unavailable(error) from error
            raise

    async def dispose(self) -> None:
        await self.engine.dispose()
