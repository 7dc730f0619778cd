"""Point-in-time recovery: base backups plus archived WAL, replayed up to a chosen moment.

A dump (``ringrift backup create``) can only bring back the database as it was when the dump
ran. A *base backup* (``pg_basebackup``: a copy of the cluster's files plus the WAL needed to
make it consistent) combined with the WAL archive (:mod:`ringrift.ops.wal_archive`) can bring it
back as it was at any moment ``T`` after the backup ended: PostgreSQL replays archived WAL and
stops before the first transaction that committed after ``T``. That is how a mistake (a bad
``DELETE``, a broken migration) is undone without losing the work committed just before it.

``create_base_backup`` writes ``DIR/data`` (plain format) and ``DIR/base.json``::

    {"format": "ringrift-basebackup/1", "startedAt", "finishedAt", "startLsn", "startWalFile",
     "timeline", "database", "source", "serverVersion", "sizeBytes", "seconds"}

``restore_to_time`` never touches the live cluster: it copies the base backup into a new
directory, writes ``restore_command``/``recovery_target_time``/``recovery_target_action=promote``
and ``recovery.signal``, starts a scratch server on a free port and waits until recovery has
promoted it. Unusable input raises :class:`PitrError` with a stable :class:`PitrErrorCode`
before anything is created.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from ringrift.ops.backup import database_name, libpq_dsn, redact, strip_password
from ringrift.ops.services import PostgresCluster, ServiceError, find_postgres_bindir

MANIFEST_FORMAT = "ringrift-basebackup/1"
MANIFEST_FILE = "base.json"
DATA_DIR = "data"
RECOVERY_TIMEOUT_SECONDS = 120.0


class PitrErrorCode(StrEnum):
    """Why a base backup or a restore was refused or failed (shown with every error)."""

    BAD_TIME = "PITR_BAD_TIME"
    TARGET_BEFORE_BASE = "PITR_TARGET_BEFORE_BASE"
    TARGET_IN_FUTURE = "PITR_TARGET_IN_FUTURE"
    MISSING_INPUT = "PITR_MISSING_INPUT"
    BAD_MANIFEST = "PITR_BAD_MANIFEST"
    INTO_NOT_EMPTY = "PITR_INTO_NOT_EMPTY"
    BASE_BACKUP_FAILED = "PITR_BASE_BACKUP_FAILED"
    RECOVERY_FAILED = "PITR_RECOVERY_FAILED"


class PitrError(RuntimeError):
    def __init__(self, code: PitrErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


# -- time ------------------------------------------------------------------------------------


def parse_target_time(text: str) -> datetime:
    """An ISO 8601 time with an explicit offset (``...Z`` or ``...+02:00``), as UTC.

    A time without an offset is refused: the operator's local zone, the server's ``TimeZone``
    and UTC could each give a different recovery point, and a wrong guess loses data."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PitrError(
            PitrErrorCode.BAD_TIME,
            f"{text!r} is not an ISO 8601 time (example: 2026-11-30T12:34:56.5Z)",
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PitrError(
            PitrErrorCode.BAD_TIME,
            f"{text!r} has no time zone; add Z (UTC) or an offset such as +01:00",
        )
    return parsed.astimezone(UTC)


def validate_target(target: datetime, base_finished: datetime, now: datetime) -> None:
    """Refuse a target the archive cannot reach: before the base backup was consistent (its
    end), or in the future (recovery would stop at the end of the archive, not at ``T``)."""
    if target < base_finished:
        raise PitrError(
            PitrErrorCode.TARGET_BEFORE_BASE,
            f"target {target.isoformat()} is before the base backup finished "
            f"({base_finished.isoformat()}); use an older base backup",
        )
    if target > now:
        raise PitrError(
            PitrErrorCode.TARGET_IN_FUTURE,
            f"target {target.isoformat()} is in the future (now {now.isoformat()})",
        )


# -- manifest --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseBackupManifest:
    started_at: datetime
    finished_at: datetime
    start_lsn: str
    start_wal_file: str
    timeline: int
    database: str
    source: str
    server_version: str
    size_bytes: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat(),
            "startLsn": self.start_lsn,
            "startWalFile": self.start_wal_file,
            "timeline": self.timeline,
            "database": self.database,
            "source": self.source,
            "serverVersion": self.server_version,
            "sizeBytes": self.size_bytes,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BaseBackupManifest:
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {data.get('format')!r} is not {MANIFEST_FORMAT!r}")
        started = datetime.fromisoformat(str(data["startedAt"]))
        finished = datetime.fromisoformat(str(data["finishedAt"]))
        if started.tzinfo is None or finished.tzinfo is None:
            raise ValueError("startedAt/finishedAt must carry a time zone")
        if finished < started:
            raise ValueError("finishedAt is before startedAt")
        return cls(
            started_at=started.astimezone(UTC),
            finished_at=finished.astimezone(UTC),
            start_lsn=str(data["startLsn"]),
            start_wal_file=str(data["startWalFile"]),
            timeline=int(data["timeline"]),
            database=str(data["database"]),
            source=str(data["source"]),
            server_version=str(data["serverVersion"]),
            size_bytes=int(data["sizeBytes"]),
            seconds=float(data["seconds"]),
        )


def read_manifest(base_dir: Path) -> BaseBackupManifest:
    path = base_dir / MANIFEST_FILE
    if not path.is_file():
        raise PitrError(PitrErrorCode.MISSING_INPUT, f"{path} not found (not a base backup?)")
    if not (base_dir / DATA_DIR / "PG_VERSION").is_file():
        raise PitrError(PitrErrorCode.MISSING_INPUT, f"{base_dir / DATA_DIR} holds no cluster")
    try:
        return BaseBackupManifest.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as error:
        raise PitrError(PitrErrorCode.BAD_MANIFEST, f"{path}: {error}") from None


_LABEL_LSN = re.compile(r"^START WAL LOCATION: (\S+) \(file (\w+)\)$", re.M)
_LABEL_TIMELINE = re.compile(r"^START TIMELINE: (\d+)$", re.M)


def parse_backup_label(text: str) -> tuple[str, str, int]:
    """(start LSN, start WAL file, timeline) from the ``backup_label`` pg_basebackup wrote."""
    lsn = _LABEL_LSN.search(text)
    timeline = _LABEL_TIMELINE.search(text)
    if lsn is None or timeline is None:
        raise ValueError("backup_label lacks START WAL LOCATION or START TIMELINE")
    return lsn.group(1), lsn.group(2), int(timeline.group(1))


# -- base backup -----------------------------------------------------------------------------


def _bin(name: str) -> str:
    return str(find_postgres_bindir() / name)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def create_base_backup(database_url: str, out: Path) -> BaseBackupManifest:
    """``pg_basebackup`` (plain format, WAL streamed alongside, fast checkpoint) into
    ``out/data`` and the manifest into ``out/base.json``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise PitrError(PitrErrorCode.INTO_NOT_EMPTY, f"{out} exists and is not empty")
    dsn = libpq_dsn(database_url)
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    clock = time.monotonic()
    result = subprocess.run(
        [
            _bin("pg_basebackup"),
            "-d",
            strip_password(dsn),
            "-D",
            str(out / DATA_DIR),
            "-F",
            "p",
            "-X",
            "stream",
            "-c",
            "fast",
            "-l",
            f"ringrift {started.isoformat(timespec='seconds')}",
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(out / DATA_DIR, ignore_errors=True)
        raise PitrError(
            PitrErrorCode.BASE_BACKUP_FAILED,
            f"pg_basebackup failed for {redact(dsn)}: {result.stderr.strip()}",
        )
    finished = datetime.now(UTC)
    data = out / DATA_DIR
    lsn, wal_file, timeline = parse_backup_label((data / "backup_label").read_text())
    manifest = BaseBackupManifest(
        started_at=started,
        finished_at=finished,
        start_lsn=lsn,
        start_wal_file=wal_file,
        timeline=timeline,
        database=database_name(dsn),
        source=redact(strip_password(dsn)),
        server_version=(data / "PG_VERSION").read_text().strip(),
        size_bytes=_dir_size(data),
        seconds=time.monotonic() - clock,
    )
    (out / MANIFEST_FILE).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return manifest


# -- restore ---------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    cluster: PostgresCluster
    target: datetime
    recovered_to: datetime | None
    seconds: float

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the restored database (the form the app's DATABASE_URL takes)."""
        return self.cluster.url()

    @property
    def stop_command(self) -> str:
        """How to stop the scratch server (as root it runs as ``postgres``)."""
        command = f"{_bin('pg_ctl')} -D {shlex.quote(str(self.cluster.data_dir))} stop"
        return f"runuser -u postgres -- {command}" if os.geteuid() == 0 else command

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "url": self.url,
            "dsn": self.cluster.dsn,
            "port": self.cluster.port,
            "dataDir": str(self.cluster.data_dir),
            "targetTime": self.target.isoformat(),
            "recoveredTo": self.recovered_to.isoformat() if self.recovered_to else None,
            "seconds": round(self.seconds, 3),
            "stopCommand": self.stop_command,
        }


def _recovery_settings(wal_archive: Path, target: datetime) -> str:
    restore = f"cp '{wal_archive.resolve()}/%f' '%p'"
    return (
        "\n# ringrift backup restore --to-time: point-in-time recovery\n"
        f"restore_command = '{restore.replace(chr(39), chr(39) * 2)}'\n"
        f"recovery_target_time = '{target.isoformat()}'\n"
        "recovery_target_action = 'promote'\n"
        # The scratch server must never write into the live cluster's archive.
        "archive_mode = 'off'\n"
    )


def _psql_value(cluster: PostgresCluster, sql: str) -> str:
    return cluster.psql(sql, database=cluster.database)


def _wait_promoted(cluster: PostgresCluster, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not cluster.running:
            raise PitrError(
                PitrErrorCode.RECOVERY_FAILED,
                "the scratch server stopped during recovery (is the archive complete up to "
                f"the target?); log tail:\n{_log_tail(cluster)}",
            )
        with contextlib.suppress(ServiceError):
            if _psql_value(cluster, "SELECT pg_is_in_recovery()") == "f":
                return
        if time.monotonic() > deadline:
            raise PitrError(
                PitrErrorCode.RECOVERY_FAILED,
                f"recovery did not finish in {timeout:.0f}s; log tail:\n{_log_tail(cluster)}",
            )
        time.sleep(0.1)


def _explain(cluster: PostgresCluster, error: Exception) -> PitrError:
    """The error to report for a failed recovery, naming the usual cause when the log shows it."""
    if isinstance(error, PitrError):
        return error
    log = _log_tail(cluster, 40)
    if "recovery ended before configured recovery target was reached" in log:
        last = re.findall(r"last completed transaction was at log time (.+)", log)
        return PitrError(
            PitrErrorCode.RECOVERY_FAILED,
            "the archived WAL ends before the target: recovery stops at the first transaction "
            "committed after T, and none is archived yet"
            + (f" (last archived transaction at {last[-1].strip()})" if last else "")
            + "; choose an earlier T, or run SELECT pg_switch_wal() on the live server and "
            "retry once the segment is archived",
        )
    return PitrError(PitrErrorCode.RECOVERY_FAILED, f"{error}")


def _log_tail(cluster: PostgresCluster, lines: int = 15) -> str:
    try:
        text = cluster.log_file.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def restore_to_time(
    base_dir: Path,
    wal_archive: Path,
    into: Path,
    target: datetime,
    *,
    port: int | None = None,
    now: datetime | None = None,
    timeout: float = RECOVERY_TIMEOUT_SECONDS,
) -> RestoreResult:
    """Build a scratch cluster in ``into`` holding the database as it was at ``target``; the
    server is left running (stop it with ``RestoreResult.cluster.stop()``)."""
    manifest = read_manifest(base_dir)
    if not wal_archive.is_dir():
        raise PitrError(PitrErrorCode.MISSING_INPUT, f"WAL archive {wal_archive} not found")
    validate_target(target, manifest.finished_at, now or datetime.now(UTC))
    if into.exists() and any(into.iterdir()):
        raise PitrError(PitrErrorCode.INTO_NOT_EMPTY, f"{into} exists and is not empty")
    started = time.monotonic()
    existed = into.exists()
    cluster = PostgresCluster(into, port=port, database=manifest.database)
    into.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(base_dir / DATA_DIR, cluster.data_dir, symlinks=True)
        with (cluster.data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(_recovery_settings(wal_archive, target))
        (cluster.data_dir / "recovery.signal").touch()
        cluster.start(timeout=timeout)
        _wait_promoted(cluster, max(1.0, timeout - (time.monotonic() - started)))
        replayed = _psql_value(
            cluster,
            "SELECT coalesce(to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.US+00:00'), '')",
        )
    except (ServiceError, PitrError, OSError) as error:
        problem = _explain(cluster, error)
        with contextlib.suppress(ServiceError, subprocess.TimeoutExpired):
            cluster.stop(mode="immediate")
        # Leave nothing half-built behind, so the same command can simply be run again.
        if existed:
            for child in into.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            shutil.rmtree(into, ignore_errors=True)
        raise problem from None
    recovered_to = datetime.fromisoformat(replayed) if replayed else None
    return RestoreResult(cluster, target, recovered_to, time.monotonic() - started)
