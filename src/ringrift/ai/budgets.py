"""Budget adherence: how long each ladder level thinks, and how deep it searches, on a board.

``ringrift arena budgets`` answers the question the arena's match figures leave open on the
big boards: does every level answer within its budget there (the target is p95 <= 1.1x the
budget), and what depth does it reach in that time? It samples positions from seeded random
playouts (every phase of a game: placement, movement, the late game) and lets each level
choose a move in each of them at its real (scaled) budget, one decision at a time so that
nothing else competes for the core.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ringrift.ai.ladder import choose_move, level_budget
from ringrift.rules import GameState, apply_move, legal_moves, new_game
from ringrift.rules.state import ACTIVE

# A random playout that has not ended after this many moves is cut there (the longest random
# games, hexagonal with four players, run to about 1,400 moves).
PLAYOUT_CAP = 4000


def sample_positions(board: str, players: int, count: int, seed: int) -> list[GameState]:
    """``count`` positions with a real choice (more than one legal move), spread evenly over
    the moves of seeded random playouts: a new playout starts whenever one runs out."""
    rng = random.Random(seed)
    positions: list[GameState] = []
    while len(positions) < count:
        choices = _choices_of_a_playout(board, players, rng)
        wanted = min(count - len(positions), max(1, count // 4), len(choices))
        if wanted == 0:
            continue
        step = len(choices) / wanted
        positions += [choices[int(i * step + rng.random() * step)] for i in range(wanted)]
    return positions


def _choices_of_a_playout(board: str, players: int, rng: random.Random) -> list[GameState]:
    """The positions of one random playout in which the mover had more than one legal move."""
    state = new_game(board, players)
    choices: list[GameState] = []
    for _ in range(PLAYOUT_CAP):
        if state.game_status != ACTIVE:
            break
        moves = legal_moves(state)
        if len(moves) > 1:
            choices.append(state)
        state = apply_move(state, rng.choice(moves))
        state.history = ()  # positions only; a long history would cost O(moves) per copy
    return choices


@dataclass(frozen=True)
class LevelBudget:
    """One level's decisions over the sampled positions."""

    level: int
    budget_ms: float
    think_ms: list[float]
    depths: list[int]
    nodes: list[int]

    def _quantile(self, q: float) -> float:
        ordered = sorted(self.think_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p95_ratio(self) -> float:
        """p95 think time over the budget (the target: at most 1.1)."""
        return self._quantile(0.95) / self.budget_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "budgetMs": round(self.budget_ms, 1),
            "decisions": len(self.think_ms),
            "thinkMs": {
                "p50": round(self._quantile(0.5), 1),
                "p95": round(self._quantile(0.95), 1),
                "max": round(max(self.think_ms), 1),
            },
            "p95OverBudget": round(self.p95_ratio, 3),
            "depth": {
                "median": statistics.median(self.depths),
                "min": min(self.depths),
                "max": max(self.depths),
            },
            "nodesMedian": statistics.median(self.nodes),
        }


def measure(
    positions: Sequence[GameState],
    levels: Sequence[int],
    *,
    seed: int,
    scale: float | None = None,
    on_decision: Callable[[], None] | None = None,
) -> list[LevelBudget]:
    """Each level's decision in each position, at the level's budget times ``scale``."""
    results = []
    for level in levels:
        think: list[float] = []
        depths: list[int] = []
        nodes: list[int] = []
        for index, position in enumerate(positions):
            decision = choose_move(position, level, seed=seed * 1_000 + index, budget_scale=scale)
            think.append(decision.thinking_time_ms)
            depths.append(decision.depth)
            nodes.append(decision.nodes)
            if on_decision is not None:
                on_decision()
        budget_ms = level_budget(level, scale) * 1000
        results.append(LevelBudget(level, budget_ms, think, depths, nodes))
    return results
