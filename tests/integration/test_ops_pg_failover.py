"""The replicated stack (``--pg-replica``) end to end: a real primary and synchronous streaming
standby, an app on the multi-host URL, and the ``pg-failover`` drill killing the primary under a
playing client."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops import pgcluster
from ringrift.ops.backup import create_backup
from ringrift.ops.pgcluster import REPLICA_SERVICE, PgHost, SyncState
from ringrift.ops.stack import Stack, StackError
from ringrift.server.config import Settings
from ringrift.server.db.session import create_engine

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Not under pytest's basetemp: every pytest session that starts on the machine makes
    # /tmp/pytest-of-USER private again, and the postgres user must still reach the data
    # directories when the drill re-clones and starts a node minutes later.
    run_dir = Path(tempfile.mkdtemp(prefix="ringrift-pg-ha-"))
    stack = Stack.up(run_dir, apps=1, pg_replica=True)
    yield stack
    stack.down()
    shutil.rmtree(run_dir, ignore_errors=True)


def _run(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["drill", "run", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def _sync_standby(stack: Stack) -> pgcluster.StandbyRow:
    assert stack.replica is not None
    rows = {row.name: row for row in pgcluster.standbys(stack.postgres)}
    row = rows[pgcluster.node_name(stack.replica.run_dir)]
    assert row.state == "streaming" and row.sync_state == SyncState.SYNC, rows
    return row


def test_the_stack_runs_a_synchronous_standby_and_the_app_lists_both_nodes(stack: Stack) -> None:
    assert stack.replica is not None
    assert {row["name"]: row["healthy"] for row in stack.status()}[REPLICA_SERVICE]
    _sync_standby(stack)
    assert pgcluster.in_recovery(stack.replica) and not pgcluster.in_recovery(stack.postgres)
    target = pgcluster.parse_target(stack.app_env("app1")["DATABASE_URL"])
    assert set(target.hosts) == {
        PgHost(stack.postgres.host, stack.postgres.port),
        PgHost(stack.replica.host, stack.replica.port),
    }
    assert target.target_session_attrs == "read-write"
    # The state file keeps the pair: a reloaded stack has the same roles.
    again = Stack.load(stack.run_dir)
    assert again.replica is not None and again.replica.port == stack.replica.port
    # A committed row reaches the standby (synchronous_commit=on waits for its flush; replay
    # follows within moments).
    marker = str(time.time_ns())
    stack.postgres.psql("CREATE TABLE IF NOT EXISTS ha_probe (v text)", database="ringrift")
    stack.postgres.psql(f"INSERT INTO ha_probe VALUES ('{marker}')", database="ringrift")
    deadline = time.monotonic() + 10
    query = f"SELECT count(*) FROM ha_probe WHERE v = '{marker}'"
    while stack.replica.psql(query, database="ringrift") != "1":
        assert time.monotonic() < deadline, "the committed row never reached the standby"
        time.sleep(0.05)


async def test_the_app_engine_finds_the_primary_whatever_the_host_order(stack: Stack) -> None:
    """The standby first in the list and the primary second: asyncpg must skip the read-only
    node, so every connection of the app's engine is writable."""
    assert stack.replica is not None
    url = pgcluster.multi_host_url(
        [PgHost(n.host, n.port) for n in (stack.replica, stack.postgres)],
        user=stack.postgres.user,
        database=stack.postgres.database,
    )
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            recovery = (await conn.execute(text("SELECT pg_is_in_recovery()"))).scalar_one()
            port = (await conn.execute(text("SELECT inet_server_port()"))).scalar_one()
        assert recovery is False and port == stack.postgres.port
    finally:
        await engine.dispose()


def test_a_backup_through_the_multi_host_url_reads_the_primary(
    stack: Stack, tmp_path: Path
) -> None:
    """pg_dump and the manifest's checksums get the libpq form of the apps' URL."""
    created = create_backup(stack.database_url, tmp_path)
    manifest = created.manifest
    assert created.file.stat().st_size > 0 and manifest["database"] == "ringrift"
    assert f"{stack.postgres.host}:{stack.postgres.port}" in manifest["source"]
    assert "users" in manifest["tables"] and "moves" in manifest["tables"]


def test_an_old_primary_is_never_started_as_a_second_primary(stack: Stack, tmp_path: Path) -> None:
    """The replica service refuses a node without standby.signal (what a crashed primary is
    until it is re-attached)."""
    assert stack.replica is not None
    fake = Stack.load(stack.run_dir)
    assert fake.replica is not None
    fake.replica = pgcluster.node_cluster(tmp_path / "postgres-x", fake.replica.port)
    (fake.replica.data_dir).mkdir(parents=True)
    (fake.replica.data_dir / "PG_VERSION").write_text("15\n")
    with pytest.raises(StackError, match="not a standby"):
        fake._start_replica(5.0)


def test_pg_failover_drill_passes_with_no_acknowledged_move_lost(
    stack: Stack, tmp_path: Path
) -> None:
    assert stack.replica is not None
    primary_before, replica_before = stack.postgres.run_dir, stack.replica.run_dir
    app_pid = stack.pid("app1")
    code, journal = _run(
        "pg-failover", "--run-dir", str(stack.run_dir), "--report-dir", str(tmp_path)
    )
    (drill,) = journal["drills"]
    failed = [c for c in drill["checks"] if not c["passed"]]
    assert code == 0 and journal["status"] == "PASS" and drill["status"] == "PASS", (failed, drill)
    timings = drill["timings"]
    assert timings["moves_lost"] == 0
    assert 0 < timings["write_unavailability_s"] < 30
    for name in ("time_to_detect_s", "promote_s", "time_to_reattach_s"):
        assert timings[name] > 0, name
    # The roles swapped and the state file says so; the old primary streams again.
    after = Stack.load(stack.run_dir)
    assert after.replica is not None
    assert (after.postgres.run_dir, after.replica.run_dir) == (replica_before, primary_before)
    _sync_standby(after)
    assert after.pid("app1") == app_pid
    assert all(row["healthy"] for row in after.status())
    report = Path(journal["report"]).read_text()
    assert "- [x] every acknowledged move is in the promoted database (moves lost = 0)" in report


def test_a_drill_failing_after_the_promotion_still_leaves_a_synchronous_standby(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inject a failure between promotion and re-attach: the drill fails, and the old primary
    (which the runner must not start as a second primary) is re-attached all the same."""

    def broken(*_args: Any) -> dict[str, set[int]]:
        raise RuntimeError("injected failure after the promotion")

    monkeypatch.setattr("ringrift.ops.drills.pg_failover.committed_moves", broken)
    code, journal = _run("pg-failover", "--run-dir", str(stack.run_dir))
    (drill,) = journal["drills"]
    assert code == 1 and drill["status"] == "FAIL" and "injected" in drill["error"]
    assert any("re-attached the old primary" in note for note in drill["notes"]), drill["notes"]
    after = Stack.load(stack.run_dir)
    _sync_standby(after)
    assert all(row["healthy"] for row in after.status())


def test_reattach_replica_command_rebuilds_a_stopped_standby(stack: Stack) -> None:
    """A standby taken away (here: stopped, so the primary's commits wait) comes back as a fresh
    copy through the CLI and is the synchronous standby again."""
    # This object predates the drill's failover; it must follow the roles in stack.json.
    state = json.loads(stack.state_file.read_text())
    stack.stop(REPLICA_SERVICE)
    assert stack.replica is not None and stack.replica.data_dir == Path(
        state["postgresReplica"]["dataDir"]
    )
    assert not stack.is_running(REPLICA_SERVICE) and stack.is_running("postgres")
    result = CliRunner().invoke(
        cli, ["stack", "reattach-replica", "--run-dir", str(stack.run_dir), "--json"]
    )
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["service"]["healthy"] is True
    _sync_standby(Stack.load(stack.run_dir))
    running = CliRunner().invoke(
        cli, ["stack", "reattach-replica", "--run-dir", str(stack.run_dir), "--json"]
    )
    assert running.exit_code == 1 and "is running" in json.loads(running.stdout)["error"]
