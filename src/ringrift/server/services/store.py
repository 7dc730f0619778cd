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
from typing import Any, cast

from sqlalchemy import Select, Table, Text, bindparam, func, literal, select, union_all
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import defer

from ringrift.rules import new_game
from ringrift.server import codec
from ringrift.server.context import AppContext
from ringrift.server.db.models import (
    Game,
    GameSeat,
    GameSnapshot,
    MoveRecord,
    RematchOffer,
    User,
)
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.positions import Position
from ringrift.server.replaywork import NewGame, evaluation_curve, replay
from ringrift.server.services import invites

SNAPSHOT_INTERVAL = 32


@dataclass
class Loaded:
    game: Game
    seats: list[GameSeat]
    usernames: dict[str, str]
    # The rematch offer of an ended game, when ``get_game`` was asked for it.
    rematch: RematchOffer | None = None
    # The token version of the user ``load(token_of=...)`` was asked about (None: not asked,
    # or no such user).
    token_version: int | None = None

    def seat_of(self, user_id: str) -> GameSeat | None:
        return next((s for s in self.seats if s.user_id == user_id), None)

    def seat_number(self, number: int) -> GameSeat | None:
        return next((s for s in self.seats if s.seat == number), None)

    def human_seats(self) -> frozenset[int]:
        return frozenset(s.seat for s in self.seats if not s.is_ai)


async def load(
    session: AsyncSession,
    game_id: str,
    *,
    with_usernames: bool = True,
    token_of: str | None = None,
    state: bool = True,
) -> Loaded | None:
    """The game and its seats in one round trip (an outer join, seats in order). ``token_of``
    (a user id) reads that user's token version in the same statement, so a move can check
    that its socket's token was not revoked without a round trip of its own. ``state=False``
    leaves the stored position out (``games.state`` is then not loaded; ask
    ``current_position``): the move path finds it parsed in the position cache, and decoding
    its JSON for nothing was a tenth of a move's CPU."""
    query = _LOAD[(token_of is not None, state)]
    rows = (await session.execute(query, {"game_id": game_id, "token_of": token_of})).all()
    if not rows:
        return None
    game = rows[0][0]
    seats = [row[1] for row in rows if row[1] is not None]
    loaded = Loaded(game, seats, await usernames(session, seats) if with_usernames else {})
    if token_of is not None:
        loaded.token_version = rows[0][2]
    return loaded


def _load_statement(token: bool, state: bool) -> Select[Any]:
    columns: list[Any] = [Game, GameSeat]
    if token:
        version = (
            select(User.token_version).where(User.id == bindparam("token_of")).scalar_subquery()
        )
        columns.append(version.label("token_version"))
    query = (
        select(*columns)
        .outerjoin(GameSeat, GameSeat.game_id == Game.id)
        .where(Game.id == bindparam("game_id"))
        .order_by(GameSeat.seat)
    )
    return query if state else query.options(defer(Game.state))


# ``load``'s four statements (with the token version or not, with the position or not), built
# once: building one per call was over half of ``load``'s CPU on the move path (profiled).
_LOAD = {
    (token, state): _load_statement(token, state)
    for token in (False, True)
    for state in (False, True)
}


async def usernames(session: AsyncSession, seats: Sequence[GameSeat]) -> dict[str, str]:
    ids = {s.user_id for s in seats if s.user_id}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {row.id: row.username for row in rows}


def check_visible(loaded: Loaded | None, viewer: User | None, invite: str | None = None) -> Loaded:
    """The game when ``viewer`` may see it: any game that is not private, else its players and
    signed-in users holding its invite token."""
    if loaded is None:
        raise ApiError(ErrorCode.GAME_NOT_FOUND)
    seated = viewer is not None and loaded.seat_of(viewer.id) is not None
    invites.check_access(loaded.game, seated, viewer, invite)
    return loaded


async def get_game(
    ctx: AppContext,
    game_id: str,
    viewer: User | None,
    invite: str | None = None,
    *,
    with_rematch: bool = False,
) -> Loaded:
    async with ctx.db.session() as session:
        loaded = await load(session, game_id)
        checked = check_visible(loaded, viewer, invite)
        if with_rematch and checked.game.ended_at is not None:
            checked.rematch = await session.get(RematchOffer, game_id)
    return checked


def position(ctx: AppContext, game: Game) -> Position:
    """The current position of a loaded game, parsed at most once per (game, version)."""
    return ctx.positions.position(game.id, game.version, game.state)


async def current_position(ctx: AppContext, session: AsyncSession, game: Game) -> Position:
    """The position of ``game`` at its loaded version, from the position cache, else read
    (in ``session``) and parsed. ``GAME_VERSION_CONFLICT`` when the stored game has moved on
    since it was loaded."""
    found = ctx.positions.get(game.id, game.version)
    if found is not None:
        return found
    doc = await session.scalar(
        select(Game.state).where(Game.id == game.id, Game.version == game.version)
    )
    if doc is None:
        raise ApiError(ErrorCode.GAME_VERSION_CONFLICT, details={"expectedVersion": game.version})
    return ctx.positions.position(game.id, game.version, doc)


def initial_doc(
    board_type: str, players: int, rules_options: dict[str, Any] | None, game_id: str
) -> dict[str, Any]:
    """The wire document of a new game's first position (raises ValueError on bad options)."""
    state = new_game(board_type, players, dict(rules_options) if rules_options else None)
    return Position.of(state, game_id).doc


# --- replays --------------------------------------------------------------------------------
#
# A replay's statements are built once and run as Core statements on the session's connection
# (no ORM state), and positions and moves are read as JSON text that only the worker parses:
# twenty replays at once must leave the event loop free for everything else (``bench replay``).

_GAMES = cast(Table, Game.__table__)
_SEATS = cast(Table, GameSeat.__table__)
_SNAPSHOTS = cast(Table, GameSnapshot.__table__)
_MOVES = cast(Table, MoveRecord.__table__)
_REPLAY_HEADER = select(
    _GAMES.c.version,
    _GAMES.c.board_type,
    _GAMES.c.max_players,
    _GAMES.c.rules_options,
    _GAMES.c.is_private,
    _GAMES.c.invite_token,
    select(_SEATS.c.id)
    .where(_SEATS.c.game_id == _GAMES.c.id, _SEATS.c.user_id == bindparam("viewer"))
    .limit(1)
    .scalar_subquery()
    .label("seat_id"),
).where(_GAMES.c.id == bindparam("game_id"))
_CURRENT_TEXT = select(cast_(_GAMES.c.state, Text)).where(_GAMES.c.id == bindparam("game_id"))
# The newest snapshot at or before move ``upto`` and the moves after it, in one statement: the
# snapshot first (kind 0, at most one row), then the moves in order (kind 1).
_SNAPSHOT_AT = (
    select(func.max(_SNAPSHOTS.c.move_number))
    .where(_SNAPSHOTS.c.game_id == bindparam("game_id"))
    .where(_SNAPSHOTS.c.move_number <= bindparam("upto"))
    .scalar_subquery()
)
_REPLAY_ROWS = union_all(
    select(
        literal(0).label("kind"),
        _SNAPSHOTS.c.move_number.label("number"),
        cast_(_SNAPSHOTS.c.state, Text).label("doc"),
    ).where(_SNAPSHOTS.c.game_id == bindparam("game_id"), _SNAPSHOTS.c.move_number == _SNAPSHOT_AT),
    select(
        literal(1).label("kind"),
        _MOVES.c.move_number.label("number"),
        cast_(_MOVES.c.move, Text).label("doc"),
    ).where(
        _MOVES.c.game_id == bindparam("game_id"),
        _MOVES.c.move_number > func.coalesce(_SNAPSHOT_AT, 0),
        _MOVES.c.move_number <= bindparam("upto"),
    ),
).order_by("kind", "number")


@dataclass(frozen=True)
class _ReplayHeader:
    version: int
    new_game: NewGame


async def _replay_header(
    connection: AsyncConnection, game_id: str, viewer: User, invite: str | None
) -> _ReplayHeader:
    """What a replay needs of the game (not its stored position), after the visibility check:
    public games for anyone logged in, private ones for their players and invitees."""
    row = (
        await connection.execute(_REPLAY_HEADER, {"game_id": game_id, "viewer": viewer.id})
    ).first()
    if row is None:
        raise ApiError(ErrorCode.GAME_NOT_FOUND)
    if row.is_private:
        header = Game(is_private=True, invite_token=row.invite_token)
        invites.check_access(header, row.seat_id is not None, viewer, invite)
    return _ReplayHeader(row.version, NewGame(row.board_type, row.max_players, row.rules_options))


async def state_at(
    ctx: AppContext, game_id: str, move_number: int, viewer: User, invite: str | None = None
) -> dict[str, Any]:
    """:func:`state_json`, parsed ({} for a game without a position yet)."""
    text = await state_json(ctx, game_id, move_number, viewer, invite)
    return codec.loads(text) if text else {}


async def state_json(
    ctx: AppContext, game_id: str, move_number: int, viewer: User, invite: str | None = None
) -> bytes:
    """The position after the first ``move_number`` moves of a game ``viewer`` may see, as
    JSON: the nearest snapshot at or before it plus the moves after it, applied in a worker
    process (or thread, ``REPLAY_WORKERS=0``) so the event loop stays free. Positions of past
    versions never change, so they are cached. Empty for a game without a position yet."""
    async with ctx.db.session() as session:
        connection = await session.connection()
        game = await _replay_header(connection, game_id, viewer, invite)
        if move_number > game.version:
            raise ApiError(
                ErrorCode.VALIDATION_FAILED,
                f"the game has {game.version} moves; ask for 0..{game.version}",
                details=[{"field": "move_number", "problem": "beyond the last move"}],
            )
        if move_number == game.version:
            current = await connection.scalar(_CURRENT_TEXT, {"game_id": game_id})
            return current.encode() if current is not None and current != "null" else b""
        cached = ctx.replays.get((game_id, move_number))
        if cached is not None:
            return cached
        rows = (
            await connection.execute(_REPLAY_ROWS, {"game_id": game_id, "upto": move_number})
        ).all()
    snapshot = rows[0] if rows and rows[0].kind == 0 else None
    base = snapshot.number if snapshot is not None else 0
    moves = [row.doc for row in rows if row.kind == 1]
    if len(moves) != move_number - base:
        raise ApiError(ErrorCode.SERVER_INTERNAL_ERROR, "the stored move list has a gap")
    start: str | NewGame = snapshot.doc if snapshot is not None else game.new_game
    loop = asyncio.get_running_loop()
    async with ctx.replay_slots:
        doc = await loop.run_in_executor(ctx.replay_executor(), replay, start, moves, game_id)
    ctx.replays.put((game_id, move_number), doc)
    return doc


_ALL_MOVES = (
    select(cast_(_MOVES.c.move, Text).label("doc"))
    .where(_MOVES.c.game_id == bindparam("game_id"))
    .where(_MOVES.c.move_number <= bindparam("upto"))
    .order_by(_MOVES.c.move_number)
)


async def curve_json(
    ctx: AppContext, game_id: str, viewer: User, invite: str | None = None
) -> tuple[int, bytes]:
    """The game's version and its evaluation curve up to that version (JSON, see
    `replaywork.evaluation_curve`) for a game ``viewer`` may see: every move replayed from the
    first position in a replay worker. A version's curve never changes, so it is cached."""
    async with ctx.db.session() as session:
        connection = await session.connection()
        game = await _replay_header(connection, game_id, viewer, invite)
        key = (f"curve:{game_id}", game.version)
        cached = ctx.replays.get(key)
        if cached is not None:
            return game.version, cached
        rows = await connection.execute(_ALL_MOVES, {"game_id": game_id, "upto": game.version})
        moves = [row.doc for row in rows]
    if len(moves) != game.version:
        raise ApiError(ErrorCode.SERVER_INTERNAL_ERROR, "the stored move list has a gap")
    loop = asyncio.get_running_loop()
    async with ctx.replay_slots:
        doc = await loop.run_in_executor(
            ctx.replay_executor(), evaluation_curve, game.new_game, moves
        )
    ctx.replays.put(key, doc)
    return game.version, doc


def snapshot_values(
    game_id: str, docs: Sequence[tuple[int, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """``game_snapshots`` rows (as column values) for the (version, position) pairs that fall
    on the snapshot interval."""
    return [
        {"game_id": game_id, "move_number": v, "state": doc}
        for v, doc in docs
        if is_snapshot_version(v)
    ]


def is_snapshot_version(version: int) -> bool:
    """Whether the position after move ``version`` is stored as a snapshot."""
    return version % SNAPSHOT_INTERVAL == 0
