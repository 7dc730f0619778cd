"""The move path's statements on the PostgreSQL driver (``pgmoves``, ``Database.direct``).

They bypass the ORM, so these tests hold them to what the ORM path does: the same game and
seats as ``store.load``, exactly one commit of two racing for a version, nothing written by a
move that lost, and a database outage reported as ``DatabaseUnavailable`` and recovered from.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from server_support import bearer, make_settings, register, running_app
from sqlalchemy import func, select

from ringrift.ops.services import PostgresCluster
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, GameSeat, MoveRecord, new_id, utcnow
from ringrift.server.db.session import DatabaseUnavailable
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import pgmoves, store

TEMPLATE_DB = "ringrift_template"  # conftest's migrated template database


@dataclass
class Started:
    app: FastAPI
    ctx: AppContext
    game_id: str
    user_id: str


async def _started_game(app: FastAPI, client: Any) -> Started:
    first, second = await register(client), await register(client)
    created = await client.post(
        "/api/games",
        json={"boardType": "square8", "maxPlayers": 2, "isRated": False},
        headers=bearer(first["accessToken"]),
    )
    assert created.status_code == 201, created.text
    game_id = created.json()["data"]["game"]["id"]
    joined = await client.post(f"/api/games/{game_id}/join", headers=bearer(second["accessToken"]))
    assert joined.status_code == 200, joined.text
    return Started(app, app.state.ctx, game_id, first["user"]["id"])


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    name = "t_" + uuid.uuid4().hex[:16]
    pg_cluster.create_database(name, template=TEMPLATE_DB)
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest_asyncio.fixture
async def started(pg_url: str) -> AsyncIterator[Started]:
    async with running_app(make_settings(pg_url, ai_service_url="")) as (app, client):
        yield await _started_game(app, client)


def _record(game_id: str, number: int) -> dict[str, Any]:
    return {
        "id": new_id(),
        "game_id": game_id,
        "move_number": number,
        "player": 1,
        "move": {"type": "place_ring", "player": 1, "to": {"x": 0, "y": 0}},
        "user_id": None,
        "is_ai": False,
        "source": "human",
        "state_hash": "0" * 40,
        "created_at": utcnow(),
    }


def _values(version: int) -> dict[str, Any]:
    return {
        "version": version,
        "state": {"marker": version},
        "current_player": 2,
        "updated_at": utcnow(),
    }


async def _stored(ctx: AppContext, game_id: str) -> tuple[int, int]:
    """(version, number of move rows) as stored."""
    async with ctx.db.session() as session:
        version = await session.scalar(select(Game.version).where(Game.id == game_id))
        count = await session.scalar(
            select(func.count()).select_from(MoveRecord).where(MoveRecord.game_id == game_id)
        )
    assert version is not None and count is not None
    return version, count


async def test_direct_load_matches_the_session_load(started: Started) -> None:
    ctx, game_id, user_id = started.ctx, started.game_id, started.user_id
    async with ctx.db.session() as session:
        expected = await store.load(
            session, game_id, with_usernames=False, token_of=user_id, state=False
        )
    async with ctx.db.direct() as direct:
        loaded = await pgmoves.load(direct, game_id, user_id)
        anonymous = await pgmoves.load(direct, game_id, None)
        missing = await pgmoves.load(direct, str(uuid.uuid4()), user_id)
    assert expected is not None and loaded is not None and anonymous is not None
    assert missing is None
    assert loaded.token_version == expected.token_version is not None
    assert anonymous.token_version is None
    game_keys = [a.key for a in Game.__mapper__.column_attrs if a.key != "state"]
    assert {k: getattr(loaded.game, k) for k in game_keys} == {
        k: getattr(expected.game, k) for k in game_keys
    }
    assert loaded.game.status == "active" and loaded.game.started_at is not None
    assert loaded.game.started_at.tzinfo is not None
    seat_keys = [a.key for a in GameSeat.__mapper__.column_attrs]
    assert [[getattr(s, k) for k in seat_keys] for s in loaded.seats] == [
        [getattr(s, k) for k in seat_keys] for s in expected.seats
    ]
    assert [s.seat for s in loaded.seats] == [1, 2]
    assert loaded.seat_of(user_id) is not None


async def test_of_two_writes_against_one_version_exactly_one_commits(started: Started) -> None:
    ctx, game_id = started.ctx, started.game_id
    version, count = await _stored(ctx, game_id)

    async def attempt() -> bool:
        async with ctx.db.direct() as direct:
            records = [_record(game_id, version + 1), _record(game_id, version + 2)]
            return await pgmoves.advance(direct, game_id, version, _values(version + 2), records)

    for _ in range(5):  # each round races two connections for the next version
        outcomes = await asyncio.gather(attempt(), attempt())
        assert sorted(outcomes) == [False, True]
        version, count = version + 2, count + 2
        assert await _stored(ctx, game_id) == (version, count)


async def test_a_write_whose_move_rows_exist_changes_nothing(started: Started) -> None:
    """The UNIQUE(game_id, move_number) guard: the UPDATE of the same statement is undone."""
    ctx, game_id = started.ctx, started.game_id
    version, count = await _stored(ctx, game_id)
    async with ctx.db.session() as session:
        session.add(MoveRecord(**_record(game_id, version + 1)))
        await session.commit()
    async with ctx.db.direct() as direct:
        wrote = await pgmoves.advance(
            direct, game_id, version, _values(version + 1), [_record(game_id, version + 1)]
        )
    assert wrote is False
    assert await _stored(ctx, game_id) == (version, count + 1)


async def test_no_write_to_a_game_that_is_not_active(started: Started) -> None:
    ctx, game_id = started.ctx, started.game_id
    version, count = await _stored(ctx, game_id)
    async with ctx.db.session() as session:
        game = await session.get(Game, game_id)
        assert game is not None
        game.status = "completed"
        await session.commit()
    async with ctx.db.direct() as direct:
        wrote = await pgmoves.advance(
            direct, game_id, version, _values(version + 1), [_record(game_id, version + 1)]
        )
    assert wrote is False
    assert await _stored(ctx, game_id) == (version, count)


async def test_the_position_is_read_when_not_cached_and_refused_when_stale(
    started: Started,
) -> None:
    ctx, game_id = started.ctx, started.game_id
    async with ctx.db.direct() as direct:
        loaded = await pgmoves.load(direct, game_id, None)
        assert loaded is not None
        ctx.positions = type(ctx.positions)(8)  # an empty cache
        position = await pgmoves.current_position(ctx, direct, loaded.game)
        assert position.doc["gameId"] == game_id
        assert ctx.positions.get(game_id, loaded.game.version) is position
        loaded.game.version += 1  # a version the store does not hold
        with pytest.raises(ApiError) as refused:
            await pgmoves.current_position(ctx, direct, loaded.game)
    assert refused.value.code == ErrorCode.GAME_VERSION_CONFLICT


async def test_an_outage_is_database_unavailable_and_the_pool_recovers(
    outage_cluster: PostgresCluster,
) -> None:
    settings = make_settings(outage_cluster.url(), ai_service_url="", db_connect_timeout_seconds=2)
    async with running_app(settings) as (app, client):
        game = await _started_game(app, client)
        ctx = game.ctx
        async with ctx.db.direct() as direct:
            assert await pgmoves.load(direct, game.game_id, None) is not None
        outage_cluster.stop(mode="fast")
        try:
            with pytest.raises(DatabaseUnavailable):
                async with ctx.db.direct() as direct:
                    await pgmoves.load(direct, game.game_id, None)
        finally:
            outage_cluster.start()
        # The connection that saw the outage was dropped: the next one is new and works.
        async with ctx.db.direct() as direct:
            loaded = await pgmoves.load(direct, game.game_id, None)
        assert loaded is not None and loaded.game.id == game.game_id


async def test_a_cancelled_or_timed_out_statement_leaves_no_broken_connection(
    pg_url: str,
) -> None:
    settings = make_settings(pg_url, ai_service_url="", db_command_timeout_seconds=0.5)
    async with running_app(settings) as (app, _client):
        ctx: AppContext = app.state.ctx

        async def sleeper(seconds: float) -> None:
            async with ctx.db.direct() as direct:
                await direct.fetch(f"SELECT pg_sleep({seconds})")

        task = asyncio.create_task(sleeper(0.4))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(DatabaseUnavailable):  # past the command timeout
            await sleeper(2)
        for _ in range(8):  # whatever the pool hands out next works
            async with ctx.db.direct() as direct:
                assert (await direct.fetch("SELECT 1 AS one"))[0]["one"] == 1
