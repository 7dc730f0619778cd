"""The simple players: uniform random and the one-ply heuristic."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping

from ringrift.ai.base import (
    AIDecision,
    Game,
    Limits,
    PerGame,
    Player,
    SearchTimeout,
    candidate_moves,
    forced_decision,
    ordered_moves,
)
from ringrift.ai.evaluation import DEFAULT_WEIGHTS, Evaluator, Weights, evaluate
from ringrift.rules import GameState, Move, apply_move, legal_moves


class RandomPlayer:
    """Picks a legal move uniformly at random (seeded)."""

    def __init__(self, *, level: int = 0) -> None:
        self.level = level
        self.name = "random"

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
        move = random.Random(seed).choice(moves)
        return AIDecision(move, 0.0, limits.elapsed_ms(), self.level, 1)


class HeuristicPlayer:
    """One-ply search: applies every legal move and keeps the best evaluation for the mover.

    With ``refine=k`` the k best moves whose mover decides again straight away (placement then
    movement, capture then chain) are re-valued by their best continuation ("turn
    completion"), which makes a placement count for the move it enables.

    ``epsilon`` is the chance of playing a random move instead; ``temperature`` > 0 samples
    among the evaluated moves with softmax weights instead of taking the maximum, and
    ``temperatures`` overrides it per (board, players) game. Moves are tried in
    static-priority order so that a budget cut still leaves the likeliest ones evaluated."""

    def __init__(
        self,
        *,
        epsilon: float = 0.0,
        temperature: float = 0.0,
        temperatures: Mapping[Game, float] | None = None,
        level: int = 0,
        weights: Weights = DEFAULT_WEIGHTS,
        refine: int = 0,
        evaluator: Evaluator | None = None,
    ) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError("epsilon must be within [0, 1]")
        self.temperatures = PerGame("temperature", temperature, dict(temperatures or {}))
        self.epsilon = epsilon
        self.temperature = temperature
        self.weights = weights
        self.evaluator = evaluator
        """Replaces ``evaluate`` with ``weights`` when given (e.g. a fitted evaluation)."""
        if refine < 0:
            raise ValueError("refine must be >= 0")
        self.refine = refine
        self.level = level
        self.name = "heuristic"

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
        rng = random.Random(seed)
        me = state.current_player
        if self.epsilon and rng.random() < self.epsilon:
            return AIDecision(rng.choice(moves), 0.0, limits.elapsed_ms(), self.level, 1)
        scored: list[tuple[float, Move]] = []
        after: list[GameState] = []
        try:
            for move in ordered_moves(state, moves, rng):
                limits.tick()
                child = apply_move(state, move)
                scored.append((self._value(child, me), move))
                after.append(child)
            if self.refine:
                self._refine(scored, after, me, limits)
        except SearchTimeout:
            pass
        if not scored:
            move = ordered_moves(state, moves, rng)[0]
            return AIDecision(move, 0.0, limits.elapsed_ms(), self.level, limits.nodes)
        # One ply, complete only when every move was scored (a timeout leaves a partial ply).
        depth = 1 if len(scored) == len(moves) else 0
        temperature = self.temperature_for(state)
        if temperature > 0.0 and len(scored) > 1:
            top = max(v for v, _ in scored)
            weights = [math.exp(max(-50.0, (v - top) / temperature)) for v, _ in scored]
            value, move = rng.choices(scored, weights=weights, k=1)[0]
        else:
            value, move = max(scored, key=lambda vm: vm[0])
        return AIDecision(move, value, limits.elapsed_ms(), self.level, limits.nodes, depth)

    def temperature_for(self, state: GameState) -> float:
        """The sampling temperature in the game of ``state`` (0 takes the best move)."""
        return self.temperatures.for_state(state)

    def _value(self, state: GameState, me: int) -> float:
        if self.evaluator is not None:
            return self.evaluator(state, me)
        return evaluate(state, me, self.weights)

    def _refine(
        self, scored: list[tuple[float, Move]], after: list[GameState], me: int, limits: Limits
    ) -> None:
        """Complete the turn for the best few moves: when the mover decides again right after
        (a placement is followed by moving the placed stack, a capture by its chain), value the
        move by its best continuation instead. Updates ``scored`` in place."""
        ranked = sorted(range(len(scored)), key=lambda i: scored[i][0], reverse=True)
        for i in ranked[: self.refine]:
            state = after[i]
            moves = legal_moves(state) if state.game_status == "active" else []
            while len(moves) == 1 and state.current_player == me:
                state = apply_move(state, moves[0])
                moves = legal_moves(state) if state.game_status == "active" else []
            if not moves or state.current_player != me:
                continue
            best = -math.inf
            for move in moves:
                limits.tick()
                best = max(best, self._value(apply_move(state, move), me))
            scored[i] = (best, scored[i][1])


class ErringPlayer:
    """Wraps another player: on a seeded fraction of its real decisions it plays a random legal
    move instead of asking the inner player.

    This is how the ladder makes a level weaker than the same search one level up: the
    strength gap stays the same at every think-time budget (a shorter search alone blurs it),
    and the errors look like a beginner's oversights rather than a slower clock.
    ``error_rates`` overrides ``error_rate`` per (board, players) game."""

    def __init__(
        self,
        inner: Player,
        *,
        error_rate: float,
        error_rates: Mapping[Game, float] | None = None,
        level: int = 0,
    ) -> None:
        self.error_rates = PerGame("error_rate", error_rate, dict(error_rates or {}), high=1.0)
        self.inner = inner
        self.error_rate = error_rate
        self.level = level
        self.name = f"{inner.name}+errors{error_rate:g}"

    def error_rate_for(self, state: GameState) -> float:
        """The share of random moves in the game of ``state``."""
        return self.error_rates.for_state(state)

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
        # A stream of its own, so the inner search sees the same seed as it would alone.
        rng = random.Random(None if seed is None else seed * 2_654_435_761 + 17)
        if rng.random() < self.error_rate_for(state):
            return AIDecision(rng.choice(moves), 0.0, limits.elapsed_ms(), self.level, 1)
        decision = self.inner.decide(state, seed=seed, budget_s=budget_s, node_limit=node_limit)
        return dataclasses.replace(decision, level=self.level)
