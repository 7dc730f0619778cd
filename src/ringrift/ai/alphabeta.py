"""Alpha-beta search with iterative deepening, a transposition table and move ordering.

Several players are reduced to two sides the paranoid way: the searching player maximises its
own evaluation and every other seat is assumed to minimise it. Depth counts real decisions:
a position with a single legal move (bookkeeping such as ``no_line_action``) is passed through
without spending depth.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ringrift.ai.base import (
    AIDecision,
    Game,
    Limits,
    PerGame,
    SearchTimeout,
    candidate_moves,
    forced_decision,
    move_priority,
    ordered_moves,
    position_key,
)
from ringrift.ai.evaluation import WIN_SCORE, Evaluator, evaluate
from ringrift.rules import GameState, Move, apply_move, legal_moves

EXACT, LOWER, UPPER = 0, 1, 2
MAX_FORCED_CHAIN = 64


@dataclass(frozen=True)
class Haste:
    """A handicap for a strong level: on a seeded share of its decisions (``rates``, per
    (board, players) game; 0 for a game not listed) the search stops at ``depth`` decisions
    and plays the move that looks best from there.

    The ladder uses it where a doubling of think time stopped paying, so that the levels at
    the top still differ in strength: a hasty move is plausible (the best at a glance, never a
    random one) but misses what comes after it (at depth 1, the rest of the turn and the
    reply). The share is the same at every budget, so the gap it makes does not shrink with
    the clock."""

    rates: Mapping[Game, float] = field(default_factory=dict)
    depth: int = 1
    _rates: PerGame = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError("a hasty search needs a depth of at least 1")
        object.__setattr__(self, "_rates", PerGame("haste rate", 0.0, self.rates, high=1.0))

    def rate(self, state: GameState) -> float:
        """The share of hasty decisions in the game of ``state``."""
        return self._rates.for_state(state)

    def strikes(self, state: GameState, seed: int | None) -> bool:
        """Whether this decision is a hasty one: seeded, and drawn from a stream of its own so
        that the search itself sees the same seed as without the handicap."""
        rate = self.rate(state)
        if rate <= 0.0:
            return False
        rng = random.Random(None if seed is None else f"haste/{seed}")
        return rng.random() < rate


class AlphaBetaPlayer:
    """Iterative-deepening alpha-beta up to ``max_depth`` plies under a time or node budget
    (depths 1, 2, 4, 6, ..., or every depth with ``every_depth``; see `deepening_schedule`)."""

    def __init__(
        self,
        *,
        max_depth: int = 4,
        level: int = 0,
        tt_size: int = 200_000,
        every_depth: bool = False,
        evaluator: Evaluator | None = None,
        haste: Haste | None = None,
    ) -> None:
        if max_depth < 1:
            raise ValueError("max_depth must be at least 1")
        self.max_depth = max_depth
        self.every_depth = every_depth
        self.level = level
        self.tt_size = tt_size
        self.evaluator = evaluator
        """Leaf evaluation; None is the hand-written `evaluate`."""
        self.haste = haste
        """Hasty decisions (a handicap, see `Haste`); None: never."""
        self.name = f"alphabeta{max_depth}"

    def decide(
        self,
        state: GameState,
        *,
        seed: int | None = None,
        budget_s: float | None = None,
        node_limit: int | None = None,
    ) -> AIDecision:
        limits = Limits(budget_s, node_limit)
        moves = candidate_moves(state)
        if len(moves) == 1:
            return forced_decision(moves[0], limits, self.level)
        search = _Search(state.current_player, limits, random.Random(seed), self.tt_size)
        if self.evaluator is not None:
            search.evaluate = self.evaluator
        root_moves = ordered_moves(state, moves, search.rng)
        best_move, best_value, reached = root_moves[0], 0.0, 0
        max_depth = self.max_depth
        if self.haste is not None and self.haste.strikes(state, seed):
            max_depth = min(max_depth, self.haste.depth)
        for depth in deepening_schedule(max_depth, every_depth=self.every_depth):
            try:
                move, value, complete = search.root(state, root_moves, depth)
            except SearchTimeout:
                break
            if complete:
                reached = depth
            if complete and depth == 1:
                # Depth 1 scores every root move exactly: search them best first from now
                # on, so that a deeper iteration cut short by the clock has looked at the
                # likeliest moves (a placement turn's 150-odd moves rarely all fit at depth 2).
                root_moves.sort(key=search.root_values.__getitem__, reverse=True)
            if move is not None:
                best_move, best_value = move, value
                # Search the best move first next time.
                root_moves.remove(move)
                root_moves.insert(0, move)
            if not complete or abs(best_value) >= WIN_SCORE:
                break
        return AIDecision(
            best_move, best_value, limits.elapsed_ms(), self.level, limits.nodes, reached
        )


def deepening_schedule(max_depth: int, *, every_depth: bool = False) -> list[int]:
    """Iterative-deepening depths: 1 (for move ordering), then even depths up to the limit,
    or every depth up to the limit with ``every_depth``.

    A turn is usually two decisions (place, then move the placed stack), so odd depths stop
    the search half-way through somebody's turn and the default skips them beyond depth 1.
    Depth 3 still pays (it sees the opponent's placement reply): in arena runs it beat a
    partial depth 4 at equal time, which is why the ladder's deep levels use every depth."""
    if every_depth:
        return list(range(1, max_depth + 1))
    depths = [1, *range(2, max_depth + 1, 2)]
    if max_depth > 1 and depths[-1] != max_depth:
        depths.append(max_depth)
    return depths


class _Search:
    def __init__(self, me: int, limits: Limits, rng: random.Random, tt_size: int) -> None:
        self.me = me
        self.limits = limits
        self.rng = rng
        self.tt: dict[tuple[Any, ...], tuple[int, float, int, Move | None]] = {}
        self.tt_size = tt_size
        self.history: dict[tuple[Any, ...], int] = {}
        self.evaluate: Evaluator = evaluate
        self.root_values: dict[Move, float] = {}
        """Each root move's value in the last root iteration (exact at depth 1, a bound after)."""

    def root(
        self, state: GameState, moves: list[Move], depth: int
    ) -> tuple[Move | None, float, bool]:
        """Search the root moves; on a timeout return the best move proven so far in this
        iteration (the previous best is searched first, so any replacement is an improvement).
        """
        alpha, beta = -2 * WIN_SCORE, 2 * WIN_SCORE
        best: Move | None = None
        best_value = -2 * WIN_SCORE
        self.root_values = {}
        for move in moves:
            try:
                value = self.search(apply_move(state, move), depth - 1, alpha, beta)
            except SearchTimeout:
                return best, best_value, False
            self.root_values[move] = value
            if value > best_value:
                best, best_value = move, value
            alpha = max(alpha, value)
        return best, best_value, True

    def search(self, state: GameState, depth: int, alpha: float, beta: float) -> float:
        self.limits.tick()
        if depth <= 0:
            # Leaves are evaluated as they stand (move generation costs more than evaluation).
            return self.evaluate(state, self.me)
        # Follow forced moves without spending depth.
        moves = legal_moves(state) if state.game_status == "active" else []
        chain = 0
        while len(moves) == 1 and chain < MAX_FORCED_CHAIN:
            state = apply_move(state, moves[0])
            moves = legal_moves(state) if state.game_status == "active" else []
            chain += 1
        if not moves:
            # Prefer quick wins and slow losses.
            return self.evaluate(state, self.me) + (depth if state.winner == self.me else -depth)
        key = position_key(state)
        entry = self.tt.get(key)
        tt_move: Move | None = None
        if entry is not None:
            e_depth, e_value, e_flag, tt_move = entry
            if e_depth >= depth:
                if e_flag == EXACT:
                    return e_value
                if e_flag == LOWER and e_value >= beta:
                    return e_value
                if e_flag == UPPER and e_value <= alpha:
                    return e_value
        maximising = state.current_player == self.me
        ordered = self._order(state, moves, tt_move)
        a0, b0 = alpha, beta
        best_move: Move | None = None
        if maximising:
            best = -2 * WIN_SCORE
            for move in ordered:
                value = self.search(apply_move(state, move), depth - 1, alpha, beta)
                if value > best:
                    best, best_move = value, move
                if best > alpha:
                    alpha = best
                if alpha >= beta:
                    self._reward(move, depth)
                    break
        else:
            best = 2 * WIN_SCORE
            for move in ordered:
                value = self.search(apply_move(state, move), depth - 1, alpha, beta)
                if value < best:
                    best, best_move = value, move
                if best < beta:
                    beta = best
                if alpha >= beta:
                    self._reward(move, depth)
                    break
        flag = EXACT
        if best <= a0:
            flag = UPPER
        elif best >= b0:
            flag = LOWER
        if len(self.tt) < self.tt_size or key in self.tt:
            self.tt[key] = (depth, best, flag, best_move)
        return best

    def _order(self, state: GameState, moves: list[Move], tt_move: Move | None) -> list[Move]:
        # Inside the tree the order only has to be good, not varied: the seeded shuffle
        # happens once, at the root, and a single sort here costs a fraction of
        # shuffle-then-two-sorts on the 150-odd moves of a placement turn.
        hist = self.history
        if hist:
            ordered = sorted(
                moves,
                key=lambda m: (hist.get(m.identity(), 0), move_priority(state, m)),
                reverse=True,
            )
        else:
            ordered = sorted(moves, key=lambda m: move_priority(state, m), reverse=True)
        if tt_move is not None and tt_move in ordered:
            ordered.remove(tt_move)
            ordered.insert(0, tt_move)
        return ordered

    def _reward(self, move: Move, depth: int) -> None:
        ident = move.identity()
        self.history[ident] = self.history.get(ident, 0) + depth * depth
