"""The difficulty ladder (levels 1-10) and the public ``choose_move`` entry point.

| level | player                                              | base budget |
|-------|-----------------------------------------------------|-------------|
| 1     | random                                              | 0.05 s      |
| 2     | one-ply heuristic, 30% random moves, softmax        | 0.1 s       |
| 3     | one-ply heuristic + turn completion, 5% random      | 0.2 s       |
| 4     | alpha-beta, iterative deepening, depth <= 2         | 0.4 s       |
| 5     | alpha-beta, iterative deepening, depth <= 4         | 0.7 s       |
| 6     | alpha-beta, iterative deepening, depth <= 6         | 1.1 s       |
| 7-10  | MCTS, evaluated full expansion, implicit minimax    | 1.5/2.2/3.3/5.0 s |

Budgets are multiplied by a scale factor: the ``budget_scale`` argument, else the environment
variable ``RINGRIFT_AI_BUDGET_SCALE``, else 1.0.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from ringrift.ai.alphabeta import AlphaBetaPlayer
from ringrift.ai.base import AIDecision, Player
from ringrift.ai.mcts import MCTSPlayer
from ringrift.ai.players import HeuristicPlayer, RandomPlayer
from ringrift.rules import GameState, Move

BUDGET_SCALE_ENV = "RINGRIFT_AI_BUDGET_SCALE"
MIN_LEVEL, MAX_LEVEL = 1, 10


@dataclass(frozen=True)
class LevelSpec:
    level: int
    kind: str
    description: str
    budget_s: float
    factory: Callable[[], Player]


def _mcts(level: int) -> Player:
    return MCTSPlayer(informed=True, uct_c=0.1, minimax_weight=0.5, level=level)


MCTS_DESCRIPTION = "MCTS, full expansion with evaluated children, implicit minimax backups"

LADDER: dict[int, LevelSpec] = {
    spec.level: spec
    for spec in (
        LevelSpec(1, "random", "uniform random", 0.05, lambda: RandomPlayer(level=1)),
        LevelSpec(
            2,
            "heuristic",
            "one-ply heuristic, 30% random moves, softmax sampling",
            0.1,
            lambda: HeuristicPlayer(epsilon=0.3, temperature=0.5, level=2),
        ),
        LevelSpec(
            3,
            "heuristic",
            "one-ply heuristic with turn completion, 5% random moves",
            0.2,
            lambda: HeuristicPlayer(epsilon=0.05, refine=6, level=3),
        ),
        LevelSpec(
            4,
            "alphabeta",
            "alpha-beta, iterative deepening to depth 2",
            0.4,
            lambda: AlphaBetaPlayer(max_depth=2, level=4),
        ),
        LevelSpec(
            5,
            "alphabeta",
            "alpha-beta, iterative deepening to depth 4",
            0.7,
            lambda: AlphaBetaPlayer(max_depth=4, level=5),
        ),
        LevelSpec(
            6,
            "alphabeta",
            "alpha-beta, iterative deepening to depth 6",
            1.1,
            lambda: AlphaBetaPlayer(max_depth=6, level=6),
        ),
        LevelSpec(7, "mcts", MCTS_DESCRIPTION, 1.5, lambda: _mcts(7)),
        LevelSpec(8, "mcts", MCTS_DESCRIPTION, 2.2, lambda: _mcts(8)),
        LevelSpec(9, "mcts", MCTS_DESCRIPTION, 3.3, lambda: _mcts(9)),
        LevelSpec(10, "mcts", MCTS_DESCRIPTION, 5.0, lambda: _mcts(10)),
    )
}


def check_level(level: object) -> int:
    """Validate a ladder level, returning it as an int."""
    if isinstance(level, bool) or not isinstance(level, int):
        raise ValueError(f"level must be an integer from 1 to 10, got {level!r}")
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ValueError(f"level must be from 1 to 10, got {level}")
    return level


def budget_scale(explicit: float | None = None) -> float:
    """The budget scale factor: the argument, else the environment variable, else 1."""
    if explicit is None:
        raw = os.environ.get(BUDGET_SCALE_ENV)
        if raw is None or raw.strip() == "":
            return 1.0
        try:
            explicit = float(raw)
        except ValueError:
            raise ValueError(f"{BUDGET_SCALE_ENV} must be a number, got {raw!r}") from None
    if not math.isfinite(explicit) or explicit <= 0:
        raise ValueError(f"the budget scale must be a positive number, got {explicit!r}")
    return explicit


def level_budget(level: int, scale: float | None = None) -> float:
    """Think-time budget in seconds of a level after scaling."""
    return LADDER[check_level(level)].budget_s * budget_scale(scale)


def player_for_level(level: int) -> Player:
    return LADDER[check_level(level)].factory()


def choose_move(
    state: GameState,
    level: int,
    *,
    seed: int | None = None,
    budget_s: float | None = None,
    budget_scale: float | None = None,
    node_limit: int | None = None,
) -> AIDecision:
    """Pick a move for the side to move at a ladder level.

    ``budget_s`` overrides the level's (scaled) budget. With ``node_limit`` and no ``budget_s``
    the search is bounded by nodes/iterations only and is deterministic for a seed.
    """
    check_level(level)
    if not isinstance(state, GameState):
        raise TypeError("state must be a GameState")
    if state.game_status != "active":
        raise ValueError("the game is over: there is no move to choose")
    if budget_s is None and node_limit is None:
        budget_s = level_budget(level, budget_scale)
    player = player_for_level(level)
    # A search tree holds thousands of states; a full cyclic-GC pass over them can stall a
    # time-budgeted search for tens of milliseconds. Nodes are freed by reference counting,
    # so collection waits until the move is chosen.
    collect = gc.isenabled()
    gc.disable()
    try:
        return player.decide(state, seed=seed, budget_s=budget_s, node_limit=node_limit)
    finally:
        if collect:
            gc.enable()


def best_move(
    state: GameState, level: int, seed: int | None = None, budget_s: float | None = None
) -> Move:
    """Plain-``Move`` accessor for callers that only need the move."""
    return choose_move(state, level, seed=seed, budget_s=budget_s).move
