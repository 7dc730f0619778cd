"""The app's PostgreSQL pool against a real server: connections back from a moment ago are
reused without a ping (a BEGIN + ROLLBACK per transaction otherwise), and a connection that
sat idle through a server restart is replaced before it is handed out, so the first request
after the restart succeeds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from ringrift.ops.services import PostgresCluster
from ringrift.server.config import Settings
from ringrift.server.db.session import PING_IDLE_SECONDS, create_engine


@pytest.fixture
def private_pg() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.destroy()


def _settings(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url, db_pool_size=2, db_max_overflow=0)  # type: ignore[call-arg]


async def _backend_pid(engine: object) -> int:
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_busy_connections_skip_the_ping_and_idle_ones_survive_a_restart(
    private_pg: PostgresCluster,
) -> None:
    engine = create_engine(_settings(private_pg.url()))
    pings: list[int] = []
    dialect = engine.sync_engine.dialect
    real_ping = dialect.do_ping

    def counted_ping(dbapi_conn: object) -> bool:
        pings.append(1)
        return real_ping(dbapi_conn)  # type: ignore[arg-type]

    dialect.do_ping = counted_ping  # type: ignore[method-assign]
    try:
        first = await _backend_pid(engine)
        for _ in range(20):  # back-to-back transactions on the same connection: no ping
            assert await _backend_pid(engine) == first
        assert pings == []

        await asyncio.sleep(PING_IDLE_SECONDS + 0.2)
        assert await _backend_pid(engine) == first  # idle: pinged, alive, kept
        assert len(pings) == 1

        private_pg.stop()
        private_pg.start()
        await asyncio.sleep(PING_IDLE_SECONDS + 0.2)
        # The pooled connection died with the old server; the ping finds out and the pool
        # hands out a fresh one, so this request does not fail.
        after = await _backend_pid(engine)
        assert after != first
        assert len(pings) == 2
    finally:
        await engine.dispose()
