"""``arena budgets``: seeded positions with a choice, each level's think time and depth."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ringrift.ai import choose_move
from ringrift.ai.budgets import measure, sample_positions
from ringrift.cli import app as cli
from ringrift.rules import legal_moves


def test_positions_are_seeded_spread_and_have_a_choice() -> None:
    first = sample_positions("square8", 3, 9, seed=4)
    again = sample_positions("square8", 3, 9, seed=4)
    assert len(first) == 9
    assert [p.state_hash() for p in first] == [p.state_hash() for p in again]
    assert all(p.game_status == "active" and len(legal_moves(p)) > 1 for p in first)
    plies = [p.move_count for p in first]
    assert min(plies) < 40 < max(plies), plies  # the opening and later phases both
    other = sample_positions("square8", 3, 9, seed=5)
    assert [p.state_hash() for p in other] != [p.state_hash() for p in first]


def test_depth_is_the_deepest_completed_search() -> None:
    [state] = sample_positions("square8", 2, 1, seed=3)
    assert choose_move(state, 1, seed=1, node_limit=10_000).depth == 0  # random
    assert choose_move(state, 4, seed=1, node_limit=10_000).depth == 1  # one ply, complete
    assert choose_move(state, 5, seed=1, node_limit=1_000_000).depth == 2  # its depth cap
    # A node limit that ends the search inside its first iteration: nothing completed.
    assert choose_move(state, 7, seed=1, node_limit=3).depth == 0


def test_measure_reports_every_decision_against_the_scaled_budget() -> None:
    positions = sample_positions("hex8", 2, 3, seed=1)
    [one, five] = measure(positions, [1, 5], seed=2, scale=0.1)
    assert (one.level, five.level) == (1, 5)
    assert len(one.think_ms) == len(five.think_ms) == 3
    assert one.budget_ms == pytest.approx(5.0) and five.budget_ms == pytest.approx(30.0)
    assert one.depths == [0, 0, 0] and max(five.depths) >= 1
    report = five.to_json()
    assert report["decisions"] == 3 and report["budgetMs"] == 30.0
    assert report["thinkMs"]["p50"] <= report["thinkMs"]["p95"] <= report["thinkMs"]["max"]
    assert report["p95OverBudget"] == round(five.p95_ratio, 3)


def test_cli_json_and_bad_input() -> None:
    runner = CliRunner()
    args = ["arena", "budgets", "--board", "square8", "--to", "2", "--positions", "2"]
    result = runner.invoke(cli, [*args, "--budget-scale", "0.1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [level["level"] for level in report["levels"]] == [1, 2]
    assert report["allWithinBar"] in (True, False) and len(report["plies"]) == 2
    for bad in (["--board", "chess"], ["--players", "5"], ["--from", "3", "--to", "2"]):
        refused = runner.invoke(cli, ["arena", "budgets", "--board", "square8", *bad])
        assert refused.exit_code == 2, (bad, refused.output)
