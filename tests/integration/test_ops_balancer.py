"""``ringrift stack up --lb``: a real HAProxy in front of two real app instances, and the
``lb-instance-loss`` drill run through it (an app killed under live WebSocket games)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops import balancer
from ringrift.ops.balancer import ServerState
from ringrift.ops.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack.up(tmp_path_factory.mktemp("lb-stack"), apps=2, balancer_on=True)
    yield stack
    stack.down()


def _cli(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_the_balancer_is_the_entry_point_and_spreads_requests(stack: Stack) -> None:
    code, status = _cli("stack", "status", "--run-dir", str(stack.run_dir))
    assert code == 0
    assert status["entryPoint"] == stack.url("lb") != stack.url("app1")
    rows = {row["name"]: row for row in status["services"]}
    assert rows["lb"]["healthy"] and rows["lb"]["kind"] == "lb"
    balancer.check_config(stack.run_dir / balancer.CONFIG_FILE)
    assert stack.balancer_states() == {"app1": ServerState.UP, "app2": ServerState.UP}

    served = []
    for _ in range(4):
        response = httpx.get(f"{stack.entry_url}/ready", timeout=5)
        assert response.status_code == 200
        served.append(response.headers[balancer.SERVED_BY_HEADER])
    assert sorted(set(served)) == ["app1", "app2"]
    # Apps behind the balancer believe its forwarding headers, and only its.
    for name in stack.app_names:
        pid = stack.pid(name)
        assert pid is not None
        assert _environ(pid)["TRUSTED_PROXIES"] == "127.0.0.1"


def test_a_stopped_app_is_taken_out_and_put_back(stack: Stack) -> None:
    stack.stop("app2")
    try:
        assert stack.wait_balanced(["app2"], up=False, timeout=5.0) <= 5.0
        for _ in range(4):  # every request now lands on app1
            response = httpx.get(f"{stack.entry_url}/ready", timeout=5)
            assert response.status_code == 200
            assert response.headers[balancer.SERVED_BY_HEADER] == "app1"
    finally:
        stack.start("app2")
    assert stack.wait_balanced(["app2"], up=True, timeout=10.0) <= 10.0


def test_lb_instance_loss_drill_passes_with_no_failed_move(stack: Stack, tmp_path: Path) -> None:
    code, journal = _cli(
        "drill",
        "run",
        "lb-instance-loss",
        "--run-dir",
        str(stack.run_dir),
        "--report-dir",
        str(tmp_path),
    )
    drill = journal["drills"][0]
    failed = [c for c in drill["checks"] if not c["passed"]]
    assert code == 0 and drill["status"] == "PASS", (failed, drill["error"], drill["notes"])
    checks = {c["name"]: c["detail"] for c in drill["checks"]}
    assert checks["no failed move beyond the ones in flight at the kill"].endswith(" 0 failed")
    assert "moves failed: 0" in drill["notes"]
    timings = drill["timings"]
    assert 0 < timings["lb_mark_down_s"] <= 5.0
    assert 0 < timings["reconnect_p50_s"] <= timings["reconnect_max_s"]
    assert 0 < timings["lb_readd_s"] <= 10.0
    assert all(row["healthy"] for row in Stack.load(stack.run_dir).status())


def test_the_drill_fails_when_the_balancer_is_slow_to_take_a_dead_app_out(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A balancer that needs 30 failed checks (30 s) to give up on an app must fail the
    drill's 5 s bound, with the exit code of a failed drill."""
    slow = balancer.Timings(fall=30)
    written = balancer.write_config

    def slow_config(
        run_dir: Path, port: int, apps: Any, metrics_port: int, timings: Any = None
    ) -> Path:
        return written(run_dir, port, apps, metrics_port, slow)

    monkeypatch.setattr(balancer, "write_config", slow_config)
    stack.restart("lb")
    assert "fall 30" in (stack.run_dir / balancer.CONFIG_FILE).read_text()
    try:
        stack.wait_balanced(stack.app_names, up=True, timeout=10.0)
        code, journal = _cli(
            "drill",
            "run",
            "lb-instance-loss",
            "--run-dir",
            str(stack.run_dir),
            "--report-dir",
            str(tmp_path),
        )
    finally:
        monkeypatch.undo()
        stack.restart("lb")
    assert code == 1 and journal["status"] == "FAIL"
    failed = [c["name"] for c in journal["drills"][0]["checks"] if not c["passed"]]
    assert len(failed) == 1 and failed[0].startswith("the balancer marks app"), failed
    assert failed[0].endswith("down within 5 s"), failed
    assert "fall 2" in (stack.run_dir / balancer.CONFIG_FILE).read_text()
    stack.wait_balanced(stack.app_names, up=True, timeout=10.0)
