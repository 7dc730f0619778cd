"""The game store: loading games and seats, visibility, cached positions, snapshots and replays.

The database is the truth. ``games.state`` holds the current position without its history;
``moves`` holds the history; ``game_snapshots`` holds the position after every
``SNAPSHOT_INTERVAL``-th move, so the position after any move ``n`` costs one snapshot read plus
at most ``SNAPSHOT_INTERVAL - 1`` applied moves, never a replay from move 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.rules import new_game
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, GameSeat, GameSnapshot, MoveRecord, User
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.positions import Position
from ringrift.server.replaywork import replay

SNAPSHOT_INTERVAL = 32


@dataclass
class Loaded:
    game: Game
    seats: list[GameSeat]
    usernames: dict[str, str]

    def seat_of(self, user_id: str) -> GameSeat | None:
        return next((s for s in self.seats if s.user_id == user_id), None)

    def seat_number(self, number: int) -> GameSeat | None:
        return next((s for s in self.seats if s.seat == number), None)

    def human_seats(self) -> frozenset[int]:
        return frozenset(s.seat for s in self.seats if not s.is_ai)


async def load(
    session: AsyncSession, game_id: str, *, with_usernames: bool = True
) -> Loaded | None:
    """The game and its seats in one round trip (an outer join, seats in order)."""
    rows = (
        await session.execute(
            select(Game, GameSeat)
            .outerjoin(GameSeat, GameSeat.game_id == Game.id)
            .where(Game.id == game_id)
            .order_by(GameSeat.seat)
        )
    ).all()
    if not rows:
        return None
    game = rows[0][0]
    seats = [row[1] for row in rows if row[1] is not None]
    return Loaded(game, seats, await usernames(session, seats) if with_usernames else {})


async def usernames(session: AsyncSession, seats: Sequence[GameSeat]) -> dict[str, str]:
    ids = {s.user_id for s in seats if s.user_id}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {row.id: row.username for row in rows}


def check_visible(loaded: Loaded | None, viewer: User | None) -> Loaded:
    """The game when ``viewer`` may see it: any game that is not private, else its players."""
    if loaded is None:
        raise ApiError(ErrorCode.GAME_NOT_FOUND)
    if loaded.game.is_private and (viewer is None or loaded.seat_of(viewer.id) is None):
        raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "This game is private")
    return loaded


async def get_game(ctx: AppContext, game_id: str, viewer: User | None) -> Loaded:
    async with ctx.db.session() as session:
        loaded = await load(session, game_id)
    return check_visible(loaded, viewer)


def position(ctx: AppContext, game: Game) -> Position:
    """The current position of a loaded game, parsed at most once per (game, version)."""
    return ctx.positions.position(game.id, game.version, game.state)


def initial_doc(
    board_type: str, players: int, rules_options: dict[str, Any] | None, game_id: str
) -> dict[str, Any]:
    """The wire document of a new game's first position (raises ValueError on bad options)."""
    state = new_game(board_type, players, dict(rules_options) if rules_options else None)
    return Position.of(state, game_id).doc


# --- replays --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ReplayHeader:
    version: int
    board_type: str
    max_players: int
    rules_options: dict[str, Any] | None


async def _replay_header(session: AsyncSession, game_id: str, viewer: User) -> _ReplayHeader:
    """What a replay needs of the game (not its stored position), after the visibility check:
    public games for anyone logged in, private ones for their players."""
    row = (
        await session.execute(
            select(
                Game.version,
                Game.board_type,
                Game.max_players,
                Game.rules_options,
                Game.is_private,
            ).where(Game.id == game_id)
        )
    ).first()
    if row is None:
        raise ApiError(ErrorCode.GAME_NOT_FOUND)
    if row.is_private:
        seated = await session.scalar(
            select(GameSeat.id).where(GameSeat.game_id == game_id, GameSeat.user_id == viewer.id)
        )
        if seated is None:
            raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "This game is private")
    return _ReplayHeader(row.version, row.board_type, row.max_players, row.rules_options)


async def state_at(ctx: AppContext, game_id: str, move_number: int, viewer: User) -> dict[str, Any]:
    """The position after the first ``move_number`` moves of a game ``viewer`` may see: the
    nearest snapshot at or before it plus the moves after it, applied in a worker process (or
    thread, ``REPLAY_WORKERS=0``) so the event loop stays free. Positions of past versions never
    change, so they are cached."""
    async with ctx.db.session() as session:
        game = await _replay_header(session, game_id, viewer)
        if move_number > game.version:
            raise ApiError(
                ErrorCode.VALIDATION_FAILED,
                f"the game has {game.version} moves; ask for 0..{game.version}",
                details=[{"field": "move_number", "problem": "beyond the last move"}],
            )
        if move_number == game.version:
            current = await session.scalar(select(Game.state).where(Game.id == game_id))
            return current if current is not None else {}
        cached = ctx.replays.get((game_id, move_number))
        if cached is not None:
            return cached
        snapshot = (
            await session.execute(
                select(GameSnapshot.move_number, GameSnapshot.state)
                .where(GameSnapshot.game_id == game_id, GameSnapshot.move_number <= move_number)
                .order_by(GameSnapshot.move_number.desc())
                .limit(1)
            )
        ).first()
        base = snapshot.move_number if snapshot is not None else 0
        moves = list(
            (
                await session.scalars(
                    select(MoveRecord.move)
                    .where(
                        MoveRecord.game_id == game_id,
                        MoveRecord.move_number > base,
                        MoveRecord.move_number <= move_number,
                    )
                    .order_by(MoveRecord.move_number)
                )
            ).all()
        )
    if len(moves) != move_number - base:
        raise ApiError(ErrorCode.SERVER_INTERNAL_ERROR, "the stored move list has a gap")
    if snapshot is not None:
        base_doc = snapshot.state
    else:
        base_doc = initial_doc(game.board_type, game.max_players, game.rules_options, game_id)
    loop = asyncio.get_running_loop()
    async with ctx.replay_slots:
        doc = await loop.run_in_executor(ctx.replay_executor(), replay, base_doc, moves, game_id)
    ctx.replays.put((game_id, move_number), doc)
    return doc


def snapshot_rows(game_id: str, docs: Sequence[tuple[int, dict[str, Any]]]) -> list[GameSnapshot]:
    """Snapshot rows for the (version, position) pairs that fall on the snapshot interval."""
    return [
        GameSnapshot(game_id=game_id, move_number=v, state=doc)
        for v, doc in docs
        if v % SNAPSHOT_INTERVAL == 0
    ]
