"""Drill ``backup-restore``: back up the live database while the app serves, verify the backup
in a scratch database (same tables, exact row counts and checksums), drop the scratch database,
and prove the production database was not touched."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from ringrift.ops.backup import (
    create_backup,
    libpq_dsn,
    pg_database_exists,
    pg_stats_of,
    verify_backup,
)
from ringrift.ops.drills.base import Api, Drill, DrillContext, Recorder, register


def _production_stats(ctx: DrillContext) -> dict[str, dict[str, Any]]:
    return asyncio.run(pg_stats_of(libpq_dsn(ctx.stack.database_url)))


@register
class BackupRestore(Drill):
    name = "backup-restore"
    title = "Backup / restore"
    objective = (
        "Dump the live database while the app serves traffic, restore it into a separate "
        "scratch database, confirm the same tables with exact row counts and checksums, drop "
        "the scratch database, and confirm the production database was never touched."
    )

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        with rec.step("Seed users and games with moves through the public API"):
            data = ctx.seed_data(users=4, games=2, moves=6)
        game_id = data.games[0].game["id"]
        with rec.step("Record production row counts and checksums"):
            before = _production_stats(ctx)
        rec.check(
            "production holds the seeded data",
            before.get("users", {}).get("rows", 0) >= 4
            and before.get("moves", {}).get("rows", 0) >= 12,
            f"users={before.get('users', {}).get('rows')} "
            f"moves={before.get('moves', {}).get('rows')}",
        )

        # Read traffic against the app for the whole backup: (started, finished, status).
        stop = threading.Event()
        served: list[tuple[float, float, int]] = []

        def traffic() -> None:
            api = Api(ctx.stack.url(ctx.app), timeout=5)
            try:
                while not stop.is_set():
                    for path in ("/ready", f"/api/games/{game_id}", f"/api/games/{game_id}/moves"):
                        began = time.monotonic()
                        response, _s, _error = api.timed("GET", path)
                        code = response.status_code if response is not None else 0
                        served.append((began, time.monotonic(), code))
            finally:
                api.close()

        worker = threading.Thread(target=traffic, daemon=True)
        worker.start()
        deadline = time.monotonic() + 10
        while not served and time.monotonic() < deadline:
            time.sleep(0.01)
        backup_dir = ctx.work_dir / "backups"
        try:
            with rec.step(
                "Create a backup (pg_dump -Fc from an exported snapshot + manifest) while "
                "a client reads games from the app"
            ) as step:
                window_start = time.monotonic()
                created = create_backup(ctx.stack.database_url, backup_dir)
                window_end = time.monotonic()
                step.detail = f"{created.file.name}, {created.manifest['sizeBytes']:,} bytes"
        finally:
            stop.set()
            worker.join(10)
        rec.timing("backup_create_s", created.seconds)
        during = [c for began, ended, c in served if began <= window_end and ended >= window_start]
        codes = sorted({c for _b, _e, c in served})
        rec.check(
            "the app kept serving during the backup",
            bool(during) and codes == [200],
            f"{len(during)} requests overlapped the backup ({len(served)} in all), "
            f"statuses {codes}",
        )
        manifest_tables = created.manifest["tables"]
        rec.check(
            "manifest lists every production table",
            set(manifest_tables) == set(before),
            f"{len(manifest_tables)} tables in the manifest, {len(before)} in production",
        )
        rec.check(
            "manifest counts and checksums equal production's",
            manifest_tables == before,
            "identical" if manifest_tables == before else "differ",
        )

        with rec.step("Verify: restore into a scratch database and compare every table") as step:
            verified = verify_backup(created.file, server_url=ctx.stack.database_url)
            step.detail = f"scratch database {verified.scratch}"
        rec.timing("backup_verify_s", verified.seconds)
        rec.check(
            "restore has the same tables",
            all(t.actual_rows is not None and t.expected_rows is not None for t in verified.tables)
            and len(verified.tables) == len(manifest_tables),
            f"{len(verified.tables)} tables compared",
        )
        rows = sum(t.actual_rows or 0 for t in verified.tables)
        rec.check(
            "exact row counts and checksums in every table",
            verified.ok,
            f"{rows} rows matched" if verified.ok else "; ".join(verified.problems),
        )
        exists = asyncio.run(pg_database_exists(ctx.stack.database_url, verified.scratch))
        rec.check(
            "scratch database dropped",
            verified.scratch_dropped and not exists,
            f"{verified.scratch} {'still exists' if exists else 'is gone'}",
        )
        with rec.step("Compare production counts and checksums with the values before the drill"):
            after = _production_stats(ctx)
        rec.check(
            "production database untouched",
            after == before,
            "counts and checksums identical" if after == before else "production changed",
        )
        rec.note(
            f"backup {created.file.name}: {created.manifest['sizeBytes']:,} bytes, "
            f"{len(manifest_tables)} tables, {rows} rows; create {created.seconds:.2f}s, "
            f"verify {verified.seconds:.2f}s"
        )
