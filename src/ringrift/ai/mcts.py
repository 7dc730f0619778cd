"""Monte Carlo tree search guided by the heuristic.

PUCT selection with priors from the static move ordering (softmax over move priorities), leaf
values from the evaluation (optionally after a short epsilon-greedy playout), and max-n style
back-propagation: each node keeps the value of the player who moved into it, so the search
works unchanged for two to four players.
"""

from __future__ import annotations

import math
import random

from ringrift.ai.base import (
    AIDecision,
    Limits,
    SearchTimeout,
    candidate_moves,
    forced_decision,
    move_priority,
)
from ringrift.ai.evaluation import value_vector
from ringrift.rules import GameState, Move, apply_move, legal_moves

FPU_VALUE = 0.45


class _Node:
    __slots__ = (
        "children",
        "complete",
        "minimax",
        "mover",
        "moves",
        "priors",
        "state",
        "value_sum",
        "values",
        "visits",
    )

    def __init__(self, state: GameState, mover: int) -> None:
        self.state = state
        self.mover = mover  # the player whose move led here
        self.moves: list[Move] | None = None
        self.priors: list[float] = []
        self.children: list[_Node | None] = []
        self.visits = 0
        self.value_sum = 0.0
        self.values: list[float] | None = None  # static values (informed expansion)
        self.complete = False  # every child created and evaluated (informed expansion)
        self.minimax: list[float] | None = None  # implicit minimax value (informed expansion)


class MCTSPlayer:
    """Heuristic-guided MCTS under a time or iteration budget.

    Two expansion policies:

    * ``informed=False``: PUCT with static move-ordering priors; one new child per iteration,
      valued by the evaluation (optionally after a short guided playout).
    * ``informed=True``: an iteration descends by UCT to a leaf and expands it completely,
      evaluating every child; the leaf backs up its best child's values for the player to
      move there (a one-ply minimax backup). Each evaluated child counts as one node.
    """

    def __init__(
        self,
        *,
        c_puct: float = 1.5,
        playout_depth: int = 0,
        playout_epsilon: float = 0.1,
        prior_temperature: float = 12.0,
        max_iterations: int | None = None,
        informed: bool = False,
        uct_c: float = 0.3,
        minimax_weight: float = 0.0,
        level: int = 0,
    ) -> None:
        if c_puct <= 0:
            raise ValueError("c_puct must be positive")
        if playout_depth < 0:
            raise ValueError("playout_depth must be >= 0")
        self.c_puct = c_puct
        self.playout_depth = playout_depth
        self.playout_epsilon = playout_epsilon
        self.prior_temperature = prior_temperature
        self.max_iterations = max_iterations
        self.informed = informed
        self.uct_c = uct_c
        if not 0.0 <= minimax_weight <= 1.0:
            raise ValueError("minimax_weight must be within [0, 1]")
        self.minimax_weight = minimax_weight
        self.level = level
        self.name = "mcts"

    def decide(
        self,
        state: GameState,
        *,
        seed: int | None = None,
        budget_s: float | None = None,
        node_limit: int | None = None,
    ) -> AIDecision:
        if node_limit is None:
            node_limit = self.max_iterations
        elif self.max_iterations is not None:
            node_limit = min(node_limit, self.max_iterations)
        limits = Limits(budget_s, node_limit)
        moves = candidate_moves(state)
        if len(moves) == 1:
            return forced_decision(moves[0], limits, self.level)
        rng = random.Random(seed)
        root = _Node(state, 0)
        iterations = 0
        if self.informed:
            root.values = [0.0] * (state.num_players + 1)
            root_moves = list(moves)
            rng.shuffle(root_moves)
            root_moves.sort(key=lambda m: move_priority(state, m), reverse=True)
            root.moves = root_moves
            root.children = [None] * len(root_moves)
            while True:
                try:
                    limits.tick()
                    self._iterate_informed(root, rng, limits)
                except SearchTimeout:
                    break
                iterations += 1
        else:
            self._expand(root, rng)
            while True:
                try:
                    limits.tick()
                    self._iterate(root, rng, limits)
                except SearchTimeout:
                    break
                iterations += 1
        best_i = self._best_child(root)
        child = root.children[best_i]
        value = 0.5 if child is None or child.visits == 0 else child.value_sum / child.visits
        # Report the evaluation on the same scale as the other players (log-odds).
        value = min(max(value, 1e-6), 1 - 1e-6)
        evaluation = math.log(value / (1 - value))
        assert root.moves is not None
        return AIDecision(
            root.moves[best_i], evaluation, limits.elapsed_ms(), self.level, iterations
        )

    # -- tree operations ----------------------------------------------------------------------

    def _expand(self, node: _Node, rng: random.Random) -> None:
        state = node.state
        moves = legal_moves(state) if state.game_status == "active" else []
        node.moves = moves
        node.children = [None] * len(moves)
        if not moves:
            return
        pri = [move_priority(state, m) + rng.random() * 1e-3 for m in moves]
        top = max(pri)
        w = [math.exp((p - top) / self.prior_temperature) for p in pri]
        total = sum(w)
        node.priors = [x / total for x in w]

    def _select(self, node: _Node) -> int:
        sqrt_n = math.sqrt(node.visits + 1)
        c = self.c_puct
        best_i, best_score = 0, -math.inf
        for i, child in enumerate(node.children):
            prior = node.priors[i]
            if child is None or child.visits == 0:
                # First-play urgency: an unvisited move counts as slightly below even.
                q = FPU_VALUE
                n = 0
            else:
                q = child.value_sum / child.visits
                n = child.visits
            score = q + c * prior * sqrt_n / (1 + n)
            if score > best_score:
                best_i, best_score = i, score
        return best_i

    def _iterate(self, root: _Node, rng: random.Random, limits: Limits) -> None:
        path = [root]
        node = root
        while True:
            if node.moves is None:
                self._expand(node, rng)
            if not node.moves:
                values = value_vector(node.state)
                break
            i = self._select(node)
            child = node.children[i]
            if child is None:
                mover = node.state.current_player
                child = _Node(apply_move(node.state, node.moves[i]), mover)
                node.children[i] = child
                path.append(child)
                values = self._leaf_value(child.state, rng, limits)
                break
            path.append(child)
            node = child
        for n in path:
            n.visits += 1
            if n.mover:
                n.value_sum += values[n.mover]

    def _iterate_informed(self, root: _Node, rng: random.Random, limits: Limits) -> None:
        path = [root]
        node = root
        while node.complete and node.children:
            node = self._select_uct(node)
            path.append(node)
        # A complete node here is a finished game; anything else gets expanded.
        values = node.values if node.complete else self._expand_informed(node, rng, limits)
        assert values is not None
        for n in path:
            n.visits += 1
            if n.mover:
                n.value_sum += values[n.mover]
        # Implicit minimax backups: each node on the path takes its best child's value for
        # the player to move there.
        for n in reversed(path):
            if n.children and n.complete:
                me = n.state.current_player
                best = max(
                    (c.minimax for c in n.children if c is not None and c.minimax is not None),
                    key=lambda v: v[me],
                    default=None,
                )
                if best is not None:
                    n.minimax = best

    def _expand_informed(self, node: _Node, rng: random.Random, limits: Limits) -> list[float]:
        """Create and evaluate every child of ``node``; return the best child's values for
        the player to move. Raises SearchTimeout part-way when the budget runs out (the
        created children stay usable)."""
        state = node.state
        if node.moves is None:
            moves = legal_moves(state) if state.game_status == "active" else []
            if len(moves) > 1:
                moves = list(moves)
                rng.shuffle(moves)
                moves.sort(key=lambda m: move_priority(state, m), reverse=True)
            node.moves = moves
            node.children = [None] * len(moves)
        if not node.moves:
            node.complete = True
            node.values = value_vector(state)
            return node.values
        mover = state.current_player
        for i, move in enumerate(node.moves):
            if node.children[i] is not None:
                continue
            limits.tick()
            child = _Node(apply_move(state, move), mover)
            child.values = value_vector(child.state)
            child.minimax = child.values
            child.visits = 1
            child.value_sum = child.values[mover]
            node.children[i] = child
        node.complete = True
        best = max(
            (c for c in node.children if c is not None),
            key=lambda c: c.value_sum / c.visits,
        )
        assert best.values is not None
        return best.values

    def _select_uct(self, node: _Node) -> _Node:
        log_n = math.log(node.visits + 1)
        c = self.uct_c
        alpha = self.minimax_weight
        best: _Node | None = None
        best_score = -math.inf
        for child in node.children:
            assert child is not None
            q = child.value_sum / child.visits
            if alpha and child.minimax is not None:
                q = (1.0 - alpha) * q + alpha * child.minimax[child.mover]
            score = q + c * math.sqrt(log_n / child.visits)
            if score > best_score:
                best, best_score = child, score
        assert best is not None
        return best

    def _leaf_value(self, state: GameState, rng: random.Random, limits: Limits) -> list[float]:
        steps = 0
        while steps < self.playout_depth and state.game_status == "active":
            if limits.exhausted():
                break
            moves = legal_moves(state)
            if len(moves) == 1:
                move = moves[0]
            elif rng.random() < self.playout_epsilon:
                move = rng.choice(moves)
            else:
                top = max(move_priority(state, m) for m in moves)
                move = rng.choice([m for m in moves if move_priority(state, m) == top])
                steps += 1
            state = apply_move(state, move)
        return value_vector(state)

    @staticmethod
    def _best_child(root: _Node) -> int:
        best_i, best_key = 0, (-1, -math.inf)
        for i, child in enumerate(root.children):
            if child is None:
                continue
            key = (child.visits, child.value_sum / max(1, child.visits))
            if key > best_key:
                best_i, best_key = i, key
        if best_key[0] < 0:
            # Nothing was searched: fall back to the highest prior, or (informed expansion,
            # whose root moves are sorted by static priority) the first move.
            if root.priors:
                best_i = max(range(len(root.priors)), key=lambda j: root.priors[j])
            else:
                best_i = 0
        return best_i
