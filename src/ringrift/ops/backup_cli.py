"""``ringrift backup create|verify|restore|base|list|seed``: the CLI of :mod:`ringrift.ops.backup`
and (``base``, ``restore --to-time``) of :mod:`ringrift.ops.pitr`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

backup_app = typer.Typer(
    help="Database backups with verified manifests (PostgreSQL pg_dump, SQLite backup API).",
    no_args_is_help=True,
)

JsonOut = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
BackupDir = Annotated[Path, typer.Option("--backup-dir", help="Where backups are kept.")]
DEFAULT_BACKUP_DIR = Path("backups")


def _url(database_url: str, run_dir: Path | None) -> str:
    if database_url:
        return database_url
    if run_dir is not None:
        from ringrift.ops.stack import Stack

        return Stack.load(run_dir).database_url
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise typer.BadParameter(
            "give --database-url, --run-dir (a local stack) or set DATABASE_URL",
            param_hint="--database-url",
        )
    return url


def _fail(message: str, json_out: bool, payload: dict[str, Any] | None = None) -> typer.Exit:
    if json_out:
        typer.echo(json.dumps({"ok": False, "error": message, **(payload or {})}))
    else:
        Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


DatabaseUrl = Annotated[
    str, typer.Option("--database-url", help="Database to back up (default DATABASE_URL).")
]
RunDir = Annotated[
    Path | None, typer.Option("--run-dir", help="Use the database of the local stack here.")
]


@backup_app.command("create")
def create(
    database_url: DatabaseUrl = "",
    run_dir: RunDir = None,
    backup_dir: BackupDir = DEFAULT_BACKUP_DIR,
    keep: Annotated[
        int | None, typer.Option("--keep", min=1, help="Keep only the N newest backups.")
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Back up a database: dump + manifest (sha256, counts, checksums from one snapshot)."""
    from ringrift.ops.backup import BackupError, create_backup
    from ringrift.ops.services import ServiceError
    from ringrift.ops.stack import StackError

    console = Console(stderr=True)
    try:
        url = _url(database_url, run_dir)
        with console.status("backing up") as spinner:
            result = create_backup(url, backup_dir, keep=keep, progress=spinner.update)
    except (BackupError, StackError, ServiceError) as error:
        raise _fail(str(error), json_out) from None
    if json_out:
        typer.echo(json.dumps({"ok": True, **result.to_json()}))
        return
    out = Console()
    rows = sum(t["rows"] for t in result.manifest["tables"].values())
    out.print(
        f"[green]backup created[/] {result.file} ({result.manifest['sizeBytes']:,} bytes, "
        f"{len(result.manifest['tables'])} tables, {rows:,} rows, {result.seconds:.2f}s)"
    )
    for path in result.removed:
        out.print(f"retention: removed {path}")


@backup_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="Backup file (or its manifest).")],
    server: Annotated[
        str,
        typer.Option(
            "--server",
            help="PostgreSQL server for the scratch database "
            "(default: the backup's source server).",
        ),
    ] = "",
    json_out: JsonOut = False,
) -> None:
    """Check sha256, restore into a scratch database, compare every table, drop the scratch."""
    from ringrift.ops.backup import BackupError, verify_backup

    console = Console(stderr=True)
    try:
        with console.status("verifying") as spinner:
            result = verify_backup(file, server_url=server or None, progress=spinner.update)
    except BackupError as error:
        raise _fail(str(error), json_out, {"file": str(file)}) from None
    if json_out:
        typer.echo(json.dumps(result.to_json()))
    else:
        table = Table(title=f"verify {result.file.name}")
        for column in ("table", "rows (manifest)", "rows (restored)", "checksum"):
            table.add_column(column)
        for check in result.tables:
            table.add_row(
                check.name,
                str(check.expected_rows if check.expected_rows is not None else "-"),
                str(check.actual_rows if check.actual_rows is not None else "-"),
                "[green]match[/]" if check.ok else "[red]MISMATCH[/]",
            )
        out = Console()
        out.print(table)
        for problem in result.problems:
            out.print(f"[red]problem:[/] {problem}", highlight=False)
        verdict = "[green]OK[/]" if result.ok else "[red]FAILED[/]"
        out.print(
            f"{verdict} in {result.seconds:.2f}s; scratch {result.scratch} "
            f"{'dropped' if result.scratch_dropped else 'NOT dropped'}"
        )
    if not result.ok:
        raise typer.Exit(1)


@backup_app.command("restore")
def restore(
    file: Annotated[
        Path | None, typer.Argument(help="Backup file (or its manifest); not with --to-time.")
    ] = None,
    target: Annotated[str, typer.Option("--target", help="Database URL to restore into.")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Replace the contents of a non-empty target.")
    ] = False,
    to_time: Annotated[
        str,
        typer.Option(
            "--to-time",
            help="Point-in-time recovery to this ISO 8601 time with offset (e.g. ...Z): "
            "base backup + archived WAL into a new scratch cluster.",
        ),
    ] = "",
    base: Annotated[
        Path | None, typer.Option("--base", help="Base backup directory (--to-time).")
    ] = None,
    wal_archive: Annotated[
        Path | None, typer.Option("--wal-archive", help="WAL archive directory (--to-time).")
    ] = None,
    into: Annotated[
        Path | None,
        typer.Option("--into", help="New directory for the scratch cluster (--to-time)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Scratch server port.")
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Restore a dump into a database (refuses a non-empty target without --force), or with
    --to-time rebuild the database as it was at that moment in a scratch cluster."""
    if to_time:
        _restore_to_time(to_time, base, wal_archive, into, port, json_out)
        return
    from ringrift.ops.backup import BackupError, restore_backup

    if file is None or not target:
        raise _fail("give FILE and --target (a dump restore), or --to-time (PITR)", json_out)
    console = Console(stderr=True)
    try:
        with console.status("restoring") as spinner:
            result = restore_backup(file, target, force=force, progress=spinner.update)
    except BackupError as error:
        raise _fail(str(error), json_out) from None
    if json_out:
        typer.echo(json.dumps(result.to_json()))
    else:
        out = Console()
        for check in result.tables:
            if check.problem:
                out.print(f"[red]problem:[/] {check.problem}", highlight=False)
        rows = sum(t.actual_rows or 0 for t in result.tables)
        verdict = "[green]restored[/]" if result.ok else "[red]restored with mismatches[/]"
        out.print(f"{verdict} {len(result.tables)} tables, {rows:,} rows in {result.seconds:.2f}s")
    if not result.ok:
        raise typer.Exit(1)


def _restore_to_time(
    to_time: str,
    base: Path | None,
    wal_archive: Path | None,
    into: Path | None,
    port: int | None,
    json_out: bool,
) -> None:
    from ringrift.ops.pitr import PitrError, PitrErrorCode, parse_target_time, restore_to_time

    try:
        if base is None or wal_archive is None or into is None:
            given = (("--base", base), ("--wal-archive", wal_archive), ("--into", into))
            missing = ", ".join(flag for flag, value in given if value is None)
            raise PitrError(PitrErrorCode.MISSING_INPUT, f"--to-time needs {missing} as well")
        target = parse_target_time(to_time)
        with Console(stderr=True).status("replaying WAL into a scratch cluster"):
            result = restore_to_time(base, wal_archive, into, target, port=port)
    except PitrError as error:
        raise _fail(str(error), json_out, {"code": error.code.value}) from None
    if json_out:
        typer.echo(json.dumps(result.to_json()))
        return
    out = Console()
    recovered = result.recovered_to.isoformat() if result.recovered_to else "no transaction"
    out.print(
        f"[green]restored[/] to {result.target.isoformat()} in {result.seconds:.2f}s "
        f"(last transaction replayed: {recovered})",
        highlight=False,
    )
    out.print(f"URL: {result.url}", highlight=False)
    out.print(f"stop it with: {result.stop_command}", highlight=False)


@backup_app.command("base")
def base_backup(
    database_url: DatabaseUrl = "",
    run_dir: RunDir = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="New directory for the base backup (default backups/base-*)."),
    ] = None,
    json_out: JsonOut = False,
) -> None:
    """Take a base backup (pg_basebackup, plain format) for point-in-time recovery."""
    from datetime import UTC, datetime

    from ringrift.ops.pitr import PitrError, create_base_backup
    from ringrift.ops.services import ServiceError
    from ringrift.ops.stack import StackError

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out or DEFAULT_BACKUP_DIR / f"base-{stamp}"
    try:
        url = _url(database_url, run_dir)
        with Console(stderr=True).status("pg_basebackup"):
            manifest = create_base_backup(url, target)
    except PitrError as error:
        raise _fail(str(error), json_out, {"code": error.code.value}) from None
    except (StackError, ServiceError) as error:
        raise _fail(str(error), json_out) from None
    if json_out:
        typer.echo(json.dumps({"ok": True, "dir": str(target), **manifest.to_json()}))
        return
    Console().print(
        f"[green]base backup[/] {target} ({manifest.size_bytes:,} bytes, start LSN "
        f"{manifest.start_lsn}, finished {manifest.finished_at.isoformat()}, "
        f"{manifest.seconds:.2f}s)",
        highlight=False,
    )


@backup_app.command("list")
def list_(backup_dir: BackupDir = DEFAULT_BACKUP_DIR, json_out: JsonOut = False) -> None:
    """List the backups in the backup directory with their manifests."""
    from ringrift.ops.backup import BackupError, list_backups

    try:
        entries = list_backups(backup_dir)
    except BackupError as error:
        raise _fail(str(error), json_out) from None
    if json_out:
        typer.echo(json.dumps({"ok": True, "backups": entries}))
        return
    table = Table(title=f"backups in {backup_dir}")
    for column in ("created", "engine", "database", "size", "tables", "rows", "file"):
        table.add_column(column)
    for e in entries:
        if "engine" not in e:
            table.add_row("-", "-", "-", "-", "-", "-", f"[red]{e['error']}[/]")
            continue
        table.add_row(
            e["createdAt"],
            e["engine"],
            str(e["database"]),
            f"{e['sizeBytes']:,}",
            str(e["tables"]),
            f"{e['rows']:,}",
            Path(e["file"]).name if e["ok"] else f"[red]{e['error']}[/]",
        )
    Console().print(table)


@backup_app.command("seed")
def seed(
    database_url: DatabaseUrl = "",
    run_dir: RunDir = None,
    games: Annotated[int, typer.Option("--games", min=1, max=10_000_000)] = 1000,
    users: Annotated[
        int | None, typer.Option("--users", min=2, max=1_000_000, help="Default games/10.")
    ] = None,
    seed_value: Annotated[int, typer.Option("--seed")] = 1,
    json_out: JsonOut = False,
) -> None:
    """Bulk-insert realistic users, games and moves (for backup measurements)."""
    from ringrift.ops.backup import BackupError
    from ringrift.ops.seed import seed_database

    console = Console(stderr=True)
    try:
        url = _url(database_url, run_dir)
        with console.status("seeding") as spinner:
            result = seed_database(
                url, games=games, users=users, seed=seed_value, progress=spinner.update
            )
    except BackupError as error:
        raise _fail(str(error), json_out) from None
    if json_out:
        typer.echo(json.dumps({"ok": True, **result}))
    else:
        Console().print(
            f"[green]seeded[/] {result['users']:,} users, {result['games']:,} games, "
            f"{result['moves']:,} moves in {result['seconds']:.1f}s"
        )
