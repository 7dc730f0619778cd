"""The per-cell value network: inputs, weights files, the evaluator, training and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playout_support import played
from typer.testing import CliRunner

from ringrift.ai.arena import parse_competitor, with_eval_file
from ringrift.ai.cli import arena_app
from ringrift.ai.evaluation import WIN_SCORE, win_probability
from ringrift.ai.features import FEATURES
from ringrift.ai.fitted import EvalWeights, FittedEvaluation, load_any_evaluator, sigmoid
from ringrift.ai.network import (
    GLOBAL_INPUTS,
    NETWORK_FORMAT,
    PLANES,
    NetworkEvaluation,
    NetworkWeights,
    input_size,
    load_network_evaluator,
    network_input,
    symmetries,
)
from ringrift.ai.network_training import NetConfig, Stage, train_directory
from ringrift.ai.selfplay import SelfPlayConfig, run_selfplay
from ringrift.cli import app
from ringrift.rules import geometry, new_game

QUICK = NetConfig(hidden=8, epochs=6, batch_size=64)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six quick level-3 hex8 games (finished, with both seats winning some)."""
    out = tmp_path_factory.mktemp("selfplay") / "hex8"
    cfg = SelfPlayConfig("hex8", 2, 6, 3, seed=1, node_limit=50, sample_every=3, move_cap=300)
    run_selfplay(cfg, out, workers=1)
    return out


@pytest.fixture(scope="module")
def net_file(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("net") / "net.json"
    train_directory(data_dir, seed=1, cfg=QUICK).save(path)
    return path


def test_input_planes_are_seen_from_the_seat() -> None:
    s = played("square8", 2, 40, seed=3)
    n = s.geo.num_cells
    x1, x2 = network_input(s, 1), network_input(s, 2)
    assert x1.shape == x2.shape == (input_size(n),)
    planes1 = x1[: len(PLANES) * n].reshape(len(PLANES), n)
    planes2 = x2[: len(PLANES) * n].reshape(len(PLANES), n)
    # Mine for seat 1 is the opponent's for seat 2, plane pair by plane pair.
    assert np.array_equal(planes1[0::2], planes2[1::2])
    assert np.array_equal(planes1[1::2], planes2[0::2])
    for c, st in enumerate(s.stacks):
        mine = st is not None and st[0] == 1
        assert planes1[0, c] == (1.0 if mine else 0.0)
        assert planes1[6, c] == (1.0 if s.markers[c] == 1 else 0.0)
        assert planes1[9, c] == (1.0 if s.collapsed[c] == 2 else 0.0)
    g = len(GLOBAL_INPUTS)
    assert x1[-1] == (1.0 if s.current_player == 1 else 0.0)
    assert np.allclose(x1[-g:-1], -x2[-g:-1])  # two players: relative features are opposite


@pytest.mark.parametrize(("board", "count"), [("square8", 8), ("hex8", 12)])
def test_symmetries_are_automorphisms_of_the_board(board: str, count: int) -> None:
    geo = geometry(board)
    perms = symmetries(board)
    assert perms.shape == (count, geo.num_cells)
    assert list(perms[0]) == list(range(geo.num_cells))
    assert len({tuple(p) for p in perms.tolist()}) == count
    for p in perms:
        for c in range(geo.num_cells):
            assert {int(p[a]) for a in geo.adjacent[c]} == set(geo.adjacent[int(p[c])])


def test_training_is_deterministic_and_beats_a_constant(data_dir: Path, net_file: Path) -> None:
    again = net_file.with_name("again.json")
    train_directory(data_dir, seed=1, cfg=QUICK).save(again)
    assert again.read_bytes() == net_file.read_bytes()
    weights = NetworkWeights.load(net_file)
    assert weights.board == "hex8" and weights.players == 2 and weights.hidden == 8
    r = weights.report
    assert r["train_log_loss"] < r["constant_train_log_loss"]
    assert len(r["epoch_validation_log_loss"]) == QUICK.epochs
    assert weights.recipe["games"] == 6 and weights.recipe["hidden"] == 8
    # Trained from scratch (no linear start), the network still fits its training data.
    cold = NetConfig(hidden=8, epochs=20, batch_size=64, lr=3e-3, warm_start=False)
    r = train_directory(data_dir, seed=2, cfg=cold).report
    assert r["train_log_loss"] < r["constant_train_log_loss"]


def test_progress_reports_every_stage(data_dir: Path) -> None:
    seen: list[tuple[Stage, int, int]] = []
    train_directory(
        data_dir,
        seed=1,
        cfg=NetConfig(hidden=4, epochs=2),
        on_progress=lambda *a: seen.append(a),
    )
    assert (Stage.REPLAY, 6, 6) in seen
    assert (Stage.LINEAR, 1, 1) in seen
    assert seen[-1] == (Stage.TRAIN, 2, 2)


def test_evaluator_is_deterministic_and_on_the_hand_written_scale(net_file: Path) -> None:
    a = load_network_evaluator(net_file, board="hex8", players=2)
    b = load_any_evaluator(net_file)
    assert isinstance(b, NetworkEvaluation)
    positions = [played("hex8", 2, plies, seed) for seed, plies in enumerate((0, 15, 40, 70))]
    for s in positions:
        if s.game_status != "active":
            continue
        for p in (1, 2):
            value = a(s, p)
            assert value == b(s, p) == a.evaluate(s, p)
            assert abs(value) < WIN_SCORE
            logit = float(a.weights.logits(network_input(s, p)))
            assert win_probability(value) == pytest.approx(sigmoid(logit), abs=1e-9)


def test_terminal_positions_score_a_win_or_a_loss(net_file: Path) -> None:
    ev = load_network_evaluator(net_file)
    s = played("hex8", 2, 10, seed=1).copy()
    s.game_status, s.winner = "completed", 2
    assert ev(s, 2) == WIN_SCORE and ev(s, 1) == -WIN_SCORE


def test_weights_file_round_trip_and_checks(net_file: Path, tmp_path: Path) -> None:
    data = json.loads(net_file.read_text())
    assert data["format"] == NETWORK_FORMAT and data["version"] == 1
    assert data["planes"] == [p.value for p in PLANES] and data["features"] == list(GLOBAL_INPUTS)
    weights = NetworkWeights.load(net_file)
    copy = tmp_path / "copy.json"
    weights.save(copy)
    assert copy.read_bytes() == net_file.read_bytes()  # saved values reload exactly
    with pytest.raises(ValueError, match="trained on hex8, not square8"):
        load_network_evaluator(net_file, board="square8")
    with pytest.raises(ValueError, match="trained for 2 players, not 3"):
        load_any_evaluator(net_file, players=3)
    for change, message in (
        ({"version": 9}, "unsupported network version"),
        ({"board": "square8"}, "inputs, not square8's"),
        ({"v": [0.0]}, "shapes do not fit"),
        ({"planes": ["my_stack"]}, "input planes differ"),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**data, **change}))
        with pytest.raises(ValueError, match=message):
            NetworkWeights.load(bad)
    fitted = tmp_path / "fitted.json"
    zeros = tuple(0.0 for _ in FEATURES)
    EvalWeights("hex8", 2, tuple(f.value for f in FEATURES), zeros, 0, {}, {}).save(fitted)
    assert isinstance(load_any_evaluator(fitted, board="hex8"), FittedEvaluation)


def test_any_evaluator_reads_its_file_once(
    net_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted = tmp_path / "fitted.json"
    zeros = tuple(0.0 for _ in FEATURES)
    EvalWeights("hex8", 2, tuple(f.value for f in FEATURES), zeros, 0, {}, {}).save(fitted)
    reads: list[Path] = []
    read_text = Path.read_text

    def counting(self: Path, *args: Any, **kwargs: Any) -> str:
        reads.append(self)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    load_any_evaluator(net_file, board="hex8", players=2)
    load_any_evaluator(fitted, board="hex8", players=2)
    assert reads == [net_file, fitted]


def test_train_net_cli(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.json"
    args = ["train", "net", "--data", str(data_dir), "--out", str(out), "--seed", "1"]
    result = CliRunner().invoke(app, [*args, "--hidden", "4", "--epochs", "2", "--json"])
    assert result.exit_code == 0, result.output
    header = json.loads(result.output)
    assert header["format"] == NETWORK_FORMAT and header["hidden"] == 4
    assert "w1" not in header and NetworkWeights.load(out).hidden == 4
    table = CliRunner().invoke(app, [*args, "--hidden", "4", "--epochs", "1"])
    assert table.exit_code == 0 and "validation" in table.output
    for extra, message in (
        (["--hidden", "0"], "hidden must be at least 1"),
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--lr", "0"], "learning rate must be positive"),
        (["--validation", "1.5"], "validation fraction"),
    ):
        bad = CliRunner().invoke(app, [*args, *extra])
        assert bad.exit_code == 2 and message in bad.output, bad.output
    missing = CliRunner().invoke(
        app, ["train", "net", "--data", str(tmp_path / "nope"), "--out", str(out)]
    )
    assert missing.exit_code == 2 and "is not a directory" in missing.output
    empty = CliRunner().invoke(app, ["train", "net", "--data", str(tmp_path), "--out", str(out)])
    assert empty.exit_code == 2 and "not a self-play directory" in empty.output
    nowhere = CliRunner().invoke(
        app, ["train", "net", "--data", str(data_dir), "--out", str(tmp_path / "x" / "y.json")]
    )
    assert nowhere.exit_code == 2 and "cannot write" in nowhere.output


def test_arena_plays_with_a_network_file(net_file: Path) -> None:
    common = ["--games", "1", "--jobs", "1", "--move-cap", "20", "--budget-scale", "0.1"]
    result = CliRunner().invoke(
        arena_app,
        ["--a", "3", "--b", "3", "--eval-a", str(net_file), "--board", "hex8", "--json", *common],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["a"] == "L3+net"
    other = CliRunner().invoke(
        arena_app, ["--a", "3", "--b", "3", "--eval-b", str(net_file), *common]
    )
    assert other.exit_code == 2 and "trained on hex8" in other.output
    c = with_eval_file(parse_competitor("4"), net_file, board="hex8", players=2)
    decision = c.build().decide(new_game("hex8", 2), seed=1, budget_s=None, node_limit=50)
    assert math.isfinite(decision.evaluation)
