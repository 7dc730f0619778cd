"""SQL text handed straight to asyncpg, for the few statements on the move path.

SQLAlchemy costs about 0.3 ms of CPU per statement on top of asyncpg (statement cache lookup,
parameter processing, result wrapping, the greenlet hop), and a transaction costs two more round
trips (BEGIN, COMMIT). ``python scripts/bench_move_statements.py`` measures a move's database
work both ways: read and write through the ORM session took 1.54 ms of app CPU per move, the
same work on the driver 0.47 ms, pool checkout included (2026-12-01). A move is the app's most
frequent request, so on PostgreSQL it borrows a pooled connection and runs its SQL on the
driver, each statement committing on its own (the write is one statement).

The connection still comes from the engine's pool, so the pool's limits, its idle ping and its
recycling apply. What the session wrapper adds is kept: a connection failure becomes
:class:`DatabaseUnavailable` and the pool replaces the connections that saw the failure, and
each statement gets a client span when tracing is on. Values go in and come out as the driver
has them: JSON columns take JSON text and return parsed values (the engine's codec, set up on
connect), and timestamps are timezone-aware.
"""

from __future__ import annotations

from typing import Any

from ringrift.server.db.spans import statement_span
from ringrift.server.tracing import Tracing, mark_error


class DirectConnection:
    """A pooled asyncpg connection outside any transaction."""

    def __init__(self, driver: Any, tracing: Tracing | None, namespace: str) -> None:
        self._driver = driver
        self._tracing = tracing if tracing is not None and tracing.enabled else None
        self._namespace = namespace

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """The rows (``asyncpg.Record``, by column name) of one statement."""
        if self._tracing is None:
            return list(await self._driver.fetch(sql, *args))
        return list(await self._traced(self._driver.fetch, sql, args))

    async def execute(self, sql: str, *args: Any) -> str:
        """The command tag of one statement (``"INSERT 0 2"``)."""
        if self._tracing is None:
            return str(await self._driver.execute(sql, *args))
        return str(await self._traced(self._driver.execute, sql, args))

    async def _traced(self, run: Any, sql: str, args: tuple[Any, ...]) -> Any:
        assert self._tracing is not None
        span = statement_span(self._tracing, "postgresql", self._namespace, sql)
        if span is None:
            return await run(sql, *args)
        try:
            return await run(sql, *args)
        except BaseException as error:
            span.record_exception(error)
            mark_error(span, type(error).__name__)
            raise
        finally:
            span.end()
