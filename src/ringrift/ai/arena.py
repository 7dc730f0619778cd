"""Arena: seeded matches between AI players, with win rates, confidence intervals and Elo.

A competitor is a ladder level (``1``..``10``) or a named player (``random``, ``heuristic``,
``alphabeta``, ``mcts``). Game ``i`` of a match seats competitor A at seat ``i mod N + 1``;
for more than two players every other seat is played by a copy of B, so A's fair share of
wins is ``1/N``. Games that reach the move cap are draws.

Besides wins, a match scores A by rank: a game gives A ``(N - rank) / (N - 1)`` (1 for a win,
0 for last place, a half for a draw), so A's fair share is 0.5 with any number of players, and
with two players the rank score is the win rate. End reasons are also counted per outcome, so
that how A loses can be told apart from how B loses.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ringrift.ai.alphabeta import AlphaBetaPlayer
from ringrift.ai.base import Player, rank_score
from ringrift.ai.fitted import (
    HANDWRITTEN,
    load_any_evaluator,
    resolve_weights_path,
    with_evaluator,
)
from ringrift.ai.ladder import LADDER, budget_scale, check_level, player_for_level
from ringrift.ai.mcts import MCTSPlayer
from ringrift.ai.players import HeuristicPlayer, RandomPlayer
from ringrift.rules import BOARD_TYPES, apply_move, legal_moves, new_game

DEFAULT_MOVE_CAP = 2000
Z95 = 1.959963984540054

# Named players and the base budget (seconds, before scaling) they think with.
NAMED: dict[str, tuple[Callable[[], Player], float]] = {
    "random": (lambda: RandomPlayer(), 0.05),
    "heuristic": (lambda: HeuristicPlayer(refine=6), 0.2),
    "alphabeta": (lambda: AlphaBetaPlayer(max_depth=8, every_depth=True), 1.0),
    "mcts": (lambda: MCTSPlayer(informed=True, uct_c=0.1, minimax_weight=0.5), 1.0),
}


@dataclass(frozen=True)
class Competitor:
    """A player description that can be rebuilt in a worker process."""

    label: str
    level: int | None = None
    name: str | None = None
    eval_file: str | None = None
    """A fitted weights file (see `ringrift.ai.fitted`) or a value network file (see
    `ringrift.ai.network`) replacing the player's own evaluation, or `HANDWRITTEN` for the
    hand-written one."""

    def build(self) -> Player:
        if self.level is not None:
            player = player_for_level(self.level)
        else:
            assert self.name is not None
            player = NAMED[self.name][0]()
        if self.eval_file == HANDWRITTEN:
            player = with_evaluator(player, None)
        elif self.eval_file is not None:
            player = with_evaluator(player, load_any_evaluator(Path(self.eval_file)))
        return player

    def budget(self, scale: float) -> float:
        base = LADDER[self.level].budget_s if self.level is not None else NAMED[str(self.name)][1]
        return base * scale


def parse_competitor(text: str) -> Competitor:
    """``"5"``, ``"L5"`` or a named player; anything else is a ValueError."""
    raw = text.strip().lower()
    digits = raw[1:] if raw.startswith("l") else raw
    if digits.isdigit():
        level = check_level(int(digits))
        return Competitor(label=f"L{level}", level=level)
    if raw in NAMED:
        return Competitor(label=raw, name=raw)
    raise ValueError(
        f"unknown player {text!r}: use a level 1-10 or one of {', '.join(sorted(NAMED))}"
    )


def with_eval_file(c: Competitor, path: Path, *, board: str, players: int) -> Competitor:
    """The competitor playing with a fitted evaluation; checks the file and that the player
    has an evaluation to replace before any game starts. ``path`` may be the name ``shipped``
    (the weights file shipped for the board and player count) or ``hand`` (the hand-written
    evaluation, which levels 8-10 otherwise replace with the learned one)."""
    if str(path) == HANDWRITTEN:
        with_evaluator(c.build(), None)
        return replace(c, label=f"{c.label}+{HANDWRITTEN}", eval_file=HANDWRITTEN)
    path = resolve_weights_path(path, board=board, players=players)
    with_evaluator(c.build(), load_any_evaluator(path, board=board, players=players))
    return replace(c, label=f"{c.label}+{path.stem}", eval_file=str(path))


@dataclass(frozen=True)
class GameSpec:
    a: Competitor
    b: Competitor
    board: str
    players: int
    seed: int
    index: int
    scale: float
    move_cap: int


@dataclass(frozen=True)
class GameResult:
    index: int
    seat_a: int
    winner: int | None  # seat number, None for a draw at the move cap
    outcome: str  # "a", "b" or "draw"
    moves: int
    latencies_a_ms: list[float]
    latencies_b_ms: list[float]
    reason: str | None
    rank_a: int | None = None  # A's final rank (1 is best), None for a draw at the move cap
    players: int = 2

    @property
    def rank_score_a(self) -> float:
        """A's rank score in this game: 1 for first, 0 for last, linear between; 0.5 a draw."""
        return rank_score(self.rank_a, self.players)


def play_game(spec: GameSpec) -> GameResult:
    """Play one seeded game. Latency is the wall-clock time of each call to ``decide`` on a
    position with a real choice (forced moves are played without asking)."""
    state = new_game(spec.board, spec.players)
    seat_a = spec.index % spec.players + 1
    pa, pb = spec.a.build(), spec.b.build()
    ba, bb = spec.a.budget(spec.scale), spec.b.budget(spec.scale)
    lat_a: list[float] = []
    lat_b: list[float] = []
    game_seed = spec.seed * 1_000_003 + spec.index
    ply = 0
    while state.game_status == "active" and ply < spec.move_cap:
        moves = legal_moves(state)
        if len(moves) == 1:
            move = moves[0]
        else:
            is_a = state.current_player == seat_a
            player, budget = (pa, ba) if is_a else (pb, bb)
            started = time.perf_counter()
            decision = player.decide(
                state, seed=game_seed * 4099 + ply, budget_s=budget, node_limit=None
            )
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            move = decision.move
            (lat_a if is_a else lat_b).append(elapsed_ms)
        state = apply_move(state, move)
        ply += 1
    rank_a: int | None = None
    if state.game_status == "active":
        winner, outcome = None, "draw"
    else:
        winner = state.winner
        outcome = "a" if winner == seat_a else "b"
        rank_a = state.final_ranks()[seat_a - 1]
    return GameResult(
        spec.index,
        seat_a,
        winner,
        outcome,
        ply,
        lat_a,
        lat_b,
        state.victory_reason,
        rank_a,
        spec.players,
    )


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion (draws may count as half successes)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def elo_difference(score: float, cap: float = 800.0) -> float:
    """Elo difference implied by a score fraction, clamped to +-cap."""
    if score <= 0.0:
        return -cap
    if score >= 1.0:
        return cap
    return max(-cap, min(cap, -400.0 * math.log10(1.0 / score - 1.0)))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class MatchSummary:
    a: str
    b: str
    board: str
    players: int
    games: int
    seed: int
    budget_scale: float
    wins_a: int = 0
    wins_b: int = 0
    draws: int = 0
    moves: list[int] = field(default_factory=list)
    lat_a: list[float] = field(default_factory=list)
    lat_b: list[float] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    reasons_by_outcome: dict[str, dict[str, int]] = field(default_factory=dict)
    """End reasons of the games A won (``"a"``), B won (``"b"``) and drawn (``"draw"``)."""
    rank_points: float = 0.0

    def add(self, r: GameResult) -> None:
        if r.outcome == "a":
            self.wins_a += 1
        elif r.outcome == "b":
            self.wins_b += 1
        else:
            self.draws += 1
        self.moves.append(r.moves)
        self.lat_a.extend(r.latencies_a_ms)
        self.lat_b.extend(r.latencies_b_ms)
        key = r.reason or "move_cap"
        self.reasons[key] = self.reasons.get(key, 0) + 1
        by = self.reasons_by_outcome.setdefault(r.outcome, {})
        by[key] = by.get(key, 0) + 1
        self.rank_points += r.rank_score_a

    @property
    def played(self) -> int:
        return self.wins_a + self.wins_b + self.draws

    @property
    def score_a(self) -> float:
        """A's score: wins plus half the draws, over games played."""
        return (self.wins_a + 0.5 * self.draws) / self.played if self.played else 0.0

    @property
    def rank_score_a(self) -> float:
        """A's mean rank score (see `GameResult.rank_score_a`); 0.5 is an even match."""
        return self.rank_points / self.played if self.played else 0.0

    def to_json(self) -> dict[str, Any]:
        lat = self.lat_a + self.lat_b
        lo, hi = wilson(self.wins_a + 0.5 * self.draws, self.played)
        rank_lo, rank_hi = wilson(self.rank_points, self.played)
        return {
            "a": self.a,
            "b": self.b,
            "board": self.board,
            "players": self.players,
            "games": self.played,
            "seed": self.seed,
            "budget_scale": self.budget_scale,
            "wins_a": self.wins_a,
            "wins_b": self.wins_b,
            "draws": self.draws,
            "win_rate_a": self.score_a,
            "ci95": [lo, hi],
            "elo_a_minus_b": elo_difference(self.score_a) if self.players == 2 else None,
            "rank_score_a": self.rank_score_a,
            "rank_ci95": [rank_lo, rank_hi],
            "mean_moves": statistics.fmean(self.moves) if self.moves else 0.0,
            "latency_ms": {"p50": percentile(lat, 50), "p95": percentile(lat, 95)},
            "latency_a_ms": {"p50": percentile(self.lat_a, 50), "p95": percentile(self.lat_a, 95)},
            "latency_b_ms": {"p50": percentile(self.lat_b, 50), "p95": percentile(self.lat_b, 95)},
            "end_reasons": dict(sorted(self.reasons.items())),
            "end_reasons_by_outcome": {
                outcome: dict(sorted(self.reasons_by_outcome[outcome].items()))
                for outcome in ("a", "b", "draw")
                if outcome in self.reasons_by_outcome
            },
        }


def validate_game(board: str, players: int) -> None:
    """ValueError unless ``board`` is a board type and ``players`` is 2-4."""
    if board not in BOARD_TYPES:
        raise ValueError(f"unknown board {board!r}: use one of {', '.join(BOARD_TYPES)}")
    if not 2 <= players <= 4:
        raise ValueError(f"players must be 2, 3 or 4, got {players}")


def validate_match(board: str, players: int, games: int, jobs: int, move_cap: int) -> None:
    validate_game(board, players)
    if games < 1:
        raise ValueError(f"games must be at least 1, got {games}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if move_cap < 1:
        raise ValueError(f"the move cap must be at least 1, got {move_cap}")


def run_match(
    a: Competitor,
    b: Competitor,
    *,
    board: str,
    players: int,
    games: int,
    seed: int = 0,
    scale: float | None = None,
    jobs: int = 2,
    move_cap: int = DEFAULT_MOVE_CAP,
    on_result: Callable[[GameResult], None] | None = None,
) -> MatchSummary:
    """Play a match, in ``jobs`` worker processes when ``jobs > 1``."""
    validate_match(board, players, games, jobs, move_cap)
    factor = budget_scale(scale)
    specs = [GameSpec(a, b, board, players, seed, i, factor, move_cap) for i in range(games)]
    summary = MatchSummary(a.label, b.label, board, players, games, seed, factor)
    for result in _results(specs, jobs):
        summary.add(result)
        if on_result is not None:
            on_result(result)
    return summary


def _results(specs: list[GameSpec], jobs: int) -> Iterator[GameResult]:
    if jobs == 1 or len(specs) == 1:
        for spec in specs:
            yield play_game(spec)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(specs))) as pool:
        yield from pool.map(play_game, specs)


def ladder_elo(pair_scores: list[tuple[int, int, float]]) -> dict[int, float]:
    """Chain adjacent-pair Elo differences into ratings anchored at the lowest level = 0."""
    ratings: dict[int, float] = {}
    for low, high, score_high in pair_scores:
        ratings.setdefault(low, 0.0)
        ratings[high] = ratings[low] + elo_difference(score_high)
    return ratings
