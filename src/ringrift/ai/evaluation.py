"""Static evaluation of RingRift positions.

Every player gets a raw score built from the features that decide games: rings eliminated
against the victory threshold, territory against the territory minimum, material still in play,
stack control and cap heights, markers and near-complete lines, and capture threats. A player's
evaluation is its own score minus the best opponent's score, so the same function serves two
and more players (the strongest rival is the one that matters for winning).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ringrift.rules import GameState

WIN_SCORE = 1000.0
"""Magnitude of a decided game; far above any static score."""


@dataclass(frozen=True)
class Weights:
    """Feature weights (set by arena experiments, see the README)."""

    eliminated: float = 12.0
    eliminated_curve: float = 8.0
    territory: float = 9.0
    territory_curve: float = 6.0
    material: float = 3.0
    stacks: float = 3.0
    caps: float = 1.5
    markers: float = 1.0
    lines: float = 2.5
    threats: float = 1.2


DEFAULT_WEIGHTS = Weights()

Evaluator = Callable[[GameState, int], float]
"""A replacement for `evaluate` with fixed weights: ``evaluator(state, player)`` (see
`ringrift.ai.training.FittedEvaluation`)."""
VALUE_SCALE = 2.5
"""Divisor that maps a relative score onto a win probability (see `win_probability`)."""


BoardCounts = tuple[list[int], list[int], list[int], list[int], list[int], list[float]]
"""Per-player board tallies: controlled stacks, cap heights, markers, territory cells, capture
threats and near-complete line strength (each indexed by player number, index 0 unused)."""


def board_counts(s: GameState) -> BoardCounts:
    """One pass over the board collecting the tallies the evaluation weighs (see BoardCounts)."""
    n = s.num_players
    geo = s.geo
    rays = geo.rays
    axes = geo.line_axes
    stacks, caps, markers, collapsed = s.stacks, s.caps, s.markers, s.collapsed
    ctrl = [0] * (n + 1)
    capsum = [0] * (n + 1)
    mk = [0] * (n + 1)
    terr = [0] * (n + 1)
    threat = [0] * (n + 1)
    lines = [0.0] * (n + 1)
    line_len = s.line_len
    for c, st in enumerate(stacks):
        if st is None:
            m = markers[c]
            if m:
                mk[m] += 1
                # Count each maximal run once, from its start along every line axis.
                for fwd, bwd in axes[c]:
                    if bwd and markers[bwd[0]] == m and stacks[bwd[0]] is None:
                        continue
                    run = 1
                    for t in fwd:
                        if markers[t] != m or stacks[t] is not None:
                            break
                        run += 1
                    if run >= 2:
                        r = min(run, line_len - 1)
                        lines[m] += r * r
            else:
                o = collapsed[c]
                if o:
                    terr[o] += 1
            continue
        owner = st[0]
        cap = caps[c]
        ctrl[owner] += 1
        capsum[owner] += cap
        height = len(st)
        # Capture threats: the first stack along a ray with a cap no higher than ours, with a
        # free landing cell beyond it at a legal distance.
        for ray in rays[c]:
            for d, t in enumerate(ray, 1):
                if collapsed[t]:
                    break
                tst = stacks[t]
                if tst is not None:
                    if tst[0] != owner and caps[t] <= cap and d < len(ray):
                        land = ray[d]
                        if (
                            not collapsed[land]
                            and stacks[land] is None
                            and (d + 1 >= height or d + 2 <= len(ray))
                        ):
                            threat[owner] += caps[t]
                    break
    return ctrl, capsum, mk, terr, threat, lines


def player_scores(s: GameState, w: Weights = DEFAULT_WEIGHTS) -> list[float]:
    """Raw score per player (index 0 unused). Higher is better for that player."""
    n = s.num_players
    ctrl, capsum, mk, terr, threat, lines = board_counts(s)
    line_len = s.line_len
    rpp = max(1, s.rings_per_player)
    vt = max(1, s.victory_threshold)
    tmin = max(1, s.territory_minimum)
    norm_lines = float(max(1, (line_len - 1) ** 2))
    out = [0.0] * (n + 1)
    for q in range(1, n + 1):
        xe = s.eliminated[q] / vt
        xt = terr[q] / tmin
        out[q] = (
            w.eliminated * xe
            + w.eliminated_curve * xe**3
            + w.territory * xt
            + w.territory_curve * xt**3
            + w.material * (s.hand[q] + s.on_board[q]) / rpp
            + w.stacks * ctrl[q] / rpp
            + w.caps * capsum[q] / rpp
            + w.markers * mk[q] / rpp
            + w.lines * lines[q] / (norm_lines * 4.0)
            + w.threats * threat[q] / rpp
        )
    return out


def terminal_value(s: GameState, player: int) -> float:
    """Value of a finished game for ``player``."""
    return WIN_SCORE if s.winner == player else -WIN_SCORE


def relative(scores: list[float], player: int) -> float:
    """A player's score minus the best opponent's score."""
    best_other = max(v for q, v in enumerate(scores) if q and q != player)
    return scores[player] - best_other


def evaluate(s: GameState, player: int, w: Weights = DEFAULT_WEIGHTS) -> float:
    """Evaluation of ``s`` from ``player``'s point of view (positive is good)."""
    if s.game_status != "active":
        return terminal_value(s, player)
    return relative(player_scores(s, w), player)


def win_probability(value: float) -> float:
    """Map a relative score onto (0, 1) with a logistic curve."""
    if value >= WIN_SCORE:
        return 1.0
    if value <= -WIN_SCORE:
        return 0.0
    return 1.0 / (1.0 + math.exp(-value / VALUE_SCALE))


def value_vector(s: GameState, w: Weights = DEFAULT_WEIGHTS) -> list[float]:
    """Per-player values in [0, 1] (index 0 unused) for MCTS back-propagation."""
    n = s.num_players
    if s.game_status != "active":
        return [0.0] + [1.0 if s.winner == q else 0.0 for q in range(1, n + 1)]
    scores = player_scores(s, w)
    return [0.0] + [win_probability(relative(scores, q)) for q in range(1, n + 1)]
