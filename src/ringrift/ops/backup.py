"""Database backups with a manifest that proves what they contain.

PostgreSQL
    ``create`` opens a REPEATABLE READ, READ ONLY transaction, exports its snapshot with
    ``pg_export_snapshot()``, counts and checksums every table inside that snapshot, and runs
    ``pg_dump -Fc --snapshot=...`` while the transaction stays open: the dump and the manifest
    describe exactly the same data, while the app keeps writing.
SQLite
    the online backup API (``sqlite3.Connection.backup``) copies the live file page by page into
    a consistent copy; ``PRAGMA integrity_check`` runs on the copy and the counts and checksums
    are taken from it.

Every backup ``NAME.dump`` / ``NAME.sqlite3`` has a manifest ``NAME.manifest.json`` next to it::

    {"format": "ringrift-backup/1", "engine": "postgresql"|"sqlite", "file", "sha256", "sizeBytes",
     "createdAt", "source", "database", "serverVersion", "toolVersion", "migrationRevision",
     "checksumAlgorithm", "tables": {"users": {"rows": 12, "checksum": "..."}, ...}}

A table checksum is the md5 of the concatenated per-row md5s in primary-key order (row text in
PostgreSQL's output format, time zone UTC; for SQLite the row's ``repr``). ``verify`` checks the
file's sha256, restores it into a scratch database (a temporary database on the server, or a
temporary file), recomputes every table's count and checksum, compares them with the manifest
and drops the scratch database. ``restore`` refuses a target that already holds tables unless
forced. Bad input (missing file, corrupt manifest, wrong checksum, not a dump) raises
:class:`BackupError` before anything is changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ringrift.ops.services import MissingBinaryError, find_postgres_bindir
from ringrift.server.security.files import create_private

MANIFEST_FORMAT = "ringrift-backup/1"
MANIFEST_SUFFIX = ".manifest.json"
PG_SUFFIX = ".dump"
SQLITE_SUFFIX = ".sqlite3"
PG_ALGORITHM = "md5(string_agg(md5(row::text) ORDER BY pk)), TimeZone=UTC"
SQLITE_ALGORITHM = "md5(concat(md5(repr(row)) ORDER BY pk))"

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


class BackupError(RuntimeError):
    """The backup, its manifest or the target is unusable; nothing was changed."""


@dataclass
class TableCheck:
    name: str
    expected_rows: int | None
    actual_rows: int | None
    expected_checksum: str | None
    actual_checksum: str | None

    @property
    def ok(self) -> bool:
        return (
            self.expected_rows == self.actual_rows
            and self.expected_checksum == self.actual_checksum
            and self.actual_rows is not None
        )

    @property
    def problem(self) -> str | None:
        if self.ok:
            return None
        if self.actual_rows is None:
            return f"table {self.name!r} is missing from the restored backup"
        if self.expected_rows is None:
            return f"table {self.name!r} is in the restored backup but not in the manifest"
        if self.expected_rows != self.actual_rows:
            return (
                f"table {self.name!r}: {self.actual_rows} rows restored, "
                f"manifest says {self.expected_rows}"
            )
        return (
            f"table {self.name!r}: checksum {self.actual_checksum} differs from the manifest's "
            f"{self.expected_checksum} (a row was changed)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.name,
            "ok": self.ok,
            "expectedRows": self.expected_rows,
            "actualRows": self.actual_rows,
            "expectedChecksum": self.expected_checksum,
            "actualChecksum": self.actual_checksum,
            "problem": self.problem,
        }


@dataclass
class VerifyResult:
    file: Path
    ok: bool
    problems: list[str]
    tables: list[TableCheck] = field(default_factory=list)
    scratch: str = ""
    scratch_dropped: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "ok": self.ok,
            "problems": self.problems,
            "tables": [t.to_json() for t in self.tables],
            "scratch": self.scratch,
            "scratchDropped": self.scratch_dropped,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class CreateResult:
    file: Path
    manifest_file: Path
    manifest: dict[str, Any]
    seconds: float
    removed: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "manifestFile": str(self.manifest_file),
            "sizeBytes": self.manifest["sizeBytes"],
            "sha256": self.manifest["sha256"],
            "tables": self.manifest["tables"],
            "seconds": round(self.seconds, 3),
            "removed": [str(p) for p in self.removed],
        }


# -- URLs ------------------------------------------------------------------------------------


def engine_of(url: str) -> str:
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("postgresql") or scheme.startswith("postgres"):
        return "postgresql"
    if scheme.startswith("sqlite"):
        return "sqlite"
    raise BackupError(
        f"unsupported database URL {redact(url)!r}: use postgresql://... or sqlite:///path"
    )


def libpq_dsn(url: str, database: str | None = None) -> str:
    """A ``postgresql://`` DSN (driver suffix removed, optionally another database). SQLAlchemy's
    multi-host form (``?host=h1:p1&host=h2:p2``, what a replicated stack gives its apps) becomes
    the ``h1:p1,h2:p2`` host list that libpq tools and asyncpg read; ``target_session_attrs``
    stays, so a dump reads the primary."""
    parts = urlsplit(url)
    path = f"/{database}" if database is not None else parts.path
    netloc, query = parts.netloc, parts.query
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    hosts = [value for key, value in pairs if key == "host"]
    if hosts and all(":" in host for host in hosts):
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (f"{userinfo}@" if userinfo else "") + ",".join(hosts)
        query = urlencode([(k, v) for k, v in pairs if k != "host"], safe=":")
    return urlunsplit(("postgresql", netloc, path, query, ""))


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name:
        raise BackupError(f"the URL {redact(url)!r} names no database")
    return name


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def strip_password(url: str) -> str:
    """The URL without its password (libpq then uses PGPASSWORD or ~/.pgpass)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    netloc = f"{user}@{netloc}" if user else netloc
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def sqlite_path(url: str) -> Path:
    match = re.match(r"^sqlite(\+\w+)?:///(.+)$", url)
    if not match:
        raise BackupError(f"not a SQLite file URL: {url!r} (expected sqlite:///path/to/file.db)")
    return Path(match.group(2))


def _safe_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_bin(name: str) -> str:
    path = find_postgres_bindir() / name
    if not path.exists():
        raise MissingBinaryError(name, "postgresql-client")
    return str(path)


def _tool_version(binary: str) -> str:
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip()


# -- PostgreSQL: counts and checksums ---------------------------------------------------------


async def _pg_tables(conn: Any) -> list[tuple[str, list[str], list[str]]]:
    """(table, primary-key columns, all columns) of every table in the public schema."""
    rows = await conn.fetch(
        """
        SELECT c.relname AS name,
               coalesce((SELECT array_agg(a.attname ORDER BY array_position(i.indkey, a.attnum))
                         FROM pg_index i JOIN pg_attribute a
                           ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                         WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS pk,
               (SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS cols
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
        """
    )
    return [(r["name"], list(r["pk"]), list(r["cols"] or [])) for r in rows]


async def pg_table_stats(conn: Any, progress: Progress = _quiet) -> dict[str, dict[str, Any]]:
    """Row count and checksum of every public table, in the connection's current snapshot."""
    await conn.execute("SET TIME ZONE 'UTC'")
    stats: dict[str, dict[str, Any]] = {}
    for name, pk, cols in await _pg_tables(conn):
        order = ", ".join(f"t.{_safe_ident(c)}" for c in (pk or cols)) or "1"
        progress(f"checksumming {name}")
        row = await conn.fetchrow(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(md5(t::text), '' ORDER BY {order}),"
            f" '')) AS checksum FROM public.{_safe_ident(name)} t"
        )
        stats[name] = {"rows": int(row["n"]), "checksum": str(row["checksum"])}
    return stats


async def _alembic_revision(conn: Any) -> str | None:
    exists = await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
    if not exists:
        return None
    value = await conn.fetchval("SELECT version_num FROM public.alembic_version LIMIT 1")
    return str(value) if value is not None else None


async def _pg_connect(dsn: str, timeout: float = 10.0) -> Any:
    import asyncpg

    try:
        return await asyncpg.connect(dsn, timeout=timeout)
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        raise BackupError(f"cannot connect to {redact(dsn)}: {error}") from error


async def _pg_create(url: str, work: Path, progress: Progress) -> dict[str, Any]:
    dsn = libpq_dsn(url)
    pg_dump = _pg_bin("pg_dump")
    conn = await _pg_connect(dsn)
    try:
        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        progress(f"exported snapshot {snapshot}")
        server_version = await conn.fetchval("SHOW server_version")
        revision = await _alembic_revision(conn)
        progress("dumping with pg_dump -Fc")
        process = await asyncio.create_subprocess_exec(
            pg_dump,
            "-Fc",
            f"--snapshot={snapshot}",
            "--no-owner",
            "-f",
            str(work),
            "-d",
            dsn,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        # Checksums run in our snapshot while pg_dump reads the same snapshot.
        tables = await pg_table_stats(conn, progress)
        _out, err = await process.communicate()
        if process.returncode != 0:
            raise BackupError(f"pg_dump failed: {err.decode(errors='replace').strip()}")
        await conn.execute("COMMIT")
    finally:
        await conn.close()
    return {
        "engine": "postgresql",
        "database": database_name(url),
        "source": strip_password(libpq_dsn(url)),
        "serverVersion": str(server_version),
        "toolVersion": _tool_version(pg_dump),
        "migrationRevision": revision,
        "checksumAlgorithm": PG_ALGORITHM,
        "snapshot": str(snapshot),
        "tables": tables,
    }


# -- SQLite ----------------------------------------------------------------------------------


def sqlite_table_stats(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    stats: dict[str, dict[str, Any]] = {}
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    for name in names:
        info = conn.execute(f"PRAGMA table_info({_safe_ident(name)})").fetchall()
        pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] > 0]
        order = ", ".join(_safe_ident(c) for c in (pk or [r[1] for r in info]))
        outer = hashlib.md5(usedforsecurity=False)
        count = 0
        for row in conn.execute(f"SELECT * FROM {_safe_ident(name)} ORDER BY {order}"):
            outer.update(
                hashlib.md5(repr(row).encode(), usedforsecurity=False).hexdigest().encode()
            )
            count += 1
        stats[name] = {"rows": count, "checksum": outer.hexdigest()}
    return stats


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def _sqlite_create(url: str, work: Path, progress: Progress) -> dict[str, Any]:
    source = sqlite_path(url)
    if not source.exists():
        raise BackupError(f"SQLite database {source} does not exist")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(work)
    try:

        def step(_status: int, remaining: int, total: int) -> None:
            progress(f"copied {total - remaining}/{total} pages")

        src.backup(dst, pages=256, progress=step)
        check = dst.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            raise BackupError(f"integrity_check of the copy failed: {check[:5]}")
        tables = sqlite_table_stats(dst)
        revision = _sqlite_revision(dst)
    except sqlite3.Error as error:
        raise BackupError(f"SQLite backup failed: {error}") from error
    finally:
        src.close()
        dst.close()
    return {
        "engine": "sqlite",
        "database": source.name,
        "source": str(source.resolve()),
        "serverVersion": sqlite3.sqlite_version,
        "toolVersion": f"sqlite3 online backup API {sqlite3.sqlite_version}",
        "migrationRevision": revision,
        "checksumAlgorithm": SQLITE_ALGORITHM,
        "integrityCheck": "ok",
        "tables": tables,
    }


# -- create / list / retention ---------------------------------------------------------------


def create_backup(
    url: str,
    backup_dir: Path,
    *,
    keep: int | None = None,
    progress: Progress = _quiet,
) -> CreateResult:
    """Back up the database at ``url`` into ``backup_dir`` (dump + manifest)."""
    if keep is not None and keep < 1:
        raise BackupError("--keep must be at least 1")
    engine = engine_of(url)
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    started = time.monotonic()
    if engine == "postgresql":
        name = f"ringrift-{database_name(url)}-{stamp}{PG_SUFFIX}"
    else:
        name = f"ringrift-{sqlite_path(url).stem}-{stamp}{SQLITE_SUFFIX}"
    final = backup_dir / name
    work = backup_dir / f".{name}.partial"
    os.chmod(backup_dir, 0o700)
    try:
        create_private(work, truncate=True)  # dumps hold password hashes and emails
        if engine == "postgresql":
            details = asyncio.run(_pg_create(url, work, progress))
        else:
            details = _sqlite_create(url, work, progress)
        progress("hashing the backup file")
        manifest = {
            "format": MANIFEST_FORMAT,
            "file": name,
            "sha256": sha256_file(work),
            "sizeBytes": work.stat().st_size,
            "createdAt": datetime.now(UTC).isoformat(),
            **details,
        }
        manifest_path = backup_dir / (name + MANIFEST_SUFFIX)
        tmp_manifest = backup_dir / f".{name}{MANIFEST_SUFFIX}.partial"
        create_private(tmp_manifest, truncate=True)
        tmp_manifest.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        os.replace(work, final)
        os.replace(tmp_manifest, manifest_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            work.unlink()
    removed = apply_retention(backup_dir, keep) if keep else []
    return CreateResult(final, manifest_path, manifest, time.monotonic() - started, removed)


def list_backups(backup_dir: Path) -> list[dict[str, Any]]:
    """Every backup in ``backup_dir`` with its manifest (newest first)."""
    if not backup_dir.is_dir():
        raise BackupError(f"backup directory {backup_dir} does not exist")
    entries: list[dict[str, Any]] = []
    for manifest_path in sorted(backup_dir.glob("*" + MANIFEST_SUFFIX)):
        entry: dict[str, Any] = {"manifest": str(manifest_path)}
        try:
            manifest = read_manifest(manifest_path)
        except BackupError as error:
            entry.update({"ok": False, "error": str(error)})
            entries.append(entry)
            continue
        dump = manifest_path.parent / manifest["file"]
        entry.update(
            {
                "ok": dump.exists(),
                "file": str(dump),
                "engine": manifest["engine"],
                "database": manifest.get("database"),
                "createdAt": manifest["createdAt"],
                "sizeBytes": manifest["sizeBytes"],
                "migrationRevision": manifest.get("migrationRevision"),
                "tables": len(manifest["tables"]),
                "rows": sum(int(t["rows"]) for t in manifest["tables"].values()),
            }
        )
        if not dump.exists():
            entry["error"] = f"backup file {dump.name} is missing"
        entries.append(entry)
    entries.sort(key=lambda e: str(e.get("createdAt", "")), reverse=True)
    return entries


def apply_retention(backup_dir: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest valid backups; returns the removed files."""
    valid = [e for e in list_backups(backup_dir) if e["ok"]]
    removed: list[Path] = []
    for entry in valid[keep:]:
        for path in (Path(entry["file"]), Path(entry["manifest"])):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


# -- manifest / file checks ------------------------------------------------------------------


def manifest_path_for(path: Path) -> Path:
    if path.name.endswith(MANIFEST_SUFFIX):
        return path
    return path.with_name(path.name + MANIFEST_SUFFIX)


def read_manifest(path: Path) -> dict[str, Any]:
    """Load and validate a manifest (``path`` may be the backup file or its manifest)."""
    manifest_path = manifest_path_for(path)
    if not manifest_path.exists():
        raise BackupError(f"manifest {manifest_path} does not exist")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BackupError(
            f"manifest {manifest_path} is corrupt: not valid JSON ({error})"
        ) from None
    problems: list[str] = []
    if not isinstance(manifest, dict):
        raise BackupError(f"manifest {manifest_path} is corrupt: not a JSON object")
    if manifest.get("format") != MANIFEST_FORMAT:
        problems.append(f"format is {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    if manifest.get("engine") not in ("postgresql", "sqlite"):
        problems.append("engine must be 'postgresql' or 'sqlite'")
    if not isinstance(manifest.get("file"), str) or "/" in str(manifest.get("file")):
        problems.append("file must be a plain file name")
    if not re.fullmatch(r"[0-9a-f]{64}", str(manifest.get("sha256", ""))):
        problems.append("sha256 must be 64 hex digits")
    if not isinstance(manifest.get("sizeBytes"), int):
        problems.append("sizeBytes must be an integer")
    if not isinstance(manifest.get("createdAt"), str):
        problems.append("createdAt must be a string")
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or not tables:
        problems.append("tables must be a non-empty object")
    else:
        for name, entry in tables.items():
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("rows"), int)
                or not isinstance(entry.get("checksum"), str)
            ):
                problems.append(f"tables[{name!r}] needs integer 'rows' and string 'checksum'")
    if problems:
        raise BackupError(f"manifest {manifest_path} is corrupt: " + "; ".join(problems))
    return manifest


def _check_file(path: Path) -> tuple[Path, dict[str, Any]]:
    """The backup file and its manifest after the size/sha256 check (raises BackupError)."""
    if not path.exists():
        raise BackupError(f"backup file {path} does not exist")
    manifest = read_manifest(path)
    dump = manifest_path_for(path).parent / manifest["file"]
    if not dump.exists():
        raise BackupError(f"backup file {dump} named by the manifest does not exist")
    size = dump.stat().st_size
    if size != manifest["sizeBytes"]:
        raise BackupError(f"{dump.name}: size {size} bytes, manifest says {manifest['sizeBytes']}")
    digest = sha256_file(dump)
    if digest != manifest["sha256"]:
        raise BackupError(
            f"{dump.name}: sha256 {digest} does not match the manifest's {manifest['sha256']}"
        )
    with dump.open("rb") as handle:
        magic = handle.read(16)
    if manifest["engine"] == "postgresql" and not magic.startswith(b"PGDMP"):
        raise BackupError(f"{dump.name} is not a pg_dump custom-format archive")
    if manifest["engine"] == "sqlite" and not magic.startswith(b"SQLite format 3"):
        raise BackupError(f"{dump.name} is not a SQLite database file")
    return dump, manifest


def _compare(
    expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]
) -> list[TableCheck]:
    checks = []
    for name in sorted(set(expected) | set(actual)):
        exp, act = expected.get(name), actual.get(name)
        checks.append(
            TableCheck(
                name,
                exp["rows"] if exp else None,
                act["rows"] if act else None,
                exp["checksum"] if exp else None,
                act["checksum"] if act else None,
            )
        )
    return checks


# -- PostgreSQL restore ----------------------------------------------------------------------


def _pg_restore(dump: Path, dsn: str, *, clean: bool = False) -> None:
    args = [_pg_bin("pg_restore"), "--no-owner", "--exit-on-error", "-d", dsn]
    if clean:
        args += ["--clean", "--if-exists"]
    result = subprocess.run(
        [*args, str(dump)], capture_output=True, text=True, check=False, timeout=3600
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()[:2000]}")


async def _pg_exec(dsn: str, sql: str) -> None:
    conn = await _pg_connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def pg_stats_of(dsn: str) -> dict[str, dict[str, Any]]:
    conn = await _pg_connect(dsn)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await pg_table_stats(conn)
    finally:
        await conn.close()


async def _pg_user_tables(dsn: str) -> int:
    conn = await _pg_connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                "('pg_catalog', 'information_schema')"
            )
        )
    finally:
        await conn.close()


async def pg_database_exists(server_dsn: str, name: str) -> bool:
    conn = await _pg_connect(libpq_dsn(server_dsn, "postgres"))
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def verify_backup(
    path: Path, *, server_url: str | None = None, progress: Progress = _quiet
) -> VerifyResult:
    """Check the file, restore it into a scratch database, compare every table."""
    started = time.monotonic()
    dump, manifest = _check_file(path)
    progress("sha256 matches the manifest")
    if manifest["engine"] == "sqlite":
        return _verify_sqlite(dump, manifest, started, progress)
    server = server_url or manifest.get("source")
    if not server:
        raise BackupError("no PostgreSQL server to restore into: pass --server URL")
    engine_of(server)
    scratch = f"ringrift_verify_{secrets.token_hex(6)}"
    admin = libpq_dsn(server, "postgres")
    asyncio.run(_pg_exec(admin, f'CREATE DATABASE "{scratch}"'))
    result = VerifyResult(dump, False, [], scratch=scratch)
    try:
        progress(f"restoring into scratch database {scratch}")
        try:
            _pg_restore(dump, libpq_dsn(server, scratch))
        except BackupError as error:
            result.problems.append(str(error))
        else:
            progress("recomputing counts and checksums")
            actual = asyncio.run(pg_stats_of(libpq_dsn(server, scratch)))
            result.tables = _compare(manifest["tables"], actual)
            result.problems += [t.problem for t in result.tables if t.problem]
    finally:
        progress(f"dropping scratch database {scratch}")
        asyncio.run(_pg_exec(admin, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        result.scratch_dropped = not asyncio.run(pg_database_exists(server, scratch))
    if not result.scratch_dropped:
        result.problems.append(f"scratch database {scratch} could not be dropped")
    result.ok = not result.problems
    result.seconds = time.monotonic() - started
    return result


def _verify_sqlite(
    dump: Path, manifest: dict[str, Any], started: float, progress: Progress
) -> VerifyResult:
    scratch_dir = Path(tempfile.mkdtemp(prefix="ringrift-verify-"))
    scratch = scratch_dir / "scratch.db"
    result = VerifyResult(dump, False, [], scratch=str(scratch))
    try:
        progress(f"restoring into scratch file {scratch}")
        src = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        dst = sqlite3.connect(scratch)
        try:
            src.backup(dst)
            check = dst.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                result.problems.append(f"integrity_check failed: {check[:5]}")
            result.tables = _compare(manifest["tables"], sqlite_table_stats(dst))
            result.problems += [t.problem for t in result.tables if t.problem]
        except sqlite3.Error as error:
            result.problems.append(f"cannot read the SQLite backup: {error}")
        finally:
            src.close()
            dst.close()
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)
        result.scratch_dropped = not scratch.exists()
    result.ok = not result.problems
    result.seconds = time.monotonic() - started
    return result


@dataclass
class RestoreResult:
    file: Path
    target: str
    tables: list[TableCheck]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "target": self.target,
            "ok": self.ok,
            "tables": [t.to_json() for t in self.tables],
            "seconds": round(self.seconds, 3),
        }


def restore_backup(
    path: Path, target_url: str, *, force: bool = False, progress: Progress = _quiet
) -> RestoreResult:
    """Restore into ``target_url``; a target that holds tables needs ``force``."""
    started = time.monotonic()
    dump, manifest = _check_file(path)
    engine = engine_of(target_url)
    if engine != manifest["engine"]:
        raise BackupError(f"{dump.name} is a {manifest['engine']} backup; the target is {engine}")
    if engine == "sqlite":
        target = sqlite_path(target_url)
        if target.exists():
            with contextlib.closing(sqlite3.connect(target)) as conn:
                count = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type='table'"
                ).fetchone()[0]
            if count and not force:
                raise BackupError(
                    f"target {target} is not empty ({count} tables); pass --force to replace it"
                )
        target.parent.mkdir(parents=True, exist_ok=True)
        progress(f"restoring into {target}")
        src = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            actual = sqlite_table_stats(dst)
        finally:
            src.close()
            dst.close()
        return RestoreResult(
            dump, str(target), _compare(manifest["tables"], actual), time.monotonic() - started
        )
    name = database_name(target_url)
    dsn = libpq_dsn(target_url)
    if not asyncio.run(pg_database_exists(target_url, name)):
        progress(f"creating database {name}")
        asyncio.run(
            _pg_exec(libpq_dsn(target_url, "postgres"), f"CREATE DATABASE {_safe_ident(name)}")
        )
    tables = asyncio.run(_pg_user_tables(dsn))
    if tables and not force:
        raise BackupError(
            f"target database {name!r} is not empty ({tables} tables); "
            "pass --force to replace its contents"
        )
    if tables:
        progress(f"clearing {tables} tables in {name}")
        asyncio.run(_pg_exec(dsn, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
    progress(f"restoring into {name}")
    _pg_restore(dump, dsn)
    actual = asyncio.run(pg_stats_of(dsn))
    return RestoreResult(
        dump, redact(dsn), _compare(manifest["tables"], actual), time.monotonic() - started
    )
