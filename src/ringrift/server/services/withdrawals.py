"""Withdrawals: a seat leaves a game before it ends, through resignation, flag fall or
abandonment (rules decision F-30, docs/rules.md §16).

A withdrawal is serialised like a move: it is a versioned entry in the moves table
(``source = 'withdrawal'``), committed by ``moves.commit`` with the versioned UPDATE, so of a
withdrawal and a move made against the same version exactly one lands, and a flag adjudicated
by two instances at once is applied once. In a 2-player game it ends the game (the other seat
wins, and the game's end reason is the withdrawal's); in a 3-4 player game the seat keeps its
pieces, takes no more turns and ranks below every seat that stayed, and play goes on. Forced
bookkeeping of the next human seat and due AI turns follow, as after any move.
"""

from __future__ import annotations

from ringrift.rules import IllegalMove, withdraw
from ringrift.server.context import AppContext
from ringrift.server.domain import WITHDRAWAL_REASONS, EndReason, GameStatus, MoveSource
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.positions import Position
from ringrift.server.services import ai_turns, moves, store

# Without an expected version a withdrawal (a resignation) is retried against newer versions
# this many times before the caller is told to try again.
MAX_ATTEMPTS = 8


async def withdraw_seat(
    ctx: AppContext,
    game_id: str,
    seat: int,
    reason: EndReason,
    *,
    expected_version: int | None = None,
) -> moves.Committed | None:
    """Withdraw ``seat`` from the active game ``game_id`` for ``reason``.

    With ``expected_version`` the withdrawal is only valid at that version (a flag that fell
    on that move): None when the game has moved on or is no longer active. Without it, it is
    retried on newer versions, and None means the game ended or the seat had already left.
    Raises ``GAME_NOT_FOUND`` for an unknown game."""
    if reason not in WITHDRAWAL_REASONS:
        raise ValueError(f"{reason!r} is not a reason to withdraw")
    attempts = 1 if expected_version is not None else MAX_ATTEMPTS
    for _ in range(attempts):
        async with ctx.db.session() as session:
            loaded = await store.load(session, game_id)
        if loaded is None:
            raise ApiError(ErrorCode.GAME_NOT_FOUND)
        game = loaded.game
        if game.status != GameStatus.ACTIVE:
            return None
        if expected_version is not None and game.version != expected_version:
            return None
        before = store.position(ctx, game)
        leaving = loaded.seat_number(seat)
        try:
            after = withdraw(before.state, seat, reason.value)
        except IllegalMove:
            return None  # already withdrawn
        planned = moves.Planned(
            seat,
            moves.Withdrawal(seat, reason),
            Position.of(after, game_id),
            MoveSource.WITHDRAWAL,
            leaving.user_id if leaving is not None else None,
        )
        humans = loaded.human_seats()
        chain = [planned, *moves.forced_bookkeeping(planned.after, humans, game_id)]
        committed = await moves.commit(ctx, loaded, game.version, before, chain)
        if committed is None:
            continue
        if ai_turns.ai_to_move(committed.loaded):
            known = ai_turns.Known(committed.version, committed.position, committed.loaded)
            await ai_turns.play_ai_turns(ctx, game_id, known)
        return committed
    return None
