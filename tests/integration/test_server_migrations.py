"""The packaged migrations: they run on both backends, match the models, and the CLI runs them."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from ringrift.ops.services import PostgresCluster
from ringrift.rules import GameState, apply_move, legal_moves, new_game
from ringrift.server.cli import db_app
from ringrift.server.db import migrate
from ringrift.server.db.models import Base, Game, MoveRecord

TABLES = {
    "users",
    "refresh_token_families",
    "refresh_tokens",
    "games",
    "game_seats",
    "moves",
    "game_snapshots",
    "rating_history",
    "account_tokens",
    "reports",
    "matchmaking_entries",
    "rematch_offers",
    "chat_messages",
    "alembic_version",
}


# (board, players, plies): a fresh game, a swap-rule game past the offer, a 3-player game.
TO_CONVERT = [("square8", 2, 0), ("square8", 2, 9), ("hex8", 3, 40)]


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


def _downgrade_on(connection: Connection, revision: str) -> None:
    cfg = migrate.alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


def _played(board: str, players: int, plies: int, seed: int) -> GameState:
    rng = random.Random(seed)
    state = new_game(board, players, {"swapRuleEnabled": players == 2})
    for _ in range(plies):
        state = apply_move(state, rng.choice(legal_moves(state)))
    return state


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_0002_strips_move_history_and_the_downgrade_restores_it(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    """Games stored with their history (revision 0001) keep playing identically without it."""
    url = _fresh_url(request, backend, tmp_path)
    await migrate.upgrade(url, "0001")
    games_table, moves_table = Game.__table__, MoveRecord.__table__
    played = {str(uuid.uuid4()): _played(b, n, k, k) for b, n, k in TO_CONVERT}
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for game_id, state in played.items():
                doc = {**state.to_json(), "gameId": game_id}
                await conn.execute(
                    games_table.insert().values(
                        id=game_id,
                        board_type=state.board_type,
                        max_players=state.num_players,
                        status="active",
                        version=state.move_count,
                        state=doc,
                        current_player=state.current_player,
                    )
                )
                for number, move in enumerate(state.history, start=1):
                    await conn.execute(
                        moves_table.insert().values(
                            id=str(uuid.uuid4()),
                            game_id=game_id,
                            move_number=number,
                            player=move.player,
                            move=move.to_json(),
                            state_hash="-",
                        )
                    )
        await migrate.upgrade_engine(engine)
        async with engine.connect() as conn:
            rows = {r.id: r.state for r in await conn.execute(select(Game.id, Game.state))}
        for game_id, state in played.items():
            stored = rows[game_id]
            assert "moveHistory" not in stored
            assert stored["moveCount"] == state.move_count == len(state.history)
            lean = GameState.from_json(stored)
            assert lean.history == () and lean.move_count == state.move_count
            assert lean.state_hash() == state.state_hash()
            assert legal_moves(lean) == legal_moves(state)
            assert stored == {**state.to_json(include_history=False), "gameId": game_id}
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_on, "0001")
            assert "game_snapshots" not in await conn.run_sync(_tables)
            rows = {r.id: r.state for r in await conn.execute(select(Game.id, Game.state))}
        for game_id, state in played.items():
            assert rows[game_id]["moveHistory"] == [m.to_json() for m in state.history]
            assert GameState.from_json(rows[game_id]) == state
    finally:
        await engine.dispose()


def test_db_cli_reports_an_unreachable_database() -> None:
    result = CliRunner().invoke(
        db_app, ["upgrade", "--database-url", "postgresql+asyncpg://x@127.0.0.1:1/none"]
    )
    assert result.exit_code == 1
    assert "migration failed" in result.output
