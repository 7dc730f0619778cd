"""Engine and session factory, plus the classification of "the database is unavailable".

PostgreSQL connections use a short connect timeout and a command timeout, and the pool pings a
connection before handing it out, so a restarted server is picked up without an app restart.
SQLite gets WAL mode, foreign keys and a busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ringrift.server import codec
from ringrift.server.config import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
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
        return create_async_engine(
            url,
            pool_pre_ping=True,
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
    raise ValueError(
        f"unsupported DATABASE_URL backend {backend!r}: use sqlite+aiosqlite or postgresql+asyncpg"
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def _is_connection_problem(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | TimeoutError | asyncio.TimeoutError):
        return True
    if isinstance(error, OSError):
        return True
    name = type(error).__name__
    return name in {
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "InterfaceError",
        "InternalClientError",
        "TooManyConnectionsError",
        "AdminShutdownError",
        "CrashShutdownError",
        "QueryCanceledError",
    }


def is_database_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database cannot be reached or is shutting down/overloaded,
    as opposed to a bug in a query or a constraint violation."""
    if isinstance(error, exc.TimeoutError):  # pool checkout timed out
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error, exc.OperationalError | exc.InterfaceError):
            return True
        orig = error.orig
        return orig is not None and _is_connection_problem(orig)
    if isinstance(error, exc.SQLAlchemyError):
        return False
    return _is_connection_problem(error)


class DatabaseUnavailable(Exception):
    """Raised (from the original driver error) when the database cannot serve a request."""


class Database:
    """Owns the engine and hands out sessions whose connection failures become
    :class:`DatabaseUnavailable` (rendered as 503 ``SERVER_DATABASE_UNAVAILABLE``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessionmaker = create_sessionmaker(self.engine)
        self.backend = self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self.sessionmaker() as session:
                yield session
        except DatabaseUnavailable:
            raise
        except Exception as error:
            if is_database_unavailable(error):
                raise DatabaseUnavailable(str(error) or type(error).__name__) from error
            raise

    async def ping(self) -> None:
        """Run ``SELECT 1`` on a fresh checkout (pre-ping included)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as error:
            if is_database_unavailable(error):
                raise DatabaseUnavailable(str(error) or type(error).__name__) from error
            raise

    async def dispose(self) -> None:
        await self.engine.dispose()
