"""Presence per seat: which seats of a Fischer game have at least one socket joined, across
instances, and when a seat's last socket went away.

* **Local knowledge**: every instance knows its own sockets (``Hub.subscribe`` and
  ``unsubscribe`` call :meth:`Presence.up` / :meth:`Presence.down` for seated subscriptions of
  tracked games). Changes are queued and applied in order by one worker task; a ``down`` and
  ``up`` of the same socket queued together (a re-join) cancel out.
* **Across instances (Redis)**: one sorted set per game, ``ringrift:presence:{game}``, member
  ``"{seat}|{instance}|{socket}"``, score = when the entry expires (epoch ms). Each instance
  re-adds its entries every ``presence_heartbeat_seconds``; an entry lives three heartbeats, so
  the sockets of a crashed instance vanish by themselves. ``ringrift:presence:games`` lists the
  games with entries, for the reconciling sweep.
* **The durable mark**: ``game_seats.away_since`` (NULL while connected). It changes only by
  conditional UPDATEs (``... WHERE away_since IS NULL`` / ``IS NOT NULL``), so of several
  instances noticing the same change exactly one publishes the ``presence`` event.
* **Redis down** (configured but unreachable, or back for less than one entry lifetime): each
  instance knows only its own sockets. It still marks a seat away when its own last socket of
  that seat closes and re-asserts its own connected seats at every sweep (other instances' seats
  may flicker offline meanwhile), but it never marks a seat away for lack of entries, and
  claims and the abandonment sweep are refused (``has_full_knowledge`` is False): nobody wins
  on incomplete knowledge. Without ``REDIS_URL`` (one instance) local knowledge is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ringrift.server.clocks import TimeControl, TimeControlError, TimeControlKind
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, GameSeat, utcnow
from ringrift.server.domain import GameStatus
from ringrift.server.events import PresenceEvent, now_ms
from ringrift.server.redis import RedisUnavailable

log = logging.getLogger(__name__)

KEY_PREFIX = "ringrift:presence:"
GAMES_KEY = "ringrift:presence:games"
ENTRY_LIFETIME_HEARTBEATS = 3
MAX_GAMES_PER_SWEEP = 2000


def game_key(game_id: str) -> str:
    return f"{KEY_PREFIX}{game_id}"


def tracked(time_control: Any) -> bool:
    """Presence (and abandonment) applies to games with a Fischer clock only: correspondence
    games have days per move as their grace, untimed games have nothing to protect."""
    try:
        return TimeControl.from_json(time_control).kind is TimeControlKind.FISCHER
    except TimeControlError:
        return False


def ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def absent_from(away_since: datetime | None, started_at: datetime | None) -> int | None:
    """When an away seat's absence counts from (epoch ms): it cannot start before the game."""
    away = ms(away_since)
    if away is None:
        return None
    start = ms(started_at)
    return max(away, start) if start is not None else away


@dataclass(frozen=True)
class SeatPresence:
    seat: int
    online: bool
    since: int | None
    claimable_at: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "seat": self.seat,
            "online": self.online,
            "since": self.since,
            "claimableAt": self.claimable_at,
        }


def seat_presence(game: Game, seat: GameSeat, grace_seconds: float) -> SeatPresence | None:
    """What clients are told about a seat (from the durable mark); None when not tracked."""
    if seat.is_ai or not tracked(game.time_control):
        return None
    if seat.away_since is None:
        return SeatPresence(seat.seat, True, None, None)
    start = absent_from(seat.away_since, game.started_at)
    claimable = None
    if game.status == GameStatus.ACTIVE.value and start is not None:
        claimable = start + int(grace_seconds * 1000)
    return SeatPresence(seat.seat, False, ms(seat.away_since), claimable)


def presence_json(game: Game, seats: list[GameSeat]) -> list[dict[str, Any]] | None:
    """The game JSON's ``presence``: ``{seat, online, since}`` per human seat of a Fischer
    game (``since`` = when it went away), None for other games."""
    if not tracked(game.time_control):
        return None
    return [
        {"seat": s.seat, "online": s.away_since is None, "since": ms(s.away_since)}
        for s in sorted(seats, key=lambda seat: seat.seat)
        if not s.is_ai
    ]


class Presence:
    """This instance's view of seat presence, and the worker that keeps Redis and the database
    in step with it."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.instance = ctx.bus.instance_id
        self.local: dict[tuple[str, int], set[int]] = {}
        self._ops: list[tuple[bool, str, int, int]] = []
        self._wake = asyncio.Event()
        self._redis_up_since: float | None = time.monotonic()
        self._beat = asyncio.Event()  # re-announce now (Redis came back)
        # Held while ``local`` and its Redis entries change together, so a heartbeat never
        # re-adds the entry of a socket that closed while the heartbeat was being written.
        self._entries = asyncio.Lock()
        ctx.redis.on_change(self._on_redis_change)

    # -- settings ------------------------------------------------------------------------

    @property
    def grace_ms(self) -> int:
        return int(self.ctx.settings.presence_grace_seconds * 1000)

    @property
    def lifetime_ms(self) -> int:
        heartbeat = self.ctx.settings.presence_heartbeat_seconds
        return int(heartbeat * ENTRY_LIFETIME_HEARTBEATS * 1000)

    def _on_redis_change(self, healthy: bool) -> None:
        self._redis_up_since = time.monotonic() if healthy else None
        if healthy:
            self._beat.set()  # re-announce our sockets at once

    @property
    def has_full_knowledge(self) -> bool:
        """True when "no entry" means "no socket anywhere": Redis is not configured (one
        instance), or it has been reachable for at least one entry lifetime."""
        redis = self.ctx.redis
        if not redis.enabled:
            return True
        if not redis.healthy or self._redis_up_since is None:
            return False
        return time.monotonic() - self._redis_up_since >= self.lifetime_ms / 1000

    # -- local sockets -------------------------------------------------------------------

    def up(self, game_id: str, seat: int, conn_id: int) -> None:
        self._ops.append((True, game_id, seat, conn_id))
        self._wake.set()

    def down(self, game_id: str, seat: int, conn_id: int) -> None:
        self._ops.append((False, game_id, seat, conn_id))
        self._wake.set()

    def online_locally(self, game_id: str, seat: int) -> bool:
        return bool(self.local.get((game_id, seat)))

    def _member(self, seat: int, conn_id: int) -> str:
        return f"{seat}|{self.instance}|{conn_id}"

    async def _apply_ops(self) -> None:
        async with self._entries:
            before, changed = await self._apply_entries()
        for key in changed:
            now_online = bool(self.local.get(key))
            was_online = before.get(key, False)
            game_id, seat = key
            if now_online and not was_online:
                await self.mark_online(game_id, seat)
            elif was_online and not now_online and not await self._live_elsewhere(game_id, seat):
                await self.mark_away(game_id, seat)

    async def _apply_entries(self) -> tuple[dict[tuple[str, int], bool], set[tuple[str, int]]]:
        """Apply the queued socket changes to ``local`` and Redis; what was online before, and
        which seats changed."""
        ops, self._ops = self._ops, []
        before = {key: bool(conns) for key, conns in self.local.items()}
        changed: set[tuple[str, int]] = set()
        added: dict[tuple[str, int], set[int]] = {}
        removed: dict[tuple[str, int], set[int]] = {}
        for is_up, game_id, seat, conn_id in ops:
            key = (game_id, seat)
            conns = self.local.setdefault(key, set())
            if is_up:
                conns.add(conn_id)
                added.setdefault(key, set()).add(conn_id)
                removed.get(key, set()).discard(conn_id)
            else:
                conns.discard(conn_id)
                removed.setdefault(key, set()).add(conn_id)
                added.get(key, set()).discard(conn_id)
            changed.add(key)
        for key in changed:
            if not self.local.get(key):
                self.local.pop(key, None)
        await self._write_entries(added, removed)
        return before, changed

    async def _write_entries(
        self, added: dict[tuple[str, int], set[int]], removed: dict[tuple[str, int], set[int]]
    ) -> None:
        if not self.ctx.redis.enabled or not (added or removed):
            return
        expires = now_ms() + self.lifetime_ms

        async def write(client: Any) -> None:
            async with client.pipeline(transaction=False) as pipe:
                for (game_id, seat), conns in added.items():
                    for conn_id in conns:
                        pipe.zadd(game_key(game_id), {self._member(seat, conn_id): expires})
                    pipe.pexpire(game_key(game_id), self.lifetime_ms * 2)
                    pipe.sadd(GAMES_KEY, game_id)
                for (game_id, seat), conns in removed.items():
                    for conn_id in conns:
                        pipe.zrem(game_key(game_id), self._member(seat, conn_id))
                await pipe.execute()

        with contextlib.suppress(RedisUnavailable):
            await self.ctx.redis.call(write)

    async def live_seats(self, game_ids: list[str]) -> dict[str, set[int]] | None:
        """Seats with a live entry (any instance) per game, plus this instance's own sockets;
        None when Redis is configured but cannot be read."""
        live: dict[str, set[int]] = {g: set() for g in game_ids}
        for game_id, seat in self.local:
            if game_id in live:
                live[game_id].add(seat)
        if not self.ctx.redis.enabled or not game_ids:
            return live
        now = now_ms()

        async def read(client: Any) -> list[Any]:
            async with client.pipeline(transaction=False) as pipe:
                for game_id in game_ids:
                    pipe.zremrangebyscore(game_key(game_id), "-inf", now)
                    pipe.zrange(game_key(game_id), 0, -1)
                result: list[Any] = await pipe.execute()
                return result

        try:
            replies = await self.ctx.redis.call(read)
        except RedisUnavailable:
            return None
        for index, game_id in enumerate(game_ids):
            for member in replies[index * 2 + 1] or []:
                seat_text = str(member).split("|", 1)[0]
                if seat_text.isdigit():
                    live[game_id].add(int(seat_text))
        return live

    async def _live_elsewhere(self, game_id: str, seat: int) -> bool:
        live = await self.live_seats([game_id])
        return live is not None and seat in live[game_id]

    async def seat_is_live(self, game_id: str, seat: int) -> bool | None:
        """Whether ``seat`` has a socket anywhere; None when that cannot be known now."""
        if not self.has_full_knowledge:
            return None
        live = await self.live_seats([game_id])
        return None if live is None else seat in live[game_id]

    # -- the durable mark ----------------------------------------------------------------

    async def mark_online(self, game_id: str, seat: int) -> bool:
        async with self.ctx.db.session() as session:
            result = await session.execute(
                update(GameSeat)
                .where(
                    GameSeat.game_id == game_id,
                    GameSeat.seat == seat,
                    GameSeat.away_since.is_not(None),
                )
                .values(away_since=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        self.ctx.bus.publish(PresenceEvent(game_id, seat, True, now_ms(), None).to_json())
        return True

    async def mark_away(self, game_id: str, seat: int, at: datetime | None = None) -> bool:
        at = at or utcnow()
        async with self.ctx.db.session() as session:
            result = await session.execute(
                update(GameSeat)
                .where(
                    GameSeat.game_id == game_id,
                    GameSeat.seat == seat,
                    GameSeat.is_ai.is_(False),
                    GameSeat.away_since.is_(None),
                )
                .values(away_since=at)
                .execution_options(synchronize_session=False)
            )
            game = await session.get(Game, game_id) if result.rowcount == 1 else None  # type: ignore[attr-defined]
            await session.commit()
        if game is None:
            return False
        claimable = None
        start = absent_from(at, game.started_at)
        if game.status == GameStatus.ACTIVE.value and start is not None:
            claimable = start + self.grace_ms
        event = PresenceEvent(game_id, seat, False, ms(at) or now_ms(), claimable)
        self.ctx.bus.publish(event.to_json())
        return True

    # -- heartbeat and reconciliation ----------------------------------------------------

    async def heartbeat(self) -> None:
        """Re-announce this instance's sockets (their entries would expire otherwise)."""
        if not self.ctx.redis.enabled:
            return
        async with self._entries:
            await self._announce()

    async def _announce(self) -> None:
        if not self.local:
            return
        expires = now_ms() + self.lifetime_ms
        entries = [(g, s, c) for (g, s), conns in self.local.items() for c in conns]

        async def write(client: Any) -> None:
            async with client.pipeline(transaction=False) as pipe:
                games = set()
                for game_id, seat, conn_id in entries:
                    pipe.zadd(game_key(game_id), {self._member(seat, conn_id): expires})
                    games.add(game_id)
                for game_id in games:
                    pipe.pexpire(game_key(game_id), self.lifetime_ms * 2)
                pipe.sadd(GAMES_KEY, *games)
                await pipe.execute()

        with contextlib.suppress(RedisUnavailable):
            await self.ctx.redis.call(write, timeout=max(self.ctx.redis.timeout, 1.0))

    async def _games_to_check(self, everything: bool) -> list[str]:
        games = {g for g, _ in self.local}
        if self.ctx.redis.enabled:
            with contextlib.suppress(RedisUnavailable):
                members = await self.ctx.redis.call(
                    lambda client: client.srandmember(GAMES_KEY, MAX_GAMES_PER_SWEEP),
                    name="SRANDMEMBER",
                )
                games.update(str(m) for m in members or [])
        async with self.ctx.db.session() as session:
            rows = await session.scalars(
                select(GameSeat.game_id)
                .join(Game, Game.id == GameSeat.game_id)
                .where(Game.status == GameStatus.ACTIVE.value, GameSeat.away_since.is_not(None))
                .limit(MAX_GAMES_PER_SWEEP)
            )
            games.update(rows.all())
            if everything:
                # Start-up: seats marked online by an earlier run of a lone instance (no Redis
                # entries to expire) are found here.
                rows = await session.scalars(
                    select(Game.id)
                    .where(Game.status == GameStatus.ACTIVE.value)
                    .order_by(Game.updated_at.desc())
                    .limit(MAX_GAMES_PER_SWEEP)
                )
                games.update(rows.all())
        return sorted(games)

    async def reconcile(self, *, everything: bool = False) -> None:
        """Bring ``away_since`` in line with the sockets: seats with a socket somewhere are
        online; with full knowledge, seats of active games with none are away. Games that are
        no longer active leave the Redis list."""
        game_ids = await self._games_to_check(everything)
        if not game_ids:
            return
        full = self.has_full_knowledge
        live = await self.live_seats(game_ids) if full else None
        async with self.ctx.db.session() as session:
            rows = (
                await session.execute(
                    select(Game.id, Game.status, Game.time_control, GameSeat.seat)
                    .join(GameSeat, GameSeat.game_id == Game.id)
                    .where(Game.id.in_(game_ids), GameSeat.is_ai.is_(False))
                    .add_columns(GameSeat.away_since)
                )
            ).all()
        finished: set[str] = set(game_ids)
        for game_id, status, time_control, seat, away_since in rows:
            if status != GameStatus.ACTIVE.value or not tracked(time_control):
                continue
            finished.discard(game_id)
            if self.online_locally(game_id, seat) or (live is not None and seat in live[game_id]):
                if away_since is not None:
                    await self.mark_online(game_id, seat)
            elif live is not None and away_since is None:
                await self.mark_away(game_id, seat)
        stale = [g for g in finished if not any(key[0] == g for key in self.local)]
        if stale and self.ctx.redis.enabled:
            with contextlib.suppress(RedisUnavailable):
                await self.ctx.redis.call(
                    lambda client: client.srem(GAMES_KEY, *stale), name="SREM"
                )

    async def run(self) -> None:
        """The worker: applies socket changes as they come and reconciles; the heartbeat runs
        beside it (:meth:`run_heartbeat`)."""
        beating = asyncio.create_task(self.run_heartbeat(), name="presence-heartbeat")
        try:
            await self._run_marks()
        finally:
            beating.cancel()
            await asyncio.wait([beating], timeout=2.0)

    async def run_heartbeat(self) -> None:
        """Re-announce this instance's sockets every heartbeat, in a task of its own: the
        worker waits on the database (marks, sweeps), and a slow database must not let live
        entries expire, or other instances would take connected seats for absent ones."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._beat.wait(), self.ctx.settings.presence_heartbeat_seconds
                )
            self._beat.clear()
            try:
                await self.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("presence heartbeat failed; retrying", exc_info=True)

    async def _run_marks(self) -> None:
        settings = self.ctx.settings
        last_sweep = 0.0
        first = True
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), settings.presence_sweep_seconds)
            self._wake.clear()
            timeout = settings.presence_sweep_seconds
            try:
                if self._ops:
                    await self._apply_ops()
                clock = time.monotonic()
                if clock - last_sweep >= settings.presence_sweep_seconds:
                    last_sweep = clock
                    await self.reconcile(everything=first and not self.ctx.redis.enabled)
                    first = False
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("presence work failed; retrying", exc_info=True)
                await asyncio.sleep(min(1.0, timeout))

    async def forget_local(self) -> None:
        """Shutdown: remove this instance's entries so other instances see the sockets go at
        once rather than when they expire."""
        if not self.ctx.redis.enabled or not self.local:
            return
        entries = [(g, s, c) for (g, s), conns in self.local.items() for c in conns]

        async def write(client: Any) -> None:
            async with client.pipeline(transaction=False) as pipe:
                for game_id, seat, conn_id in entries:
                    pipe.zrem(game_key(game_id), self._member(seat, conn_id))
                await pipe.execute()

        with contextlib.suppress(RedisUnavailable):
            await self.ctx.redis.call(write)
