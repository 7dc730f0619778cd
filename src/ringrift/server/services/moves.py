"""Moves: validate, play forced bookkeeping, commit, publish.

Concurrency: a move is validated against the loaded game, then committed with
``UPDATE games SET version = v + k ... WHERE id = :id AND version = v AND status = 'active'``
plus the ``k`` move rows (``UNIQUE(game_id, move_number)`` as a second guard) and any snapshot
rows, in one transaction. Of two submissions against the same version exactly one commits; the
other gets ``GAME_VERSION_CONFLICT``. Nothing is read back: the caller gets the positions it
computed, and this instance caches the newest one so the next move parses nothing.

Bookkeeping moves are not chores: when the only legal move of a human seat is a bookkeeping
move (``no_line_action``, ``skip_placement``, ...), it is played at once in the same commit
(``moves.source = 'auto'``), repeatedly while that holds. ``k`` is the human (or AI) move plus
those. Each committed move is published as its own ``MoveEvent`` with a merge patch.

A seat that leaves a game before it ends (resignation, flag fall, abandonment: F-30) is a
``Withdrawal``: not a move of the rules, but a versioned entry in the same table, committed and
published the same way, so replays and the socket see it in order (see ``withdrawals.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.rules import IllegalMove, Move, WireFormatError, apply_move
from ringrift.rules.moves import BOOKKEEPING_TYPES
from ringrift.server import codec, mergepatch
from ringrift.server.context import AppContext
from ringrift.server.db.direct import DirectConnection
from ringrift.server.db.models import (
    Game,
    GameSeat,
    GameSnapshot,
    MoveRecord,
    User,
    new_id,
    utcnow,
)
from ringrift.server.db.session import DatabaseUnavailable
from ringrift.server.domain import WITHDRAWAL_REASONS, EndReason, GameStatus, MoveSource
from ringrift.server.errors import ApiError, ErrorCode, TokenRevoked
from ringrift.server.events import MoveEvent, now_ms
from ringrift.server.positions import Position
from ringrift.server.services import pgmoves, results, store, timing

log = logging.getLogger(__name__)

# A bookkeeping chain longer than this is a rules bug, not a game; stop and ask the player.
MAX_AUTO_MOVES = 64


@dataclass(frozen=True)
class Withdrawal:
    """F-30: ``player`` leaves the game for ``reason``. Stored in the moves table as
    ``{"type": "withdraw", "player": p, "reason": r}`` and replayed with ``rules.withdraw``."""

    TYPE: ClassVar[str] = "withdraw"

    player: int
    reason: EndReason

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "player": self.player, "reason": self.reason.value}


@dataclass(frozen=True)
class Planned:
    """A move (or withdrawal) about to be committed, with the position it leads to."""

    seat: int
    move: Move | Withdrawal
    after: Position
    source: MoveSource
    user_id: str | None

    @property
    def auto(self) -> bool:
        return self.source == MoveSource.AUTO


@dataclass(frozen=True)
class Committed:
    """The outcome of a commit: the newest version and position, and the game as loaded
    before it (its ``game`` row object updated in memory to the new version)."""

    version: int
    position: Position
    loaded: store.Loaded


def forced_bookkeeping(position: Position, humans: frozenset[int], game_id: str) -> list[Planned]:
    """The bookkeeping moves the server plays for human seats that have no other choice, in
    order, starting from ``position``."""
    chain: list[Planned] = []
    current = position
    state = position.state
    while len(chain) < MAX_AUTO_MOVES and state.game_status == GameStatus.ACTIVE:
        if state.current_player not in humans:
            break
        options = current.legal
        if len(options) != 1 or options[0].type not in BOOKKEEPING_TYPES:
            break
        seat = state.current_player
        state = apply_move(state, options[0])
        current = Position.of(state, game_id)
        chain.append(Planned(seat, options[0], current, MoveSource.AUTO, None))
    return chain


def seat_for_move(loaded: store.Loaded | None, user: User, expected_version: int) -> GameSeat:
    """The seat ``user`` plays in the loaded game, when a move of theirs at
    ``expected_version`` may be considered at all; else the ApiError that refuses it."""
    if loaded is None:
        raise ApiError(ErrorCode.GAME_NOT_FOUND)
    game = loaded.game
    seat = loaded.seat_of(user.id)
    if seat is None:
        raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "You are not seated in this game")
    if game.status in (GameStatus.COMPLETED, GameStatus.CANCELLED):
        raise ApiError(ErrorCode.GAME_ALREADY_ENDED)
    if game.status != GameStatus.ACTIVE:
        raise ApiError(ErrorCode.GAME_INVALID_MOVE, "The game has not started yet")
    if expected_version != game.version:
        raise ApiError(
            ErrorCode.GAME_VERSION_CONFLICT,
            details={"currentVersion": game.version, "expectedVersion": expected_version},
        )
    return seat


def planned_human_move(
    game: Game, seat: GameSeat, before: Position, user: User, move_json: Any
) -> Planned:
    """``move_json`` of ``seat`` checked against the position ``before`` it (the game's
    current one): the planned move, or the ApiError that refuses it."""
    if before.state.current_player != seat.seat:
        raise ApiError(
            ErrorCode.GAME_NOT_YOUR_TURN,
            details={"currentPlayer": before.state.current_player, "yourSeat": seat.seat},
        )
    timing.check_not_flagged(game, seat.seat, now_ms())
    try:
        move = Move.from_json(move_json)
    except WireFormatError as error:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            f"Malformed move: {error.reason}",
            details=[{"field": "move", "reason": error.reason}],
        ) from error
    try:
        after = apply_move(before.state, move)
    except IllegalMove as error:
        raise ApiError(
            ErrorCode.GAME_INVALID_MOVE, error.reason, details={"reason": error.reason}
        ) from error
    return Planned(seat.seat, move, Position.of(after, game.id), MoveSource.HUMAN, user.id)


async def play_human_move(
    ctx: AppContext,
    user: User,
    game_id: str,
    move_json: Any,
    expected_version: int,
    *,
    with_usernames: bool = False,
    token_version: int | None = None,
) -> Committed:
    """Validate and commit one human move plus the bookkeeping it forces. AI turns are left to
    the caller. A move whose seat's time is up is refused (``GAME_TIME_OUT``) and the flag is
    adjudicated at once. ``token_version`` (a socket's token) is checked against the user's
    in the move's own read: ``TokenRevoked`` when it moved on, before anything is written."""
    try:
        committed = await _play_human_move(
            ctx,
            user,
            game_id,
            move_json,
            expected_version,
            with_usernames=with_usernames,
            token_version=token_version,
        )
    except timing.TimeUp as flagged:
        await flag_fall(ctx, game_id, flagged.seat, flagged.version)
        raise
    if committed is None:
        raise ApiError(
            ErrorCode.GAME_VERSION_CONFLICT, details={"expectedVersion": expected_version}
        )
    return committed


async def _play_human_move(
    ctx: AppContext,
    user: User,
    game_id: str,
    move_json: Any,
    expected_version: int,
    *,
    with_usernames: bool,
    token_version: int | None,
) -> Committed | None:
    token_of = None if token_version is None else user.id
    if ctx.db.has_direct and not with_usernames:
        # The socket's path: read and (commonly) write on one driver connection, a statement
        # each (see ``pgmoves``).
        async with ctx.db.direct() as direct:
            loaded = await pgmoves.load(direct, game_id, token_of)
            _check_token(loaded, token_version)
            seat = seat_for_move(loaded, user, expected_version)
            assert loaded is not None
            before = await pgmoves.current_position(ctx, direct, loaded.game)
            chain = _human_chain(loaded, seat, before, user, move_json)
            if not needs_transaction(expected_version, chain):
                return await commit(ctx, loaded, expected_version, before, chain, direct)
        # A snapshot, a resignation or the game's end: a session's transaction, once this
        # connection is back in the pool (holding two at once could starve the pool).
        return await commit(ctx, loaded, expected_version, before, chain)
    async with ctx.db.session() as session:
        loaded = await store.load(
            session, game_id, with_usernames=with_usernames, token_of=token_of, state=False
        )
        _check_token(loaded, token_version)
        seat = seat_for_move(loaded, user, expected_version)
        assert loaded is not None
        before = await store.current_position(ctx, session, loaded.game)
    # The read is over before the write begins: the versioned UPDATE decides between moves
    # against the same version, whatever was read (and SQLite cannot upgrade a read
    # transaction to a write once another writer has committed).
    chain = _human_chain(loaded, seat, before, user, move_json)
    return await commit(ctx, loaded, expected_version, before, chain)


def _human_chain(
    loaded: store.Loaded, seat: GameSeat, before: Position, user: User, move_json: Any
) -> list[Planned]:
    planned = planned_human_move(loaded.game, seat, before, user, move_json)
    return [planned, *forced_bookkeeping(planned.after, loaded.human_seats(), loaded.game.id)]


def needs_transaction(expected_version: int, chain: Sequence[Planned]) -> bool:
    """Whether committing ``chain`` writes more than the game row and the move rows: a
    snapshot, a resignation, or the game's end (results). Such a commit is a transaction of
    the session; any other is one statement on PostgreSQL (``pgmoves.advance``)."""
    return (
        chain[-1].after.state.game_status == GameStatus.COMPLETED
        or any(isinstance(p.move, Withdrawal) for p in chain)
        or any(store.is_snapshot_version(expected_version + i + 1) for i in range(len(chain)))
    )


def _check_token(loaded: store.Loaded | None, token_version: int | None) -> None:
    if token_version is not None and loaded is not None and loaded.token_version != token_version:
        raise TokenRevoked


async def flag_fall(ctx: AppContext, game_id: str, seat: int, version: int) -> None:
    """Adjudicate a flag found on the move path (``services.flags``, imported late: it
    commits through this module). A failure is left to the flag sweep, which finds the same
    flag from the stored clocks."""
    from ringrift.server.services import flags

    try:
        await flags.adjudicate(ctx, game_id, seat, version)
    except (ApiError, SQLAlchemyError, DatabaseUnavailable):
        log.warning("flag adjudication failed; the sweep retries", extra={"gameId": game_id})


async def commit(
    ctx: AppContext,
    loaded: store.Loaded,
    expected_version: int,
    before: Position,
    chain: Sequence[Planned],
    direct: DirectConnection | None = None,
) -> Committed | None:
    """Commit ``chain`` (moves ``expected_version + 1 ...``) atomically and publish it; None
    when another move got there first. On PostgreSQL the common commit is one statement on the
    driver (``pgmoves.advance``, on ``direct`` when the caller holds one); one that
    ``needs_transaction`` is a transaction of the session (``_write``). The clocks are charged
    with the commit timestamp in the same UPDATE; ``TimeUp`` (nothing written) when the
    mover's time was already up."""
    game_id = loaded.game.id
    final = chain[-1].after
    final_state = final.state
    new_version = expected_version + len(chain)
    completed = final_state.game_status == GameStatus.COMPLETED
    end_reason = _end_reason(final_state.victory_reason)
    now = utcnow()
    stamp = timing.epoch_ms(now)
    clocks = timing.advance(loaded.game, chain, stamp)
    values: dict[str, Any] = {
        "version": new_version,
        "state": final.doc,
        "current_player": final_state.current_player,
        "updated_at": now,
        **timing.store_values(clocks[-1] if clocks else None),
    }
    if completed:
        values.update(
            status=GameStatus.COMPLETED.value,
            winner_seat=final_state.winner,
            end_reason=end_reason.value,
            ended_at=now,
        )
    records = [
        {
            "id": new_id(),
            "game_id": game_id,
            "move_number": expected_version + i + 1,
            "player": p.seat,
            "move": p.move.to_json(),
            "user_id": p.user_id,
            "is_ai": p.source in (MoveSource.SERVICE, MoveSource.LOCAL, MoveSource.FALLBACK),
            "source": p.source.value,
            "state_hash": codec.position_hash(p.after.doc, p.after.state),
            "created_at": now,
        }
        for i, p in enumerate(chain)
    ]
    snapshots = store.snapshot_values(
        game_id, [(expected_version + i + 1, p.after.doc) for i, p in enumerate(chain)]
    )
    resigned = [
        p.seat
        for p in chain
        if isinstance(p.move, Withdrawal) and p.move.reason == EndReason.RESIGNATION
    ]
    if ctx.db.has_direct and not needs_transaction(expected_version, chain):
        if direct is not None:
            ok = await pgmoves.advance(direct, game_id, expected_version, values, records)
        else:
            async with ctx.db.direct() as own:
                ok = await pgmoves.advance(own, game_id, expected_version, values, records)
    else:
        async with ctx.db.session() as session:
            ok = await _write(
                session, game_id, expected_version, values, records, snapshots, final, resigned
            )
    if not ok:
        return None
    ctx.positions.put(game_id, new_version, final)
    game = loaded.game
    game.version = new_version
    game.state = final.doc
    game.current_player = final_state.current_player
    game.updated_at = now
    if clocks:
        game.clocks = values["clocks"]
        game.clock_deadline_ms = values["clock_deadline_ms"]
    for seat in loaded.seats:
        if seat.seat in resigned:
            seat.resigned = True
    if completed:
        ctx.metrics.games_completed.labels(reason=end_reason.value).inc()
        game.status = GameStatus.COMPLETED.value
        game.winner_seat = final_state.winner
        game.end_reason = end_reason.value
        game.ended_at = now
    timers = [c.to_json(stamp) for c in clocks] if clocks else None
    _publish(ctx, loaded, expected_version, before, chain, records, timers)
    return Committed(new_version, final, loaded)


# The hot path's statements, built once: Core (not ORM) statements against the tables, so a
# commit spends no time on ORM bookkeeping or cache keys (profiled: about a third of a move's
# CPU went there). UPDATE's SET clause comes from the parameters' keys.
_GAMES = cast(Table, Game.__table__)
_SEATS = cast(Table, GameSeat.__table__)
_ADVANCE = update(_GAMES).where(
    _GAMES.c.id == bindparam("where_id"),
    _GAMES.c.version == bindparam("where_version"),
    _GAMES.c.status == GameStatus.ACTIVE.value,
)
_RESIGN = (
    update(_SEATS)
    .where(
        _SEATS.c.game_id == bindparam("where_game"),
        _SEATS.c.seat == bindparam("where_seat"),
    )
    .values(resigned=True)
)
_INSERT_MOVES = insert(cast(Table, MoveRecord.__table__))
_INSERT_SNAPSHOTS = insert(cast(Table, GameSnapshot.__table__))


async def _write(
    session: AsyncSession,
    game_id: str,
    expected_version: int,
    values: dict[str, Any],
    records: Sequence[dict[str, Any]],
    snapshots: Sequence[dict[str, Any]],
    final: Position,
    resigned: Sequence[int] = (),
) -> bool:
    """The versioned UPDATE plus the move and snapshot rows (and results when the game ended),
    committed; ``resigned`` seats are marked so in the same transaction."""
    connection = await session.connection()
    result = await connection.execute(
        _ADVANCE, {"where_id": game_id, "where_version": expected_version, **values}
    )
    if result.rowcount != 1:
        await session.rollback()
        return False
    if resigned:
        await connection.execute(
            _RESIGN, [{"where_game": game_id, "where_seat": seat} for seat in resigned]
        )
    try:
        await connection.execute(_INSERT_MOVES, list(records))
        if snapshots:
            await connection.execute(_INSERT_SNAPSHOTS, list(snapshots))
    except IntegrityError:
        await session.rollback()
        return False
    if final.state.game_status == GameStatus.COMPLETED:
        # Results need the seats and users of this transaction; a game ends once, so this
        # read-back is not on the common path.
        game = await session.get(Game, game_id, populate_existing=True)
        seats = list(
            (await session.scalars(select(GameSeat).where(GameSeat.game_id == game_id))).all()
        )
        if game is not None:
            await results.finalize(session, game, seats, final.state.final_ranks())
    await session.commit()
    return True


def _end_reason(victory_reason: str | None) -> EndReason:
    """A game that a withdrawal ended carries the withdrawal's reason; any other end is normal
    (the rules' own victory reason is in the position)."""
    if victory_reason in WITHDRAWAL_REASONS:
        return EndReason(victory_reason)
    return EndReason.NORMAL


def _publish(
    ctx: AppContext,
    loaded: store.Loaded,
    expected_version: int,
    before: Position,
    chain: Sequence[Planned],
    records: Sequence[dict[str, Any]],
    timers: Sequence[dict[str, Any]] | None,
) -> None:
    """One ``MoveEvent`` per committed move (with the clocks after it, for timed games); legal
    moves ride on the last one when a person is to move after it."""
    humans = loaded.human_seats()
    previous = before.doc
    stamp = now_ms()
    for index, (planned, record) in enumerate(zip(chain, records, strict=True)):
        state = planned.after.state
        active = state.game_status == GameStatus.ACTIVE
        last = index == len(chain) - 1
        offer = last and active and state.current_player in humans
        event = MoveEvent(
            game_id=loaded.game.id,
            v=expected_version + index + 1,
            move=record["move"],
            by=planned.seat,
            auto=planned.auto,
            hash=record["state_hash"],
            status=GameStatus.ACTIVE.value if active else GameStatus.COMPLETED.value,
            winner=None if active else state.winner,
            end_reason=None if active else _end_reason(state.victory_reason).value,
            patch=mergepatch.diff(previous, planned.after.doc),
            to_move=state.current_player if active else None,
            legal_moves=planned.after.legal_json if offer else None,
            server_time=stamp,
            prompt=offer,
            clocks=timers[index] if timers else None,
        )
        # Other instances get the event without legal moves (they are the bulk of a payload):
        # the one holding the socket of the seat to move plays the event's move on its own
        # copy of the position (``PositionCache.follow``), or reads them from the database.
        ctx.bus.publish(event.to_json(), remote=replace(event, legal_moves=None).to_json())
        previous = planned.after.doc
