"""``stack up --redis-sentinel`` and the ``redis-failover`` drill against real redis-server
processes (a primary, a replica, three Sentinels), real PostgreSQL and two app instances."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_support import ready_body
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops import redisha
from ringrift.ops.stack import HOST, Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ha_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack.up(tmp_path_factory.mktemp("sentinel-stack"), apps=2, redis_sentinel=True)
    yield stack
    stack.down()


def _redis_healthy(body: dict[str, Any]) -> bool:
    return bool(body.get("checks", {}).get("redis", {}).get("status") == "healthy")


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["drill", "run", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def _failed(journal: dict[str, Any]) -> dict[str, list[str]]:
    return {
        d["name"]: [f"{c['name']}: {c['detail']}" for c in d["checks"] if not c["passed"]]
        for d in journal.get("drills", [])
    }


def test_the_apps_reach_redis_through_sentinel(ha_stack: Stack) -> None:
    assert ha_stack.redis_ha
    state = json.loads(ha_stack.state_file.read_text())
    assert {"redis", "redis-replica", "sentinel1", "sentinel2", "sentinel3"} <= set(state["urls"])
    env = ha_stack.app_env("app1")
    assert env["REDIS_URL"] == "" and env["REDIS_SENTINEL_MASTER"] == redisha.MASTER_NAME
    assert env["REDIS_SENTINELS"].count(",") == 2
    view = ha_stack.sentinels().master()
    assert view.port == ha_stack.processes["redis"].port and view.other_sentinels == 2
    assert redisha.replica_in_sync(HOST, ha_stack.processes["redis-replica"].port)
    for name in ha_stack.app_names:
        ready = ready_body(ha_stack.url(name), _redis_healthy)
        assert _redis_healthy(ready), ready


def test_redis_outage_then_failover_drills_pass(ha_stack: Stack, tmp_path: Path) -> None:
    """``redis-outage`` stops the primary; when that lasts past Sentinel's down-after time the
    replica is promoted and the runner fails back afterwards, so either way
    ``redis-failover`` starts from the stack's usual layout."""
    code, journal = _run(
        "redis-outage",
        "redis-failover",
        "--run-dir",
        str(ha_stack.run_dir),
        "--report-dir",
        str(tmp_path),
    )
    assert code == 0 and journal["status"] == "PASS", _failed(journal)
    failover = journal["drills"][1]
    timings = failover["timings"]
    assert timings["redis_promotion_s"] <= 15
    assert timings["redis_promotion_s"] - 1 <= timings["fanout_gap_s"] <= 25
    assert timings["ratelimit_gap_s"] <= 25 and timings["moves_lost"] == 0
    assert timings["old_primary_rejoin_s"] <= 45
    # The drill leaves the primary where the stack started it and every service healthy.
    assert ha_stack.sentinels().primary_port() == ha_stack.processes["redis"].port
    assert all(row["healthy"] for row in ha_stack.status())


def test_redis_failover_fails_when_an_app_pins_the_old_primary(
    ha_stack: Stack, tmp_path: Path
) -> None:
    """app2 configured with a fixed REDIS_URL (the old way) never follows the promotion, so
    fan-out to its socket cannot resume: the drill must fail."""
    pinned = {
        "REDIS_URL": ha_stack.url("redis"),
        "REDIS_SENTINELS": "",
        "REDIS_SENTINEL_MASTER": "",
    }
    ha_stack.stop("app2")
    ha_stack.start("app2", env=pinned)
    try:
        code, journal = _run("redis-failover", "--run-dir", str(ha_stack.run_dir))
        assert code == 1 and journal["status"] == "FAIL"
        failed = _failed(journal)["redis-failover"]
        assert any("fan-out resumed" in name for name in failed), failed
    finally:
        ha_stack.stop("app2")
        ha_stack.start("app2", env={})
    assert ha_stack.sentinels().primary_port() == ha_stack.processes["redis"].port
    assert all(row["healthy"] for row in ha_stack.status())
