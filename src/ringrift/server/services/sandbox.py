"""The anonymous sandbox: a game against the AI that the server never stores.

Stateless by design: the client holds the position and sends it with every request; the server
checks it (wire format, board limits), applies the visitor's move with the rules engine (an
illegal move is refused) or lets the AI seat to move play one decision, and answers with the
new position. Nothing is written anywhere, so there is nothing to clean up, rate or cheat: a
client that edits its position only changes its own practice game."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from ringrift.rules import GameState, IllegalMove, Move, apply_move, legal_moves, new_game
from ringrift.rules.moves import BOOKKEEPING_TYPES
from ringrift.server.api.analysis_schemas import PlayedOut, SandboxOut, SandboxStatus
from ringrift.server.context import AppContext
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services.positions_in import check_seat, load_move

log = logging.getLogger(__name__)

MAX_LONE_MOVES = 64
# Played for the visitor when they are the only move (as the game page does): passes and the
# forced next step of a capture chain.
AUTOMATIC_TYPES = frozenset(BOOKKEEPING_TYPES) | {"continue_capture_segment"}


def new(board_type: str, players: int, seat: int) -> SandboxOut:
    if seat > players:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            f"seat: this is a {players}-player game",
            details=[{"field": "seat", "reason": f"at most {players}"}],
        )
    state = new_game(board_type, players)
    played: list[PlayedOut] = []
    state = _settle(state, seat, played)
    return _out(state, seat, played)


def human_move(state: GameState, move_json: dict[str, Any], seat: int) -> SandboxOut:
    check_seat(state, seat)
    with _consistent():
        _check_active(state)
        if state.current_player != seat:
            raise ApiError(
                ErrorCode.GAME_NOT_YOUR_TURN,
                f"it is the AI's turn (seat {state.current_player}), not yours",
                details={"currentPlayer": state.current_player, "yourSeat": seat},
            )
        move = load_move(move_json)
        after = _apply(state, move, "move")
        played = [PlayedOut(player=seat, move=move.to_json(), by_ai=False)]
        return _out(_settle(after, seat, played), seat, played)


async def ai_move(ctx: AppContext, state: GameState, seat: int, level: int) -> SandboxOut:
    check_seat(state, seat)
    with _consistent():
        _check_active(state)
        mover = state.current_player
        if mover == seat:
            raise ApiError(
                ErrorCode.GAME_NOT_YOUR_TURN, "it is your turn: the AI waits for your move"
            )
    with _consistent():
        choice = await ctx.ai.choose(state, mover, level, None)
        played = [PlayedOut(player=mover, move=choice.move.to_json(), by_ai=True)]
        return _out(_settle(choice.state, seat, played), seat, played)


@contextlib.contextmanager
def _consistent() -> Iterator[None]:
    """A position the client made up can load and still break the engine (say, pieces that
    cannot exist together): that is the client's bad input, answered 400, not a server error."""
    try:
        yield
    except ApiError:
        raise
    except Exception as error:
        log.warning("sandbox position broke the engine", extra={"detail": repr(error)[:300]})
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "state: the position is not consistent",
            details=[{"field": "state", "reason": f"{type(error).__name__}"}],
        ) from None


def _check_active(state: GameState) -> None:
    if state.game_status != "active":
        raise ApiError(ErrorCode.GAME_ALREADY_ENDED)
    if not legal_moves(state):
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "state: an active position where nobody can move",
            details=[{"field": "state", "reason": "no legal move"}],
        )


def _apply(state: GameState, move: Move, field: str) -> GameState:
    try:
        return apply_move(state, move)
    except IllegalMove as error:
        details = {"field": field, "reason": error.reason}
        raise ApiError(ErrorCode.GAME_INVALID_MOVE, error.reason, details=details) from error


def _settle(state: GameState, seat: int, played: list[PlayedOut]) -> GameState:
    """Play the lone moves nobody has to think about: any seat's only move when it is the AI's,
    and the visitor's only move when it is a pass or a forced capture step."""
    for _ in range(MAX_LONE_MOVES):
        if state.game_status != "active":
            break
        options = legal_moves(state)
        mover = state.current_player
        if len(options) != 1 or (mover == seat and options[0].type not in AUTOMATIC_TYPES):
            break
        state = apply_move(state, options[0])
        played.append(PlayedOut(player=mover, move=options[0].to_json(), by_ai=mover != seat))
    return state


def _out(state: GameState, seat: int, played: list[PlayedOut]) -> SandboxOut:
    active = state.game_status == "active"
    mover = state.current_player if active else None
    mine = active and mover == seat
    return SandboxOut(
        state=state.to_json(include_history=False),
        played=played,
        legal_moves=[m.to_json() for m in legal_moves(state)] if mine else [],
        to_move=mover,
        ai_to_move=active and mover != seat,
        status=SandboxStatus.ACTIVE if active else SandboxStatus.COMPLETED,
        winner=state.winner or None,
        victory_reason=state.victory_reason,
    )
