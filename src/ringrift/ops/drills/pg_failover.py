"""Drill ``pg-failover``: the primary PostgreSQL dies (kill -9 of the postmaster and all its
processes) while a client plays. The drill then plays the operator: it promotes the synchronous
standby (``pg_ctl promote``), lets the apps find it through their multi-host URL (no restart),
checks that every move acknowledged to the client is in the promoted database, and re-attaches
the old primary as the new standby (a fresh ``pg_basebackup``; see :mod:`ringrift.ops.pgcluster`).

The stack keeps the new roles afterwards: ``postgres`` names the promoted node and
``postgres-replica`` the re-attached one, so later drills act on the current primary. A stack
without a replica skips the drill.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

from ringrift.ops import pgcluster
from ringrift.ops.drills.alertgate import Alert
from ringrift.ops.drills.base import (
    Api,
    ApiError,
    Drill,
    DrillContext,
    DrillSkipped,
    Recorder,
    SeededGame,
    register,
)
from ringrift.ops.pgcluster import PRIMARY_SERVICE, REPLICA_SERVICE, SyncState
from ringrift.ops.services import ServiceError
from ringrift.ops.stack import Stack, StackError
from ringrift.rules import GameState, legal_moves

DETECT_SECONDS = 10.0
MOVES_BEFORE_KILL = 10
MOVES_AFTER_RECOVERY = 2
PLAY_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class Ack:
    """A move the app acknowledged (HTTP 200): every move number up to ``version`` is
    committed in game ``game_id``."""

    game_id: str
    version: int
    at: float


@dataclass
class Player:
    """A client that plays the seeded games in turn on its own thread until stopped, recording
    every acknowledgement and every refusal (the refused move is retried on a fresh copy of
    the game)."""

    base_url: str
    games: list[SeededGame]
    seed: int
    acks: list[Ack] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._play, name="pg-failover-player", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def acks_after(self, moment: float) -> list[Ack]:
        return [ack for ack in list(self.acks) if ack.at > moment]

    def wait_for_acks(self, count: int, after: float, timeout: float) -> list[Ack]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.acks_after(after)
            if len(seen) >= count:
                return seen
            time.sleep(0.02)
        return self.acks_after(after)

    def _play(self) -> None:
        api = Api(self.base_url, timeout=15.0)
        rng = random.Random(self.seed)
        stale: set[str] = set()
        turn = 0
        try:
            while not self._stop.is_set():
                active = [g for g in self.games if g.game["status"] == "active"]
                if not active:
                    return
                entry = active[turn % len(active)]
                turn += 1
                game_id = str(entry.game["id"])
                try:
                    if game_id in stale:
                        entry.game = api.game(game_id)
                        stale.discard(game_id)
                    state = GameState.from_json(entry.game["state"])
                    move = rng.choice(legal_moves(state)).to_json()
                    response = api.move(entry.players[state.current_player], entry.game, move)
                    if response.status_code == 200:
                        entry.game = response.json()["data"]["game"]
                        self.acks.append(Ack(game_id, int(entry.game["version"]), time.monotonic()))
                    else:
                        self.refusals.append(f"HTTP {response.status_code}")
                        stale.add(game_id)
                except (httpx.HTTPError, ApiError, ValueError, KeyError) as error:
                    self.refusals.append(type(error).__name__)
                    stale.add(game_id)
                    self._stop.wait(0.1)
                self._stop.wait(PLAY_PAUSE_SECONDS)
        finally:
            api.close()


def committed_moves(stack: Stack, game_ids: list[str]) -> dict[str, set[int]]:
    """Move numbers per game, read straight from the primary's ``moves`` table."""
    ids = ", ".join(f"'{uuid.UUID(game_id)}'" for game_id in game_ids)
    output = stack.postgres.psql(
        f"SELECT game_id, move_number FROM moves WHERE game_id IN ({ids})",
        database=stack.postgres.database,
    )
    found: dict[str, set[int]] = {game_id: set() for game_id in game_ids}
    for line in output.splitlines():
        game_id, number = line.split("|")
        found.setdefault(game_id, set()).add(int(number))
    return found


def _error_code(response: httpx.Response | None) -> str:
    if response is None:
        return ""
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "(no error envelope)"


@register
class PgFailover(Drill):
    name = "pg-failover"
    title = "PostgreSQL primary failover"
    objective = (
        "kill -9 the primary PostgreSQL while a client plays; promote the synchronous standby "
        "(pg_ctl promote); the apps reach it without a restart; no acknowledged move is lost; "
        "the old primary is re-attached as the new standby and streams synchronously."
    )
    # The write outage lasts a second or two, shorter than a scrape: /ready may never be
    # probed while it lasts. What Prometheus does see is ringrift_db_unavailable_total, which
    # the requests refused meanwhile raised; the alert's rate() branch fires on that after
    # the promotion. So the drill does not hold the dead primary (that would only lengthen
    # the outage it measures): it waits for the alert once writes are back.
    alerts = (Alert.DATABASE_UNAVAILABLE,)

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        stack = ctx.stack
        if not isinstance(stack, Stack) or stack.replica is None:
            raise DrillSkipped(
                "the target has no PostgreSQL replica to promote "
                "(a local stack started with --pg-replica or --ha)"
            )
        try:
            self._fail_over(ctx, rec, stack)
        finally:
            _leave_a_standby(stack, rec)

    def _fail_over(self, ctx: DrillContext, rec: Recorder, stack: Stack) -> None:
        assert stack.replica is not None
        with rec.step("Seed users and games with moves through the public API"):
            data = ctx.seed_data(users=4, games=2, moves=4)
        app_pid = stack.pid(ctx.app)
        standby = pgcluster.node_name(stack.replica.run_dir)
        rows = {row.name: row for row in pgcluster.standbys(stack.postgres)}
        rec.check(
            "the replica streams as the synchronous standby",
            standby in rows and rows[standby].sync_state == SyncState.SYNC,
            f"pg_stat_replication: {list(rows.values())}",
        )
        seeded = [Ack(str(g.game["id"]), int(g.game["version"]), 0.0) for g in data.games]
        player = Player(stack.url(ctx.app), data.games, ctx.seed)
        try:
            started = time.monotonic()
            player.start()
            with rec.step(f"A client plays (waiting for {MOVES_BEFORE_KILL} moves)"):
                player.wait_for_acks(MOVES_BEFORE_KILL, started, ctx.recovery_timeout)
            old_primary = stack.pid(PRIMARY_SERVICE)
            if old_primary is None:
                raise RuntimeError("the primary PostgreSQL is not running")
            with rec.step("kill -9 the primary PostgreSQL (postmaster and every backend)"):
                killed_at = time.monotonic()
                killed = pgcluster.crash(old_primary)
            before_kill = [a for a in player.acks if a.at < killed_at]
            rec.note(f"killed {len(killed)} server processes; {len(before_kill)} moves acked")

            response, _waited = ctx.wait_ready(
                lambda r: r.status_code == 503 and r.json()["status"] == "unhealthy",
                DETECT_SECONDS,
            )
            detect_s = time.monotonic() - killed_at
            rec.timing("time_to_detect_s", detect_s)
            rec.check(
                "the app reports the database down (/ready 503)",
                response is not None,
                f"after {detect_s:.2f}s" if response else f"not within {DETECT_SECONDS:.0f}s",
            )

            # What a player meets meanwhile: a request that needs the database is refused at
            # once with a code. It is also all that Prometheus sees of an outage shorter than
            # a scrape (ringrift_db_unavailable_total, the alert's rate() branch): without it
            # the alert depended on the playing client happening to hit the gap.
            game_path = f"/api/games/{data.games[0].game['id']}"
            refused, seconds, error = ctx.api.timed("GET", game_path)
            code = _error_code(refused)
            rec.check(
                "a request needing the database is answered 503 SERVER_DATABASE_UNAVAILABLE",
                refused is not None
                and refused.status_code == 503
                and code == "SERVER_DATABASE_UNAVAILABLE",
                f"HTTP {refused.status_code if refused is not None else error} {code} "
                f"in {seconds * 1000:.0f} ms",
            )

            with rec.step("Operator: pg_ctl promote the standby, then drop synchronous mode"):
                promote_started = time.monotonic()
                pgcluster.promote(stack.replica)
                # The promoted node has no standby until the old primary is re-attached; with
                # synchronous_standby_names still set its commits would wait until then.
                pgcluster.set_synchronous_standbys(stack.replica, [])
                stack.swap_pg_roles()
                rec.timing("promote_s", time.monotonic() - promote_started)

            after = player.wait_for_acks(
                MOVES_AFTER_RECOVERY, killed_at, ctx.recovery_timeout + DETECT_SECONDS
            )
            recovered = bool(after)
            unavailable = (after[0].at - killed_at) if after else time.monotonic() - killed_at
            rec.timing("write_unavailability_s", unavailable)
            rec.check(
                f"moves are acknowledged again within {ctx.recovery_timeout:.0f}s of promotion",
                recovered,
                f"first move acknowledged {unavailable:.2f}s after the kill; "
                f"{len(player.refusals)} attempts refused meanwhile",
            )
        finally:
            player.stop()
        ctx.hold_until_firing(rec, self.alerts, killed_at)

        with rec.step("Compare acknowledged moves with the promoted database"):
            acked: dict[str, int] = {}
            for ack in [*seeded, *player.acks]:
                acked[ack.game_id] = max(acked.get(ack.game_id, 0), ack.version)
            present = committed_moves(stack, list(acked))
            lost = sum(
                len(set(range(1, version + 1)) - present[game_id])
                for game_id, version in acked.items()
            )
            lost_before_kill = sum(
                len(set(range(1, a.version + 1)) - present[a.game_id]) for a in before_kill
            )
        rec.timing("moves_lost", float(lost))
        rec.check(
            "every acknowledged move is in the promoted database (moves lost = 0)",
            lost == 0 and lost_before_kill == 0,
            f"{sum(acked.values())} acknowledged move numbers in {len(acked)} games "
            f"({len(before_kill)} acks before the kill), {lost} missing",
        )
        rec.check(
            "the app was not restarted",
            stack.pid(ctx.app) == app_pid,
            f"pid {stack.pid(ctx.app)} (was {app_pid})",
        )

        with rec.step("Re-attach the old primary as the standby (fresh pg_basebackup)"):
            reattach_started = time.monotonic()
            stack.reattach_replica()
            rec.timing("time_to_reattach_s", time.monotonic() - reattach_started)
        replica = stack.replica
        node = pgcluster.node_name(replica.run_dir) if replica else ""
        rows = {row.name: row for row in pgcluster.standbys(stack.postgres)}
        rec.check(
            "the old primary streams from the new one as synchronous standby",
            node in rows and rows[node].state == "streaming" and rows[node].sync_state == "sync",
            f"pg_stat_replication on {PRIMARY_SERVICE}: {list(rows.values())}",
        )
        with rec.step("Play a move with synchronous replication restored"):
            entry = next((g for g in data.games if g.game["status"] == "active"), None)
            before = entry.game["version"] if entry else 0
            if entry is not None:
                ctx.play(entry)
        rec.check(
            "gameplay continues on the new primary",
            entry is None or entry.game["version"] > before,
            f"version {before} -> {entry.game['version'] if entry else '(games over)'}",
        )
        rec.finding(
            f"write unavailability {rec.result.timings['write_unavailability_s']:.2f}s "
            f"(detect {rec.result.timings['time_to_detect_s']:.2f}s, promote "
            f"{rec.result.timings['promote_s']:.2f}s), moves lost {lost}, re-attach "
            f"{rec.result.timings['time_to_reattach_s']:.2f}s; {REPLICA_SERVICE} is now "
            f"the node that was the primary"
        )


def _leave_a_standby(stack: Stack, rec: Recorder) -> None:
    """When the drill failed between the promotion and the re-attach, the old primary lies
    stopped in the standby's place; the runner will not start it (it would be a second
    primary), so re-attach it here and leave the stack as later drills expect it."""
    replica = stack.replica
    if replica is None or stack.is_running(REPLICA_SERVICE):
        return
    if not stack.is_running(PRIMARY_SERVICE) or (replica.data_dir / "standby.signal").exists():
        return  # nothing was promoted, or a plain standby the runner restarts
    try:
        stack.reattach_replica()
        rec.note("re-attached the old primary after the failure above")
    except (StackError, ServiceError) as error:
        rec.note(
            f"could not re-attach the old primary ({error}); run `ringrift stack reattach-replica`"
        )
