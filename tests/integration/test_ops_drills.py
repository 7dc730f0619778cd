"""``ringrift drill run`` end to end against a real local stack, and proof that drills fail (and
the CLI exits non-zero) when the platform does not behave as the drill requires."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops.drills.base import Drill, DrillContext, Recorder
from ringrift.ops.services import PostgresCluster
from ringrift.ops.stack import Stack

pytestmark = pytest.mark.integration

TEMPLATE_DB = "ringrift_template"
FOUR = ["backup-restore", "db-outage", "app-crash", "ai-outage"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack.up(tmp_path_factory.mktemp("drill-stack"), apps=1)
    yield stack
    stack.down()


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["drill", "run", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_four_drills_pass_with_report_and_journal(stack: Stack, tmp_path: Path) -> None:
    code, journal = _run(*FOUR, "--run-dir", str(stack.run_dir), "--report-dir", str(tmp_path))
    failed = {
        d["name"]: [c for c in d["checks"] if not c["passed"]] for d in journal.get("drills", [])
    }
    assert code == 0 and journal["status"] == "PASS", failed
    assert [d["name"] for d in journal["drills"]] == FOUR
    assert journal["summary"] == {"total": 4, "passed": 4, "failed": 0, "skipped": 0}
    for drill in journal["drills"]:
        assert drill["steps"] and drill["checks"] and drill["durationSeconds"] > 0
        assert all(c["passed"] and c["name"] for c in drill["checks"])
        # Without Prometheus nothing waits for alerts (db-outage and the others require one).
        assert not any(c["name"].startswith("alert ") for c in drill["checks"])
        assert not any(t.startswith("time_to_fire_") for t in drill["timings"])
    by_name = {d["name"]: d for d in journal["drills"]}
    assert by_name["db-outage"]["timings"]["db_down_api_latency_max_s"] < 3.0
    assert by_name["ai-outage"]["timings"]["ai_outage_detected_s"] < 5.0
    assert Path(journal["journal"]).exists()
    assert json.loads(Path(journal["journal"]).read_text())["drills"] == journal["drills"]

    report = Path(journal["report"]).read_text()
    assert "| Drill | Status | Duration | Findings |" in report
    for name in FOUR:
        row = next(line for line in report.splitlines() if f"(`{name}`) |" in line)
        assert "PASS" in row
    for heading in (
        "### Objective",
        "### Steps executed",
        "### Result",
        "### Notes",
        "### Validation checklist",
    ):
        assert report.count(heading) == 4
    assert "- [x] every acknowledged move is present" in report
    assert "- [ ]" not in report
    # The stack is left healthy for whoever comes next.
    assert all(row["healthy"] for row in stack.status())


def test_db_outage_fails_when_the_app_does_not_see_the_outage(
    stack: Stack, pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """app1 is pointed at a different PostgreSQL: stopping the stack's database does not reach
    it, so the drill's checks (503 unhealthy, SERVER_DATABASE_UNAVAILABLE) must fail."""
    name = "elsewhere_" + uuid.uuid4().hex[:8]
    pg_cluster.create_database(name, template=TEMPLATE_DB)
    stack.stop("app1")
    stack.start("app1", env={"DATABASE_URL": pg_cluster.url(name)})
    try:
        code, journal = _run(
            "db-outage", "--run-dir", str(stack.run_dir), "--report-dir", str(tmp_path)
        )
    finally:
        stack.stop("app1")
        stack.start("app1", env={})
        pg_cluster.drop_database(name)
    assert code == 1 and journal["status"] == "FAIL"
    drill = journal["drills"][0]
    assert drill["status"] == "FAIL"
    failed = {c["name"] for c in drill["checks"] if not c["passed"]}
    assert "/ready returns 503 unhealthy" in failed
    assert any("SERVER_DATABASE_UNAVAILABLE" in n for n in failed)
    report = Path(journal["report"]).read_text()
    assert "❌ FAIL" in report and "- [ ] /ready returns 503 unhealthy" in report
    # The drill still restarted PostgreSQL: the stack is whole again.
    assert stack.is_running("postgres")


class _BrokenDrill(Drill):
    name = "broken"
    title = "Broken"
    objective = "Stops Redis, passes one check, then crashes."

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        rec.check("first check", True, "fine")
        with rec.step("stop redis and fail"):
            ctx.stack.stop("redis")
            raise RuntimeError("injected failure")


class _SilentDrill(Drill):
    name = "silent"
    title = "Silent"
    objective = "Records no checks at all."

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        with rec.step("do nothing"):
            pass


def test_a_crashing_or_checkless_drill_fails_and_the_stack_is_restored(
    stack: Stack, tmp_path: Path
) -> None:
    result = _BrokenDrill().execute(DrillContext(stack, tmp_path), lambda _m: None)
    assert result.status == "FAIL" and "injected failure" in (result.error or "")
    assert result.steps[0].ok is False
    assert any("redis" in note for note in result.notes)
    assert stack.healthy("redis")
    assert _SilentDrill().execute(DrillContext(stack, tmp_path), lambda _m: None).status == "FAIL"


def test_bad_drill_arguments(stack: Stack, tmp_path: Path) -> None:
    code, out = _run("no-such-drill", "--run-dir", str(stack.run_dir))
    assert code == 2 and "unknown drill" in out["error"] and "backup-restore" in out["error"]
    code, out = _run("db-outage", "--target", "prod", "--run-dir", str(stack.run_dir))
    assert code == 2 and "no deployment file at prod" in out["error"]
    code, out = _run("db-outage", "--target", "prod", "--start-stack")
    assert code == 2
    code, out = _run("db-outage", "--run-dir", str(tmp_path / "nothing"))
    assert code == 2 and "no stack" in out["error"]


def test_secrets_rotation_passes_and_catches_a_key_that_keeps_verifying(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, journal = _run("secrets-rotation", "--run-dir", str(stack.run_dir))
    assert code == 0 and journal["status"] == "PASS", journal
    (drill,) = journal["drills"]
    assert drill["timings"]["old_token_rejected_s"] < 10

    # Inject the fault: a "rotation" that keeps the old key in the ring (a graceful rotation
    # where the drill demands an immediate one), so old tokens stay valid.
    import ringrift.ops.drills.secrets_rotation as module
    from ringrift.ops.secrets import rotate

    monkeypatch.setattr(module, "rotate", lambda path, mode, **kw: rotate(path, "graceful", **kw))
    monkeypatch.setattr(module, "REJECT_SECONDS", 3.0)
    code, journal = _run("secrets-rotation", "--run-dir", str(stack.run_dir))
    assert code == 1 and journal["status"] == "FAIL"
    failed = [c["name"] for c in journal["drills"][0]["checks"] if not c["passed"]]
    assert any("AUTH_TOKEN_INVALID" in name for name in failed), failed


def test_redis_outage_fails_when_the_app_never_sees_redis_again(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inject a client that never reconnects (from the app's side: Redis that does not come
    back to it): the drill's recovery check must fail, and the runner restores the stack."""
    original = Stack.start

    def start_but_not_redis(self: Stack, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "redis" and not getattr(self, "_drill_restore", False):
            self._drill_restore = True  # type: ignore[attr-defined]
            return None
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(Stack, "start", start_but_not_redis)
    monkeypatch.setattr("ringrift.ops.drills.redis_outage.RECOVER_SECONDS", 1.0)
    code, journal = _run("redis-outage", "--run-dir", str(stack.run_dir))
    assert code == 1 and journal["status"] == "FAIL"
    failed = [c["name"] for c in journal["drills"][0]["checks"] if not c["passed"]]
    assert any("healthy again" in name for name in failed), failed
    monkeypatch.undo()
    assert all(row["healthy"] for row in Stack.load(stack.run_dir).status())


def test_instance_failover_needs_two_instances(stack: Stack) -> None:
    code, journal = _run("instance-failover", "--run-dir", str(stack.run_dir))
    assert code == 1 and journal["status"] == "FAIL"
    assert "--apps 2" in journal["drills"][0]["findings"][0]


def test_lb_instance_loss_is_skipped_not_failed_without_a_balancer(
    stack: Stack, tmp_path: Path
) -> None:
    code, journal = _run(
        "lb-instance-loss", "--run-dir", str(stack.run_dir), "--report-dir", str(tmp_path)
    )
    assert code == 0 and journal["status"] == "PASS", journal
    assert journal["summary"] == {"total": 1, "passed": 0, "failed": 0, "skipped": 1}
    drill = journal["drills"][0]
    assert drill["status"] == "SKIP" and "--lb" in drill["skipped"]
    assert not drill["checks"]
    row = next(line for line in Path(journal["report"]).read_text().splitlines() if "`lb-" in line)
    assert "SKIP" in row and "--lb" in row


def test_redis_failover_is_skipped_not_failed_without_sentinel(
    stack: Stack, tmp_path: Path
) -> None:
    """A plain stack has no Sentinel to fail over with: the run still passes (so `drill run
    all` does), and the report says why the drill did not run."""
    code, journal = _run(
        "redis-failover", "--run-dir", str(stack.run_dir), "--report-dir", str(tmp_path)
    )
    assert code == 0 and journal["status"] == "PASS", journal
    assert journal["summary"] == {"total": 1, "passed": 0, "failed": 0, "skipped": 1}
    (drill,) = journal["drills"]
    assert drill["status"] == "SKIP" and "--redis-sentinel" in drill["skipped"]
    assert not drill["checks"] and drill["error"] is None
    report = Path(journal["report"]).read_text()
    assert "SKIP" in report and "1 skipped" in report and "--redis-sentinel" in report


def test_pg_failover_is_skipped_on_a_stack_without_replica(stack: Stack) -> None:
    """Skipped, not failed: ``drill run all`` on a plain stack still passes."""
    code, journal = _run("pg-failover", "--run-dir", str(stack.run_dir))
    assert code == 0 and journal["status"] == "PASS", journal
    (drill,) = journal["drills"]
    assert drill["status"] == "SKIP" and "--pg-replica" in drill["skipped"]
    assert drill["checks"] == [] and journal["summary"]["skipped"] == 1
