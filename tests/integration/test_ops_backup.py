"""``ringrift backup``: create/verify/restore/list on real PostgreSQL and SQLite, and proof that
verify catches tampered rows, missing tables, bad manifests and files that are not backups."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops.backup import (
    BackupError,
    create_backup,
    libpq_dsn,
    pg_stats_of,
    sha256_file,
    verify_backup,
)
from ringrift.ops.seed import seed_database
from ringrift.ops.services import PostgresCluster, find_postgres_bindir
from ringrift.rules import GameState, Move, apply_move, new_game

pytestmark = pytest.mark.integration

TEMPLATE_DB = "ringrift_template"  # migrated by the conftest's pg_cluster fixture


def _cli(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, list(args))
    try:
        payload = json.loads(result.stdout)
    except ValueError:
        payload = {"raw": result.output}
    return result.exit_code, payload


def _databases(cluster: PostgresCluster) -> set[str]:
    return set(cluster.psql("SELECT datname FROM pg_database").split())


@pytest.fixture
def pg_db(pg_cluster: PostgresCluster) -> Iterator[str]:
    name = "b_" + uuid.uuid4().hex[:12]
    pg_cluster.create_database(name, template=TEMPLATE_DB)
    url = pg_cluster.url(name)
    seed_database(url, games=40, seed=3)
    yield url
    pg_cluster.drop_database(name)


def _stats(url: str) -> dict[str, dict[str, Any]]:
    return asyncio.run(pg_stats_of(libpq_dsn(url)))


def _redump(cluster: PostgresCluster, dump: Path, sql: str) -> None:
    """Restore ``dump`` into a temporary database, change it with ``sql``, dump it over the
    original file and fix the manifest's sha256/size: only the table checksums can tell."""
    name = "tamper_" + uuid.uuid4().hex[:8]
    cluster.create_database(name)
    bindir = find_postgres_bindir()
    dsn = cluster.url(name, driver="postgresql")
    try:
        subprocess.run([str(bindir / "pg_restore"), "--no-owner", "-d", dsn, str(dump)], check=True)
        cluster.psql(sql, database=name)
        subprocess.run([str(bindir / "pg_dump"), "-Fc", "-f", str(dump), dsn], check=True)
    finally:
        cluster.drop_database(name)
    manifest_path = dump.with_name(dump.name + ".manifest.json")
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = sha256_file(dump)
    manifest["sizeBytes"] = dump.stat().st_size
    manifest_path.write_text(json.dumps(manifest))


def test_postgres_create_verify_list_retention(
    pg_db: str, pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    before_dbs = _databases(pg_cluster)
    code, out = _cli(
        "backup", "create", "--database-url", pg_db, "--backup-dir", str(tmp_path), "--json"
    )
    assert code == 0, out
    dump = Path(out["file"])
    manifest = json.loads(Path(out["manifestFile"]).read_text())
    assert manifest["engine"] == "postgresql" and manifest["sha256"] == sha256_file(dump)
    assert manifest["migrationRevision"] and "pg_dump" in manifest["toolVersion"]
    assert manifest["tables"] == _stats(pg_db)
    assert manifest["tables"]["games"]["rows"] == 40
    assert manifest["tables"]["moves"]["rows"] >= 400

    code, out = _cli("backup", "verify", str(dump), "--json")
    assert code == 0 and out["ok"] and out["scratchDropped"], out
    assert {t["table"] for t in out["tables"]} == set(manifest["tables"])
    assert _databases(pg_cluster) == before_dbs  # scratch database dropped

    for _ in range(2):
        code, out = _cli(
            "backup",
            "create",
            "--database-url",
            pg_db,
            "--backup-dir",
            str(tmp_path),
            "--keep",
            "2",
            "--json",
        )
        assert code == 0, out
    assert len(out["removed"]) == 2  # the oldest dump and its manifest
    code, listed = _cli("backup", "list", "--backup-dir", str(tmp_path), "--json")
    assert code == 0 and len(listed["backups"]) == 2
    assert all(b["ok"] and b["engine"] == "postgresql" for b in listed["backups"])
    assert not dump.exists()


def test_postgres_restore_refuses_non_empty_target(
    pg_db: str, pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    result = create_backup(pg_db, tmp_path)
    target = pg_cluster.url("r_" + uuid.uuid4().hex[:10])
    try:
        code, out = _cli("backup", "restore", str(result.file), "--target", target, "--json")
        assert code == 0 and out["ok"], out
        assert _stats(target) == result.manifest["tables"]
        # Change the target; a second restore without --force must not touch it.
        pg_cluster.psql(
            "DELETE FROM rating_history; UPDATE users SET wins = 99",
            database=target.rsplit("/", 1)[1],
        )
        changed = _stats(target)
        code, out = _cli("backup", "restore", str(result.file), "--target", target, "--json")
        assert code == 1 and "not empty" in out["error"] and "--force" in out["error"]
        assert _stats(target) == changed
        code, out = _cli(
            "backup", "restore", str(result.file), "--target", target, "--force", "--json"
        )
        assert code == 0 and out["ok"], out
        assert _stats(target) == result.manifest["tables"]
    finally:
        pg_cluster.drop_database(target.rsplit("/", 1)[1])


def test_verify_detects_a_tampered_row(
    pg_db: str, pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    result = create_backup(pg_db, tmp_path)
    _redump(
        pg_cluster,
        result.file,
        "UPDATE moves SET player = 3 - player WHERE move_number = 5 AND game_id = "
        "(SELECT min(game_id) FROM moves)",
    )
    before = _databases(pg_cluster)
    code, out = _cli("backup", "verify", str(result.file), "--json")
    assert code == 1 and not out["ok"], out
    bad = [t for t in out["tables"] if not t["ok"]]
    assert [t["table"] for t in bad] == ["moves"]
    assert bad[0]["expectedRows"] == bad[0]["actualRows"]  # same count: only the checksum shows it
    assert "checksum" in bad[0]["problem"] and "moves" in out["problems"][0]
    assert _databases(pg_cluster) == before and out["scratchDropped"]


def test_verify_detects_a_missing_table_and_a_tampered_manifest(
    pg_db: str, pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    result = create_backup(pg_db, tmp_path)
    original = result.file.read_bytes()
    manifest_path = result.manifest_file
    _redump(pg_cluster, result.file, "DROP TABLE rating_history")
    code, out = _cli("backup", "verify", str(result.file), "--json")
    assert code == 1
    assert any("'rating_history' is missing" in p for p in out["problems"]), out

    # Restore the genuine dump but tamper with the manifest's count for users.
    result.file.write_bytes(original)
    manifest = result.manifest
    manifest["tables"]["users"]["rows"] += 1
    manifest_path.write_text(json.dumps(manifest))
    code, out = _cli("backup", "verify", str(result.file), "--json")
    assert code == 1 and any("users" in p and "rows" in p for p in out["problems"]), out


def test_bad_backup_input_is_refused_and_changes_nothing(
    pg_db: str, pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    result = create_backup(pg_db, tmp_path)
    before = _databases(pg_cluster)
    manifest_text = result.manifest_file.read_text()

    code, out = _cli("backup", "verify", str(tmp_path / "nope.dump"), "--json")
    assert code == 1 and "does not exist" in out["error"]

    result.manifest_file.write_text("{not json")
    code, out = _cli("backup", "verify", str(result.file), "--json")
    assert code == 1 and "corrupt" in out["error"] and "JSON" in out["error"]
    result.manifest_file.write_text(json.dumps({"format": "ringrift-backup/1", "tables": []}))
    code, out = _cli("backup", "verify", str(result.file), "--json")
    assert code == 1 and "corrupt" in out["error"] and "sha256" in out["error"]
    result.manifest_file.write_text(manifest_text)

    data = bytearray(result.file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    result.file.write_bytes(bytes(data))
    code, out = _cli("backup", "verify", str(result.file), "--json")
    assert code == 1 and "sha256" in out["error"] and "does not match" in out["error"]

    # A file that is not a dump, with a manifest that matches it byte for byte.
    fake = tmp_path / "fake.dump"
    fake.write_text("hello, I am not a database dump\n")
    manifest = json.loads(manifest_text)
    manifest.update(file="fake.dump", sha256=sha256_file(fake), sizeBytes=fake.stat().st_size)
    (tmp_path / "fake.dump.manifest.json").write_text(json.dumps(manifest))
    code, out = _cli("backup", "verify", str(fake), "--json")
    assert code == 1 and "not a pg_dump" in out["error"]
    target = pg_cluster.url("never_" + uuid.uuid4().hex[:8])
    code, out = _cli("backup", "restore", str(fake), "--target", target, "--json")
    assert code == 1 and "not a pg_dump" in out["error"]

    code, out = _cli("backup", "create", "--database-url", "mysql://x/y", "--json")
    assert code == 1 and "unsupported database URL" in out["error"]
    assert _databases(pg_cluster) == before  # no scratch or target database was created
    with pytest.raises(BackupError, match="does not exist"):
        verify_backup(tmp_path / "missing.dump")


def test_sqlite_backup_verify_restore(sqlite_template: Path, tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, source)
    url = f"sqlite+aiosqlite:///{source}"
    seed_database(url, games=25, seed=5)
    # Seeded games are real engine playouts: replaying the stored moves reproduces the state.
    with sqlite3.connect(source) as conn:
        game_id, state_json, version = conn.execute(
            "SELECT id, state, version FROM games LIMIT 1"
        ).fetchone()
        rows = conn.execute(
            "SELECT move, state_hash FROM moves WHERE game_id = ? ORDER BY move_number", (game_id,)
        ).fetchall()
    assert 10 <= len(rows) == version <= 40
    state = new_game("square8", 2)
    for move_json, state_hash in rows:
        state = apply_move(state, Move.from_json(json.loads(move_json)))
        assert state.state_hash() == state_hash
    assert state.state_hash() == GameState.from_json(json.loads(state_json)).state_hash()

    backups = tmp_path / "backups"
    code, out = _cli(
        "backup", "create", "--database-url", url, "--backup-dir", str(backups), "--json"
    )
    assert code == 0, out
    dump = Path(out["file"])
    manifest = json.loads(Path(out["manifestFile"]).read_text())
    assert manifest["engine"] == "sqlite" and manifest["integrityCheck"] == "ok"
    assert manifest["tables"]["games"]["rows"] == 25 and manifest["migrationRevision"]

    code, out = _cli("backup", "verify", str(dump), "--json")
    assert code == 0 and out["ok"] and out["scratchDropped"], out

    target = tmp_path / "restored.db"
    code, out = _cli("backup", "restore", str(dump), "--target", f"sqlite:///{target}", "--json")
    assert code == 0 and out["ok"], out
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM games").fetchone()[0] == 25
        conn.execute("UPDATE users SET wins = 7")
    code, out = _cli("backup", "restore", str(dump), "--target", f"sqlite:///{target}", "--json")
    assert code == 1 and "not empty" in out["error"]
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT min(wins) FROM users").fetchone()[0] == 7

    manifest["tables"]["moves"]["checksum"] = "0" * 32
    (backups / (dump.name + ".manifest.json")).write_text(json.dumps(manifest))
    code, out = _cli("backup", "verify", str(dump), "--json")
    assert code == 1 and [t["table"] for t in out["tables"] if not t["ok"]] == ["moves"]

    code, out = _cli(
        "backup", "restore", str(dump), "--target", "postgresql://nobody@127.0.0.1:1/none", "--json"
    )
    assert code == 1 and "sqlite backup" in out["error"]
