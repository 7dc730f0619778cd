"""``ringrift.ai``: computer opponents for every board and player count.

    >>> from ringrift.ai import choose_move
    >>> decision = choose_move(state, level=5, seed=1)
    >>> decision.move, decision.evaluation, decision.thinking_time_ms

Levels 1-10 (see `ringrift.ai.ladder`): random, one-ply heuristic and alpha-beta; MCTS is
available as a player of its own.
"""

from ringrift.ai.alphabeta import AlphaBetaPlayer
from ringrift.ai.base import AIDecision, Player
from ringrift.ai.evaluation import evaluate
from ringrift.ai.ladder import (
    BUDGET_SCALE_ENV,
    LADDER,
    best_move,
    budget_scale,
    check_level,
    choose_move,
    level_budget,
    player_for_level,
)
from ringrift.ai.mcts import MCTSPlayer
from ringrift.ai.players import HeuristicPlayer, RandomPlayer

__all__ = [
    "BUDGET_SCALE_ENV",
    "LADDER",
    "AIDecision",
    "AlphaBetaPlayer",
    "HeuristicPlayer",
    "MCTSPlayer",
    "Player",
    "RandomPlayer",
    "best_move",
    "budget_scale",
    "check_level",
    "choose_move",
    "evaluate",
    "level_budget",
    "player_for_level",
]
