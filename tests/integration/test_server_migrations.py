"""The packaged migrations: they run on both backends, match the models, and the CLI runs them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from ringrift.ops.services import PostgresCluster
from ringrift.server.cli import db_app
from ringrift.server.db import migrate
from ringrift.server.db.models import Base

TABLES = {
    "users",
    "refresh_token_families",
    "refresh_tokens",
    "games",
    "game_seats",
    "moves",
    "rating_history",
    "matchmaking_entries",
    "alembic_version",
}


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES
            assert await conn.run_sync(_diff) == []
        assert await migrate.current_revision_engine(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


def _fresh_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    name = "cli_" + uuid.uuid4().hex[:12]
    cluster.create_database(name)
    request.addfinalizer(lambda: cluster.drop_database(name))
    return cluster.url(name)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_db_cli_upgrade_and_current(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    url = _fresh_url(request, backend, tmp_path)
    runner = CliRunner()
    before = runner.invoke(db_app, ["current", "--database-url", url])
    assert before.exit_code == 0 and "(empty database)" in before.output
    result = runner.invoke(db_app, ["upgrade", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert f"database at revision {migrate.head_revision()}" in result.output
    again = runner.invoke(db_app, ["upgrade", "--database-url", url])
    assert again.exit_code == 0, again.output  # idempotent
    after = runner.invoke(db_app, ["current", "--database-url", url])
    assert migrate.head_revision() in after.output


def test_db_cli_reports_an_unreachable_database() -> None:
    result = CliRunner().invoke(
        db_app, ["upgrade", "--database-url", "postgresql+asyncpg://x@127.0.0.1:1/none"]
    )
    assert result.exit_code == 1
    assert "migration failed" in result.output
