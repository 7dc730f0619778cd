"""Point-in-time recovery on a real local stack: WAL archiving, ``backup base``, ``backup restore
--to-time`` refusals, and the ``pitr`` drill end to end through ``ringrift drill run``."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops.pitr import read_manifest
from ringrift.ops.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Not under pytest's basetemp: another pytest session on the machine resets
    # /tmp/pytest-of-USER to 0700, and the server (running as postgres) and its
    # archive_command must keep reaching the run directory for the whole module.
    run_dir = Path(tempfile.mkdtemp(prefix="ringrift-pitr-test-"))
    stack = Stack.up(run_dir, apps=1)
    try:
        yield stack
    finally:
        stack.down()
        shutil.rmtree(run_dir, ignore_errors=True)


def _json(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_stack_archives_switched_wal_segments(stack: Stack) -> None:
    assert stack.postgres.psql("SHOW archive_mode") == "on"
    segment = stack.postgres.psql("SELECT pg_walfile_name(pg_switch_wal())")
    stack.wal_archive.wait_for(segment, 20)
    archived = stack.wal_archive.directory / segment
    assert archived.stat().st_size == 16 * 1024 * 1024
    assert json.loads(stack.state_file.read_text())["walArchive"] == str(
        stack.wal_archive.directory
    )


def test_base_backup_and_refused_restores(stack: Stack, tmp_path: Path) -> None:
    base = tmp_path / "base"
    code, made = _json("backup", "base", "--run-dir", str(stack.run_dir), "--out", str(base))
    assert code == 0 and made["ok"], made
    manifest = read_manifest(base)
    assert manifest.start_lsn == made["startLsn"] and manifest.database == "ringrift"
    assert manifest.started_at <= manifest.finished_at <= datetime.now(UTC)

    code, again = _json("backup", "base", "--run-dir", str(stack.run_dir), "--out", str(base))
    assert code == 1 and again["code"] == "PITR_INTO_NOT_EMPTY"

    archive = str(stack.wal_archive.directory)
    into = tmp_path / "scratch"
    early = (manifest.started_at - timedelta(minutes=5)).isoformat()
    code, refused = _json(
        "backup", "restore", "--to-time", early, "--base", str(base),
        "--wal-archive", archive, "--into", str(into),
    )  # fmt: skip
    assert code == 1 and refused["code"] == "PITR_TARGET_BEFORE_BASE", refused
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    code, refused = _json(
        "backup", "restore", "--to-time", later, "--base", str(base),
        "--wal-archive", str(tmp_path / "nowhere"), "--into", str(into),
    )  # fmt: skip
    assert code == 1 and refused["code"] == "PITR_MISSING_INPUT", refused
    assert not into.exists()


def test_pitr_drill_restores_every_acknowledged_move(stack: Stack, tmp_path: Path) -> None:
    code, journal = _json(
        "drill", "run", "pitr", "--run-dir", str(stack.run_dir), "--report-dir", str(tmp_path)
    )
    drill = journal["drills"][0]
    failed = [c for c in drill["checks"] if not c["passed"]]
    assert code == 0 and drill["status"] == "PASS", failed
    checks = {c["name"]: c for c in drill["checks"]}
    lost = checks["every move acknowledged before T is present"]["detail"]
    acknowledged = int(lost.split(" acknowledged")[0])
    assert acknowledged >= 10 and lost.endswith(", 0 lost")
    timings = drill["timings"]
    assert 0 <= timings["recovery_point_gap_s"] < 5
    assert timings["time_to_recover_s"] > 0 and timings["time_to_detect_s"] >= 0
    assert drill["durationSeconds"] < 120
    report = Path(journal["report"]).read_text()
    assert "- [x] the mistake is absent (the deleted games exist again)" in report
    assert "Timing recovery_point_gap_s" in report
    assert all(row["healthy"] for row in stack.status())
