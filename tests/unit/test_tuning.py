"""Tuning the evaluation by play (`ringrift.ai.tuning`, `ringrift train tune`): the
best-opponent model it tunes, its schedule, determinism, resumption and bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from playout_support import played
from typer.testing import CliRunner

from ringrift.ai.evaluation import evaluate
from ringrift.ai.features import FEATURES
from ringrift.ai.fitted import EvalWeights, FittedEvaluation, Model
from ringrift.ai.selfplay import SelfPlayConfig, run_selfplay
from ringrift.ai.tuning import TuneConfig, hand_theta, load_progress, run_tuning
from ringrift.cli import app


@pytest.mark.parametrize(("board", "players"), [("square8", 2), ("hex8", 3), ("square8", 4)])
def test_the_start_is_exactly_the_hand_written_evaluation(board: str, players: int) -> None:
    start = FittedEvaluation(
        EvalWeights(
            board=board,
            players=players,
            features=tuple(f.value for f in FEATURES),
            weights=tuple(hand_theta()),
            seed=0,
            recipe={},
            report={},
            model=Model.BEST_OPPONENT,
        )
    )
    for seed in range(3):
        s = played(board, players, 30 + 25 * seed, seed)
        for q in range(1, players + 1):
            assert start(s, q) == pytest.approx(evaluate(s, q), abs=1e-9)


def test_the_gains_decay_from_the_given_sizes() -> None:
    cfg = TuneConfig("square8", 4, iterations=10, a=0.2, c=0.4)
    a0, c0 = cfg.gains(0)
    assert (a0, c0) == (pytest.approx(0.2), pytest.approx(0.4))
    later = [cfg.gains(k) for k in (1, 10, 100, 1000)]
    assert all(a < a0 and c < c0 for a, c in later)
    assert [a for a, _ in later] == sorted((a for a, _ in later), reverse=True)
    # The schedule does not depend on the run's length, so a longer run continues it.
    assert TuneConfig("square8", 4, iterations=500, a=0.2, c=0.4).gains(7) == cfg.gains(7)
    signs = cfg.signs(3)
    assert signs == cfg.signs(3) and len(signs) == cfg.pairs
    assert all(s in (-1, 1) for d in signs for s in d) and signs != cfg.signs(4)


def test_tuning_is_deterministic_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    cfg = TuneConfig("hex8", 2, iterations=2, seed=5, pairs=2, node_limit=300)
    whole = run_tuning(cfg, tmp_path / "whole.json", workers=1)
    assert whole.model == Model.BEST_OPPONENT
    assert whole.recipe["iterations_done"] == 2 and whole.recipe["method"] == "spsa"
    # Eight games between perturbed weights moved them away from the start.
    assert list(whole.weights) != hand_theta()

    part = tmp_path / "part.json"
    seen: list[int] = []
    run_tuning(
        dataclasses.replace(cfg, iterations=1), part, on_iteration=lambda i: seen.append(i.index)
    )
    assert EvalWeights.load(part).recipe["iterations_done"] == 1
    resumed = run_tuning(cfg, part, workers=1, on_iteration=lambda i: seen.append(i.index))
    assert seen == [0, 1]  # the rerun played only the missing iteration
    assert resumed.weights == whole.weights
    assert EvalWeights.load(part) == EvalWeights.load(tmp_path / "whole.json")

    # Another recipe, or fewer iterations than the file holds, is refused.
    with pytest.raises(ValueError, match="another tuning run"):
        load_progress(dataclasses.replace(cfg, seed=6), part)
    with pytest.raises(ValueError, match="already holds 2 iterations"):
        load_progress(dataclasses.replace(cfg, iterations=1), part)


def test_train_tune_rejects_bad_input(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    base = ["train", "tune", "--board", "square8", "--players", "2", "--iterations", "1"]
    cases = {
        "players must be 2, 3 or 4": ["--players", "5"],
        "iterations must be at least 1": ["--iterations", "0"],
        "unknown board": ["--board", "chess"],
        "level 1 has no evaluation to tune": ["--level", "1"],
        "c must be a positive number": ["--c", "-0.1"],
        "a must be a positive number": ["--a", "nan"],
        "pairs must be at least 1": ["--pairs", "0"],
        "workers must be at least 1": ["--workers", "0"],
    }
    runner = CliRunner()
    for message, extra in cases.items():
        result = runner.invoke(app, [*base, "--out", str(out), *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output, (extra, result.output)
    assert not out.exists()
    missing = runner.invoke(app, [*base, "--out", str(tmp_path / "no" / "t.json")])
    assert missing.exit_code == 2 and "is not a directory" in missing.output
    out.write_text("{}")
    other = runner.invoke(app, [*base, "--out", str(out)])
    assert other.exit_code == 2 and "not a ringrift-eval-weights file" in other.output
    assert out.read_text() == "{}"


def test_the_best_opponent_model_is_not_fitted_to_outcomes(tmp_path: Path) -> None:
    data = tmp_path / "sp"
    run_selfplay(SelfPlayConfig("square8", 2, games=2, level=1, seed=1), data, workers=1)
    out = tmp_path / "w.json"
    result = CliRunner().invoke(
        app, ["train", "eval", "--data", str(data), "--out", str(out), "--model", "best-opponent"]
    )
    assert result.exit_code == 2 and "tuned by play" in result.output
    assert not out.exists()
