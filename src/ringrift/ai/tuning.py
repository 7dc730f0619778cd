"""Tuning an evaluation by play: SPSA over the weights of the ``best-opponent`` model.

A fit to game outcomes (`ringrift.ai.training`) learns which positions lead to wins; with four
players the features that predict the winner were not the ones a player should chase, and
every fitted file played worse than the hand-written evaluation although it predicted better
(docs/ai-training.md). Tuning measures what matters, the play itself. Each iteration draws
``pairs`` random sign vectors ``d`` (every weight +1 or -1); for each, the weights
``theta + c_k d`` play ``theta - c_k d`` in two games with the seats swapped (copies of each
side alternate round the table), and ``theta`` moves by ``a_k * r * d``, where ``r`` is the
mean rank score of the plus seats minus that of the minus seats (averaged over the iteration's
pairs). This is simultaneous perturbation stochastic approximation (Spall, 1992), with
Spall's gain schedules ``a_k = a * (A + 1)^0.602 / (k + A + 1)^0.602`` and
``c_k = c / (k + 1)^0.101`` at a fixed stability constant ``A``, so a longer run continues the
same schedule.

The start is the hand-written evaluation itself: in the ``best-opponent`` model (a seat's
score minus its best opponent's), its ten weights divided by ``VALUE_SCALE`` and zero for the
other features evaluate every position exactly as `ringrift.ai.evaluation.evaluate` does.

Everything is decided by the seed: every game is searched by node limit, never by the clock,
and the sign vectors of iteration ``k`` come from the seed and ``k``. The output file is
rewritten after every iteration with the iterations done in its recipe, so rerunning the same
command (or the same with more ``--iterations``) continues where it stopped and ends with the
same weights as one uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ringrift.ai.arena import DEFAULT_MOVE_CAP, validate_game
from ringrift.ai.base import rank_score
from ringrift.ai.evaluation import DEFAULT_WEIGHTS, VALUE_SCALE
from ringrift.ai.features import FEATURES
from ringrift.ai.fitted import EvalWeights, FittedEvaluation, Model, with_evaluator
from ringrift.ai.ladder import LADDER, check_level, player_for_level
from ringrift.rules import apply_move, legal_moves, new_game

METHOD = "spsa"
STABILITY = 50
"""Spall's stability constant ``A`` of the step-size schedule."""
ALPHA, GAMMA = 0.602, 0.101
"""Spall's recommended decay exponents of the step size and the perturbation size."""


def hand_theta() -> list[float]:
    """The hand-written evaluation as best-opponent weights, in `FEATURES` order."""
    base = [
        getattr(DEFAULT_WEIGHTS, f.name) / VALUE_SCALE for f in dataclasses.fields(DEFAULT_WEIGHTS)
    ]
    return base + [0.0] * (len(FEATURES) - len(base))


@dataclass(frozen=True)
class TuneConfig:
    """The recipe of a tuning run (everything that decides its result)."""

    board: str
    players: int
    iterations: int
    seed: int = 0
    level: int = 4
    """The ladder level whose evaluation is tuned and which plays every game."""
    node_limit: int = 5000
    pairs: int = 4
    """Sign vectors drawn per iteration; each is played in two games."""
    c: float = 0.3
    """The perturbation size at the first iteration, in logit units of the weights."""
    a: float = 0.15
    """The step size at the first iteration, per unit of rank-score difference."""
    move_cap: int = DEFAULT_MOVE_CAP

    def validate(self) -> None:
        validate_game(self.board, self.players)
        if self.iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {self.iterations}")
        check_level(self.level)
        if LADDER[self.level].kind not in ("heuristic", "alphabeta"):
            raise ValueError(f"level {self.level} has no evaluation to tune: use 2-10")
        for name in ("node_limit", "pairs", "move_cap"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        for name in ("c", "a"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    def recipe(self) -> dict[str, Any]:
        """What a run's file records: the settings minus the iteration count (a run may be
        extended), the method and the schedule's constants."""
        data = dataclasses.asdict(self)
        del data["iterations"]
        data.update(method=METHOD, stability=STABILITY, alpha=ALPHA, gamma=GAMMA)
        return data

    def gains(self, k: int) -> tuple[float, float]:
        """The step size and perturbation size of iteration ``k`` (from 0)."""
        a_k = self.a * ((STABILITY + 1) / (k + 1 + STABILITY)) ** ALPHA
        c_k = self.c / (k + 1) ** GAMMA
        return a_k, c_k

    def signs(self, k: int) -> list[list[int]]:
        """The sign vectors of iteration ``k``: from the seed and ``k`` alone."""
        rng = random.Random(f"{METHOD}/{self.seed}/{k}")
        return [[rng.choice((-1, 1)) for _ in FEATURES] for _ in range(self.pairs)]


@dataclass(frozen=True)
class TuneGame:
    """One game of an iteration: ``plus`` against ``minus``; seat ``q`` plays ``plus`` when
    ``(q + swap) % 2 == 1``."""

    cfg: TuneConfig
    plus: tuple[float, ...]
    minus: tuple[float, ...]
    swap: int
    seed: int


def _weights(cfg: TuneConfig, theta: Sequence[float], done: int = 0) -> EvalWeights:
    """The weights file of ``theta`` after ``done`` iterations."""
    return EvalWeights(
        board=cfg.board,
        players=cfg.players,
        features=tuple(f.value for f in FEATURES),
        weights=tuple(theta),
        seed=cfg.seed,
        recipe=cfg.recipe() | {"iterations_done": done},
        report={"games": done * 2 * cfg.pairs},
        model=Model.BEST_OPPONENT,
    )


def play_tune_game(game: TuneGame) -> float:
    """Play one game; the plus seats' mean rank score minus the minus seats' (0 for a draw
    at the move cap)."""
    cfg = game.cfg
    sides = [
        with_evaluator(player_for_level(cfg.level), FittedEvaluation(_weights(cfg, t)))
        for t in (game.plus, game.minus)
    ]
    is_plus = [(q + game.swap) % 2 == 1 for q in range(1, cfg.players + 1)]
    state = new_game(cfg.board, cfg.players)
    ply = 0
    while state.game_status == "active" and ply < cfg.move_cap:
        moves = legal_moves(state)
        if len(moves) == 1:
            move = moves[0]
        else:
            player = sides[0 if is_plus[state.current_player - 1] else 1]
            decision = player.decide(
                state, seed=game.seed * 4099 + ply, budget_s=None, node_limit=cfg.node_limit
            )
            move = decision.move
        state = apply_move(state, move)
        ply += 1
    if state.game_status == "active":
        return 0.0
    scores = [rank_score(rank, cfg.players) for rank in state.final_ranks()]
    plus = [v for v, p in zip(scores, is_plus, strict=True) if p]
    minus = [v for v, p in zip(scores, is_plus, strict=True) if not p]
    return sum(plus) / len(plus) - sum(minus) / len(minus)


@dataclass(frozen=True)
class Iteration:
    """What one iteration did (for progress reports)."""

    index: int
    mean_result: float
    """The mean over its pairs of the plus side's rank-score lead (noise around zero)."""
    step: float
    """The largest change of any weight."""


def load_progress(cfg: TuneConfig, out: Path) -> tuple[list[float], int]:
    """The weights and iterations done of an earlier run of the same recipe at ``out``, or
    the hand-written start; a ValueError when ``out`` holds another recipe or more
    iterations than asked for."""
    if not out.exists():
        return hand_theta(), 0
    weights = EvalWeights.load(out)
    recipe = dict(weights.recipe)
    done = recipe.pop("iterations_done", None)
    if recipe != cfg.recipe() or weights.model != Model.BEST_OPPONENT or not isinstance(done, int):
        raise ValueError(f"{out} holds another tuning run (or none): use a new --out")
    if done > cfg.iterations:
        raise ValueError(f"{out} already holds {done} iterations, more than {cfg.iterations}")
    return list(weights.weights), done


def run_tuning(
    cfg: TuneConfig,
    out: Path,
    *,
    workers: int = 2,
    on_iteration: Callable[[Iteration], None] | None = None,
) -> EvalWeights:
    """Run (or continue) the tuning to ``cfg.iterations``, rewriting ``out`` after every
    iteration, and return the final weights."""
    cfg.validate()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    theta, done = load_progress(cfg, out)
    games = 2 * cfg.pairs
    with _Pool(workers) as pool:
        for k in range(done, cfg.iterations):
            a_k, c_k = cfg.gains(k)
            signs = cfg.signs(k)
            jobs = []
            for j, d in enumerate(signs):
                plus = tuple(t + c_k * s for t, s in zip(theta, d, strict=True))
                minus = tuple(t - c_k * s for t, s in zip(theta, d, strict=True))
                for swap in (0, 1):
                    seed = cfg.seed * 1_000_003 + k * games + 2 * j + swap
                    jobs.append(TuneGame(cfg, plus, minus, swap, seed))
            results = list(pool.map(jobs))
            pair_results = [(results[2 * j] + results[2 * j + 1]) / 2 for j in range(cfg.pairs)]
            change = [
                a_k * sum(r * d[i] for r, d in zip(pair_results, signs, strict=True)) / cfg.pairs
                for i in range(len(theta))
            ]
            theta = [t + dt for t, dt in zip(theta, change, strict=True)]
            _write(out, _weights(cfg, theta, k + 1))
            if on_iteration is not None:
                step = max(abs(dt) for dt in change)
                on_iteration(Iteration(k, sum(pair_results) / cfg.pairs, step))
    return _weights(cfg, theta, cfg.iterations)


def _write(out: Path, weights: EvalWeights) -> None:
    """Replace ``out`` whole: a crash leaves the previous iteration's file, never half a file."""
    tmp = out.with_name(out.name + ".tmp")
    weights.save(tmp)
    tmp.replace(out)


class _Pool:
    """``map`` over the iteration's games, in order: in worker processes when ``workers > 1``."""

    def __init__(self, workers: int) -> None:
        self.executor = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown()

    def map(self, jobs: list[TuneGame]) -> Iterator[float]:
        if self.executor is None:
            return map(play_tune_game, jobs)
        return self.executor.map(play_tune_game, jobs)
