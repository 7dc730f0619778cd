"""Migration 0002_accounts on a database that already has accounts, and back down again."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from ringrift.ops.services import PostgresCluster
from ringrift.server.db import migrate

USER = {
    "id": "00000000-0000-0000-0000-000000000001",
    "email": "old@example.com",
    "username": "old",
    "username_lower": "old",
    "password_hash": "x",
}


def _downgrade(connection: Connection, revision: str) -> None:
    cfg = migrate.alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


def _columns(connection: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns(table)}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_existing_accounts_become_unverified_players(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    # Synchronous test: the session PostgreSQL fixture runs its own event loop when set up.
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
        name = "acc_" + uuid.uuid4().hex[:12]
        cluster.create_database(name)
        request.addfinalizer(lambda: cluster.drop_database(name))
        url = cluster.url(name)
    asyncio.run(_round_trip(url))


async def _round_trip(url: str) -> None:
    await migrate.upgrade(url, "0001")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (id, email, username, username_lower, password_hash,"
                    " token_version, rating, rated_games, games_played, wins, losses, draws,"
                    " failed_login_count, created_at, updated_at) VALUES (:id, :email,"
                    " :username, :username_lower, :password_hash, 0, 1500, 0, 0, 0, 0, 0, 0,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                USER,
            )
        await migrate.upgrade_engine(engine)
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT role, email_verified_at, banned_at, deleted_at FROM users")
                )
            ).one()
            assert tuple(row) == ("player", None, None, None)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert {"account_tokens", "reports"} <= tables

        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, "0001")
        async with engine.connect() as conn:
            assert "role" not in await conn.run_sync(_columns, "users")
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert not {"account_tokens", "reports"} & tables
            count = (await conn.execute(text("SELECT count(*) FROM users"))).scalar_one()
            assert count == 1  # the account survived the round trip

        await migrate.upgrade_engine(engine)
        assert await migrate.current_revision_engine(engine) == migrate.head_revision()
    finally:
        await engine.dispose()
