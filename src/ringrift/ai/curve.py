"""The evaluation curve of a game: every seat's winning chances after each turn, and the turns
that swung them (the "turning points" a player looks for in a computer analysis).

A point is taken at the start (version 0) and wherever a turn ends: after a move that hands
the turn to another seat or ends the game (a turn is often several recorded moves: a
placement, its movement, captures, line and territory decisions). Points judge the position
as it stands with `ANALYSIS_EVALUATION` (the learned evaluation where weights ship, else the
hand-written one), without a search, so a whole game costs one evaluation per turn. The chances
are shares: each seat's `win_probability` divided by their sum, so they add up to 1 with any
number of seats (with two seats they already do); a finished game gives its winner 1.

A turning point is a turn that moved somebody's share by at least `SWING` (0.15): the biggest
``limit`` of them, each with the seat whose share moved most, its share before and after, and
the seat whose turn it was. A seat leaving the game (resigning, losing on time) moves the curve
but is not a turning point.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ringrift.ai.analysis import ANALYSIS_EVALUATION
from ringrift.ai.evaluation import Evaluator, win_probability
from ringrift.rules import GameState

SWING = 0.15
"""The least change of a seat's share in one turn that counts as a turning point."""
MAX_TURNING_POINTS = 5


@dataclass(frozen=True)
class CurvePoint:
    """The seats' shares (``shares[i]`` for seat ``i + 1``) after ``version`` recorded moves;
    ``mover``: the seat whose turn ended there (None at the start)."""

    version: int
    mover: int | None
    shares: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "mover": self.mover,
            "shares": [round(x, 4) for x in self.shares],
        }


@dataclass(frozen=True)
class TurningPoint:
    """The turn that ended at ``version``, played by ``mover``, moved ``seat``'s share from
    ``before`` to ``after``."""

    version: int
    mover: int
    seat: int
    before: float
    after: float

    @property
    def swing(self) -> float:
        return abs(self.after - self.before)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "mover": self.mover,
            "seat": self.seat,
            "before": round(self.before, 4),
            "after": round(self.after, 4),
        }


def shares(state: GameState, evaluator: Evaluator = ANALYSIS_EVALUATION) -> tuple[float, ...]:
    """Every seat's share of the winning chances in ``state`` (module docstring)."""
    seats = range(1, state.num_players + 1)
    if state.game_status != "active":
        winner = state.winner
        if winner is None:  # a draw: nobody is favoured
            return tuple(1.0 / state.num_players for _ in seats)
        return tuple(1.0 if q == winner else 0.0 for q in seats)
    chances = [win_probability(evaluator(state, q)) for q in seats]
    total = sum(chances)
    if total <= 0.0:
        return tuple(1.0 / state.num_players for _ in seats)
    return tuple(c / total for c in chances)


def curve(
    positions: Iterable[tuple[int, GameState]], evaluator: Evaluator = ANALYSIS_EVALUATION
) -> list[CurvePoint]:
    """The curve of a game given as ``(version, position)`` pairs in order, one per recorded
    move from version 0: a point at version 0 and after every turn (module docstring)."""
    points: list[CurvePoint] = []
    previous: GameState | None = None
    for version, state in positions:
        if previous is None:
            points.append(CurvePoint(version, None, shares(state, evaluator)))
        else:
            mover = previous.current_player
            ended = state.game_status != "active"
            if ended or state.current_player != mover:
                points.append(CurvePoint(version, mover, shares(state, evaluator)))
        previous = state
    return points


def turning_points(
    points: Sequence[CurvePoint],
    *,
    swing: float = SWING,
    limit: int = MAX_TURNING_POINTS,
    exclude: Collection[int] = (),
) -> list[TurningPoint]:
    """The turns of ``points`` that moved a seat's share by at least ``swing``: the ``limit``
    largest, in game order. Points at the versions in ``exclude`` are not turns of play (a
    seat resigning, running out of time or abandoning the game) and are never turning
    points, though the curve shows their effect."""
    found: list[TurningPoint] = []
    for before, after in itertools.pairwise(points):
        if after.mover is None or after.version in exclude:
            continue
        moved = max(range(len(after.shares)), key=lambda i: abs(after.shares[i] - before.shares[i]))
        point = TurningPoint(
            after.version, after.mover, moved + 1, before.shares[moved], after.shares[moved]
        )
        if point.swing >= swing:
            found.append(point)
    biggest = sorted(found, key=lambda t: t.swing, reverse=True)[:limit]
    return sorted(biggest, key=lambda t: t.version)
