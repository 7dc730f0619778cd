"""Ending a game locks its players while other games keep inserting moves by the same users.

Under `bench ws` load, a move that ended a game failed with `deadlock detected`: the ending
locked its players FOR UPDATE, which conflicts with the FOR KEY SHARE lock the foreign key of
every concurrent `moves` INSERT takes on `users`. This test holds such an INSERT open in one
transaction and asks for the players' lock in another under a short `lock_timeout`: the lock
must be granted at once (it timed out with FOR UPDATE).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ringrift.ops.services import PostgresCluster
from ringrift.server.db.models import Game, MoveRecord, User
from ringrift.server.services import results


@pytest_asyncio.fixture
async def engine(pg_cluster: PostgresCluster) -> AsyncIterator[AsyncEngine]:
    name = "t_" + uuid.uuid4().hex[:16]
    pg_cluster.create_database(name, template="ringrift_template")
    engine = create_async_engine(pg_cluster.url(name))
    yield engine
    await engine.dispose()
    pg_cluster.drop_database(name)


async def _user_and_game(engine: AsyncEngine) -> tuple[str, str]:
    async with async_sessionmaker(engine)() as session, session.begin():
        user = User(
            email=f"{uuid.uuid4().hex[:8]}@example.test",
            username="locker",
            username_lower=uuid.uuid4().hex[:12],
            password_hash="x",
        )
        session.add(user)
        await session.flush()
        game = Game(board_type="square8", max_players=2, status="active", state={})
        session.add(game)
        await session.flush()
        return user.id, game.id


async def _insert_move(session: AsyncSession, game_id: str, user_id: str) -> None:
    """Begin a transaction that inserts a move by ``user_id`` and leave it open: its foreign
    key holds FOR KEY SHARE on the user's row until it ends."""
    await session.begin()
    session.add(
        MoveRecord(
            game_id=game_id, move_number=1, player=1, move={}, user_id=user_id, state_hash="h"
        )
    )
    await session.flush()


async def test_ending_a_game_is_not_blocked_by_a_move_insert_of_the_same_player(
    engine: AsyncEngine,
) -> None:
    user_id, game_id = await _user_and_game(engine)
    sessions = async_sessionmaker(engine)
    async with sessions() as mover, sessions() as ender:
        await _insert_move(mover, game_id, user_id)
        held = await mover.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' "
                "AND pid = pg_backend_pid()"
            )
        )
        assert held, "the move insert should hold its transaction open"

        await ender.begin()
        await ender.execute(text("SET LOCAL lock_timeout = '1s'"))
        users = await results.lock_players(ender, [user_id])
        assert list(users) == [user_id]
        users[user_id].games_played += 1
        await ender.commit()

        await mover.commit()

    async with sessions() as check:
        user = await check.get(User, user_id)
        assert user is not None and user.games_played == 1
        assert await check.scalar(text("SELECT count(*) FROM moves")) == 1


async def test_plain_for_update_is_what_blocked(engine: AsyncEngine) -> None:
    """The control: FOR UPDATE on the same row waits for the move insert (and times out), so
    the test above would catch a return to it."""
    user_id, game_id = await _user_and_game(engine)
    sessions = async_sessionmaker(engine)
    async with sessions() as mover, sessions() as ender:
        await _insert_move(mover, game_id, user_id)
        await ender.begin()
        await ender.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(DBAPIError, match="lock timeout"):
            await ender.execute(select(User).where(User.id == user_id).with_for_update())
        await ender.rollback()
        await mover.rollback()
