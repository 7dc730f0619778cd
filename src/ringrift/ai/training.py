"""Fitting the evaluation to self-play outcomes, and the weights files that carry the result.

The model is a logistic regression ("texel tuning"): the chance that seat ``q`` wins from a
position is ``sigmoid(w . x)``, where ``x`` is q's feature vector minus the mean of its
opponents' (see `ringrift.ai.features`). The target is 1 for a win and 0 for a loss with two
players, and the rank score ``(N - rank) / (N - 1)`` with more; a game stopped at the move cap
scores 0.5 for everyone. The loss is the mean log-loss plus ``l2 / 2 * |w|^2``, minimised by
Newton's method (the problem is small and convex, so a few exact steps converge).

The baseline is the hand-written evaluation's own prediction, ``win_probability`` of the
seat's score minus the best opponent's score, computed from the same stored features.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ringrift.ai.base import rank_score
from ringrift.ai.evaluation import DEFAULT_WEIGHTS, VALUE_SCALE, Weights
from ringrift.ai.features import BASE_FEATURES, FEATURES, relative_features
from ringrift.ai.fitted import EvalWeights, Model, dot, logsumexp, sigmoid
from ringrift.ai.selfplay import read_games, read_manifest

EPS = 1e-12

Example = tuple[list[float], float]


def seat_target(ranks: list[int] | None, seat: int) -> float:
    """Training target of a seat: 1 win, 0 last, linear in rank between; 0.5 for a draw."""
    return 0.5 if ranks is None else rank_score(ranks[seat - 1], len(ranks))


def _feature_order(names: list[str]) -> list[int]:
    """Where each of `FEATURES` sits in stored feature vectors named ``names``."""
    return [names.index(f.value) for f in FEATURES]


def game_examples(record: dict[str, Any], names: list[str]) -> list[Example]:
    """One example per (sampled position, seat) of a game record. ``names`` are the feature
    names stored with the data; the model uses `FEATURES` (missing ones are an error)."""
    index = _feature_order(names)
    out: list[Example] = []
    for pos in record["positions"]:
        per_seat = [[]] + [[v[i] for i in index] for v in pos["features"]]
        for seat in range(1, len(per_seat)):
            out.append((relative_features(per_seat, seat), seat_target(record["ranks"], seat)))
    return out


def log_loss(p: float, y: float) -> float:
    p = min(1.0 - EPS, max(EPS, p))
    return -(y * math.log(p) + (1.0 - y) * math.log(1.0 - p))


def mean_log_loss(w: list[float], data: list[Example]) -> float:
    return sum(log_loss(sigmoid(dot(w, x)), y) for x, y in data) / max(1, len(data))


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve a x = b by Gaussian elimination with partial pivoting (a is small and SPD)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[piv] = m[piv], m[col]
        d = m[col][col]
        for r in range(col + 1, n):
            f = m[r][col] / d
            if f:
                for c in range(col, n + 1):
                    m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def fit_logistic(
    data: list[Example], *, l2: float = 1e-3, iterations: int = 25, tol: float = 1e-9
) -> list[float]:
    """Minimise mean log-loss + l2/2 |w|^2 by Newton's method from w = 0."""
    if not data:
        raise ValueError("no training examples")
    n = len(data)

    def accumulate(w: list[float], grad: list[float], hess: list[list[float]]) -> None:
        for x, y in data:
            p = sigmoid(dot(w, x))
            g = (p - y) / n
            h = p * (1.0 - p) / n
            for i, xi in enumerate(x):
                if xi:
                    grad[i] += g * xi
                    _add_outer(hess[i], h * xi, x, i)

    return _newton(len(data[0][0]), accumulate, l2=l2, iterations=iterations, tol=tol)


Accumulate = Callable[[list[float], list[float], list[list[float]]], None]
"""Adds the data's gradient and the lower triangle of its Hessian at ``w`` (``_newton``)."""


def _add_outer(row: list[float], scale: float, x: Sequence[float], i: int) -> None:
    """Row ``i`` of the lower triangle of ``scale * x x^T`` (x[i] already in ``scale``)."""
    for j in range(i + 1):
        row[j] += scale * x[j]


def _newton(
    k: int, accumulate: Accumulate, *, l2: float, iterations: int, tol: float
) -> list[float]:
    """Newton's method from w = 0 for a convex loss plus l2/2 |w|^2 over ``k`` weights."""
    if l2 <= 0:
        raise ValueError("l2 must be positive (it keeps the Newton system well posed)")
    w = [0.0] * k
    for _ in range(iterations):
        grad = [l2 * wi for wi in w]
        hess = [[l2 if i == j else 0.0 for j in range(k)] for i in range(k)]
        accumulate(w, grad, hess)
        for i in range(k):
            for j in range(i):
                hess[j][i] = hess[i][j]
        step = _solve(hess, grad)
        w = [wi - si for wi, si in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < tol:
            break
    return w


Position = tuple[list[list[float]], list[float]]
"""One position for the softmax model: each seat's features (seat order) and the share of the
win each seat got (1 for the winner; split between seats that tie for first)."""


def winner_shares(ranks: list[int] | None) -> list[float] | None:
    """The win as shares per seat from final ranks; None for a game without a winner."""
    if ranks is None:
        return None
    first = [1.0 if r == 1 else 0.0 for r in ranks]
    total = sum(first)
    return [f / total for f in first] if total else None


def game_positions(record: dict[str, Any], names: list[str]) -> list[Position]:
    """The softmax model's positions of a game record (none for a draw)."""
    shares = winner_shares(record["ranks"])
    if shares is None:
        return []
    index = _feature_order(names)
    return [
        ([[v[i] for i in index] for v in pos["features"]], shares) for pos in record["positions"]
    ]


def softmax_loss(w: list[float], data: list[Position]) -> float:
    """Mean cross-entropy of the winner under a softmax over the seats' scores."""
    total = 0.0
    for seats, shares in data:
        z = [dot(w, x) for x in seats]
        lse = logsumexp(z)
        total -= sum(y * (v - lse) for v, y in zip(z, shares, strict=True) if y)
    return total / max(1, len(data))


def fit_softmax(
    data: list[Position], *, l2: float = 1e-3, iterations: int = 25, tol: float = 1e-9
) -> list[float]:
    """Minimise the winner's mean cross-entropy under a softmax over the seats' linear scores
    (a conditional logit) plus l2/2 |w|^2, by Newton's method from w = 0. The gradient of one
    position is ``sum_q (p_q - y_q) x_q``, its Hessian the covariance of the seats' features
    under ``p``."""
    if not data:
        raise ValueError("no training positions")
    k = len(data[0][0][0])
    n = len(data)

    def accumulate(w: list[float], grad: list[float], hess: list[list[float]]) -> None:
        for seats, shares in data:
            z = [dot(w, x) for x in seats]
            top = max(z)
            e = [math.exp(v - top) for v in z]
            total = sum(e)
            p = [v / total for v in e]
            mean = [sum(pq * x[i] for pq, x in zip(p, seats, strict=True)) for i in range(k)]
            for pq, yq, x in zip(p, shares, seats, strict=True):
                g = (pq - yq) / n
                d = [x[i] - mean[i] for i in range(k)]
                h = pq / n
                for i in range(k):
                    grad[i] += g * x[i]
                    if d[i]:
                        _add_outer(hess[i], h * d[i], d, i)

    return _newton(k, accumulate, l2=l2, iterations=iterations, tol=tol)


def hand_logit(per_seat: list[list[float]], seat: int, w: Weights = DEFAULT_WEIGHTS) -> float:
    """The hand-written evaluation's logit for a seat (its score minus the best opponent's,
    over VALUE_SCALE), from the seats' base features (index 0 unused)."""
    coef = [getattr(w, f.value) for f in BASE_FEATURES]
    base = len(BASE_FEATURES)
    scores = [dot(coef, v[:base]) if q else 0.0 for q, v in enumerate(per_seat)]
    best_other = max(s for q, s in enumerate(scores) if q and q != seat)
    return (scores[seat] - best_other) / VALUE_SCALE


def hand_probability(per_seat: list[list[float]], seat: int, w: Weights = DEFAULT_WEIGHTS) -> float:
    """The hand-written evaluation's win probability for a seat (`value_vector`'s value)."""
    return sigmoid(hand_logit(per_seat, seat, w))


def hand_examples(games: Iterable[dict[str, Any]], names: list[str]) -> list[Example]:
    """One example per (sampled position, seat) whose single input is the hand-written
    evaluation's logit: with weight 1 it reproduces that evaluation's win probability."""
    index = [names.index(f.value) for f in BASE_FEATURES]
    out: list[Example] = []
    for rec in games:
        for pos in rec["positions"]:
            per_seat = [[]] + [[v[i] for i in index] for v in pos["features"]]
            for seat in range(1, len(per_seat)):
                out.append(([hand_logit(per_seat, seat)], seat_target(rec["ranks"], seat)))
    return out


@dataclass(frozen=True)
class FitReport:
    """Log-losses of the fitted and the hand-written evaluation on both splits."""

    train_examples: int
    validation_examples: int
    train_log_loss: float
    validation_log_loss: float
    hand_train_log_loss: float
    hand_validation_log_loss: float
    hand_rescaled_scale: float
    """The hand-written evaluation's logit multiplied by this fits the data best."""
    hand_rescaled_validation_log_loss: float
    base_only_validation_log_loss: float
    """The fit restricted to the hand-written evaluation's features."""


def fit_directory(
    data_dir: Path,
    *,
    seed: int = 0,
    validation: float = 0.2,
    l2: float = 1e-3,
    model: Model = Model.OPPONENTS_MEAN,
) -> EvalWeights:
    """Fit weights to a self-play directory. Games (not positions) are split into training
    and validation sets by a seeded shuffle, so one game never feeds both."""
    if not 0.0 < validation < 1.0:
        raise ValueError("the validation fraction must be between 0 and 1")
    if model == Model.BEST_OPPONENT:
        raise ValueError(
            "the best-opponent model is tuned by play (ringrift train tune), not fitted"
        )
    manifest = read_manifest(data_dir)
    names = list(manifest["features"])
    missing = [f.value for f in FEATURES if f.value not in names]
    if missing:
        raise ValueError(f"the data lacks features {', '.join(missing)}: regenerate it")
    games = list(read_games(data_dir))
    if len(games) < 2:
        raise ValueError(f"{data_dir} holds {len(games)} games: need at least 2")
    order = sorted(range(len(games)), key=lambda i: games[i]["index"])
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(games) * validation))
    val_games = [games[i] for i in order[:n_val]]
    train_games = [games[i] for i in order[n_val:]]
    if model == Model.SOFTMAX:
        return _fit_softmax_directory(
            data_dir, manifest, names, train_games, val_games, seed, validation, l2
        )
    train = [e for g in train_games for e in game_examples(g, names)]
    val = [e for g in val_games for e in game_examples(g, names)]
    w = fit_logistic(train, l2=l2)
    hand_train, hand_val = hand_examples(train_games, names), hand_examples(val_games, names)
    scale = fit_logistic(hand_train, l2=l2)
    k = len(BASE_FEATURES)
    base_w = fit_logistic([(x[:k], y) for x, y in train], l2=l2)
    report = FitReport(
        len(train),
        len(val),
        mean_log_loss(w, train),
        mean_log_loss(w, val),
        mean_log_loss([1.0], hand_train),
        mean_log_loss([1.0], hand_val),
        scale[0],
        mean_log_loss(scale, hand_val),
        mean_log_loss(base_w, [(x[:k], y) for x, y in val]),
    )
    return _weights_file(
        data_dir, manifest, len(games), validation, l2, seed, w, dataclasses.asdict(report)
    )


def _fit_softmax_directory(
    data_dir: Path,
    manifest: dict[str, Any],
    names: list[str],
    train_games: list[dict[str, Any]],
    val_games: list[dict[str, Any]],
    seed: int,
    validation: float,
    l2: float,
) -> EvalWeights:
    """`fit_directory` for the softmax model; its report compares the winner's cross-entropy
    with that of a uniform guess (no seat favoured)."""
    train = [p for g in train_games for p in game_positions(g, names)]
    val = [p for g in val_games for p in game_positions(g, names)]
    w = fit_softmax(train, l2=l2)
    uniform = [0.0] * len(w)
    report = {
        "train_positions": len(train),
        "validation_positions": len(val),
        "train_loss": softmax_loss(w, train),
        "validation_loss": softmax_loss(w, val),
        "uniform_validation_loss": softmax_loss(uniform, val),
    }
    games = len(train_games) + len(val_games)
    return _weights_file(data_dir, manifest, games, validation, l2, seed, w, report, Model.SOFTMAX)


MODEL_DESCRIPTIONS = {
    Model.OPPONENTS_MEAN: "logistic regression on seat features minus the opponents' mean",
    Model.SOFTMAX: "conditional logit: the winner is a softmax over the seats' linear scores",
}


def _weights_file(
    data_dir: Path,
    manifest: dict[str, Any],
    games: int,
    validation: float,
    l2: float,
    seed: int,
    w: list[float],
    report: dict[str, Any],
    model: Model = Model.OPPONENTS_MEAN,
) -> EvalWeights:
    recipe = {
        "data": str(data_dir),
        "manifest": manifest,
        "games": games,
        "validation_fraction": validation,
        "l2": l2,
        "model": MODEL_DESCRIPTIONS[model],
    }
    return EvalWeights(
        board=str(manifest["board"]),
        players=int(manifest["players"]),
        features=tuple(f.value for f in FEATURES),
        weights=tuple(w),
        seed=seed,
        recipe=recipe,
        report=report,
        model=model,
    )
