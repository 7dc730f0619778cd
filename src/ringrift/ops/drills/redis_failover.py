"""Drill ``redis-failover``: kill -9 the Redis primary of a stack run with ``--redis-sentinel``.

Sentinel promotes the replica; the apps, which find the primary through Sentinel, must carry
on without a restart. Two observables say that Redis is really back in use, not just that
``/ready`` turned green:

* fan-out: a move submitted through one instance reaches a player's socket on another one;
* rate limits: the mover's ``moves`` counter on the (new) primary grows with each move, i.e.
  limits are shared through Redis again instead of counted per instance.

The drill probes with one move at a time from the kill until both work, so the gaps it reports
are accurate to about one probe (half a second). Then the old primary is restarted (it must
come back as a replica: Sentinel reconfigures it) and the drill fails back with ``SENTINEL
FAILOVER``, so later drills find the primary at the stack's ``redis`` service again, and
checks that both observables survive that planned switchover too.

On a stack without Sentinel the drill is skipped, not failed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

import redis

from ringrift.ops import redisha
from ringrift.ops.drills.alertgate import Alert
from ringrift.ops.drills.base import (
    Api,
    Drill,
    DrillContext,
    DrillSkipped,
    Recorder,
    SeededGame,
    User,
    register,
)
from ringrift.ops.drills.sockets import GameWatcher
from ringrift.ops.stack import HOST, Stack
from ringrift.server.ratelimit import KEY_PREFIX

PROMOTION_SECONDS = 15.0  # Sentinel: down-after 2 s, then election and promotion
RESUME_SECONDS = 10.0  # after the promotion, for fan-out and Redis rate limits
REJOIN_SECONDS = 45.0  # old primary back as an in-sync replica (Sentinel's INFO period: 10 s)
FAILBACK_SECONDS = 60.0
PROBE_WAIT = 0.5  # how long a probe move may take to reach the other instance's socket


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}s"


@dataclass
class Probe:
    """One move submitted through the first instance; times in seconds since the fault."""

    acknowledged_at: float
    fanned_out_at: float | None  # reached the socket on the other instance (within PROBE_WAIT)
    counted_at: float | None  # found counted by the rate limiter on the primary Sentinel names

    @property
    def fanned_out(self) -> bool:
        return self.fanned_out_at is not None

    @property
    def counted(self) -> bool:
        return self.counted_at is not None


class MoveCounter:
    """The rate limiter's ``moves`` counters of some users, read on the current primary."""

    def __init__(self, query: redisha.SentinelQuery, user_ids: list[str]) -> None:
        self.query = query
        self.patterns = [f"{KEY_PREFIX}moves:{user_id}:*" for user_id in user_ids]

    def total(self) -> int | None:
        """Sum of the counters, None while no primary answers."""
        try:
            port = self.query.primary_port()
        except redisha.RedisHaError:
            return None
        if port is None:
            return None
        primary = redisha.client(HOST, port)
        try:
            keys = [key for pattern in self.patterns for key in primary.scan_iter(match=pattern)]
            values = primary.mget(keys) if keys else []
        except redis.RedisError:
            return None
        finally:
            primary.close()
        return sum(int(value) for value in values if value is not None)


class PromotionClock:
    """Polls Sentinel in the background for the moment it names a new primary."""

    def __init__(self, query: redisha.SentinelQuery, old_port: int, started: float) -> None:
        self.query = query
        self.old_port = old_port
        self.started = started
        self.seconds: float | None = None
        self.new_port: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-promotion", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(redisha.RedisHaError):
                port = self.query.primary_port()
                if port is not None and port != self.old_port:
                    self.new_port = port
                    self.seconds = time.monotonic() - self.started
                    return
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


@register
class RedisFailover(Drill):
    name = "redis-failover"
    title = "Redis primary failover (Sentinel)"
    objective = (
        "With --redis-sentinel and two app instances, kill -9 the Redis primary during play: "
        "Sentinel promotes the replica within 15 s; cross-instance fan-out and Redis-backed "
        "rate limits resume through the new primary within 10 s of the promotion, without "
        "restarting an app and without losing an acknowledged move; the old primary rejoins "
        "as a replica; a SENTINEL FAILOVER puts the primary back on the redis service."
    )
    # Sentinel heals the fault within seconds, but the moves probed meanwhile fell back to
    # per-instance rate limits (ringrift_ratelimit_local_total), which the alert's rate()
    # branch sees after the fact: the drill waits for it before restarting the old primary.
    alerts = (Alert.REDIS_DOWN,)
    # The games probed so far (a new one when the last ended) and the two players of each.
    _games: list[SeededGame]
    _users: tuple[User, User]

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        stack = ctx.stack
        if not isinstance(stack, Stack) or not stack.redis_ha:
            raise DrillSkipped(
                "the target runs Redis without Sentinel; start the stack with "
                "--redis-sentinel (or --ha) to run this drill"
            )
        apps = stack.app_names
        if len(apps) < 2:
            raise DrillSkipped("fan-out needs two app instances; start the stack with --apps 2")
        first, second = ctx.app, next(name for name in apps if name != ctx.app)
        query = stack.sentinels()
        data_nodes = {stack.processes[n].port: n for n in ("redis", redisha.REPLICA)}
        old_port = query.primary_port()
        if old_port not in data_nodes:
            raise RuntimeError(f"Sentinel names port {old_port}, not a data node of the stack")
        old_primary = data_nodes[old_port]
        with rec.step("Seed two players and a game through the public API"):
            data = ctx.seed_data(users=2, games=1, moves=2)
        entry = data.games[0]
        counter = MoveCounter(query, [user.id for user in data.users])
        app_pids = {name: stack.pid(name) for name in apps}
        watcher = self._watch(stack.url(second), entry)
        self._games = [entry]
        self._users = (data.users[0], data.users[1])
        try:
            baseline = self._steady(ctx, watcher, counter)
            rec.check(
                f"baseline: a move on {first} reaches a socket on {second} and is counted in Redis",
                baseline[-1].fanned_out and baseline[-1].counted,
                f"after {len(baseline)} probe(s): {baseline[-1]}",
            )
            with rec.step(f"kill -9 the Redis primary ({old_primary}, port {old_port})"):
                stack.kill(old_primary)
                killed_at = time.monotonic()
            clock = PromotionClock(query, old_port, killed_at)
            try:
                with rec.step("Play one move at a time until fan-out and rate limits resume"):
                    probes = self._probe_until_resumed(ctx, watcher, counter, killed_at)
            finally:
                clock.close()
            self._report_outage(rec, clock, probes, old_primary, data_nodes)
            ctx.hold_until_firing(rec, self.alerts, killed_at)
            rec.check(
                "no app instance was restarted",
                all(stack.pid(name) == pid for name, pid in app_pids.items()),
                f"pids {app_pids}",
            )
            with rec.step(f"Restart {old_primary}; Sentinel turns it into a replica"):
                stack.start(old_primary)
                rejoin = self._wait_replica(old_port)
            rec.timing("old_primary_rejoin_s", rejoin)
            rec.check(
                f"{old_primary} rejoined as an in-sync replica within {REJOIN_SECONDS:.0f} s",
                rejoin <= REJOIN_SECONDS,
                f"after {rejoin:.2f}s",
            )
            rec.check(
                "Sentinel still names the promoted primary (no second primary)",
                query.primary_port() == clock.new_port,
                f"primary port {query.primary_port()}",
            )
            with rec.step("Fail back to the redis service (SENTINEL FAILOVER)"):
                started = time.monotonic()
                stack.restore_redis_primary(FAILBACK_SECONDS)
                failback = time.monotonic() - started
                after = self._probe_until_resumed(ctx, watcher, counter, started)
            rec.timing("failback_s", failback)
            resumed = self._first(after, "fanned_out_at"), self._first(after, "counted_at")
            rec.check(
                "after the failback, fan-out and Redis rate limits work on the redis service",
                query.primary_port() == stack.processes["redis"].port and None not in resumed,
                f"failback {failback:.2f}s, resumed after {resumed}",
            )
            lost = [m for game in self._games for m in self._lost_moves(stack.url(second), game)]
            acknowledged = sum(len(game.acknowledged) for game in self._games)
            rec.timing("moves_lost", float(len(lost)))
            rec.check(
                f"every acknowledged move is stored (read through {second})",
                not lost,
                f"{acknowledged} acknowledged in {len(self._games)} game(s), missing {lost}",
            )
        finally:
            watcher.close()

    # -- probes --------------------------------------------------------------------------

    @staticmethod
    def _watch(base_url: str, entry: SeededGame) -> GameWatcher:
        # Both players are in every game the drill plays, so one socket can follow them all.
        watcher = GameWatcher(base_url, entry.players[2].access_token, entry.game["id"])
        if watcher.wait_for(entry.game["version"], 5.0) is None:
            watcher.close()
            raise RuntimeError(f"the socket on {base_url} did not receive the game state")
        return watcher

    def _probe(
        self, ctx: DrillContext, watcher: GameWatcher, counter: MoveCounter, since: float
    ) -> Probe:
        entry = self._games[-1]
        if entry.game["status"] != "active":
            # Probing can outlast a game (a fault that never heals): carry on in a new one.
            entry = ctx.new_game(*self._users, seed=len(self._games))
            self._games.append(entry)
            watcher.follow(entry.game["id"])
        before = counter.total()
        game = ctx.play(entry)
        acknowledged_at = time.monotonic() - since
        arrived = watcher.wait_for(game["version"], PROBE_WAIT)
        after = counter.total()
        counted = before is not None and after is not None and after > before
        return Probe(
            round(acknowledged_at, 3),
            None if arrived is None else round(arrived - since, 3),
            round(time.monotonic() - since, 3) if counted else None,
        )

    def _steady(self, ctx: DrillContext, watcher: GameWatcher, counter: MoveCounter) -> list[Probe]:
        """Probe until one move both fans out and is counted in Redis (at most
        ``RESUME_SECONDS``). A drill run just before may have switched the primary back
        (``redis-outage`` fails back with SENTINEL FAILOVER): an app's first write after that
        meets the demoted node, counts that hit locally for its backoff, then uses the new
        primary. The fault is injected only from that steady state."""
        started = time.monotonic()
        probes = [self._probe(ctx, watcher, counter, started)]
        while not (probes[-1].fanned_out and probes[-1].counted):
            if time.monotonic() - started > RESUME_SECONDS:
                break
            time.sleep(0.2)
            probes.append(self._probe(ctx, watcher, counter, started))
        return probes

    def _probe_until_resumed(
        self, ctx: DrillContext, watcher: GameWatcher, counter: MoveCounter, since: float
    ) -> list[Probe]:
        probes: list[Probe] = []
        deadline = since + PROMOTION_SECONDS + RESUME_SECONDS
        while time.monotonic() < deadline:
            probes.append(self._probe(ctx, watcher, counter, since))
            if self._first(probes, "fanned_out_at") is not None and (
                self._first(probes, "counted_at") is not None
            ):
                break
            if not probes[-1].fanned_out:
                continue  # the probe already waited PROBE_WAIT
            time.sleep(0.1)
        return probes

    @staticmethod
    def _first(probes: list[Probe], what: str) -> float | None:
        """``what`` (a time) of the first probe of the unbroken run of successes up to now:
        an early lucky probe followed by failures does not count as resumed."""
        first: float | None = None
        for probe in probes:
            seen: float | None = getattr(probe, what)
            if seen is None:
                first = None
            elif first is None:
                first = seen
        return first

    def _report_outage(
        self,
        rec: Recorder,
        clock: PromotionClock,
        probes: list[Probe],
        old_primary: str,
        data_nodes: dict[int, str],
    ) -> None:
        promoted = clock.seconds
        fanout = self._first(probes, "fanned_out_at")
        ratelimit = self._first(probes, "counted_at")
        if promoted is not None:
            rec.timing("redis_promotion_s", promoted)
        if fanout is not None:
            rec.timing("fanout_gap_s", fanout)
        if ratelimit is not None:
            rec.timing("ratelimit_gap_s", ratelimit)
        rec.timing("probe_moves", float(len(probes)))
        new_primary = data_nodes.get(clock.new_port or 0, str(clock.new_port))
        rec.check(
            f"Sentinel promoted the replica within {PROMOTION_SECONDS:.0f} s",
            promoted is not None and promoted <= PROMOTION_SECONDS,
            f"{new_primary} after {_seconds(promoted)}",
        )
        bound = (promoted or PROMOTION_SECONDS) + RESUME_SECONDS
        rec.check(
            f"cross-instance fan-out resumed within {RESUME_SECONDS:.0f} s of the promotion",
            fanout is not None and fanout <= bound,
            f"gap {_seconds(fanout)} after the kill; probes {[p.fanned_out for p in probes]}",
        )
        rec.check(
            f"rate limits counted in Redis again within {RESUME_SECONDS:.0f} s of the promotion",
            ratelimit is not None and ratelimit <= bound,
            f"gap {_seconds(ratelimit)} after the kill; probes {[p.counted for p in probes]}",
        )
        rec.finding(
            f"{old_primary} killed: {new_primary} promoted after {_seconds(promoted)}; fan-out "
            f"back after {_seconds(fanout)}, Redis rate limits after {_seconds(ratelimit)}; "
            "no app restart"
        )

    @staticmethod
    def _wait_replica(port: int) -> float:
        started = time.monotonic()
        while time.monotonic() - started < REJOIN_SECONDS + 5:
            if redisha.replica_in_sync(HOST, port):
                break
            time.sleep(0.2)
        return time.monotonic() - started

    @staticmethod
    def _lost_moves(base_url: str, entry: SeededGame) -> list[int]:
        other = Api(base_url)
        try:
            stored = {m["moveNumber"] for m in other.moves(entry.game["id"])["moves"]}
        finally:
            other.close()
        return [m["moveNumber"] for m in entry.acknowledged if m["moveNumber"] not in stored]
