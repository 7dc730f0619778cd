"""Arena statistics, seating, determinism and the `ringrift arena` command."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from ringrift.ai.arena import (
    GameSpec,
    elo_difference,
    ladder_elo,
    parse_competitor,
    percentile,
    play_game,
    run_match,
    wilson,
)
from ringrift.ai.cli import arena_app


def test_wilson_interval() -> None:
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(1 - hi)
    assert lo < 0.5 < hi
    assert wilson(0, 10)[0] == pytest.approx(0.0)
    assert wilson(10, 10)[1] == pytest.approx(1.0)
    # A textbook value: 81 successes out of 100 gives about [0.722, 0.875] (computed by hand).
    lo, hi = wilson(81, 100)
    assert lo == pytest.approx(0.7222, abs=1e-3)
    assert hi == pytest.approx(0.8749, abs=1e-3)
    narrow, wide = wilson(90, 100), wilson(9, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_elo_and_percentiles() -> None:
    assert elo_difference(0.5) == 0.0
    assert elo_difference(0.75) == pytest.approx(190.85, abs=0.01)
    assert elo_difference(0.25) == pytest.approx(-190.85, abs=0.01)
    assert elo_difference(1.0) == 800.0 and elo_difference(0.0) == -800.0
    chained = ladder_elo([(1, 2, 0.75), (2, 3, 0.5)])
    assert chained == pytest.approx({1: 0, 2: 190.85, 3: 190.85}, abs=0.01)
    assert percentile([], 50) == 0.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0


def test_parse_competitor() -> None:
    assert parse_competitor("7").level == 7
    assert parse_competitor("L3").level == 3
    assert parse_competitor("Heuristic").name == "heuristic"
    for bad in ("0", "11", "L", "grandmaster", ""):
        with pytest.raises(ValueError):
            parse_competitor(bad)


def test_seats_alternate_and_results_are_reproducible() -> None:
    a, b = parse_competitor("random"), parse_competitor("1")
    first = [play_game(GameSpec(a, b, "square8", 3, 5, i, 1.0, 2000)) for i in range(3)]
    assert [r.seat_a for r in first] == [1, 2, 3]
    again = [play_game(GameSpec(a, b, "square8", 3, 5, i, 1.0, 2000)) for i in range(3)]
    assert [(r.moves, r.winner) for r in first] == [(r.moves, r.winner) for r in again]
    for r in first:
        assert r.outcome in ("a", "b")
        assert (r.outcome == "a") == (r.winner == r.seat_a)


def test_move_cap_makes_a_draw() -> None:
    a = parse_competitor("1")
    result = play_game(GameSpec(a, a, "square8", 2, 1, 0, 1.0, 10))
    assert result.outcome == "draw" and result.moves == 10 and result.winner is None


def test_run_match_counts_add_up() -> None:
    summary = run_match(
        parse_competitor("1"), parse_competitor("1"), board="hex8", players=2, games=4, jobs=2
    )
    data = summary.to_json()
    assert data["wins_a"] + data["wins_b"] + data["draws"] == 4
    assert 0.0 <= data["ci95"][0] <= data["win_rate_a"] <= data["ci95"][1] <= 1.0
    assert data["mean_moves"] > 0
    with pytest.raises(ValueError, match="board"):
        run_match(parse_competitor("1"), parse_competitor("1"), board="go", players=2, games=1)
    with pytest.raises(ValueError, match="players"):
        run_match(parse_competitor("1"), parse_competitor("1"), board="hex8", players=5, games=1)


def test_multiplayer_matches_score_a_by_rank_and_split_end_reasons_by_outcome() -> None:
    a, b = parse_competitor("1"), parse_competitor("random")
    results = [play_game(GameSpec(a, b, "square8", 3, 2, i, 1.0, 2000)) for i in range(6)]
    summary = run_match(a, b, board="square8", players=3, games=6, seed=2, jobs=1)
    assert [r.rank_a for r in results] == [
        r.rank_a
        for r in [play_game(GameSpec(a, b, "square8", 3, 2, i, 1.0, 2000)) for i in range(6)]
    ]
    for r in results:
        assert r.rank_a is not None and 1 <= r.rank_a <= 3
        assert (r.rank_a == 1) == (r.outcome == "a")
        assert r.rank_score_a == {1: 1.0, 2: 0.5, 3: 0.0}[r.rank_a]
    data = summary.to_json()
    assert data["rank_score_a"] == pytest.approx(sum(r.rank_score_a for r in results) / 6)
    assert data["rank_ci95"][0] <= data["rank_score_a"] <= data["rank_ci95"][1]
    by_outcome = data["end_reasons_by_outcome"]
    assert sum(by_outcome.get("a", {}).values()) == data["wins_a"]
    assert sum(by_outcome.get("b", {}).values()) == data["wins_b"]
    merged: dict[str, int] = {}
    for counts in by_outcome.values():
        for reason, n in counts.items():
            merged[reason] = merged.get(reason, 0) + n
    assert merged == data["end_reasons"]


def test_two_player_rank_score_is_the_win_rate_and_a_draw_scores_half() -> None:
    summary = run_match(
        parse_competitor("1"), parse_competitor("random"), board="hex8", players=2, games=4, jobs=1
    )
    data = summary.to_json()
    assert data["rank_score_a"] == pytest.approx(data["win_rate_a"])
    a = parse_competitor("1")
    draw = play_game(GameSpec(a, a, "square8", 3, 1, 0, 1.0, 10))
    assert draw.outcome == "draw" and draw.rank_a is None and draw.rank_score_a == 0.5


def test_arena_command_json() -> None:
    runner = CliRunner()
    result = runner.invoke(
        arena_app,
        ["--a", "heuristic", "--b", "1", "--games", "2", "--jobs", "1", "--seed", "3", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("wins_a", "wins_b", "draws", "win_rate_a", "ci95", "mean_moves", "latency_ms"):
        assert key in data
    assert set(data["latency_ms"]) >= {"p50", "p95"}
    assert data["wins_a"] + data["wins_b"] + data["draws"] == 2
    assert all(math.isfinite(v) for v in data["ci95"])


def test_arena_command_rejects_bad_input() -> None:
    runner = CliRunner()
    for args in (
        ["--a", "1", "--b", "99"],
        ["--a", "1", "--b", "2", "--board", "chess"],
        ["--a", "1", "--b", "2", "--players", "7"],
        ["--a", "1", "--b", "2", "--games", "0"],
        ["--a", "1", "--b", "2", "--budget-scale", "-1"],
        ["--a", "1"],
        ["ladder", "--from", "5", "--to", "3"],
        ["ladder", "--strong-budget", "0.2", "--budget-scale", "0.1"],
        ["ladder", "--strong-budget", "0"],
        ["ladder", "--players", "5"],
        ["ladder", "--players", "1"],
        ["--a", "1", "--b", "2", "--save", "/nonexistent/dir/out.json"],
    ):
        result = runner.invoke(arena_app, [*args, "--json"])
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout.strip() == "", args


def test_ladder_command_json() -> None:
    runner = CliRunner()
    result = runner.invoke(
        arena_app,
        ["ladder", "--from", "1", "--to", "2", "--games", "2", "--jobs", "1", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["elo"]) == {"1", "2"}
    assert data["elo"]["1"] == 0.0
    assert len(data["pairs"]) == 1


def test_ladder_strong_budget_scales_each_pair_to_its_stronger_level() -> None:
    runner = CliRunner()
    args = ["ladder", "--from", "1", "--to", "3", "--games", "2", "--jobs", "1"]
    result = runner.invoke(arena_app, [*args, "--strong-budget", "0.075", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["strong_budget_s"] == 0.075 and data["budget_scale"] is None
    # L2 thinks 0.1 s, so pair 1-2 runs at 0.75; L3's 0.15 s gives pair 2-3 a scale of 0.5.
    scales = [pair["budget_scale"] for pair in data["pairs"]]
    assert scales == [pytest.approx(0.75), pytest.approx(0.5)]


def test_a_multiplayer_ladder_chains_rank_scores() -> None:
    runner = CliRunner()
    args = ["ladder", "--from", "1", "--to", "2", "--players", "3", "--games", "3"]
    result = runner.invoke(arena_app, [*args, "--jobs", "1", "--seed", "4", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["players"] == 3 and data["pair_score"] == "rank score"
    (pair,) = data["pairs"]
    assert pair["players"] == 3 and pair["games"] == 3
    assert pair["a"] == "L2" and pair["b"] == "L1"
    assert data["weakest_step"] == pair["rank_score_a"]
    assert data["elo"]["2"] == round(elo_difference(pair["rank_score_a"]), 1)
