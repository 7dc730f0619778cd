"""Training the value network of `ringrift.ai.network` on self-play games (``ringrift train
net``).

Every game of a self-play directory is replayed from its moves (the records keep the moves and
each sampled position's features, not the board), and each sampled position gives one example
per seat: the network's input for that seat, and the seat's target as in
`ringrift.ai.training` (1 for a win, 0 for a loss with two players, the rank score with more,
0.5 for a draw at the move cap). The global features are the stored ones.

Games (not positions) are split into training and validation sets exactly as ``ringrift train
eval`` splits them for the same seed, so the two models' validation log-losses compare. The
loss is the mean log-loss plus weight decay (``l2 / 2`` times the hidden layer's squared
weights, ``l2_linear / 2`` times the linear term's), minimised by minibatch Adam. Two things
keep a network of some twenty thousand weights from memorising a few hundred games:

* training starts from the linear fitted model (the linear term at the weights ``ringrift
  train eval`` fits on the same training games, the hidden layer's output weights at 0), so
  the hidden layer only learns what the linear model misses;
* every training example is seen through a random symmetry of the board (`symmetries`: 8 on
  the square boards, 12 on the hex boards), which the per-cell planes would otherwise have to
  learn separately for every cell.

The initial weights, the minibatches and the symmetries come from one numpy generator seeded
with the seed, so a recipe always gives the same file.

The report holds the log-losses of the network, of a constant (the training set's mean
target), of that linear model, and of the hand-written evaluation as the AI uses it, plus the
network's validation log-loss after every epoch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ringrift.ai.features import FEATURES
from ringrift.ai.network import (
    GLOBAL_INPUTS,
    PLANES,
    Array,
    NetworkWeights,
    input_size,
    network_input,
    symmetries,
)
from ringrift.ai.network_config import NetConfig, OnProgress, Stage
from ringrift.ai.selfplay import read_games, read_manifest
from ringrift.ai.training import (
    fit_logistic,
    game_examples,
    hand_examples,
    mean_log_loss,
    seat_target,
)
from ringrift.rules import Move, apply_move, geometry, new_game

Inputs = npt.NDArray[np.float32]
"""Network inputs of many examples, one per row (stored in single precision)."""

ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8


def game_arrays(record: dict[str, Any], names: list[str]) -> tuple[Inputs, Array]:
    """Inputs (one row per sampled position and seat, float32) and targets of a game, by
    replaying its moves. ``names`` are the feature names stored with the data."""
    index = [names.index(f.value) for f in FEATURES]
    board, players = str(record["board"]), int(record["players"])
    wanted = {int(p["ply"]): p for p in record["positions"]}
    rows: list[Array] = []
    targets: list[float] = []
    state = new_game(board, players)
    moves = record["moves"]
    for ply in range(len(moves) + 1):
        pos = wanted.get(ply)
        if pos is not None:
            per_seat = [[]] + [[v[i] for i in index] for v in pos["features"]]
            for seat in range(1, players + 1):
                rows.append(network_input(state, seat, per_seat))
                targets.append(seat_target(record["ranks"], seat))
        if ply < len(moves):
            state = apply_move(state, Move.from_json(moves[ply]))
    width = input_size(state.geo.num_cells)
    x = np.array(rows, dtype=np.float32).reshape(len(rows), width)
    return x, np.array(targets, dtype=np.float64)


def dataset(
    games: list[dict[str, Any]], names: list[str], on_game: Callable[[], None] | None = None
) -> tuple[Inputs, Array]:
    """`game_arrays` of every game, stacked."""
    xs: list[Inputs] = []
    ys: list[Array] = []
    for record in games:
        x, y = game_arrays(record, names)
        xs.append(x)
        ys.append(y)
        if on_game is not None:
            on_game()
    return np.concatenate(xs), np.concatenate(ys)


def network_log_loss(weights: NetworkWeights, x: Inputs, y: Array) -> float:
    """Mean log-loss of the network's predictions (soft targets allowed)."""
    if len(y) == 0:
        return float("nan")
    z = weights.logits(x.astype(np.float64))
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def constant_log_loss(p: float, y: Array) -> float:
    """Mean log-loss of always predicting ``p``."""
    p = min(1.0 - 1e-12, max(1e-12, p))
    return float(np.mean(-(y * math.log(p) + (1.0 - y) * math.log(1.0 - p))))


def column_symmetries(board: str) -> npt.NDArray[np.intp]:
    """The board's symmetries as permutations of the input's columns (planes permuted cell
    by cell, global inputs kept), one row per symmetry. The symmetries form a group, so
    gathering columns by a row (``x[:, row]``) applies one of them."""
    cells = symmetries(board)
    n = cells.shape[1]
    rest = np.arange(len(PLANES) * n, input_size(n))
    return np.array(
        [np.concatenate([*(j * n + p for j in range(len(PLANES))), rest]) for p in cells]
    )


def train_parameters(
    x: Inputs,
    y: Array,
    cfg: NetConfig,
    rng: np.random.Generator,
    on_epoch: Callable[[int, dict[str, Array]], None] | None = None,
    columns: npt.NDArray[np.intp] | None = None,
    linear: Array | None = None,
) -> dict[str, Array]:
    """Minibatch Adam on the mean log-loss plus l2/2 |W|^2 from a seeded initialisation.
    With ``columns`` (`column_symmetries`), every example of a minibatch is seen through a
    symmetry drawn at random. ``linear`` starts the linear term there (the hidden layer's
    output weights start at 0, so training starts from that linear model). Returns ``w1``,
    ``b1``, ``w2``, ``b2`` (a one-element array) and ``v``."""
    n, k = x.shape
    h = cfg.hidden
    params: dict[str, Array] = {
        "w1": rng.normal(0.0, 1.0 / math.sqrt(k), (h, k)),
        "b1": np.zeros(h),
        "w2": np.zeros(h) if linear is not None else rng.normal(0.0, 1.0 / math.sqrt(h), h),
        "b2": np.zeros(1),
        "v": np.zeros(len(GLOBAL_INPUTS)) if linear is None else np.array(linear, dtype=float),
    }
    m = {name: np.zeros_like(p) for name, p in params.items()}
    v = {name: np.zeros_like(p) for name, p in params.items()}
    step = 0
    for epoch in range(cfg.epochs):
        order = rng.permutation(n)
        for start in range(0, n, cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            if columns is None:
                xb = x[batch].astype(np.float64)
            else:
                sym = columns[rng.integers(len(columns), size=len(batch))]
                xb = x[batch[:, None], sym].astype(np.float64)
            yb = y[batch]
            hidden = np.tanh(xb @ params["w1"].T + params["b1"])
            xg = xb[:, -len(GLOBAL_INPUTS) :]
            z = hidden @ params["w2"] + xg @ params["v"] + params["b2"][0]
            p = 1.0 / (1.0 + np.exp(-z))
            dz = (p - yb) / len(batch)
            dh = np.outer(dz, params["w2"]) * (1.0 - hidden * hidden)
            grads = {
                "w1": dh.T @ xb + cfg.l2 * params["w1"],
                "b1": dh.sum(axis=0),
                "w2": hidden.T @ dz + cfg.l2 * params["w2"],
                "b2": np.array([dz.sum()]),
                "v": xg.T @ dz + cfg.l2_linear * params["v"],
            }
            step += 1
            for name, g in grads.items():
                m[name] = ADAM_BETA1 * m[name] + (1 - ADAM_BETA1) * g
                v[name] = ADAM_BETA2 * v[name] + (1 - ADAM_BETA2) * g * g
                m_hat = m[name] / (1 - ADAM_BETA1**step)
                v_hat = v[name] / (1 - ADAM_BETA2**step)
                params[name] = params[name] - cfg.lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)
        if on_epoch is not None:
            on_epoch(epoch + 1, params)
    return params


def split_games(
    games: list[dict[str, Any]], seed: int, validation: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Training and validation games, split as `ringrift.ai.training.fit_directory` does."""
    order = sorted(range(len(games)), key=lambda i: games[i]["index"])
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(games) * validation))
    return [games[i] for i in order[n_val:]], [games[i] for i in order[:n_val]]


def _weights(
    params: dict[str, Array], manifest: dict[str, Any], seed: int, recipe: dict[str, Any]
) -> NetworkWeights:
    return NetworkWeights(
        board=str(manifest["board"]),
        players=int(manifest["players"]),
        w1=params["w1"],
        b1=params["b1"],
        w2=params["w2"],
        b2=float(params["b2"][0]),
        v=params["v"],
        seed=seed,
        recipe=recipe,
    )


def train_directory(
    data_dir: Path,
    *,
    seed: int = 0,
    cfg: NetConfig | None = None,
    on_progress: OnProgress | None = None,
) -> NetworkWeights:
    """Train a value network on a self-play directory (module docstring). The result is what
    the file holds: parameters rounded as saved, and the report measured with them."""
    cfg = cfg or NetConfig()
    cfg.validate()
    manifest = read_manifest(data_dir)
    names = list(manifest["features"])
    missing = [f.value for f in FEATURES if f.value not in names]
    if missing:
        raise ValueError(f"the data lacks features {', '.join(missing)}: regenerate it")
    geometry(str(manifest["board"]))  # a ValueError for an unknown board
    games = list(read_games(data_dir))
    if len(games) < 2:
        raise ValueError(f"{data_dir} holds {len(games)} games: need at least 2")
    train_games, val_games = split_games(games, seed, cfg.validation)
    done = 0

    def on_game() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(Stage.REPLAY, done, len(games))

    x_train, y_train = dataset(train_games, names, on_game)
    x_val, y_val = dataset(val_games, names, on_game)
    recipe = {
        "data": str(data_dir),
        "manifest": manifest,
        "games": len(games),
        **asdict(cfg),
        "optimizer": "adam",
        "model": f"per-cell planes and relative features, {cfg.hidden} tanh units and a "
        "linear term in the relative features, one logit",
    }
    curve: list[float] = []

    def on_epoch(epoch: int, params: dict[str, Array]) -> None:
        net = _weights(params, manifest, seed, recipe)
        curve.append(round(network_log_loss(net, x_val, y_val), 5))
        if on_progress is not None:
            on_progress(Stage.TRAIN, epoch, cfg.epochs)

    if on_progress is not None:
        on_progress(Stage.LINEAR, 0, 1)
    linear_train = [e for g in train_games for e in game_examples(g, names)]
    linear_val = [e for g in val_games for e in game_examples(g, names)]
    linear = fit_logistic(linear_train, l2=cfg.l2_linear)
    if on_progress is not None:
        on_progress(Stage.LINEAR, 1, 1)
    rng = np.random.default_rng(seed)
    columns = column_symmetries(str(manifest["board"])) if cfg.symmetries else None
    start = np.array([*linear, 0.0]) if cfg.warm_start else None  # no weight on TO_MOVE yet
    params = train_parameters(x_train, y_train, cfg, rng, on_epoch, columns, start)
    net = _weights(params, manifest, seed, recipe).rounded()
    mean_target = float(np.mean(y_train))
    report = {
        "train_examples": len(y_train),
        "validation_examples": len(y_val),
        "train_log_loss": network_log_loss(net, x_train, y_train),
        "validation_log_loss": network_log_loss(net, x_val, y_val),
        "constant_train_log_loss": constant_log_loss(mean_target, y_train),
        "constant_validation_log_loss": constant_log_loss(mean_target, y_val),
        "linear_train_log_loss": mean_log_loss(linear, linear_train),
        "linear_validation_log_loss": mean_log_loss(linear, linear_val),
        "hand_validation_log_loss": mean_log_loss([1.0], hand_examples(val_games, names)),
        "epoch_validation_log_loss": curve,
    }
    return replace(net, report=report)
