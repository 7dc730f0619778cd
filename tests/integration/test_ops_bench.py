"""The benchmarks against real processes, at a size that runs in seconds: they must work
whatever the app's own limits (two benchmark players hold a socket per game each, more than
the per-user socket cap), and report figures that add up."""

from __future__ import annotations

import gc
import json

from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops.bench.ws import run_ws_bench


def test_bench_ws_plays_more_games_than_the_per_user_socket_cap() -> None:
    games = 21  # WS_MAX_SOCKETS_PER_USER is 20: the app's default would close the 21st
    thresholds = gc.get_threshold()
    result = run_ws_bench(levels=[games], moves=3, think_ms=[0], quiet=True)
    # The client's collector policy applied during rounds only.
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0
    [round_] = result["rounds"]
    assert round_["games"] == games
    assert round_["joinSeconds"] > 0
    client_gc = round_["clientGc"]
    assert client_gc["collections"] >= 0 and 0 <= client_gc["maxMs"] <= client_gc["totalMs"]
    assert round_["errors"] == 0, round_["errorCodes"]
    assert round_["moves"] == games * 3
    assert round_["ack"]["n"] == games * 3
    assert 0 < round_["ack"]["p50"] <= round_["ack"]["p95"] <= round_["ack"]["max"]
    assert round_["committedPerSecond"] >= round_["movesPerSecond"] > 0
    cpu = round_["cpuMsPerCommitted"]
    assert set(cpu) == {"app", "database", "client"}
    assert all(ms > 0 for ms in cpu.values()), cpu
    # The app's own histogram saw exactly the acknowledged moves of the round.
    server = round_["serverAck"]
    assert server["n"] == games * 3, server
    assert 0 < server["p50AtMost"] <= server["p95AtMost"], server


def test_bench_replay_json_reports_every_sample() -> None:
    """``bench replay --json`` on a short game: stdout is the JSON alone (progress goes to
    stderr), and it holds a figure for every request the benchmark made."""
    args = ["bench", "replay", "--moves", "40", "--samples", "12", "--concurrent", "3"]
    args += ["--board", "hex8", "--players", "3", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["benchmark"] == "replay" and report["database"].startswith("postgresql")
    # The server plays forced bookkeeping moves with a human's move, so it may end past 40.
    assert 40 <= report["version"] < 60 and report["concurrentReplays"] == 3
    assert report["board"] == "hex8" and report["players"] == 3
    assert report["replay"]["n"] == 12 and report["healthIdle"]["n"] == 100
    assert report["healthDuringReplays"]["n"] >= 1
    assert report["healthDuringReplaysSameClient"]["n"] >= 1
    for key in ("replay", "healthIdle", "healthDuringReplays", "healthDuringReplaysSameClient"):
        figures = report[key]
        assert 0 < figures["p50"] <= figures["p95"] <= figures["max"], (key, figures)
