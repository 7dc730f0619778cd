"""Games: create, list, join, leave/resign, and their JSON; the move path lives in
``moves`` (validate, commit, publish), AI turns in ``ai_turns``, loading and replays in
``store``, final results in ``results``.

Resignation is a withdrawal (F-30, ``withdrawals``): in a 2-player game the opponent wins at
once; in a 3-4 player game the resigning seat ranks below every seat that stays and the others
play on. Leaving a game that has not started frees the seat; when its creator leaves, the game
is cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server.context import AppContext
from ringrift.server.db.models import (
    Game,
    GameSeat,
    MoveRecord,
    RematchOffer,
    User,
    new_id,
    utcnow,
)
from ringrift.server.domain import EndReason, GameStatus, MoveSource
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.events import StatusEvent, now_ms
from ringrift.server.presence import presence_json
from ringrift.server.services import ai_turns, invites, moves, store, timing, withdrawals
from ringrift.server.services.aborts import abort_allowed
from ringrift.server.services.lobbyfeed import LobbyChange, publish_lobby
from ringrift.server.services.store import Loaded, get_game

WAITING, ACTIVE = GameStatus.WAITING.value, GameStatus.ACTIVE.value
COMPLETED, CANCELLED = GameStatus.COMPLETED.value, GameStatus.CANCELLED.value
GAME_STATUSES = tuple(s.value for s in GameStatus)

__all__ = ["Loaded", "get_game"]


@dataclass(frozen=True)
class NewGame:
    board_type: str
    max_players: int
    is_rated: bool
    is_private: bool
    ai_levels: tuple[int, ...]
    seed: int | None
    # As requested: a preset name, a time-control object, or None for the default
    # (``timing.resolve`` checks it).
    time_control: str | dict[str, Any] | None
    rules_options: dict[str, Any] | None


@dataclass(frozen=True)
class SeatSpec:
    """One seat of a game created with its players: a user, or an AI at ``ai_level``."""

    seat: int
    user_id: str | None = None
    ai_level: int | None = None


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


def rematch_json(offer: Any) -> dict[str, Any] | None:
    """The rematch offer of an ended game as the API shows it (None: nobody offered one)."""
    if offer is None:
        return None
    return {
        "status": str(offer.status),
        "offeredBy": offer.offered_by,
        "accepted": list(offer.accepted or []),
        "declinedBy": offer.declined_by,
        "newGameId": offer.new_game_id,
    }


def game_json(
    loaded: Loaded, *, include_state: bool = True, viewer: User | None = None
) -> dict[str, Any]:
    """A game as the API shows it. ``viewer`` (when seated, or the creator) also gets the
    invite token of a private game."""
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
        "clocks": timing.clocks_json(game, now_ms()),
        "rematchOf": game.rematch_of,
        "rematch": rematch_json(loaded.rematch),
    }
    if (
        game.is_private
        and viewer is not None
        and (viewer.id == game.creator_id or loaded.seat_of(viewer.id) is not None)
    ):
        data["inviteToken"] = game.invite_token
    if include_state:
        data["state"] = game.state
    # Presence per human seat (Fischer games) and whether the game may still be aborted.
    data["presence"] = presence_json(game, loaded.seats)
    data["abortAllowed"] = abort_allowed(game)
    return data


def _seat_key(seat: GameSeat) -> int:
    return seat.seat


async def publish_current(ctx: AppContext, game_id: str) -> None:
    """Tell sockets (here and, through Redis, everywhere) that a game's status changed."""
    async with ctx.db.session() as session:
        game = await session.get(Game, game_id)
    if game is not None:
        ctx.bus.publish(
            StatusEvent(
                game.id, game.version, game.status, game.winner_seat, game.end_reason
            ).to_json()
        )


# --- listing --------------------------------------------------------------------------------


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
        loaded = await _with_seats(session, list(games))
        ended = [g.id for g in games if g.status == COMPLETED]
        if ended:
            offers = await session.scalars(
                select(RematchOffer).where(RematchOffer.game_id.in_(ended))
            )
            by_game = {o.game_id: o for o in offers}
            for item in loaded:
                item.rematch = by_game.get(item.game.id)
        return loaded, int(total or 0)


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
    usernames = await store.usernames(session, seats)
    by_game: dict[str, list[GameSeat]] = {g.id: [] for g in games}
    for seat in seats:
        by_game[seat.game_id].append(seat)
    return [Loaded(g, by_game[g.id], usernames) for g in games]


async def move_list(
    ctx: AppContext, game_id: str, viewer: User | None, invite: str | None = None
) -> dict[str, Any]:
    loaded = await get_game(ctx, game_id, viewer, invite)
    async with ctx.db.session() as session:
        rows = (
            await session.scalars(
                select(MoveRecord)
                .where(MoveRecord.game_id == game_id)
                .order_by(MoveRecord.move_number)
            )
        ).all()
    game = loaded.game
    initial = store.initial_doc(game.board_type, game.max_players, game.rules_options, game.id)
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
                "auto": r.source == MoveSource.AUTO,
                "stateHash": r.state_hash,
                "createdAt": _iso(r.created_at),
            }
            for r in rows
        ],
    }


# --- create / join / leave ----------------------------------------------------------------


async def create_game(ctx: AppContext, user: User, spec: NewGame) -> Loaded:
    """A game with ``user`` in seat 1 and the AI opponents of ``spec`` in the next seats."""
    if 1 + len(spec.ai_levels) > spec.max_players:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            f"{len(spec.ai_levels)} AI opponents do not fit in a {spec.max_players}-player game "
            "next to its creator",
            details=[{"field": "aiOpponents.count", "reason": "too many AI opponents"}],
        )
    seats = [SeatSpec(1, user_id=user.id)]
    seats += [SeatSpec(i + 2, ai_level=level) for i, level in enumerate(spec.ai_levels)]
    game = await create_seated_game(ctx, spec, user.id, seats)
    return await get_game(ctx, game.id, user)


async def create_seated_game(
    ctx: AppContext,
    spec: NewGame,
    creator_id: str,
    seats: Sequence[SeatSpec],
    *,
    rematch_of: str | None = None,
    session: AsyncSession | None = None,
) -> Game:
    """Create a game with these seats already taken (``spec.ai_levels`` is not used: AI seats
    are in ``seats``); it starts at once when every seat is filled. Used by ``create_game``,
    matchmaking and rematches, so no other player can take a seat while the chosen ones sit
    down.

    With ``session`` the rows join the caller's transaction (flushed, not committed; raises
    IntegrityError when ``rematch_of`` already has its rematch) and the caller calls
    ``started`` after its commit; without it the game is committed and started here."""
    ai_count = sum(1 for s in seats if s.user_id is None)
    # Untimed play is for games without a human opponent only (issue 11, docs/server.md).
    tc = timing.resolve(
        spec.time_control,
        human_opponents=spec.max_players - ai_count > 1,
        default=ctx.settings.default_time_control,
    )
    now = utcnow()
    try:
        game_id = new_id()
        state_json = store.initial_doc(
            spec.board_type, spec.max_players, spec.rules_options, game_id
        )
    except ValueError as error:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            str(error),
            details=[{"field": "rulesOptions", "reason": str(error)}],
        ) from error
    full = len(seats) == spec.max_players
    with_ai = any(s.user_id is None for s in seats)
    game = Game(
        id=game_id,
        board_type=spec.board_type,
        max_players=spec.max_players,
        status=ACTIVE if full else WAITING,
        # Ratings only move in games between people.
        is_rated=spec.is_rated and not with_ai,
        is_private=spec.is_private,
        invite_token=invites.new_token() if spec.is_private else None,
        rematch_of=rematch_of,
        seed=spec.seed,
        time_control=tc.to_json(),
        rules_options=spec.rules_options,
        creator_id=creator_id,
        version=0,
        state=state_json,
        current_player=state_json.get("currentPlayer"),
        created_at=now,
        updated_at=now,
        started_at=now if full else None,
    )
    if full:
        values = timing.start_values(game, now)
        game.clocks, game.clock_deadline_ms = values["clocks"], values["clock_deadline_ms"]
    rows = [
        GameSeat(
            game_id=game_id,
            seat=s.seat,
            user_id=s.user_id,
            is_ai=s.user_id is None,
            ai_level=s.ai_level if s.user_id is None else None,
            joined_at=now,
        )
        for s in seats
    ]
    if session is not None:
        session.add(game)
        await session.flush()
        session.add_all(rows)
        await session.flush()
        return game
    async with ctx.db.session() as own:
        own.add(game)
        await own.flush()
        own.add_all(rows)
        await own.commit()
    await started(ctx, game)
    return game


async def started(ctx: AppContext, game: Game) -> None:
    """After a game was created (and committed): tell the lobby, and play the AI turns a full
    game starts with."""
    publish_lobby(
        ctx, game.id, LobbyChange.STARTED if game.status == ACTIVE else LobbyChange.CREATED
    )
    if game.status == ACTIVE:
        await ai_turns.play_ai_turns(ctx, game.id)


async def join_game(ctx: AppContext, user: User, game_id: str, invite: str | None = None) -> Loaded:
    """Take the lowest free seat; a private game needs its invite token."""
    async with ctx.db.session() as session:
        loaded = await store.load(session, game_id)
        if loaded is None:
            raise ApiError(ErrorCode.GAME_NOT_FOUND)
        if loaded.seat_of(user.id) is not None:
            raise ApiError(ErrorCode.GAME_ALREADY_JOINED)
        invites.check_access(loaded.game, False, user, invite)
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
    publish_lobby(ctx, game_id, LobbyChange.JOINED)
    await _activate_if_full(ctx, game_id)
    await ai_turns.play_ai_turns(ctx, game_id)
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
            .values(status=ACTIVE, started_at=now, updated_at=now, **timing.start_values(game, now))
        )
        await session.commit()
    if result.rowcount == 1:  # type: ignore[attr-defined]
        publish_lobby(ctx, game_id, LobbyChange.STARTED)
        await publish_current(ctx, game_id)


async def leave_game(ctx: AppContext, user: User, game_id: str) -> Loaded:
    async with ctx.db.session() as session:
        loaded = await store.load(session, game_id)
        if loaded is None:
            raise ApiError(ErrorCode.GAME_NOT_FOUND)
        seat = loaded.seat_of(user.id)
        if seat is None:
            raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "You are not seated in this game")
        game = loaded.game
        now = utcnow()
        waiting = game.status == WAITING
        if game.status in (COMPLETED, CANCELLED):
            raise ApiError(ErrorCode.GAME_ALREADY_ENDED)
        if waiting:
            change = LobbyChange.CANCELLED if game.creator_id == user.id else LobbyChange.LEFT
            if game.creator_id == user.id:
                result = await session.execute(
                    update(Game)
                    .where(Game.id == game_id, Game.status == WAITING)
                    .values(
                        status=CANCELLED,
                        ended_at=now,
                        updated_at=now,
                        end_reason=EndReason.CANCELLED.value,
                    )
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
    if waiting:
        publish_lobby(ctx, game_id, change)
        await publish_current(ctx, game_id)
        return await get_game(ctx, game_id, user)
    committed = await withdrawals.withdraw_seat(ctx, game_id, seat.seat, EndReason.RESIGNATION)
    if committed is None:
        raise ApiError(ErrorCode.GAME_ALREADY_ENDED, "The game has ended or you already resigned")
    return await get_game(ctx, game_id, user)


# --- moves (REST) -------------------------------------------------------------------------


async def submit_move(
    ctx: AppContext, user: User, game_id: str, move_json: Any, expected_version: int
) -> Loaded:
    """REST: commit the move (and the bookkeeping it forces), then play the AI turns it made
    due before answering, so the response already contains the AI replies. Nothing is read
    back unless the game ended (final ranks and ratings are written by the commit)."""
    committed = await moves.play_human_move(
        ctx, user, game_id, move_json, expected_version, with_usernames=True
    )
    loaded = committed.loaded
    if ai_turns.ai_to_move(loaded):
        known = ai_turns.Known(committed.version, committed.position, loaded)
        await ai_turns.play_ai_turns(ctx, game_id, known)
    if loaded.game.status == COMPLETED:
        return await get_game(ctx, game_id, user)
    return loaded
