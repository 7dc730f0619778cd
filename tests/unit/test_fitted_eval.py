"""Playing with a fitted evaluation: players, the arena's --eval-a/--eval-b options."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringrift.ai.alphabeta import AlphaBetaPlayer
from ringrift.ai.cli import arena_app
from ringrift.ai.evaluation import DEFAULT_WEIGHTS, VALUE_SCALE
from ringrift.ai.features import FEATURES
from ringrift.ai.fitted import (
    EvalWeights,
    FittedEvaluation,
    Model,
    load_evaluator,
    resolve_weights_path,
    shipped_weights_files,
    shipped_weights_path,
    with_evaluator,
)
from ringrift.ai.players import HeuristicPlayer, RandomPlayer
from ringrift.ai.tuning import TuneConfig
from ringrift.rules import apply_move, legal_moves, new_game

TUNE_FIELDS = {f.name for f in dataclasses.fields(TuneConfig)}


def hand_weights(board: str = "square8", players: int = 2) -> EvalWeights:
    """The hand-written evaluation as a weights file (the new features weigh 0)."""
    by_name = {
        f.name: getattr(DEFAULT_WEIGHTS, f.name) / VALUE_SCALE
        for f in dataclasses.fields(DEFAULT_WEIGHTS)
    }
    return EvalWeights(
        board=board,
        players=players,
        features=tuple(f.value for f in FEATURES),
        weights=tuple(by_name.get(f.value, 0.0) for f in FEATURES),
        seed=0,
        recipe={},
        report={},
    )


def test_players_with_hand_weights_choose_the_same_moves() -> None:
    ev = FittedEvaluation(hand_weights())
    rng = random.Random(5)
    s = new_game("square8", 2)
    for _ in range(30):
        s = apply_move(s, rng.choice(legal_moves(s)))
    for make in (lambda: HeuristicPlayer(), lambda: AlphaBetaPlayer(max_depth=2)):
        plain, fitted = make(), with_evaluator(make(), ev)
        a = plain.decide(s, seed=1, budget_s=None, node_limit=300)
        b = fitted.decide(s, seed=1, budget_s=None, node_limit=300)
        assert a.move == b.move
        assert a.evaluation == pytest.approx(b.evaluation)


def test_players_without_an_evaluation_are_refused() -> None:
    with pytest.raises(ValueError, match="does not use an evaluation"):
        with_evaluator(RandomPlayer(), FittedEvaluation(hand_weights()))


def test_loader_checks_the_game(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    hand_weights().save(path)
    assert load_evaluator(path, board="square8", players=2).weights == hand_weights()
    with pytest.raises(ValueError, match="fitted on square8, not hex8"):
        load_evaluator(path, board="hex8")
    with pytest.raises(ValueError, match="fitted for 2 players, not 3"):
        load_evaluator(path, players=3)


def test_arena_plays_with_a_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "hand.json"
    hand_weights().save(path)
    common = ["--games", "2", "--jobs", "1", "--move-cap", "30", "--budget-scale", "0.1"]
    result = CliRunner().invoke(
        arena_app, ["--a", "3", "--b", "3", "--eval-a", str(path), "--json", *common]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["a"] == "L3+hand" and data["games"] == 2
    bad = CliRunner().invoke(arena_app, ["--a", "1", "--b", "3", "--eval-a", str(path), *common])
    assert bad.exit_code == 2 and "does not use an evaluation" in bad.output
    other = CliRunner().invoke(
        arena_app, ["--a", "3", "--b", "3", "--eval-b", str(path), "--board", "hex8", *common]
    )
    assert other.exit_code == 2 and "not hex8" in other.output


def test_every_shipped_weights_file_loads_and_matches_the_feature_set() -> None:
    files = shipped_weights_files()
    assert shipped_weights_path("square8", 2) in files
    for path in files:
        weights = EvalWeights.load(path)
        assert path == shipped_weights_path(weights.board, weights.players), path.name
        ev = load_evaluator(path, board=weights.board, players=weights.players)
        assert ev.weights.features == tuple(f.value for f in FEATURES), path.name
        assert all(math.isfinite(w) for w in ev.weights.weights), path.name
        report = ev.weights.report
        if ev.weights.model == Model.BEST_OPPONENT:
            # Tuned by play: the recipe is a tuning run's, and reruns to the same file.
            recipe = dict(ev.weights.recipe)
            done = recipe.pop("iterations_done")
            settings = {k: v for k, v in recipe.items() if k in TUNE_FIELDS}
            assert TuneConfig(iterations=done, **settings).recipe() == recipe, path.name
            assert report["games"] == done * 2 * recipe["pairs"]
        else:
            assert report["validation_log_loss"] < report["hand_rescaled_validation_log_loss"]
        s = new_game(weights.board, weights.players)
        assert math.isfinite(ev(s, 1))


def test_shipped_names_the_file_of_the_match(tmp_path: Path) -> None:
    common = ["--games", "1", "--jobs", "1", "--move-cap", "20", "--budget-scale", "0.1"]
    result = CliRunner().invoke(
        arena_app, ["--a", "3", "--b", "3", "--eval-a", "shipped", "--json", *common]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["a"] == "L3+square8-2p"
    path = resolve_weights_path(Path("shipped"), board="square8", players=2)
    assert path == shipped_weights_path("square8", 2)
    plain = tmp_path / "shipped.json"
    assert resolve_weights_path(plain, board="square8", players=2) == plain
    with pytest.raises(ValueError, match="no shipped weights for square19 with 4 players"):
        resolve_weights_path(Path("shipped"), board="square19", players=4)
    game = ["--board", "square19", "--players", "4"]
    bad = CliRunner().invoke(
        arena_app, ["--a", "3", "--b", "3", "--eval-b", "shipped", *game, *common]
    )
    assert bad.exit_code == 2 and "no shipped weights" in bad.output


def test_errors_stay_on_one_line_in_a_narrow_terminal(tmp_path: Path) -> None:
    """A long file path must not wrap the message (a CI run failed on a wrapped "hex8")."""
    path = tmp_path / ("a-long-directory-name-" * 3) / "weights.json"
    path.parent.mkdir()
    hand_weights(board="hex8").save(path)
    common = ["--a", "3", "--b", "3", "--eval-b", str(path), "--games", "1"]
    result = CliRunner().invoke(arena_app, common, env={"COLUMNS": "40"})
    assert result.exit_code == 2
    assert f"{path} was fitted on hex8, not square8" in result.output
