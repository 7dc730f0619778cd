"""The fitted evaluation: features, the logistic fit, weights files and `ringrift train eval`."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from playout_support import played
from typer.testing import CliRunner

from ringrift.ai.evaluation import (
    DEFAULT_WEIGHTS,
    VALUE_SCALE,
    evaluate,
    player_scores,
    value_vector,
)
from ringrift.ai.features import BASE_FEATURES, FEATURES, Feature, seat_features
from ringrift.ai.fitted import EvalWeights, FittedEvaluation, sigmoid
from ringrift.ai.selfplay import SelfPlayConfig, run_selfplay
from ringrift.ai.training import fit_logistic, hand_probability, seat_target
from ringrift.cli import app
from ringrift.rules import GameState, new_game


def _stack(x: int, y: int, rings: list[int]) -> dict[str, Any]:
    return {
        "position": {"x": x, "y": y},
        "rings": rings,
        "stackHeight": len(rings),
        "capHeight": 1,
        "controllingPlayer": rings[0],
    }


def _stuck_position() -> GameState:
    """Player 1's only stack is walled into a corner by collapsed cells, no rings in hand;
    player 2 has a free stack. Player 1 has no real action (it faces forced elimination)."""
    d = new_game("square8", 2).to_json()
    d["board"]["stacks"] = {"0,0": _stack(0, 0, [1]), "5,5": _stack(5, 5, [2])}
    d["board"]["collapsedSpaces"] = {"1,0": 2, "0,1": 2, "1,1": 2}
    for p in d["players"]:
        p["ringsInHand"] = 0
    d["currentPhase"] = "movement"
    d["lpsState"] = {
        "roundFirstPlayer": 2,
        "actionMask": [2],
        "exclusiveStreak": 2,
        "streakHolder": 2,
    }
    return GameState.from_json(d)


def _named(values: list[float]) -> dict[Feature, float]:
    return dict(zip(FEATURES, values, strict=True))


def test_features_of_a_fresh_game() -> None:
    f = seat_features(new_game("square8", 3))
    assert len(f) == 4
    for q in (1, 2, 3):
        v = _named(f[q])
        assert v[Feature.REAL_ACTION] == 1.0 and v[Feature.HAND] == 1.0
        assert v[Feature.ON_BOARD] == 0.0 and v[Feature.STUCK] == 0.0
        assert v[Feature.MOBILE_STACKS] == v[Feature.IMMOBILE_STACKS] == 0.0
        assert v[Feature.TERRITORY_THREAT] == 0.0 and v[Feature.LPS_PRESSURE] == 0.0


def test_features_see_a_stuck_seat() -> None:
    s = _stuck_position()
    one, two = _named(seat_features(s)[1]), _named(seat_features(s)[2])
    assert one[Feature.REAL_ACTION] == 0.0 and one[Feature.STUCK] == 1.0
    assert one[Feature.IMMOBILE_STACKS] > 0 and one[Feature.MOBILE_STACKS] == 0.0
    assert two[Feature.REAL_ACTION] == 1.0 and two[Feature.STUCK] == 0.0
    assert two[Feature.MOBILE_STACKS] > 0 and two[Feature.IMMOBILE_STACKS] == 0.0
    assert two[Feature.LPS_PRESSURE] == pytest.approx(2 / s.lps_required)
    assert one[Feature.LPS_PRESSURE] == 0.0
    # The walled corner is a one-cell pocket player 2 could claim; the rest of the board is
    # not counted as a threat for player 1.
    assert two[Feature.TERRITORY_THREAT] == pytest.approx(1 / s.territory_minimum)
    assert one[Feature.TERRITORY_THREAT] == 0.0


@pytest.mark.parametrize(("board", "players"), [("square8", 2), ("hex8", 3), ("square8", 4)])
def test_base_features_reproduce_the_hand_written_evaluation(board: str, players: int) -> None:
    coef = [getattr(DEFAULT_WEIGHTS, f.value) for f in BASE_FEATURES]
    for seed in range(3):
        s = played(board, players, 40 + 10 * seed, seed)
        feats = seat_features(s)
        scores = player_scores(s)
        values = value_vector(s)
        for q in range(1, players + 1):
            base = feats[q][: len(BASE_FEATURES)]
            assert sum(c * x for c, x in zip(coef, base, strict=True)) == pytest.approx(scores[q])
            assert hand_probability(feats, q) == pytest.approx(values[q])


def test_fit_recovers_known_weights() -> None:
    rng = random.Random(3)
    true_w = [1.5, -2.0, 0.5, 0.0]
    data = []
    for _ in range(600):
        x = [rng.gauss(0, 1) for _ in true_w]
        data.append((x, sigmoid(sum(a * b for a, b in zip(true_w, x, strict=True)))))
    w = fit_logistic(data, l2=1e-8)
    assert w == pytest.approx(true_w, abs=1e-3)
    # Sampled 0/1 outcomes: close, not exact.
    noisy = [(x, 1.0 if rng.random() < y else 0.0) for x, y in data * 5]
    w = fit_logistic(noisy, l2=1e-6)
    assert w == pytest.approx(true_w, abs=0.35)


def test_fit_rejects_empty_data() -> None:
    with pytest.raises(ValueError, match="no training examples"):
        fit_logistic([])


def test_targets() -> None:
    assert seat_target([1, 2], 1) == 1.0 and seat_target([1, 2], 2) == 0.0
    assert seat_target([2, 1, 3], 1) == 0.5 and seat_target([2, 1, 3], 3) == 0.0
    assert seat_target(None, 2) == 0.5


def _hand_weights_file() -> EvalWeights:
    """The hand-written evaluation expressed as a weights file (new features at 0)."""
    by_name = {
        f.name: v / VALUE_SCALE
        for f, v in zip(
            dataclasses.fields(DEFAULT_WEIGHTS),
            dataclasses.astuple(DEFAULT_WEIGHTS),
            strict=True,
        )
    }
    return EvalWeights(
        board="square8",
        players=2,
        features=tuple(f.value for f in FEATURES),
        weights=tuple(by_name.get(f.value, 0.0) for f in FEATURES),
        seed=0,
        recipe={"data": "none"},
        report={},
    )


def test_weights_file_round_trips(tmp_path: Path) -> None:
    w = _hand_weights_file()
    path = tmp_path / "w.json"
    w.save(path)
    assert EvalWeights.load(path) == w
    data = json.loads(path.read_text())
    assert data["format"] == "ringrift-eval-weights" and data["version"] == 1
    data["version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="unsupported weights version"):
        EvalWeights.load(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="cannot read weights file"):
        EvalWeights.load(path)


def test_fitted_evaluation_with_hand_weights_matches_two_players() -> None:
    ev = FittedEvaluation(_hand_weights_file())
    for seed in range(3):
        s = played("square8", 2, 50, seed)
        for q in (1, 2):
            assert ev(s, q) == pytest.approx(evaluate(s, q))
    assert math.isfinite(ev(_stuck_position(), 1))


def test_train_eval_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cfg = SelfPlayConfig("square8", 2, 6, 1, seed=2, node_limit=50, sample_every=8)
    run_selfplay(cfg, data, workers=1)
    out = tmp_path / "w.json"
    argv = ["train", "eval", "--data", str(data), "--out", str(out), "--seed", "1", "--json"]
    first = CliRunner().invoke(app, argv)
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)["report"]
    assert report["train_examples"] > 0 and report["validation_examples"] > 0
    loaded = EvalWeights.load(out)
    assert loaded.board == "square8" and loaded.players == 2 and loaded.seed == 1
    assert loaded.recipe["manifest"]["level"] == 1
    # Reproducible from the seed.
    again = CliRunner().invoke(app, argv)
    assert json.loads(again.output)["weights"] == list(loaded.weights)
    bad = CliRunner().invoke(
        app, ["train", "eval", "--data", str(tmp_path / "nope"), "--out", str(out)]
    )
    assert bad.exit_code == 2 and "is not a directory" in bad.output
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = CliRunner().invoke(app, ["train", "eval", "--data", str(empty), "--out", str(out)])
    assert bad.exit_code == 2 and "not a self-play directory" in bad.output
