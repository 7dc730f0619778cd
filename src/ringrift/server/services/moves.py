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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.rules import IllegalMove, Move, WireFormatError, apply_move, legal_moves
from ringrift.rules.moves import BOOKKEEPING_TYPES
from ringrift.server import codec, mergepatch
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, GameSeat, MoveRecord, User, utcnow
from ringrift.server.domain import EndReason, GameStatus, MoveSource
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.events import MoveEvent, now_ms
from ringrift.server.positions import Position
from ringrift.server.services import results, store

# A bookkeeping chain longer than this is a rules bug, not a game; stop and ask the player.
MAX_AUTO_MOVES = 64


@dataclass(frozen=True)
class Planned:
    """A move about to be committed, with the position it leads to."""

    seat: int
    move: Move
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
    state = position.state
    while len(chain) < MAX_AUTO_MOVES and state.game_status == GameStatus.ACTIVE:
        if state.current_player not in humans:
            break
        options = legal_moves(state)
        if len(options) != 1 or options[0].type not in BOOKKEEPING_TYPES:
            break
        seat = state.current_player
        state = apply_move(state, options[0])
        chain.append(Planned(seat, options[0], Position.of(state, game_id), MoveSource.AUTO, None))
    return chain


def legal_moves_json(position: Position) -> list[dict[str, Any]]:
    return [m.to_json() for m in legal_moves(position.state)]


def validated_move(
    ctx: AppContext,
    loaded: store.Loaded | None,
    user: User,
    move_json: Any,
    expected_version: int,
) -> tuple[Position, Planned]:
    """Check a human move against the loaded game: (the position before, the planned move), or
    the ApiError that refuses it."""
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
    before = store.position(ctx, game)
    if before.state.current_player != seat.seat:
        raise ApiError(
            ErrorCode.GAME_NOT_YOUR_TURN,
            details={"currentPlayer": before.state.current_player, "yourSeat": seat.seat},
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
        after = apply_move(before.state, move)
    except IllegalMove as error:
        raise ApiError(
            ErrorCode.GAME_INVALID_MOVE, error.reason, details={"reason": error.reason}
        ) from error
    return before, Planned(seat.seat, move, Position.of(after, game.id), MoveSource.HUMAN, user.id)


async def play_human_move(
    ctx: AppContext,
    user: User,
    game_id: str,
    move_json: Any,
    expected_version: int,
    *,
    with_usernames: bool = False,
) -> Committed:
    """Validate and commit one human move plus the bookkeeping it forces. AI turns are left to
    the caller."""
    if ctx.db.backend == "postgresql":
        # One transaction for read and write: under READ COMMITTED the versioned UPDATE still
        # sees (and loses to) a move committed after our read.
        async with ctx.db.session() as session:
            loaded = await store.load(session, game_id, with_usernames=with_usernames)
            before, planned = validated_move(ctx, loaded, user, move_json, expected_version)
            assert loaded is not None
            chain = [planned, *forced_bookkeeping(planned.after, loaded.human_seats(), game_id)]
            committed = await commit(ctx, loaded, expected_version, before, chain, session)
    else:
        # SQLite cannot upgrade a read transaction to a write once another writer committed
        # (a snapshot conflict, not a wait), so the read ends before the write begins.
        async with ctx.db.session() as session:
            loaded = await store.load(session, game_id, with_usernames=with_usernames)
        before, planned = validated_move(ctx, loaded, user, move_json, expected_version)
        assert loaded is not None
        chain = [planned, *forced_bookkeeping(planned.after, loaded.human_seats(), game_id)]
        committed = await commit(ctx, loaded, expected_version, before, chain)
    if committed is None:
        raise ApiError(
            ErrorCode.GAME_VERSION_CONFLICT, details={"expectedVersion": expected_version}
        )
    return committed


async def commit(
    ctx: AppContext,
    loaded: store.Loaded,
    expected_version: int,
    before: Position,
    chain: Sequence[Planned],
    session: AsyncSession | None = None,
) -> Committed | None:
    """Commit ``chain`` (moves ``expected_version + 1 ...``) in one transaction (in ``session``
    when given, else in one of its own) and publish it; None when another move got there
    first."""
    game_id = loaded.game.id
    final = chain[-1].after
    final_state = final.state
    new_version = expected_version + len(chain)
    completed = final_state.game_status == GameStatus.COMPLETED
    now = utcnow()
    values: dict[str, Any] = {
        "version": new_version,
        "state": final.doc,
        "current_player": final_state.current_player,
        "updated_at": now,
    }
    if completed:
        values.update(
            status=GameStatus.COMPLETED.value,
            winner_seat=final_state.winner,
            end_reason=EndReason.NORMAL.value,
            ended_at=now,
        )
    records = [
        MoveRecord(
            game_id=game_id,
            move_number=expected_version + i + 1,
            player=p.seat,
            move=p.move.to_json(),
            user_id=p.user_id,
            is_ai=p.source not in (MoveSource.HUMAN, MoveSource.AUTO),
            source=p.source.value,
            state_hash=codec.position_hash(p.after.doc, p.after.state),
            created_at=now,
        )
        for i, p in enumerate(chain)
    ]
    snapshots = store.snapshot_rows(
        game_id, [(expected_version + i + 1, p.after.doc) for i, p in enumerate(chain)]
    )
    rows = [*records, *snapshots]
    if session is None:
        async with ctx.db.session() as own:
            ok = await _write(own, game_id, expected_version, values, rows, completed, final)
    else:
        ok = await _write(session, game_id, expected_version, values, rows, completed, final)
    if not ok:
        return None
    ctx.positions.put(game_id, new_version, final)
    game = loaded.game
    game.version = new_version
    game.state = final.doc
    game.current_player = final_state.current_player
    game.updated_at = now
    if completed:
        ctx.metrics.games_completed.labels(reason=EndReason.NORMAL.value).inc()
        game.status = GameStatus.COMPLETED.value
        game.winner_seat = final_state.winner
        game.end_reason = EndReason.NORMAL.value
        game.ended_at = now
    _publish(ctx, loaded, expected_version, before, chain, records)
    return Committed(new_version, final, loaded)


async def _write(
    session: AsyncSession,
    game_id: str,
    expected_version: int,
    values: dict[str, Any],
    rows: Sequence[object],
    completed: bool,
    final: Position,
) -> bool:
    """The versioned UPDATE plus the new rows (and results when the game ended), committed."""
    result = await session.execute(
        update(Game)
        .where(
            Game.id == game_id,
            Game.version == expected_version,
            Game.status == GameStatus.ACTIVE.value,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return False
    session.add_all(rows)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return False
    if completed:
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


def _publish(
    ctx: AppContext,
    loaded: store.Loaded,
    expected_version: int,
    before: Position,
    chain: Sequence[Planned],
    records: Sequence[MoveRecord],
) -> None:
    """One ``MoveEvent`` per committed move; legal moves ride on the last one when a person is
    to move after it."""
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
            move=record.move,
            by=planned.seat,
            auto=planned.auto,
            hash=record.state_hash,
            status=GameStatus.ACTIVE.value if active else GameStatus.COMPLETED.value,
            winner=None if active else state.winner,
            end_reason=None if active else EndReason.NORMAL.value,
            patch=mergepatch.diff(previous, planned.after.doc),
            to_move=state.current_player if active else None,
            legal_moves=legal_moves_json(planned.after) if offer else None,
            server_time=stamp,
            prompt=offer,
        )
        # Other instances get the event without legal moves (they are the bulk of a payload):
        # the one holding the socket of the seat to move reads them from the database.
        ctx.bus.publish(event.to_json(), remote=replace(event, legal_moves=None).to_json())
        previous = planned.after.doc
