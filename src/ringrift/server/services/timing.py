"""Game clocks on the server: which time control a new game gets, starting the clocks when a
game starts, charging a committed chain of moves, and the clock JSON clients count down from.

The arithmetic is ``server/clocks.py``'s; here it meets the ``games`` row. Every value is
computed from the commit timestamp of the move that changes it (``games.clocks`` is written in
the versioned UPDATE of the move), so any instance derives the same flag from the stored row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from ringrift.server.clocks import (
    PRESETS,
    UNTIMED,
    Clocks,
    TimeControl,
    TimeControlError,
    TimeControlKind,
    ai_budget_s,
)
from ringrift.server.db.models import Game
from ringrift.server.domain import GameStatus, MoveSource
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.positions import Position

# Moves that spend the mover's own time (and earn the increment).
CHARGED = frozenset({MoveSource.HUMAN, MoveSource.SERVICE, MoveSource.LOCAL, MoveSource.FALLBACK})


class TimeUp(ApiError):
    """A move by a seat whose time had run out: refused; the flag is to be adjudicated."""

    def __init__(self, seat: int, version: int) -> None:
        super().__init__(
            ErrorCode.GAME_TIME_OUT,
            f"Seat {seat}'s time ran out before the move; the flag falls",
            details={"seat": seat, "version": version},
        )
        self.seat = seat
        self.version = version


class Step(Protocol):
    """What charging needs of a planned move (``moves.Planned``)."""

    @property
    def seat(self) -> int: ...

    @property
    def source(self) -> MoveSource: ...

    @property
    def after(self) -> Position: ...


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- a new game's time control ------------------------------------------------------------


def resolve(requested: Any, *, human_opponents: bool, default: str) -> TimeControl:
    """The time control of a new game: ``requested`` (a preset name or object, None = the
    default), refused with 422 when malformed or out of range, or when a game with another
    person in it would be untimed. Without a request, games against people get ``default``
    and games against AI only are untimed."""
    if requested is None:
        return PRESETS[default] if human_opponents else UNTIMED
    try:
        tc = TimeControl.from_json(requested)
    except TimeControlError as error:
        raise ApiError(
            ErrorCode.GAME_TIME_CONTROL_INVALID,
            str(error),
            details=[{"field": "timeControl", "reason": str(error)}],
        ) from error
    if not tc.timed and human_opponents:
        raise ApiError(
            ErrorCode.GAME_UNTIMED_NOT_ALLOWED,
            details=[{"field": "timeControl", "reason": "a game with human opponents is timed"}],
        )
    return tc


def time_control(game: Game) -> TimeControl:
    """The game's stored time control (anything unreadable counts as untimed)."""
    try:
        return TimeControl.from_json(game.time_control)
    except TimeControlError:
        return UNTIMED


def start_values(game: Game, now: datetime) -> dict[str, Any]:
    """Column values that start a game's clocks now, the seat to move first running."""
    tc = time_control(game)
    if not tc.timed or game.current_player is None:
        return {"clocks": None, "clock_deadline_ms": None}
    clocks = Clocks.start(tc, game.max_players, game.current_player, epoch_ms(now))
    return {"clocks": clocks.to_store(), "clock_deadline_ms": clocks.deadline_ms()}


# --- the move path --------------------------------------------------------------------------


def current(game: Game) -> Clocks | None:
    if not game.clocks:
        return None
    return Clocks.from_store(game.clocks)


def check_not_flagged(game: Game, seat: int, now_ms: int) -> None:
    """Refuse a move of ``seat`` whose time is already up (``TimeUp``)."""
    clocks = current(game)
    if clocks is not None and clocks.flagged(now_ms) == seat:
        raise TimeUp(seat, game.version)


def advance(game: Game, chain: Sequence[Step], now_ms: int) -> list[Clocks] | None:
    """The clocks after each move of ``chain`` committed at ``now_ms`` (None for an untimed
    game). A move of the seat whose clock runs is charged the time since its turn began and
    earns the increment; bookkeeping the server plays for a seat costs nothing; anything else
    (a withdrawal) charges nobody but the running seat's elapsed time and hands the clock on.
    Raises ``TimeUp`` when the mover's time was already up."""
    clocks = current(game)
    if clocks is None:
        return None
    tc = time_control(game)
    out: list[Clocks] = []
    for step in chain:
        state = step.after.state
        to_move = state.current_player if state.game_status == GameStatus.ACTIVE else None
        if step.source is MoveSource.AUTO or (
            step.source in CHARGED and step.seat == clocks.running
        ):
            try:
                clocks = clocks.pass_turn(
                    tc, step.seat, to_move, now_ms, charge=step.source is not MoveSource.AUTO
                )
            except TimeControlError:
                raise TimeUp(step.seat, game.version) from None
        elif to_move is None:
            clocks = clocks.stop(now_ms)
        else:
            clocks = clocks.with_running(to_move, now_ms)
            if tc.kind is TimeControlKind.CORRESPONDENCE and to_move != step.seat:
                banks = list(clocks.banks_ms)
                banks[to_move - 1] = tc.bank_ms
                clocks = Clocks(tuple(banks), clocks.running, clocks.since_ms)
        out.append(clocks)
    return out


def store_values(clocks: Clocks | None) -> dict[str, Any]:
    """Column values of the versioned UPDATE for the clocks after a commit."""
    if clocks is None:
        return {}
    return {"clocks": clocks.to_store(), "clock_deadline_ms": clocks.deadline_ms()}


# --- what clients see -------------------------------------------------------------------------


def clocks_json(game: Game, now_ms: int) -> dict[str, Any] | None:
    """``{remainingMs: [per seat], running, serverTime}`` at ``now_ms``; None when untimed."""
    clocks = current(game)
    if clocks is None:
        return None
    if game.status != GameStatus.ACTIVE:
        # Over (a resignation may not have stopped them): frozen at the end.
        ended = game.ended_at or game.updated_at
        clocks = clocks.stop(min(now_ms, epoch_ms(ended)) if ended else now_ms)
    return clocks.to_json(now_ms)


def ai_cap_s(game: Game, seat: int, now_ms: int) -> float | None:
    """The most an AI seat may think now within its own clock (None: no clock, no cap)."""
    clocks = current(game)
    if clocks is None or clocks.running != seat:
        return None
    return ai_budget_s(float("inf"), clocks, seat, now_ms)
