"""Drill ``pitr``: undo a destructive mistake with point-in-time recovery.

Games are played through the public API after a base backup; every acknowledged move is
recorded with its acknowledgement time. T is picked just after the last acknowledgement, one
more move is played after T, and then the "mistake" happens: the drill's games are deleted
straight in the database. The WAL segment holding the mistake is switched out and archived,
the database is rebuilt as of T in a scratch cluster (never touching the live one), and the
drill checks there that every move acknowledged before T is present while the later move and
the mistake are not. A nightly dump taken when the base backup was would have lost every one of
those moves; the recovery point gap says how much work before T point-in-time recovery lost.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ringrift.ops.backup import libpq_dsn
from ringrift.ops.drills.base import (
    ApiError,
    Drill,
    DrillContext,
    DrillSkipped,
    Recorder,
    register,
)
from ringrift.ops.pitr import RestoreResult, create_base_backup, restore_to_time
from ringrift.ops.stack import Stack

GAMES = 2
MOVES_PER_GAME = 5
# Commits after T must carry a later timestamp than T even with a coarse clock.
AFTER_T_PAUSE_SECONDS = 0.25
ARCHIVE_TIMEOUT_SECONDS = 30.0
MAX_GAP_SECONDS = 5.0
DELETE_GAMES = (
    "WITH d AS (DELETE FROM games WHERE id = ANY($1::varchar[]) RETURNING 1) SELECT count(*) FROM d"
)


@dataclass(frozen=True)
class AckedMove:
    """A move the server acknowledged, and when the client saw the acknowledgement."""

    game_id: str
    move_number: int
    acked_at: datetime


@dataclass(frozen=True)
class RestoredMove:
    game_id: str
    move_number: int
    created_at: datetime


async def _execute(dsn: str, sql: str, *args: Any) -> str:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return str(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def _restored(dsn: str, game_ids: list[str]) -> tuple[list[RestoredMove], int]:
    """The drill games' moves in the restored database, and how many of its games exist."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT game_id, move_number, extract(epoch FROM created_at) AS at "
            "FROM moves WHERE game_id = ANY($1::varchar[])",
            game_ids,
        )
        games = await conn.fetchval(
            "SELECT count(*) FROM games WHERE id = ANY($1::varchar[])", game_ids
        )
    finally:
        await conn.close()
    moves = [
        RestoredMove(
            str(r["game_id"]), int(r["move_number"]), datetime.fromtimestamp(float(r["at"]), UTC)
        )
        for r in rows
    ]
    return moves, int(games)


def moves_missing(acked: list[AckedMove], restored: list[RestoredMove]) -> list[AckedMove]:
    """Acknowledged moves that the restored database does not hold."""
    present = {(m.game_id, m.move_number) for m in restored}
    return [m for m in acked if (m.game_id, m.move_number) not in present]


@register
class PointInTimeRecovery(Drill):
    name = "pitr"
    title = "Point-in-time recovery"
    objective = (
        "After a base backup, games are played and then deleted by mistake; the database is "
        "rebuilt as of T (just after the last acknowledged move) from the base backup and the "
        "WAL archive in a scratch cluster, with every move acknowledged before T present, the "
        "mistake absent and the live cluster untouched."
    )

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        stack = ctx.stack
        if not isinstance(stack, Stack):
            raise DrillSkipped(
                "point-in-time recovery is drilled on `ringrift stack`, whose WAL archive is "
                "local; a deployment file names no archive"
            )
        dsn = libpq_dsn(stack.database_url)
        live_pid = stack.pid("postgres")
        base_dir = ctx.work_dir / "base"
        with rec.step("Take a base backup (pg_basebackup) of the live cluster") as step:
            manifest = create_base_backup(stack.database_url, base_dir)
            step.detail = f"start LSN {manifest.start_lsn}, {manifest.size_bytes:,} bytes"
        rec.timing("base_backup_s", manifest.seconds)

        acked: list[AckedMove] = []
        with rec.step(f"Play {GAMES} games x {MOVES_PER_GAME} moves through the public API"):
            data = ctx.seed_data(users=2, games=GAMES, moves=0)
            for entry in data.games:
                for _ in range(MOVES_PER_GAME):
                    before = len(entry.acknowledged)
                    ctx.play(entry)
                    now = datetime.now(UTC)
                    acked += [
                        AckedMove(entry.game["id"], int(m["moveNumber"]), now)
                        for m in entry.acknowledged[before:]
                    ]
        game_ids = [entry.game["id"] for entry in data.games]
        target = datetime.now(UTC)
        time.sleep(AFTER_T_PAUSE_SECONDS)
        late = data.games[0]
        with rec.step("Play one more move after T (it must not come back)") as step:
            before = len(late.acknowledged)
            ctx.play(late)
            after_t = [(late.game["id"], int(m["moveNumber"])) for m in late.acknowledged[before:]]
            step.detail = f"T = {target.isoformat()}; later move(s) {[n for _g, n in after_t]}"

        with rec.step("The mistake: DELETE the drill's games directly in the database") as step:
            mistake_at = time.monotonic()
            deleted = asyncio.run(_execute(dsn, DELETE_GAMES, game_ids))
            step.detail = f"{deleted} games deleted (their moves cascade)"
        with rec.step("Detect: the API no longer finds the game"):
            detected = self._wait_gone(ctx, game_ids[0], ctx.recovery_timeout)
        rec.timing("time_to_detect_s", detected - mistake_at)

        with rec.step("Switch the WAL segment and wait until it is archived") as step:
            segment = asyncio.run(_execute(dsn, "SELECT pg_walfile_name(pg_switch_wal())"))
            waited = stack.wal_archive.wait_for(segment, ARCHIVE_TIMEOUT_SECONDS)
            step.detail = f"{segment} archived after {waited:.2f}s"
        rec.timing("wal_archive_wait_s", waited)

        scratch = ctx.work_dir / "scratch"
        restored: RestoreResult | None = None
        try:
            with rec.step("Restore base backup + archived WAL to T into a scratch cluster") as step:
                restored = restore_to_time(base_dir, stack.wal_archive.directory, scratch, target)
                step.detail = f"scratch server on port {restored.cluster.port}"
            rec.timing("time_to_recover_s", restored.seconds)
            with rec.step("Read the drill's games and moves from the scratch cluster"):
                moves, games = asyncio.run(_restored(restored.cluster.dsn, game_ids))
        finally:
            if restored is not None:
                restored.cluster.stop(mode="immediate")
            shutil.rmtree(scratch, ignore_errors=True)
        self._verify(rec, acked, after_t, moves, games, target)
        rec.check(
            "scratch cluster stopped and removed",
            not scratch.exists(),
            str(scratch),
        )
        rec.check(
            "the live cluster was not restarted",
            stack.pid("postgres") == live_pid and live_pid is not None,
            f"postmaster pid {live_pid}",
        )
        lost = len(moves_missing(acked, moves))
        gap = rec.result.timings.get("recovery_point_gap_s")
        rec.finding(
            f"{len(acked)} moves acknowledged, {lost} lost; recovery point gap "
            + (f"{gap:.3f}s" if gap is not None else "unknown")
            + f"; restore {restored.seconds:.2f}s"
        )
        rec.note(
            f"a dump taken when the base backup was would have lost all {len(acked)} "
            f"acknowledged moves; point-in-time recovery lost {lost}"
        )
        shutil.rmtree(base_dir, ignore_errors=True)

    def _verify(
        self,
        rec: Recorder,
        acked: list[AckedMove],
        after_t: list[tuple[str, int]],
        moves: list[RestoredMove],
        games: int,
        target: datetime,
    ) -> None:
        missing = moves_missing(acked, moves)
        rec.check(
            "every move acknowledged before T is present",
            bool(acked) and not missing,
            f"{len(acked)} acknowledged, {len(missing)} lost"
            + (f": {[(m.game_id[:8], m.move_number) for m in missing]}" if missing else ""),
        )
        present = {(m.game_id, m.move_number) for m in moves}
        leaked = [number for game, number in after_t if (game, number) in present]
        rec.check(
            "the move played after T is absent (recovery stopped at T)",
            bool(after_t) and not leaked,
            f"after-T move(s) present: {leaked}" if leaked else "absent",
        )
        rec.check(
            "the mistake is absent (the deleted games exist again)",
            games == GAMES,
            f"{games}/{GAMES} games restored",
        )
        acked_keys = {(m.game_id, m.move_number) for m in acked}
        newest = max(
            (m.created_at for m in moves if (m.game_id, m.move_number) in acked_keys), default=None
        )
        gap = (target - newest).total_seconds() if newest is not None else None
        if gap is not None:
            rec.timing("recovery_point_gap_s", gap)
        rec.check(
            f"recovery point gap under {MAX_GAP_SECONDS:.0f}s",
            gap is not None and 0 <= gap < MAX_GAP_SECONDS,
            f"T minus the newest restored move's created_at: {gap:.3f}s"
            if gap is not None
            else "no restored move",
        )

    @staticmethod
    def _wait_gone(ctx: DrillContext, game_id: str, timeout: float) -> float:
        """Poll the API until the deleted game answers 404; the monotonic time it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ctx.api.game(game_id)
            except ApiError as error:
                if error.response.status_code == 404:
                    return time.monotonic()
            time.sleep(0.05)
        raise TimeoutError(f"game {game_id} still served {timeout:.0f}s after it was deleted")
