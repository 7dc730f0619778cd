"""The pure parts of point-in-time recovery (target times, manifests, backup labels, the lost-move
count) and the stack's archive_command script, run for real on files."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops.drills.pitr import AckedMove, RestoredMove, moves_missing
from ringrift.ops.pitr import (
    MANIFEST_FILE,
    BaseBackupManifest,
    PitrError,
    PitrErrorCode,
    parse_backup_label,
    parse_target_time,
    read_manifest,
    validate_target,
)
from ringrift.ops.wal_archive import WalArchive

BASE_END = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def _manifest(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": "ringrift-basebackup/1",
        "startedAt": "2026-11-30T11:59:58+00:00",
        "finishedAt": "2026-11-30T12:00:00+00:00",
        "startLsn": "0/3000028",
        "startWalFile": "000000010000000000000003",
        "timeline": 1,
        "database": "ringrift",
        "source": "postgresql://ringrift@127.0.0.1:5432/ringrift",
        "serverVersion": "15",
        "sizeBytes": 1234,
        "seconds": 1.5,
    }
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T12:34:56Z", datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)),
        ("2026-11-30T12:34:56.250000z", datetime(2026, 11, 30, 12, 34, 56, 250000, tzinfo=UTC)),
        ("2026-11-30T13:34:56+01:00", datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)),
        (" 2026-11-30 07:34:56-05:00 ", datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)),
    ],
)
def test_target_times_with_an_offset_are_read_as_utc(text: str, expected: datetime) -> None:
    parsed = parse_target_time(text)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["2026-11-30T12:34:56", "yesterday", "", "2026-13-01T00:00Z"])
def test_target_times_without_zone_or_unparsable_are_refused(text: str) -> None:
    with pytest.raises(PitrError) as caught:
        parse_target_time(text)
    assert caught.value.code is PitrErrorCode.BAD_TIME
    assert str(caught.value).startswith("PITR_BAD_TIME: ")


def test_targets_must_lie_between_the_base_backup_and_now() -> None:
    now = BASE_END + timedelta(hours=1)
    validate_target(BASE_END, BASE_END, now)
    validate_target(now, BASE_END, now)
    with pytest.raises(PitrError) as before:
        validate_target(BASE_END - timedelta(microseconds=1), BASE_END, now)
    assert before.value.code is PitrErrorCode.TARGET_BEFORE_BASE
    with pytest.raises(PitrError) as future:
        validate_target(now + timedelta(seconds=1), BASE_END, now)
    assert future.value.code is PitrErrorCode.TARGET_IN_FUTURE


def test_manifest_round_trips_and_rejects_bad_documents() -> None:
    manifest = BaseBackupManifest.from_json(_manifest())
    assert manifest.finished_at == BASE_END and manifest.timeline == 1
    assert BaseBackupManifest.from_json(manifest.to_json()) == manifest
    for bad in (
        _manifest(format="ringrift-backup/1"),
        _manifest(finishedAt="2026-11-30T11:00:00+00:00"),
        _manifest(startedAt="2026-11-30T11:59:58"),
        _manifest(timeline="one"),
    ):
        with pytest.raises(ValueError):
            BaseBackupManifest.from_json(bad)
    without = _manifest()
    del without["startLsn"]
    with pytest.raises(KeyError):
        BaseBackupManifest.from_json(without)


def test_read_manifest_names_missing_and_corrupt_inputs(tmp_path: Path) -> None:
    with pytest.raises(PitrError) as missing:
        read_manifest(tmp_path)
    assert missing.value.code is PitrErrorCode.MISSING_INPUT
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "PG_VERSION").write_text("15\n")
    (tmp_path / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(PitrError) as corrupt:
        read_manifest(tmp_path)
    assert corrupt.value.code is PitrErrorCode.BAD_MANIFEST
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(_manifest(database="games")))
    assert read_manifest(tmp_path).database == "games"


def test_backup_label_gives_start_lsn_file_and_timeline() -> None:
    label = (
        "START WAL LOCATION: 0/7000028 (file 000000020000000000000007)\n"
        "CHECKPOINT LOCATION: 0/7000060\n"
        "BACKUP METHOD: streamed\n"
        "START TIME: 2026-11-30 11:48:20 UTC\n"
        "START TIMELINE: 2\n"
    )
    assert parse_backup_label(label) == ("0/7000028", "000000020000000000000007", 2)
    with pytest.raises(ValueError):
        parse_backup_label("BACKUP METHOD: streamed\n")


def test_moves_missing_counts_each_absent_acknowledged_move() -> None:
    at = BASE_END
    acked = [AckedMove("g1", 1, at), AckedMove("g1", 2, at), AckedMove("g2", 1, at)]
    restored = [RestoredMove("g1", 1, at), RestoredMove("g2", 1, at), RestoredMove("g2", 2, at)]
    assert moves_missing(acked, restored) == [AckedMove("g1", 2, at)]
    assert moves_missing(acked, []) == acked


def _archive(archive: WalArchive, src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(archive.script), str(src), src.name], capture_output=True, text=True, check=False
    )


def test_archive_script_copies_once_and_never_overwrites(tmp_path: Path) -> None:
    archive = WalArchive(tmp_path / "run")
    archive.prepare()
    settings = archive.settings()
    assert settings["archive_mode"] == "on" and settings["wal_level"] == "replica"
    assert settings["archive_command"] == f"{archive.script} %p %f"
    segment = tmp_path / "000000010000000000000001"
    segment.write_bytes(b"wal" * 1000)

    assert _archive(archive, segment).returncode == 0
    assert archive.has(segment.name) and archive.segments() == [segment.name]
    assert (archive.directory / segment.name).read_bytes() == segment.read_bytes()
    # A retry of an already archived segment (same bytes) succeeds without touching it.
    assert _archive(archive, segment).returncode == 0
    # Different bytes under an archived name: refused, the archived copy stays.
    original = segment.read_bytes()
    segment.write_bytes(b"other")
    refused = _archive(archive, segment)
    assert refused.returncode != 0 and "different content" in refused.stderr
    assert (archive.directory / segment.name).read_bytes() == original
    # A source that cannot be read fails (PostgreSQL will retry) and leaves no final file.
    ghost = tmp_path / "000000010000000000000002"
    assert _archive(archive, ghost).returncode != 0
    assert not archive.has(ghost.name)


def test_restore_cli_refuses_bad_times_and_missing_inputs_with_a_code(tmp_path: Path) -> None:
    runner = CliRunner()
    base_args = ["--base", str(tmp_path), "--wal-archive", str(tmp_path), "--into"]
    bad = runner.invoke(
        cli,
        ["backup", "restore", "--to-time", "2026-11-30 12:00", *base_args, str(tmp_path / "x")],
    )
    assert bad.exit_code == 1 and "PITR_BAD_TIME" in bad.stderr
    as_json = runner.invoke(
        cli, ["backup", "restore", "--to-time", "noon", "--json", *base_args, str(tmp_path / "x")]
    )
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["code"] == "PITR_BAD_TIME"
    missing = runner.invoke(
        cli, ["backup", "restore", "--to-time", "2026-11-30T12:00:00Z", "--json"]
    )
    payload = json.loads(missing.stdout)
    assert missing.exit_code == 1 and payload["code"] == "PITR_MISSING_INPUT"
    assert "--base, --wal-archive, --into" in payload["error"]
    no_base = runner.invoke(
        cli,
        [
            "backup",
            "restore",
            "--to-time",
            "2026-11-30T12:00:00Z",
            "--json",
            *base_args,
            str(tmp_path / "x"),
        ],
    )
    assert json.loads(no_base.stdout)["code"] == "PITR_MISSING_INPUT"
    assert not (tmp_path / "x").exists()
