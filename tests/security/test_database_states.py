"""While PostgreSQL shuts down (SQLSTATE 57P03 for new connections) the app answers 503
SERVER_DATABASE_UNAVAILABLE, not 500."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from realtime_support import Process, app_process

from ringrift.ops.services import PostgresCluster
from ringrift.server.db import migrate


@pytest.fixture
def private_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    asyncio.run(migrate.upgrade(cluster.url()))
    yield cluster
    cluster.destroy()


def _smart_stop_no_wait(cluster: PostgresCluster) -> None:
    """``pg_ctl stop -m smart`` without waiting: existing sessions go on, new connections are
    refused with 57P03 "the database system is shutting down"."""
    result = cluster._run(
        [cluster._bin("pg_ctl"), "-D", str(cluster.data_dir), "-m", "smart", "-W", "stop"]
    )
    assert result.returncode == 0, result.stderr


async def test_shutting_down_database_is_503(private_cluster: PostgresCluster) -> None:
    holder = await asyncpg.connect(private_cluster.dsn)
    try:
        _smart_stop_no_wait(private_cluster)
        with pytest.raises(asyncpg.CannotConnectNowError):
            for _ in range(50):  # the postmaster enters shutdown within moments
                probe = await asyncpg.connect(private_cluster.dsn)
                await probe.close()
                await asyncio.sleep(0.1)
        app: Process = app_process(private_cluster.url()).start()
        try:
            async with httpx.AsyncClient(base_url=app.url, timeout=15) as http:
                for request in (
                    http.post(
                        "/api/auth/login",
                        json={"email": "a@example.com", "password": "whatever-it-is"},
                    ),
                    http.get("/api/users/some-id"),
                ):
                    response = await request
                    assert response.status_code == 503, response.text
                    error = response.json()["error"]
                    assert error["code"] == "SERVER_DATABASE_UNAVAILABLE"
                    assert response.headers["Retry-After"]
        finally:
            app.stop()
    finally:
        await holder.close()
