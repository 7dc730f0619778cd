"""Matchmaking: players wait in pools (board, player count, time control, rated) and are paired
by rating within a window that widens the longer they wait.

The queue is the ``matchmaking_entries`` table, so every instance sees the same queue and an
instance that dies leaves nothing behind that the others cannot clean up:

* joining pairs at once when a fit is waiting (on the joining instance);
* a sweep on every instance (``run_sweeper``) widens windows by pairing again, drops entries
  whose owner stopped polling (``heartbeat``), and releases claims of an instance that died
  between claiming players and creating their game;
* pairing claims the chosen entries with one conditional UPDATE (``claim IS NULL``): when two
  instances pick overlapping players, exactly one claim succeeds and the other rolls back.

A waiting player polls ``status`` (optionally long-polling up to ``MAX_WAIT_SECONDS``); the poll
is the heartbeat, and its answer carries the game id once a match is made.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from ringrift.rules import BOARD_TYPES
from ringrift.server.clocks import PRESETS
from ringrift.server.context import AppContext
from ringrift.server.db.models import MatchmakingEntry, User, utcnow
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import games as game_service

log = logging.getLogger("ringrift.matchmaking")

MAX_WAIT_SECONDS = 25.0
POLL_SECONDS = 0.25
CLAIMED_WAIT_SECONDS = 5.0  # join: wait this long for a game another pairing is creating
CLAIM_TIMEOUT = timedelta(seconds=30)  # a claim older than this lost its instance
MATCH_KEPT = timedelta(minutes=10)  # a matched entry answers status this long


@dataclass(frozen=True, slots=True)
class Pool:
    board_type: str
    max_players: int
    time_control: str
    rated: bool

    def check(self) -> None:
        if self.board_type not in BOARD_TYPES:
            raise ApiError(ErrorCode.VALIDATION_FAILED, f"unknown board type {self.board_type!r}")
        if not 2 <= self.max_players <= 4:
            raise ApiError(ErrorCode.VALIDATION_FAILED, "maxPlayers must be 2, 3 or 4")
        if self.time_control not in PRESETS:
            raise ApiError(
                ErrorCode.VALIDATION_FAILED,
                f"timeControl must be one of the presets: {', '.join(PRESETS)}",
            )


@dataclass(frozen=True, slots=True)
class Candidate:
    """What pairing needs of a waiting entry."""

    entry_id: str
    user_id: str
    rating: float
    waited_s: float


@dataclass(frozen=True, slots=True)
class Window:
    base: float
    growth: float
    maximum: float

    def of(self, candidate: Candidate) -> float:
        """How far from its own rating ``candidate`` accepts an opponent now."""
        return min(self.maximum, self.base + self.growth * candidate.waited_s)

    def fits(self, a: Candidate, b: Candidate) -> bool:
        """Both accept each other: the gap is within the narrower of the two windows."""
        return abs(a.rating - b.rating) <= min(self.of(a), self.of(b))


def pick_group(candidates: Sequence[Candidate], size: int, window: Window) -> list[Candidate]:
    """The first group of ``size`` players who all accept each other, found from the longest
    waiting player outwards (closest ratings first); ``[]`` when there is none."""
    ordered = sorted(candidates, key=lambda c: (-c.waited_s, c.entry_id))
    for anchor in ordered:
        others = sorted(
            (c for c in ordered if c is not anchor and window.fits(anchor, c)),
            key=lambda c: (abs(c.rating - anchor.rating), -c.waited_s),
        )
        group = [anchor]
        for c in others:
            if all(window.fits(c, g) for g in group):
                group.append(c)
                if len(group) == size:
                    return group
    return []


@dataclass(frozen=True, slots=True)
class Ticket:
    """A player's place in the queue as the API shows it."""

    pool: Pool
    rating: float
    waiting_since: datetime
    game_id: str | None
    window: float

    def to_json(self) -> dict[str, Any]:
        return {
            "boardType": self.pool.board_type,
            "maxPlayers": self.pool.max_players,
            "timeControl": self.pool.time_control,
            "rated": self.pool.rated,
            "rating": round(self.rating, 2),
            "waitingSince": self.waiting_since.isoformat(),
            "status": "matched" if self.game_id else "waiting",
            "gameId": self.game_id,
            "ratingWindow": round(self.window, 1),
        }


def _window(ctx: AppContext) -> Window:
    s = ctx.settings
    return Window(s.matchmaking_window_base, s.matchmaking_window_growth, s.matchmaking_window_max)


def _pool_of(entry: MatchmakingEntry) -> Pool:
    return Pool(entry.board_type, entry.max_players, entry.time_control, entry.is_rated)


def _ticket(ctx: AppContext, entry: MatchmakingEntry, now: datetime) -> Ticket:
    waited = max(0.0, (now - entry.created_at).total_seconds())
    candidate = Candidate(entry.id, entry.user_id, entry.rating, waited)
    return Ticket(
        _pool_of(entry), entry.rating, entry.created_at, entry.game_id, _window(ctx).of(candidate)
    )


async def join(ctx: AppContext, user: User, pool: Pool) -> Ticket:
    """Queue ``user`` in ``pool`` (replacing a previous wait) and pair at once if possible."""
    pool.check()
    now = utcnow()
    async with ctx.db.session() as session:
        current = await session.scalar(
            select(MatchmakingEntry).where(MatchmakingEntry.user_id == user.id)
        )
        if current is not None and current.claim is not None and current.game_id is None:
            raise ApiError(
                ErrorCode.MATCHMAKING_ALREADY_MATCHED,
                "An opponent was just found; the game is being created",
            )
        if current is not None:
            await session.delete(current)
            await session.flush()
        session.add(
            MatchmakingEntry(
                user_id=user.id,
                board_type=pool.board_type,
                max_players=pool.max_players,
                time_control=pool.time_control,
                is_rated=pool.rated,
                rating=user.rating,
                created_at=now,
                heartbeat_at=now,
            )
        )
        await session.commit()
    await pair_pool(ctx, pool)
    ticket = await _read(ctx, user.id, heartbeat=False)
    # A sweep (of this or another instance) may have claimed this player a moment before our
    # own pairing could: the game exists in a moment, so answer `matched` rather than
    # `waiting` for a player who was in fact paired.
    deadline = time.monotonic() + CLAIMED_WAIT_SECONDS
    while ticket is not None and ticket.game_id is None and time.monotonic() < deadline:
        if not await _claimed(ctx, user.id):
            break
        await asyncio.sleep(POLL_SECONDS / 5)
        ticket = await _read(ctx, user.id, heartbeat=False)
    assert ticket is not None
    return ticket


async def _claimed(ctx: AppContext, user_id: str) -> bool:
    async with ctx.db.session() as session:
        claim = await session.scalar(
            select(MatchmakingEntry.claim).where(MatchmakingEntry.user_id == user_id)
        )
    return claim is not None


async def _read(ctx: AppContext, user_id: str, *, heartbeat: bool) -> Ticket | None:
    now = utcnow()
    async with ctx.db.session() as session:
        entry = await session.scalar(
            select(MatchmakingEntry).where(MatchmakingEntry.user_id == user_id)
        )
        if entry is None:
            return None
        if heartbeat and entry.game_id is None:
            entry.heartbeat_at = now
            await session.commit()
        return _ticket(ctx, entry, now)


async def status(ctx: AppContext, user: User, wait_s: float = 0.0) -> Ticket:
    """The user's ticket (a heartbeat); with ``wait_s``, wait up to that long for a match."""
    limit = min(MAX_WAIT_SECONDS, ctx.settings.matchmaking_max_wait_seconds)
    deadline = time.monotonic() + min(max(wait_s, 0.0), limit)
    ticket = await _read(ctx, user.id, heartbeat=True)
    while ticket is not None and ticket.game_id is None and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        ticket = await _read(ctx, user.id, heartbeat=False)
    if ticket is None:
        raise ApiError(ErrorCode.MATCHMAKING_NOT_QUEUED)
    return ticket


async def cancel(ctx: AppContext, user: User) -> None:
    """Leave the queue. A player already matched gets the game instead (409 with its id)."""
    async with ctx.db.session() as session:
        entry = await session.scalar(
            select(MatchmakingEntry).where(MatchmakingEntry.user_id == user.id)
        )
        if entry is None:
            raise ApiError(ErrorCode.MATCHMAKING_NOT_QUEUED)
        if entry.claim is not None:
            raise ApiError(ErrorCode.MATCHMAKING_ALREADY_MATCHED, details={"gameId": entry.game_id})
        await session.delete(entry)
        await session.commit()


async def pair_pool(ctx: AppContext, pool: Pool) -> list[str]:
    """Create every game the waiting players of ``pool`` can form now; their ids."""
    created: list[str] = []
    window = _window(ctx)
    while True:
        now = utcnow()
        async with ctx.db.session() as session:
            rows = (
                await session.scalars(
                    select(MatchmakingEntry).where(
                        MatchmakingEntry.board_type == pool.board_type,
                        MatchmakingEntry.max_players == pool.max_players,
                        MatchmakingEntry.time_control == pool.time_control,
                        MatchmakingEntry.is_rated == pool.rated,
                        MatchmakingEntry.claim.is_(None),
                    )
                )
            ).all()
        candidates = [
            Candidate(e.id, e.user_id, e.rating, (now - e.created_at).total_seconds()) for e in rows
        ]
        group = pick_group(candidates, pool.max_players, window)
        if not group:
            return created
        game_id = await _claim_and_create(ctx, pool, group)
        if game_id is None:
            continue  # another instance took some of them: look again
        created.append(game_id)


async def _claim_and_create(ctx: AppContext, pool: Pool, group: list[Candidate]) -> str | None:
    claim = str(uuid.uuid4())
    ids = [c.entry_id for c in group]
    async with ctx.db.session() as session:
        result = await session.execute(
            update(MatchmakingEntry)
            .where(MatchmakingEntry.id.in_(ids), MatchmakingEntry.claim.is_(None))
            .values(claim=claim, claimed_at=utcnow())
        )
        if result.rowcount != len(ids):  # type: ignore[attr-defined]
            await session.rollback()
            return None
        await session.commit()
    try:
        game_id = await _create_game(ctx, pool, [c.user_id for c in group])
    except Exception:
        log.exception("matchmaking could not create a game; the players wait on")
        async with ctx.db.session() as session:
            await session.execute(
                update(MatchmakingEntry)
                .where(MatchmakingEntry.claim == claim)
                .values(claim=None, claimed_at=None)
            )
            await session.commit()
        return None
    async with ctx.db.session() as session:
        await session.execute(
            update(MatchmakingEntry).where(MatchmakingEntry.claim == claim).values(game_id=game_id)
        )
        await session.commit()
    ctx.metrics.matchmaking_pairs.labels(board=pool.board_type).inc()
    return game_id


async def _create_game(ctx: AppContext, pool: Pool, user_ids: list[str]) -> str:
    """A started game with these players already seated, in a random order."""
    async with ctx.db.session() as session:
        found = set(await session.scalars(select(User.id).where(User.id.in_(user_ids))))
    if len(found) != len(user_ids):
        raise LookupError("a matched player no longer exists")
    order = list(user_ids)
    random.SystemRandom().shuffle(order)
    spec = game_service.NewGame(
        board_type=pool.board_type,
        max_players=pool.max_players,
        is_rated=pool.rated,
        is_private=False,
        ai_levels=(),
        seed=None,
        time_control=PRESETS[pool.time_control].to_json(),
        rules_options=None,
    )
    seats = [game_service.SeatSpec(n + 1, user_id=u) for n, u in enumerate(order)]
    game = await game_service.create_seated_game(ctx, spec, order[0], seats)
    return game.id


async def sweep(ctx: AppContext) -> int:
    """Expire silent waiters, free claims of dead instances, forget old matches, then pair
    every pool that has waiting players; the number of games created."""
    now = utcnow()
    silent = now - timedelta(seconds=ctx.settings.matchmaking_heartbeat_seconds)
    async with ctx.db.session() as session:
        await session.execute(
            delete(MatchmakingEntry).where(
                MatchmakingEntry.claim.is_(None), MatchmakingEntry.heartbeat_at < silent
            )
        )
        await session.execute(
            update(MatchmakingEntry)
            .where(
                MatchmakingEntry.game_id.is_(None),
                MatchmakingEntry.claimed_at < now - CLAIM_TIMEOUT,
            )
            .values(claim=None, claimed_at=None)
        )
        await session.execute(
            delete(MatchmakingEntry).where(
                MatchmakingEntry.game_id.is_not(None),
                MatchmakingEntry.claimed_at < now - MATCH_KEPT,
            )
        )
        await session.commit()
        pools = (
            await session.execute(
                select(
                    MatchmakingEntry.board_type,
                    MatchmakingEntry.max_players,
                    MatchmakingEntry.time_control,
                    MatchmakingEntry.is_rated,
                )
                .where(MatchmakingEntry.claim.is_(None))
                .distinct()
            )
        ).all()
    created = 0
    for board_type, max_players, time_control, rated in pools:
        created += len(await pair_pool(ctx, Pool(board_type, max_players, time_control, rated)))
    return created


async def run_sweeper(ctx: AppContext) -> None:
    """The periodic sweep of this instance (every instance runs one; they agree via claims)."""
    while True:
        await asyncio.sleep(ctx.settings.matchmaking_sweep_seconds)
        try:
            await sweep(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the database may be down: try again next round
            log.warning("matchmaking sweep failed", extra={"detail": str(error)[:300]})
