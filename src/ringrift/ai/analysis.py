"""Position analysis: what the search thinks of a position, not just the move it would play.

``analyze(state, level)`` searches the position the way the ladder's strong players do (alpha-beta
with iterative deepening, transposition table, move ordering) but with a multi-move window at the
root, so that the ``top`` best moves get exact scores rather than only the best one. The level
chooses the search depth and the time budget (`ANALYSIS_DEPTH`, `ladder.level_budget`); unlike
the ladder's weak levels the analysis never plays random or sampled moves.

What the numbers mean. Positions are judged by `ANALYSIS_EVALUATION`, the learned evaluation
of levels 8-10 (`fitted.LearnedEvaluation`): the weights shipped for two-player games on the
board (square8 and hex8), the hand-written `evaluation.evaluate` for any other game. Both are
on one scale:

* a move's ``score`` is the search value for the player to move after that move: that player's
  evaluation at the end of the line the search expects (paranoid search with three and four
  players); +-1000 (``WIN_SCORE``) or beyond is a decided game;
* ``seats`` gives every seat's evaluation at the end of the expected line after the best move,
  so every seat is judged on the same position;
* ``win_chance`` is `evaluation.win_probability` of a value (0 / 1 for a loss / win the search
  has proven). With shipped weights (two players) it is the fitted model's probability that
  the seat wins, fitted to the results of self-play games (`docs/ai-training.md`), and the two
  seats' chances add up to 1. With the hand-written evaluation it is a monotone summary of the
  score against the best rival, not a calibrated chance, and with 3-4 players the seats'
  values need not add up to 1.
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass
from typing import Any

from ringrift.ai.alphabeta import _Search
from ringrift.ai.base import Limits, SearchTimeout, ordered_moves, position_key
from ringrift.ai.evaluation import WIN_SCORE, Evaluator, win_probability
from ringrift.ai.fitted import LearnedEvaluation
from ringrift.ai.ladder import check_level, level_budget
from ringrift.rules import GameState, Move, apply_move, legal_moves

ANALYSIS_DEPTH = {1: 1, 2: 1, 3: 1, 4: 1, 5: 2, 6: 3}
"""Deepest iteration per level (levels 7-10 deepen up to 8, as far as their budget reaches)."""
DEEPEST = 8
MAX_TOP = 10
MAX_FORCED_WALK = 64
TT_SIZE = 200_000
ANALYSIS_EVALUATION: Evaluator = LearnedEvaluation()
"""How the analysis judges positions (module docstring)."""


@dataclass(frozen=True)
class ScoredMove:
    move: Move
    score: float

    def to_json(self) -> dict[str, Any]:
        return {
            "move": self.move.to_json(),
            "score": round(self.score, 4),
            "win_chance": round(win_probability(self.score), 4),
        }


@dataclass(frozen=True)
class Analysis:
    """The result of `analyze`; ``top_moves`` is best first (empty when the game is over)."""

    player_to_move: int | None
    level: int
    seats: tuple[float, ...]  # seats[i] = evaluation of seat i + 1
    top_moves: tuple[ScoredMove, ...]
    depth: int  # deepest iteration completed (0: not even depth 1 finished, or no search)
    complete: bool  # False when the budget cut the first iteration short
    nodes: int
    thinking_time_ms: float

    @property
    def best_move(self) -> Move | None:
        return self.top_moves[0].move if self.top_moves else None

    def to_json(self) -> dict[str, Any]:
        return {
            "player_to_move": self.player_to_move,
            "level": self.level,
            "seats": [
                {
                    "player": i + 1,
                    "evaluation": round(v, 4),
                    "win_chance": round(win_probability(v), 4),
                }
                for i, v in enumerate(self.seats)
            ],
            "best_move": self.best_move.to_json() if self.best_move is not None else None,
            "top_moves": [m.to_json() for m in self.top_moves],
            "depth": self.depth,
            "complete": self.complete,
            "nodes": self.nodes,
            "thinking_time_ms": round(self.thinking_time_ms, 3),
        }


def analyze(
    state: GameState,
    level: int,
    *,
    top: int = 5,
    budget_s: float | None = None,
    budget_scale: float | None = None,
    node_limit: int | None = None,
    seed: int = 0,
    evaluator: Evaluator = ANALYSIS_EVALUATION,
) -> Analysis:
    """Analyse ``state`` at ladder ``level`` (see the module docstring). ``budget_s`` overrides
    the level's scaled budget; with only ``node_limit`` the result is deterministic.
    ``evaluator`` replaces the evaluation (e.g. `evaluation.evaluate`, the hand-written one)."""
    check_level(level)
    if not isinstance(state, GameState):
        raise TypeError("state must be a GameState")
    if not 1 <= top <= MAX_TOP:
        raise ValueError(f"top must be from 1 to {MAX_TOP}, got {top}")
    if budget_s is None and node_limit is None:
        budget_s = level_budget(level, budget_scale)
    limits = Limits(budget_s, node_limit)
    seat_range = range(1, state.num_players + 1)
    if state.game_status != "active":
        seats = tuple(evaluator(state, q) for q in seat_range)
        return Analysis(None, level, seats, (), 0, True, 0, limits.elapsed_ms())
    collect = gc.isenabled()
    gc.disable()  # as in choose_move: no full GC pass over the search tree mid-search
    try:
        return _search(state, level, top, limits, seed, evaluator)
    finally:
        if collect:
            gc.enable()


def _search(
    state: GameState, level: int, top: int, limits: Limits, seed: int, evaluate: Evaluator
) -> Analysis:
    me = state.current_player
    moves = legal_moves(state)
    if not moves:  # an active position without a move (only a hand-made one): values only
        seats = tuple(evaluate(state, q) for q in range(1, state.num_players + 1))
        return Analysis(me, level, seats, (), 0, True, 0, limits.elapsed_ms())
    search = _Search(me, limits, random.Random(seed), TT_SIZE)
    search.evaluate = evaluate
    root = ordered_moves(state, moves, search.rng)
    best: list[ScoredMove] = []
    reached = 0
    complete = True
    max_depth = 1 if len(moves) == 1 else ANALYSIS_DEPTH.get(level, DEEPEST)
    for depth in range(1, max_depth + 1):
        scored, finished = _root(search, state, root, depth, top)
        if not finished:
            if reached == 0:
                # Not even one ply fitted the budget: report the moves valued so far.
                best, complete = scored, False
            break
        best, reached = scored, depth
        # The next iteration searches the best moves first (tighter window sooner).
        first = [s.move for s in scored]
        root = first + [m for m in root if m not in first]
        if abs(scored[0].score) >= WIN_SCORE:
            break
    if not best:
        # Nothing valued at all (a budget too small for even one move): the first candidate.
        move = root[0]
        best = [ScoredMove(move, evaluate(apply_move(state, move), me))]
    leaf = _expected_line_end(search, apply_move(state, best[0].move), max(0, reached - 1))
    seats = tuple(evaluate(leaf, q) for q in range(1, state.num_players + 1))
    return Analysis(
        me, level, seats, tuple(best), reached, complete, limits.nodes, limits.elapsed_ms()
    )


def _root(
    search: _Search, state: GameState, moves: list[Move], depth: int, top: int
) -> tuple[list[ScoredMove], bool]:
    """One iteration at the root with a window that keeps the ``top`` best values exact: a move
    is searched with alpha = the top-th best exact value so far, so a move that fails low is
    proven out of the top (its bound is not kept). Returns the exact moves best first, and
    whether the iteration finished within the budget."""
    exact: list[ScoredMove] = []
    floor = -2 * WIN_SCORE
    for move in moves:
        try:
            value = search.search(apply_move(state, move), depth - 1, floor, 2 * WIN_SCORE)
        except SearchTimeout:
            exact.sort(key=lambda s: s.score, reverse=True)
            return exact[:top], False
        if value > floor or floor <= -2 * WIN_SCORE:
            exact.append(ScoredMove(move, value))
            exact.sort(key=lambda s: s.score, reverse=True)
            del exact[top:]
            if len(exact) == top:
                floor = exact[-1].score
    return exact, True


def _expected_line_end(search: _Search, state: GameState, plies: int) -> GameState:
    """Follow the search's own choices (transposition table entries; lone moves cost no ply)
    for ``plies`` decisions from ``state``: the position at the end of the expected line."""
    steps = 0
    while plies > 0 and state.game_status == "active" and steps < MAX_FORCED_WALK:
        steps += 1
        moves = legal_moves(state)
        if len(moves) == 1:
            state = apply_move(state, moves[0])
            continue
        entry = search.tt.get(position_key(state))
        if entry is None or entry[3] is None:
            break
        state = apply_move(state, entry[3])
        plies -= 1
    return state
