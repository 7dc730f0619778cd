"""The softmax (conditional logit) model of the fitted evaluation: its fit, its evaluation,
its weights files and `ringrift train eval --model softmax`."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringrift.ai.evaluation import VALUE_SCALE
from ringrift.ai.features import FEATURES
from ringrift.ai.fitted import EvalWeights, FittedEvaluation, Model, softmax_logit
from ringrift.ai.selfplay import SelfPlayConfig, run_selfplay
from ringrift.ai.training import fit_softmax, softmax_loss, winner_shares
from ringrift.cli import app
from ringrift.rules import apply_move, legal_moves, new_game


def _weights(model: Model, players: int) -> EvalWeights:
    rng = random.Random(11)
    return EvalWeights(
        board="square8",
        players=players,
        features=tuple(f.value for f in FEATURES),
        weights=tuple(rng.uniform(-1, 1) for _ in FEATURES),
        seed=0,
        recipe={},
        report={},
        model=model,
    )


def test_softmax_logit() -> None:
    assert softmax_logit([2.0, 0.5], 0) == pytest.approx(1.5)
    assert softmax_logit([1.0, 1.0, 1.0, 1.0], 2) == pytest.approx(-math.log(3))
    # Far ahead of one opponent, level with another: about "minus the best opponent".
    assert softmax_logit([5.0, 5.0, -20.0, -20.0], 0) == pytest.approx(0.0, abs=1e-6)
    # Large scores do not overflow.
    assert math.isfinite(softmax_logit([1000.0, 0.0, -1000.0], 1))


def test_with_two_players_both_models_evaluate_alike() -> None:
    mean = FittedEvaluation(_weights(Model.OPPONENTS_MEAN, 2))
    soft = FittedEvaluation(_weights(Model.SOFTMAX, 2))
    rng = random.Random(4)
    s = new_game("square8", 2)
    for _ in range(40):
        s = apply_move(s, rng.choice(legal_moves(s)))
        for q in (1, 2):
            assert soft(s, q) == pytest.approx(mean(s, q))


def test_with_four_players_the_best_opponent_counts_more_than_the_mean() -> None:
    soft = FittedEvaluation(_weights(Model.SOFTMAX, 4))
    rng = random.Random(6)
    s = new_game("square8", 4)
    for _ in range(60):
        s = apply_move(s, rng.choice(legal_moves(s)))
    values = [soft(s, q) for q in range(1, 5)]
    assert all(math.isfinite(v) for v in values)
    assert values == [soft(s, q) for q in range(1, 5)]  # deterministic
    # The seats' win chances under the model sum to one.
    assert sum(1 / (1 + math.exp(-v / VALUE_SCALE)) for v in values) == pytest.approx(1.0)


def test_winner_shares() -> None:
    assert winner_shares([2, 1, 3, 4]) == [0.0, 1.0, 0.0, 0.0]
    assert winner_shares([1, 1, 3]) == [0.5, 0.5, 0.0]
    assert winner_shares(None) is None


def test_fit_softmax_recovers_known_weights() -> None:
    rng = random.Random(3)
    true_w = [1.2, -0.8, 0.0]
    data = []
    for _ in range(4000):
        seats = [[rng.gauss(0, 1) for _ in true_w] for _ in range(4)]
        z = [sum(a * b for a, b in zip(true_w, x, strict=True)) for x in seats]
        total = sum(math.exp(v) for v in z)
        pick = rng.choices(range(4), weights=[math.exp(v) / total for v in z])[0]
        data.append((seats, [1.0 if i == pick else 0.0 for i in range(4)]))
    w = fit_softmax(data, l2=1e-6)
    assert w == pytest.approx(true_w, abs=0.15)
    assert softmax_loss(w, data) < softmax_loss([0.0, 0.0, 0.0], data)
    with pytest.raises(ValueError, match="no training positions"):
        fit_softmax([])


def test_weights_files_name_their_model(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    soft = _weights(Model.SOFTMAX, 4)
    soft.save(path)
    assert json.loads(path.read_text())["model"] == "softmax"
    assert EvalWeights.load(path) == soft
    # A file written before models had names is the opponents-mean model.
    data = json.loads(path.read_text())
    del data["model"]
    path.write_text(json.dumps(data))
    assert EvalWeights.load(path) == dataclasses.replace(soft, model=Model.OPPONENTS_MEAN)
    data["model"] = "neural"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="unknown model 'neural'"):
        EvalWeights.load(path)


def test_train_eval_cli_softmax(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_selfplay(
        SelfPlayConfig("square8", 3, 8, 1, seed=2, node_limit=50, sample_every=8), data, workers=1
    )
    out = tmp_path / "w.json"
    argv = ["train", "eval", "--data", str(data), "--out", str(out), "--seed", "1"]
    result = CliRunner().invoke(app, [*argv, "--model", "softmax", "--json"])
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    assert written["model"] == "softmax" and written["players"] == 3
    assert written["report"]["validation_loss"] > 0
    assert EvalWeights.load(out).model == Model.SOFTMAX
    table = CliRunner().invoke(app, [*argv, "--model", "softmax"])
    assert table.exit_code == 0 and "winner cross-entropy" in table.output
    bad = CliRunner().invoke(app, [*argv, "--model", "neural"])
    assert bad.exit_code == 2
