"""``ringrift stack up --monitoring``: a real Prometheus (Debian package) and blackbox exporter
join the stack, scrape every app and the AI service, probe /ready per dependency and evaluate
deploy/prometheus/rules on drill timing. Faults injected through the stack show up as the
matching alerts: one app killed fires RingRiftAppInstanceDown (for that instance only, with no
dependency alert for it), Redis stopped makes the Redis alerts go pending; both resolve on
recovery. A drill run on this stack holds its fault until its required alert fires and fails
when that alert does not fire."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops.drill_timing import DRILL_TIMING
from ringrift.ops.drills import load_builtin
from ringrift.ops.drills.alertgate import Alert
from ringrift.ops.drills.base import Drill, DrillContext, Recorder, Status
from ringrift.ops.drills.runner import run_drill
from ringrift.ops.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _wait(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last!r})")


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    def values(self, expr: str, label: str) -> dict[str, float]:
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(expr)}

    def alerts(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/alerts", timeout=5)
        alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
        return alerts

    def active(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts() if a["labels"]["alertname"] == name]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("monitored") / "stack"
    result = CliRunner().invoke(
        cli, ["stack", "up", "--run-dir", str(run_dir), "--apps", "2", "--monitoring", "--json"]
    )
    assert result.exit_code == 0, result.output
    up = json.loads(result.stdout)
    assert {s["name"] for s in up["services"]} >= {"prometheus", "blackbox", "app1", "app2"}
    loaded = Stack.load(run_dir)
    yield loaded
    loaded.down()


def test_prometheus_scrapes_the_stack_and_loads_the_rules(stack: Stack) -> None:
    prom = Prometheus(stack.url("prometheus"))
    apps = {f"127.0.0.1:{stack.processes[n].port}" for n in ("app1", "app2")}
    _wait(
        "every app and the AI service scraped",
        lambda: (
            prom.values('up{job=~"ringrift-app|ringrift-ai"}', "instance")
            == {**dict.fromkeys(apps, 1.0), f"127.0.0.1:{stack.processes['ai'].port}": 1.0}
        ),
        30,
    )
    _wait(
        "six /ready probes (two apps x three dependencies) pass",
        lambda: (
            [r["value"][1] for r in prom.query('probe_success{job="ringrift-ready"}')] == ["1"] * 6
        ),
        30,
    )
    _wait(
        "a recording rule",
        lambda: prom.values("ringrift:app_instances_up:sum", "") == {"": 2.0},
        30,
    )
    # Exactly the alerts of deploy/prometheus/rules/alerts.yml are loaded.
    expected = {
        rule["alert"]
        for group in yaml.safe_load((ROOT / "deploy/prometheus/rules/alerts.yml").read_text())[
            "groups"
        ]
        for rule in group["rules"]
    }
    groups = httpx.get(f"{prom.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    loaded = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert loaded == expected
    assert all(r["health"] == "ok" for g in groups for r in g["rules"]), groups
    # With nothing wrong, none of the fault alerts is active (the backup alert is: no backup
    # metric exists on a fresh stack). The stack is shared by this module's tests, and one run
    # before this one may have faulted it: its alerts take a few evaluations to clear.
    _wait(
        "no fault alert active",
        lambda: (
            {a["labels"]["alertname"] for a in prom.alerts()}
            <= {"RingRiftBackupTooOld", "RingRiftKeyringTooOld"}
        ),
        60,
    )


def test_faults_raise_the_matching_alerts_and_they_resolve(stack: Stack) -> None:
    prom = Prometheus(stack.url("prometheus"))
    app2 = f"127.0.0.1:{stack.processes['app2'].port}"
    app1 = f"127.0.0.1:{stack.processes['app1'].port}"
    _wait("app2 scraped", lambda: prom.values('up{job="ringrift-app"}', "instance").get(app2), 30)

    started = time.monotonic()
    stack.kill("app2")
    stack.stop("redis")
    try:
        # Redis: app1 (still answering) reports it; the alerts go pending within seconds.
        _wait(
            "redis check failing on app1",
            lambda: (
                prom.values('ringrift:ready_check_failing{dependency="redis"} == 1', "instance")
                == {app1: 1.0}
            ),
            40,
        )
        _wait("RingRiftRedisDown pending", lambda: prom.active("RingRiftRedisDown"), 30)
        # app2: down for the drill-timing for: (production: a minute), then firing, for app2
        # alone.
        firing = _wait(
            "RingRiftAppInstanceDown firing",
            lambda: [a for a in prom.active("RingRiftAppInstanceDown") if a["state"] == "firing"],
            40,
        )
        time_to_alert = time.monotonic() - started
        assert [a["labels"]["instance"] for a in firing] == [app2]
        assert DRILL_TIMING.for_cap <= time_to_alert <= 30, time_to_alert
        # The dead instance fails every probe, but it is not reported as three dependencies.
        dependency = prom.active("RingRiftReadyDependencyFailing")
        assert {a["labels"]["instance"] for a in dependency} <= {app1}, dependency
        assert {a["labels"]["dependency"] for a in dependency} <= {"redis"}, dependency
        assert prom.active("RingRiftDatabaseUnavailable") == []
    finally:
        stack.start("redis")
        stack.start("app2")
    _wait(
        "every alert but the backup one resolved",
        lambda: (
            {a["labels"]["alertname"] for a in prom.alerts()}
            <= {"RingRiftBackupTooOld", "RingRiftKeyringTooOld"}
        ),
        60,
    )
    assert prom.values('up{job="ringrift-app"}', "instance") == {app1: 1.0, app2: 1.0}


def test_alert_watcher_reports_time_to_alert_and_to_resolve(stack: Stack) -> None:
    """What `ringrift drill run --monitoring` writes into each drill's report, against the
    real Prometheus: alerts active before the watch are ignored, a new one is timed from the
    start of the watch until pending, and until it cleared after the watch's end."""
    from ringrift.ops.drills.alerts import AlertWatcher
    from ringrift.ops.drills.base import DrillResult
    from ringrift.ops.drills.runner import record_alerts

    prom = Prometheus(stack.url("prometheus"))
    _wait(
        "a quiet stack",
        lambda: (
            {a["labels"]["alertname"] for a in prom.alerts()}
            <= {"RingRiftBackupTooOld", "RingRiftKeyringTooOld"}
        ),
        60,
    )
    watcher = AlertWatcher(stack.url("prometheus"), interval=0.25)
    watcher.start()
    stack.stop("ai")
    try:
        _wait("RingRiftAIServiceDown pending", lambda: prom.active("RingRiftAIServiceDown"), 30)
    finally:
        stack.start("ai")
    observed = watcher.finish(resolve_timeout=30, settle=0)
    names = {o.alert for o in observed}
    assert "RingRiftAIServiceDown" in names, observed
    assert "RingRiftBackupTooOld" not in names  # active before the watch began
    down = next(o for o in observed if o.alert == "RingRiftAIServiceDown")
    assert 0 < down.pending_after < 30
    assert down.resolved_after is not None and down.resolved_after < 30
    assert down.labels["instance"] == f"127.0.0.1:{stack.processes['ai'].port}"

    result = DrillResult(name="x", title="x", objective="x")
    record_alerts(result, observed)
    assert result.timings["time_to_alert_RingRiftAIServiceDown"] == down.pending_after
    assert any(n.startswith("Alert RingRiftAIServiceDown (") for n in result.notes)


def _quiet(prom: Prometheus) -> None:
    _wait(
        "a quiet stack",
        lambda: (
            {a["labels"]["alertname"] for a in prom.alerts()}
            <= {"RingRiftBackupTooOld", "RingRiftKeyringTooOld"}
        ),
        90,
    )


def test_a_drill_holds_its_fault_until_its_alert_fires_and_sees_it_resolve(
    stack: Stack, tmp_path: Path
) -> None:
    _quiet(Prometheus(stack.url("prometheus")))
    result = run_drill(load_builtin()["redis-outage"](), stack, work_dir=tmp_path)
    checks = {c.name: c for c in result.checks}
    assert result.status is Status.PASS, [c for c in result.checks if not c.passed]
    fired = checks["alert RingRiftRedisDown fired within 60 s"]
    resolved = checks["alert RingRiftRedisDown resolved within 60 s of recovery"]
    assert fired.passed and resolved.passed, (fired, resolved)
    # Firing needs the capped for: to pass after a scrape has seen the fault.
    assert DRILL_TIMING.for_cap <= result.timings["time_to_fire_RingRiftRedisDown"] < 60
    assert 0 <= result.timings["time_to_resolve_RingRiftRedisDown"] < 60
    # The drill held Redis down until then: the step is in its journal.
    assert any(
        s.description.startswith("Hold the fault until RingRiftRedisDown") for s in result.steps
    )


class _WrongAlert(Drill):
    """Stops the AI service for real but requires an alert that fault cannot raise."""

    name = "test-wrong-alert"
    title = "Wrong alert"
    objective = "Fail: the required alert does not fire."
    alerts = (Alert.ALL_APP_INSTANCES_DOWN,)

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        ctx.stack.stop("ai")
        stopped_at = time.monotonic()
        try:
            rec.check("the AI service is stopped", not ctx.stack.is_running("ai"))
            ctx.hold_until_firing(rec, self.alerts, stopped_at)
        finally:
            ctx.stack.start("ai")


class _ForgetfulDrill(Drill):
    """Requires an alert but never holds a fault for it."""

    name = "test-forgetful"
    title = "Forgetful"
    objective = "Fail: the required alert was never waited for."
    alerts = (Alert.REDIS_DOWN,)

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        rec.check("nothing to do", True)


def test_a_drill_whose_required_alert_does_not_fire_fails(stack: Stack, tmp_path: Path) -> None:
    prom = Prometheus(stack.url("prometheus"))
    _quiet(prom)
    result = run_drill(_WrongAlert(), stack, work_dir=tmp_path, alert_timeout=10)
    failed = [c.name for c in result.checks if not c.passed]
    assert result.status is Status.FAIL
    assert failed == ["alert RingRiftAllAppInstancesDown fired within 10 s"], result.checks
    assert "time_to_fire_RingRiftAllAppInstancesDown" not in result.timings
    # The fault was real: Prometheus saw the AI service go down meanwhile (a noted alert).
    assert any(n.startswith("Alert RingRiftAIServiceDown") for n in result.notes), result.notes

    forgetful = run_drill(_ForgetfulDrill(), stack, work_dir=tmp_path, alert_timeout=10)
    assert forgetful.status is Status.FAIL
    assert [c.name for c in forgetful.checks if not c.passed] == [
        "alert RingRiftRedisDown fired"
    ], forgetful.checks
