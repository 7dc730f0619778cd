"""Self-play shards: format, determinism per seed, resuming, and the CLI's input checks."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringrift.ai.features import FEATURES
from ringrift.ai.selfplay import (
    MANIFEST,
    SelfPlayConfig,
    read_games,
    read_manifest,
    run_selfplay,
    shard_name,
)
from ringrift.cli import app
from ringrift.rules import Move, apply_move, new_game

TINY = SelfPlayConfig(
    "square8", 2, 3, 1, seed=7, node_limit=50, sample_every=5, shard_size=2, move_cap=60
)


def _shards(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("games-*.jsonl.gz"))}


def test_shards_are_valid_and_replayable(tmp_path: Path) -> None:
    summary = run_selfplay(TINY, tmp_path, workers=1)
    assert summary.played == 3 and summary.skipped == 0 and summary.shards_written == 2
    assert set(_shards(tmp_path)) == {shard_name(0, 2), shard_name(2, 3)}
    manifest = read_manifest(tmp_path)
    assert manifest["features"] == [f.value for f in FEATURES]
    assert manifest["level"] == 1 and "games" not in manifest
    games = list(read_games(tmp_path))
    assert [g["index"] for g in games] == [0, 1, 2]
    for g in games:
        assert g["board"] == "square8" and g["players"] == 2 and g["level"] == 1
        assert g["plies"] == len(g["moves"]) <= 60
        if g["ranks"] is None:
            assert g["victoryReason"] == "move_cap"
        else:
            assert sorted(g["ranks"]) == [1, 2]
        assert g["positions"], "every game samples positions"
        for pos in g["positions"]:
            assert pos["ply"] % 5 == g["seed"] % 5
            assert len(pos["features"]) == 2
            assert all(len(v) == len(FEATURES) for v in pos["features"])
        # The moves replay through the rules engine.
        state = new_game("square8", 2)
        for wire in g["moves"]:
            state = apply_move(state, Move.from_json(wire))
        assert state.moves_made >= 0


def test_deterministic_per_seed(tmp_path: Path) -> None:
    run_selfplay(TINY, tmp_path / "a", workers=1)
    run_selfplay(TINY, tmp_path / "b", workers=2)
    assert _shards(tmp_path / "a") == _shards(tmp_path / "b")
    other = SelfPlayConfig(
        "square8", 2, 3, 1, seed=8, node_limit=50, sample_every=5, shard_size=2, move_cap=60
    )
    run_selfplay(other, tmp_path / "c", workers=1)
    assert _shards(tmp_path / "a") != _shards(tmp_path / "c")


def test_resume_skips_written_shards(tmp_path: Path) -> None:
    run_selfplay(TINY, tmp_path, workers=1)
    before = _shards(tmp_path)
    again = run_selfplay(TINY, tmp_path, workers=1)
    assert again.played == 0 and again.skipped == 3 and again.shards_written == 0
    # Simulate an interruption: the last shard never got written.
    (tmp_path / shard_name(2, 3)).unlink()
    resumed = run_selfplay(TINY, tmp_path, workers=1)
    assert resumed.played == 1 and resumed.skipped == 2
    assert _shards(tmp_path) == before
    assert not list(tmp_path.glob("*.tmp"))


def test_different_recipe_is_refused(tmp_path: Path) -> None:
    run_selfplay(TINY, tmp_path, workers=1)
    changed = SelfPlayConfig(
        "square8", 2, 3, 2, seed=7, node_limit=50, sample_every=5, shard_size=2, move_cap=60
    )
    with pytest.raises(ValueError, match=r"different recipe.*level"):
        run_selfplay(changed, tmp_path, workers=1)


def test_shards_are_gzip_jsonl(tmp_path: Path) -> None:
    run_selfplay(TINY, tmp_path, workers=1)
    with gzip.open(tmp_path / shard_name(0, 2), "rt") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["index"] == 0
    assert json.loads((tmp_path / MANIFEST).read_text())["version"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--board", "square9"], "unknown board"),
        (["--players", "5"], "players must be 2, 3 or 4"),
        (["--level", "11"], "level must be from 1 to 10"),
        (["--games", "0"], "games must be at least 1"),
        (["--workers", "0"], "workers must be at least 1"),
    ],
)
def test_cli_rejects_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    base = {"--board": "square8", "--players": "2", "--games": "1", "--level": "1"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["selfplay", "--out", str(tmp_path / "run")]
    for flag, value in base.items():
        argv += [flag, value]
    if "--workers" in args:
        argv += ["--workers", "0"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert message in result.output


def test_cli_runs_and_reports_json(tmp_path: Path) -> None:
    argv = [
        "selfplay",
        "--board",
        "square8",
        "--players",
        "2",
        "--games",
        "2",
        "--level",
        "1",
        "--out",
        str(tmp_path),
        "--move-cap",
        "30",
        "--workers",
        "1",
        "--json",
    ]
    first = CliRunner().invoke(app, argv)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["played"] == 2
    second = CliRunner().invoke(app, argv)
    assert json.loads(second.output)["played"] == 0


def test_a_run_can_grow(tmp_path: Path) -> None:
    run_selfplay(TINY, tmp_path, workers=1)
    bigger = SelfPlayConfig(
        "square8", 2, 5, 1, seed=7, node_limit=50, sample_every=5, shard_size=2, move_cap=60
    )
    summary = run_selfplay(bigger, tmp_path, workers=1)
    assert summary.played == 3 and summary.skipped == 2
    assert [g["index"] for g in read_games(tmp_path)] == [0, 1, 2, 3, 4]


def test_more_players_get_ranks(tmp_path: Path) -> None:
    cfg = SelfPlayConfig("hex8", 3, 1, 1, seed=1, node_limit=50, sample_every=10)
    run_selfplay(cfg, tmp_path, workers=1)
    (game,) = read_games(tmp_path)
    assert game["victoryReason"] != "move_cap"
    assert sorted(game["ranks"])[0] == 1 and len(game["ranks"]) == 3
    assert all(len(pos["features"]) == 3 for pos in game["positions"])
