"""Games: create, list, join, leave/resign, moves (optimistic concurrency), AI turns, results.

Concurrency model: a move is validated against the state read from the game row, then committed
with ``UPDATE games SET version = v + 1 ... WHERE id = :id AND version = v AND status = 'active'``
followed by the insert of move row ``v + 1`` (``UNIQUE(game_id, move_number)`` as a second
guard), all in one transaction. Of two submissions against the same version exactly one commits;
the other gets ``GAME_VERSION_CONFLICT``. No Redis is involved.

Resignation ends the game at once: the resigning seat ranks last and everyone else shares first
place (two players: the opponent wins). Leaving a game that has not started frees the seat; when
its creator leaves, the game is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.rules import GameState, IllegalMove, Move, WireFormatError, apply_move, new_game
from ringrift.server.context import AppContext
from ringrift.server.db.models import (
    Game,
    GameSeat,
    MoveRecord,
    RatingHistory,
    User,
    new_id,
    utcnow,
)
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import ratings

log = logging.getLogger(__name__)

WAITING, ACTIVE, COMPLETED, CANCELLED = "waiting", "active", "completed", "cancelled"
GAME_STATUSES = (WAITING, ACTIVE, COMPLETED, CANCELLED)


@dataclass(frozen=True)
class NewGame:
    board_type: str
    max_players: int
    is_rated: bool
    is_private: bool
    ai_levels: tuple[int, ...]
    seed: int | None
    time_control: dict[str, Any] | None
    rules_options: dict[str, Any] | None


@dataclass
class Loaded:
    game: Game
    seats: list[GameSeat]
    usernames: dict[str, str]

    def seat_of(self, user_id: str) -> GameSeat | None:
        return next((s for s in self.seats if s.user_id == user_id), None)

    def seat_number(self, number: int) -> GameSeat | None:
        return next((s for s in self.seats if s.seat == number), None)


# --- serialisation ------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def seat_json(seat: GameSeat, usernames: dict[str, str]) -> dict[str, Any]:
    return {
        "seat": seat.seat,
        "playerNumber": seat.seat,
        "userId": seat.user_id,
        "username": usernames.get(seat.user_id) if seat.user_id else None,
        "isAi": seat.is_ai,
        "aiLevel": seat.ai_level,
        "resigned": seat.resigned,
        "finalRank": seat.final_rank,
        "ratingBefore": seat.rating_before,
        "ratingAfter": seat.rating_after,
    }


def game_json(loaded: Loaded, *, include_state: bool = True) -> dict[str, Any]:
    game = loaded.game
    data: dict[str, Any] = {
        "id": game.id,
        "boardType": game.board_type,
        "maxPlayers": game.max_players,
        "status": game.status,
        "isRated": game.is_rated,
        "isPrivate": game.is_private,
        "seed": game.seed,
        "timeControl": game.time_control,
        "rulesOptions": game.rules_options or {},
        "creatorId": game.creator_id,
        "version": game.version,
        "currentPlayer": game.current_player,
        "winner": game.winner_seat,
        "endReason": game.end_reason,
        "seats": [seat_json(s, loaded.usernames) for s in sorted(loaded.seats, key=_seat_key)],
        "openSeats": game.max_players - len(loaded.seats),
        "createdAt": _iso(game.created_at),
        "updatedAt": _iso(game.updated_at),
        "startedAt": _iso(game.started_at),
        "endedAt": _iso(game.ended_at),
    }
    if include_state:
        data["state"] = game.state
    return data


def _seat_key(seat: GameSeat) -> int:
    return seat.seat


def _publish_status(ctx: AppContext, game: Game) -> None:
    """Tell sockets (here and, through Redis, everywhere) that a game's status changed."""
    ctx.bus.publish(
        {
            "kind": "status",
            "gameId": game.id,
            "v": game.version,
            "status": game.status,
            "winner": game.winner_seat,
            "endReason": game.end_reason,
            "state": game.state,
        }
    )


async def publish_current(ctx: AppContext, game_id: str) -> None:
    async with ctx.db.session() as session:
        game = await session.get(Game, game_id)
    if game is not None:
        _publish_status(ctx, game)


STATE_CACHE_SIZE = 4096


def remember_state(ctx: AppContext, game_id: str, version: int, state: GameState) -> None:
    """Keep the parsed state of a game's latest version (states are never mutated), so the
    next move does not re-parse the stored JSON (whose move history grows with the game)."""
    cache = ctx.states
    cache[game_id] = (version, state)
    cache.move_to_end(game_id)
    if len(cache) > STATE_CACHE_SIZE:
        cache.popitem(last=False)


def parsed_state(ctx: AppContext, game_id: str, version: int, state_json: Any) -> GameState:
    cached = ctx.states.get(game_id)
    if cached is not None and cached[0] == version:
        state: GameState = cached[1]
        return state
    state = GameState.from_json(state_json)
    remember_state(ctx, game_id, version, state)
    return state


# --- loading ------------------------------------------------------------------------------


async def _load(
    session: AsyncSession, game_id: str, *, with_usernames: bool = True
) -> Loaded | None:
    game = await session.get(Game, game_id)
    if game is None:
        return None
    seats = list(
        (
            await session.scalars(
                select(GameSeat).where(GameSeat.game_id == game_id).order_by(GameSeat.seat)
            )
        ).all()
    )
    return Loaded(game, seats, await _usernames(session, seats) if with_usernames else {})


async def _usernames(session: AsyncSession, seats: Sequence[GameSeat]) -> dict[str, str]:
    ids = {s.user_id for s in seats if s.user_id}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {row.id: row.username for row in rows}


async def get_game(ctx: AppContext, game_id: str, viewer: User | None) -> Loaded:
    async with ctx.db.session() as session:
        loaded = await _load(session, game_id)
    if loaded is None:
        raise ApiError(ErrorCode.GAME_NOT_FOUND)
    if loaded.game.is_private and (viewer is None or loaded.seat_of(viewer.id) is None):
        raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "This game is private")
    return loaded


async def list_my_games(
    ctx: AppContext, user: User, status: str | None, limit: int, offset: int
) -> tuple[list[Loaded], int]:
    async with ctx.db.session() as session:
        mine = select(GameSeat.game_id).where(GameSeat.user_id == user.id)
        query = select(Game).where(Game.id.in_(mine))
        if status:
            query = query.where(Game.status == status)
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        games = (
            await session.scalars(
                query.order_by(Game.updated_at.desc(), Game.id).limit(limit).offset(offset)
            )
        ).all()
        return await _with_seats(session, list(games)), int(total or 0)


async def list_lobby(ctx: AppContext, limit: int, offset: int) -> tuple[list[Loaded], int]:
    async with ctx.db.session() as session:
        query = select(Game).where(Game.status == WAITING, Game.is_private.is_(False))
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        games = (
            await session.scalars(
                query.order_by(Game.created_at.desc(), Game.id).limit(limit).offset(offset)
            )
        ).all()
        return await _with_seats(session, list(games)), int(total or 0)


async def _with_seats(session: AsyncSession, games: list[Game]) -> list[Loaded]:
    if not games:
        return []
    seats = (
        await session.scalars(select(GameSeat).where(GameSeat.game_id.in_([g.id for g in games])))
    ).all()
    usernames = await _usernames(session, seats)
    by_game: dict[str, list[GameSeat]] = {g.id: [] for g in games}
    for seat in seats:
        by_game[seat.game_id].append(seat)
    return [Loaded(g, by_game[g.id], usernames) for g in games]


async def move_list(ctx: AppContext, game_id: str, viewer: User | None) -> dict[str, Any]:
    loaded = await get_game(ctx, game_id, viewer)
    async with ctx.db.session() as session:
        rows = (
            await session.scalars(
                select(MoveRecord)
                .where(MoveRecord.game_id == game_id)
                .order_by(MoveRecord.move_number)
            )
        ).all()
    game = loaded.game
    initial = _initial_state_json(game.board_type, game.max_players, game.rules_options, game.id)
    return {
        "gameId": game.id,
        "boardType": game.board_type,
        "numPlayers": game.max_players,
        "rulesOptions": game.rules_options or {},
        "status": game.status,
        "version": game.version,
        "initialState": initial,
        "moves": [
            {
                "moveNumber": r.move_number,
                "player": r.player,
                "move": r.move,
                "isAi": r.is_ai,
                "source": r.source,
                "stateHash": r.state_hash,
                "createdAt": _iso(r.created_at),
            }
            for r in rows
        ],
    }


def _initial_state_json(
    board_type: str, players: int, rules_options: dict[str, Any] | None, game_id: str
) -> dict[str, Any]:
    state = new_game(board_type, players, dict(rules_options) if rules_options else None)
    data = state.to_json()
    data["gameId"] = game_id
    return data


# --- create / join / leave ----------------------------------------------------------------


async def create_game(ctx: AppContext, user: User, spec: NewGame) -> Loaded:
    humans = 1
    if humans + len(spec.ai_levels) > spec.max_players:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            f"{len(spec.ai_levels)} AI opponents do not fit in a {spec.max_players}-player game "
            "next to its creator",
            details=[{"field": "aiOpponents.count", "reason": "too many AI opponents"}],
        )
    now = utcnow()
    try:
        game_id = new_id()
        state_json = _initial_state_json(
            spec.board_type, spec.max_players, spec.rules_options, game_id
        )
    except ValueError as error:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            str(error),
            details=[{"field": "rulesOptions", "reason": str(error)}],
        ) from error
    full = humans + len(spec.ai_levels) == spec.max_players
    game = Game(
        id=game_id,
        board_type=spec.board_type,
        max_players=spec.max_players,
        status=ACTIVE if full else WAITING,
        # Ratings only move in games between people.
        is_rated=spec.is_rated and not spec.ai_levels,
        is_private=spec.is_private,
        seed=spec.seed,
        time_control=spec.time_control,
        rules_options=spec.rules_options,
        creator_id=user.id,
        version=0,
        state=state_json,
        current_player=state_json.get("currentPlayer"),
        created_at=now,
        updated_at=now,
        started_at=now if full else None,
    )
    seats = [GameSeat(game_id=game_id, seat=1, user_id=user.id, is_ai=False, joined_at=now)]
    for index, level in enumerate(spec.ai_levels):
        seats.append(
            GameSeat(game_id=game_id, seat=index + 2, is_ai=True, ai_level=level, joined_at=now)
        )
    async with ctx.db.session() as session:
        session.add(game)
        await session.flush()
        session.add_all(seats)
        await session.commit()
    if full:
        await play_ai_turns(ctx, game_id)
    return await get_game(ctx, game_id, user)


async def join_game(ctx: AppContext, user: User, game_id: str) -> Loaded:
    async with ctx.db.session() as session:
        loaded = await _load(session, game_id)
        if loaded is None:
            raise ApiError(ErrorCode.GAME_NOT_FOUND)
        if loaded.seat_of(user.id) is not None:
            raise ApiError(ErrorCode.GAME_ALREADY_JOINED)
        if loaded.game.status != WAITING:
            raise ApiError(
                ErrorCode.GAME_NOT_JOINABLE, f"Game is {loaded.game.status}, not waiting"
            )
        taken = {s.seat for s in loaded.seats}
        free = [n for n in range(1, loaded.game.max_players + 1) if n not in taken]
        if not free:
            raise ApiError(ErrorCode.GAME_FULL)
        session.add(GameSeat(game_id=game_id, seat=free[0], user_id=user.id, joined_at=utcnow()))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            mine = await session.scalar(
                select(GameSeat.id).where(GameSeat.game_id == game_id, GameSeat.user_id == user.id)
            )
            if mine is not None:
                raise ApiError(ErrorCode.GAME_ALREADY_JOINED) from None
            raise ApiError(ErrorCode.GAME_FULL, "The last seat was just taken") from None
    await _activate_if_full(ctx, game_id)
    await play_ai_turns(ctx, game_id)
    return await get_game(ctx, game_id, user)


async def _activate_if_full(ctx: AppContext, game_id: str) -> None:
    async with ctx.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(GameSeat).where(GameSeat.game_id == game_id)
        )
        game = await session.get(Game, game_id)
        if game is None or game.status != WAITING or int(count or 0) < game.max_players:
            return
        now = utcnow()
        result = await session.execute(
            update(Game)
            .where(Game.id == game_id, Game.status == WAITING)
            .values(status=ACTIVE, started_at=now, updated_at=now)
        )
        await session.commit()
    if result.rowcount == 1:  # type: ignore[attr-defined]
        await publish_current(ctx, game_id)


async def leave_game(ctx: AppContext, user: User, game_id: str) -> Loaded:
    async with ctx.db.session() as session:
        loaded = await _load(session, game_id)
        if loaded is None:
            raise ApiError(ErrorCode.GAME_NOT_FOUND)
        seat = loaded.seat_of(user.id)
        if seat is None:
            raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "You are not seated in this game")
        game = loaded.game
        now = utcnow()
        if game.status in (COMPLETED, CANCELLED):
            raise ApiError(ErrorCode.GAME_ALREADY_ENDED)
        if game.status == WAITING:
            if game.creator_id == user.id:
                result = await session.execute(
                    update(Game)
                    .where(Game.id == game_id, Game.status == WAITING)
                    .values(status=CANCELLED, ended_at=now, updated_at=now, end_reason="cancelled")
                )
            else:
                result = await session.execute(
                    update(Game)
                    .where(Game.id == game_id, Game.status == WAITING)
                    .values(updated_at=now)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    await session.delete(seat)
            if result.rowcount != 1:  # type: ignore[attr-defined]
                await session.rollback()
                raise ApiError(ErrorCode.GAME_VERSION_CONFLICT, "The game just started; reload")
            await session.commit()
        else:
            n = game.max_players
            ranks = [1] * n
            ranks[seat.seat - 1] = n
            winner = next((s.seat for s in loaded.seats if s.seat != seat.seat), None)
            result = await session.execute(
                update(Game)
                .where(Game.id == game_id, Game.status == ACTIVE)
                .values(
                    status=COMPLETED,
                    end_reason="resignation",
                    winner_seat=winner if n == 2 else None,
                    ended_at=now,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                await session.rollback()
                raise ApiError(ErrorCode.GAME_ALREADY_ENDED)
            seat.resigned = True
            await _finalize(session, game, loaded.seats, ranks)
            await session.commit()
            ctx.metrics.games_completed.labels(reason="resignation").inc()
    await publish_current(ctx, game_id)
    return await get_game(ctx, game_id, user)


# --- moves --------------------------------------------------------------------------------


async def submit_move(
    ctx: AppContext, user: User, game_id: str, move_json: Any, expected_version: int
) -> Loaded:
    """REST: commit the move, then play the AI turns it made due before answering, so the
    response already contains the AI replies (each committed and fanned out on its own)."""
    version, after, loaded = await play_human_move(ctx, user, game_id, move_json, expected_version)
    await play_ai_turns(ctx, game_id, known=(version, after, loaded.seats, loaded.game.seed))
    return await get_game(ctx, game_id, user)


async def play_human_move(
    ctx: AppContext, user: User, game_id: str, move_json: Any, expected_version: int
) -> tuple[int, GameState, Loaded]:
    """Validate and commit one human move; returns the new version, the new state and the game
    as loaded before the move. AI turns are left to the caller."""
    if ctx.db.backend == "postgresql":
        # One transaction for read and write: under READ COMMITTED the versioned UPDATE still
        # sees (and loses to) a move committed after our read.
        async with ctx.db.session() as session:
            loaded = await _load(session, game_id, with_usernames=False)
            seat, move, after = _validated_move(
                ctx, loaded, user, game_id, move_json, expected_version
            )
            committed = await _commit_move(
                ctx, game_id, expected_version, seat, move, after, user.id, "human", session
            )
    else:
        # SQLite cannot upgrade a read transaction to a write once another writer committed
        # (a snapshot conflict, not a wait), so the read ends before the write begins.
        async with ctx.db.session() as session:
            loaded = await _load(session, game_id, with_usernames=False)
        seat, move, after = _validated_move(ctx, loaded, user, game_id, move_json, expected_version)
        committed = await _commit_move(
            ctx, game_id, expected_version, seat, move, after, user.id, "human"
        )
    if not committed or loaded is None:
        raise ApiError(
            ErrorCode.GAME_VERSION_CONFLICT, details={"expectedVersion": expected_version}
        )
    return expected_version + 1, after, loaded


def _validated_move(
    ctx: AppContext,
    loaded: Loaded | None,
    user: User,
    game_id: str,
    move_json: Any,
    expected_version: int,
) -> tuple[int, Move, GameState]:
    """Check a human move against the loaded game: (the mover's seat, the move, the state
    after it), or the ApiError that refuses it."""
    if loaded is None:
        raise ApiError(ErrorCode.GAME_NOT_FOUND)
    game = loaded.game
    seat = loaded.seat_of(user.id)
    if seat is None:
        raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "You are not seated in this game")
    if game.status in (COMPLETED, CANCELLED):
        raise ApiError(ErrorCode.GAME_ALREADY_ENDED)
    if game.status != ACTIVE:
        raise ApiError(ErrorCode.GAME_INVALID_MOVE, "The game has not started yet")
    if expected_version != game.version:
        raise ApiError(
            ErrorCode.GAME_VERSION_CONFLICT,
            details={"currentVersion": game.version, "expectedVersion": expected_version},
        )
    state = parsed_state(ctx, game_id, game.version, game.state)
    if state.current_player != seat.seat:
        raise ApiError(
            ErrorCode.GAME_NOT_YOUR_TURN,
            details={"currentPlayer": state.current_player, "yourSeat": seat.seat},
        )
    try:
        move = Move.from_json(move_json)
    except WireFormatError as error:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            f"Malformed move: {error.reason}",
            details=[{"field": "move", "reason": error.reason}],
        ) from error
    try:
        after = apply_move(state, move)
    except IllegalMove as error:
        raise ApiError(
            ErrorCode.GAME_INVALID_MOVE, error.reason, details={"reason": error.reason}
        ) from error
    return seat.seat, move, after


def ai_to_move(state_json: dict[str, Any] | None, seats: Sequence[GameSeat]) -> bool:
    if not state_json or state_json.get("gameStatus") == COMPLETED:
        return False
    current = state_json.get("currentPlayer")
    return any(s.seat == current and s.is_ai for s in seats)


def schedule_ai_turns(ctx: AppContext, game_id: str) -> None:
    """Play due AI turns in a background task of this instance (one task per game; a request
    made while it runs makes it look once more when done). Several instances may race for the
    same turn: the version check lets one commit and the others stop."""
    task = ctx.ai_tasks.get(game_id)
    if task is not None and not task.done():
        ctx.ai_rerun.add(game_id)
        return
    ctx.ai_tasks[game_id] = asyncio.create_task(_ai_task(ctx, game_id), name=f"ai-{game_id}")


async def _ai_task(ctx: AppContext, game_id: str) -> None:
    try:
        while True:
            ctx.ai_rerun.discard(game_id)
            try:
                await play_ai_turns(ctx, game_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background AI turn failed", extra={"gameId": game_id})
                return
            if game_id not in ctx.ai_rerun:
                return
    finally:
        if ctx.ai_tasks.get(game_id) is asyncio.current_task():
            del ctx.ai_tasks[game_id]


async def _commit_move(
    ctx: AppContext,
    game_id: str,
    expected_version: int,
    seat: int,
    move: Move,
    after: GameState,
    user_id: str | None,
    source: str,
    session: AsyncSession | None = None,
) -> bool:
    """Commit one applied move (in ``session`` when given, else in a session of its own);
    False when another move got there first."""
    now = utcnow()
    completed = after.game_status == COMPLETED
    state_json = after.to_json()
    state_json["gameId"] = game_id
    values: dict[str, Any] = {
        "version": expected_version + 1,
        "state": state_json,
        "current_player": after.current_player,
        "updated_at": now,
    }
    if completed:
        values.update(status=COMPLETED, winner_seat=after.winner, end_reason="normal", ended_at=now)
    record = MoveRecord(
        game_id=game_id,
        move_number=expected_version + 1,
        player=seat,
        move=move.to_json(),
        user_id=user_id,
        is_ai=source != "human",
        source=source,
        state_hash=after.state_hash(),
        created_at=now,
    )
    if session is None:
        async with ctx.db.session() as own:
            committed = await _write_move(own, game_id, expected_version, values, record, after)
    else:
        committed = await _write_move(session, game_id, expected_version, values, record, after)
    if not committed:
        return False
    remember_state(ctx, game_id, expected_version + 1, after)
    if completed:
        ctx.metrics.games_completed.labels(reason="normal").inc()
    ctx.bus.publish(
        {
            "kind": "move",
            "gameId": game_id,
            "v": expected_version + 1,
            "move": record.move,
            "player": seat,
            "status": COMPLETED if completed else ACTIVE,
            "winner": after.winner if completed else None,
            "endReason": "normal" if completed else None,
            "state": state_json,
        }
    )
    return True


async def _write_move(
    session: AsyncSession,
    game_id: str,
    expected_version: int,
    values: dict[str, Any],
    record: MoveRecord,
    after: GameState,
) -> bool:
    """The versioned UPDATE plus the move row (and results when the game ended), committed."""
    completed = after.game_status == COMPLETED
    result = await session.execute(
        update(Game)
        .where(Game.id == game_id, Game.version == expected_version, Game.status == ACTIVE)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return False
    session.add(record)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return False
    if completed:
        game = await session.get(Game, game_id)
        seats = list(
            (await session.scalars(select(GameSeat).where(GameSeat.game_id == game_id))).all()
        )
        if game is not None:
            await _finalize(session, game, seats, after.final_ranks())
    await session.commit()
    return True


async def play_ai_turns(
    ctx: AppContext,
    game_id: str,
    known: tuple[int, GameState, list[GameSeat], int | None] | None = None,
) -> int:
    """Play every AI turn that is due, each committed as its own move. Returns how many."""
    if known is None:
        async with ctx.db.session() as session:
            loaded = await _load(session, game_id, with_usernames=False)
        if loaded is None or loaded.game.status != ACTIVE:
            return 0
        version = loaded.game.version
        state = parsed_state(ctx, game_id, version, loaded.game.state)
        seats, seed = loaded.seats, loaded.game.seed
    else:
        version, state, seats, seed = known
    by_number = {s.seat: s for s in seats}
    played = 0
    while played < ctx.settings.ai_max_consecutive_moves and state.game_status != COMPLETED:
        seat = by_number.get(state.current_player)
        if seat is None or not seat.is_ai:
            break
        choice = await ctx.ai.choose(
            state, seat.seat, seat.ai_level or 1, None if seed is None else seed + version
        )
        if not await _commit_move(
            ctx, game_id, version, seat.seat, choice.move, choice.state, None, choice.source
        ):
            break
        version += 1
        state = choice.state
        played += 1
    return played


# --- results ------------------------------------------------------------------------------


async def _finalize(
    session: AsyncSession, game: Game, seats: Sequence[GameSeat], ranks: Sequence[int]
) -> None:
    """Record final ranks, player stats and (rated human games) Elo changes."""
    for seat in seats:
        seat.final_rank = ranks[seat.seat - 1]
    humans = [s for s in seats if not s.is_ai and s.user_id]
    if not humans:
        return
    users = {
        u.id: u
        for u in (
            await session.scalars(
                select(User)
                .where(User.id.in_([s.user_id for s in humans]))
                .order_by(User.id)
                .with_for_update()
            )
        ).all()
    }
    now = utcnow()
    for seat in humans:
        user = users.get(seat.user_id or "")
        if user is None:
            continue
        result = ratings.outcome(ranks[seat.seat - 1], ranks)
        user.games_played += 1
        if result == "win":
            user.wins += 1
        elif result == "draw":
            user.draws += 1
        else:
            user.losses += 1
        user.updated_at = now
    rated = (
        game.is_rated
        and len(humans) == len(seats)
        and len(users) == len(humans)
        and len(seats) >= 2
    )
    if not rated:
        return
    ordered = sorted(humans, key=_seat_key)
    participants = [
        ratings.Participant(
            rating=users[s.user_id or ""].rating,
            rated_games=users[s.user_id or ""].rated_games,
            rank=ranks[s.seat - 1],
        )
        for s in ordered
    ]
    deltas = ratings.rating_changes(participants)
    for seat, delta in zip(ordered, deltas, strict=True):
        user = users[seat.user_id or ""]
        before = user.rating
        after = round(before + delta, 2)
        user.rating = after
        user.rated_games += 1
        seat.rating_before = before
        seat.rating_after = after
        session.add(
            RatingHistory(
                user_id=user.id,
                game_id=game.id,
                rating_before=before,
                rating_after=after,
                delta=round(after - before, 2),
                created_at=now,
            )
        )
