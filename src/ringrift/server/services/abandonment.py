"""Abandonment: what happens to a seat of a Fischer game that stays away (no socket, see
``server/presence.py``) for ``PRESENCE_GRACE_SECONDS``.

* **2 players**: the opponent may claim the win (:func:`claim_victory`, REST and the ``claim``
  frame). Absence is re-checked at the claim against the live entries, not only against the
  stored mark; the win is committed by ``withdraw_seat(absent seat, ABANDONED)`` at the version
  the check saw, so a move by the absent player in between makes the claim fail (409).
* **3-4 players**: a periodic sweep in every instance withdraws the absent seat
  (:func:`sweep_abandoned`); play goes on without it (F-30). Instances racing for the same seat
  are serialised by the game version: one withdrawal commits, the others find the version moved
  on (and the seat withdrawn) and do nothing.

Correspondence games have no presence-based claim (days per move are the grace) and untimed
games have no clock to protect. Nothing here runs while presence knowledge is incomplete
(Redis configured but unavailable): claims answer 503 ``SERVER_PRESENCE_UNAVAILABLE``.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, GameSeat, User, utcnow
from ringrift.server.domain import EndReason, GameStatus
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.events import now_ms
from ringrift.server.presence import Presence, absent_from, tracked
from ringrift.server.services import store
from ringrift.server.services.withdrawals import withdraw_seat

log = logging.getLogger(__name__)

SWEEP_BATCH = 200


def _presence(ctx: AppContext) -> Presence:
    presence: Presence = ctx.hub.presence
    return presence


def withdrawn_seats(game: Game) -> set[int]:
    """Seats that already left the game (F-30), from the stored position."""
    state = game.state if isinstance(game.state, dict) else {}
    found = state.get("withdrawnSeats") or []
    return {seat for seat in found if isinstance(seat, int)} if isinstance(found, list) else set()


async def claim_victory(ctx: AppContext, user: User, game_id: str) -> store.Loaded:
    async with ctx.db.session() as session:
        loaded = await store.load(session, game_id, with_usernames=False)
    if loaded is None:
        raise ApiError(ErrorCode.GAME_NOT_FOUND)
    mine = loaded.seat_of(user.id)
    if mine is None:
        raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "You are not seated in this game")
    game = loaded.game
    if game.status in (GameStatus.COMPLETED.value, GameStatus.CANCELLED.value):
        raise ApiError(ErrorCode.GAME_ALREADY_ENDED)
    if game.status != GameStatus.ACTIVE.value:
        raise ApiError(ErrorCode.GAME_CLAIM_NOT_ALLOWED, "The game has not started")
    if game.max_players != 2:
        raise ApiError(
            ErrorCode.GAME_CLAIM_NOT_ALLOWED,
            "In games of 3-4 players an absent seat is withdrawn automatically",
        )
    if not tracked(game.time_control):
        raise ApiError(
            ErrorCode.GAME_CLAIM_NOT_ALLOWED,
            "Only games with a Fischer clock can be claimed; correspondence games are decided "
            "by their clock",
        )
    opponent = next((s for s in loaded.seats if s.seat != mine.seat), None)
    if opponent is None or opponent.is_ai:
        raise ApiError(ErrorCode.GAME_CLAIM_NOT_ALLOWED, "An AI opponent never leaves")
    live = await _presence(ctx).seat_is_live(game_id, opponent.seat)
    if live is None:
        raise ApiError(ErrorCode.SERVER_PRESENCE_UNAVAILABLE)
    if live:
        raise ApiError(ErrorCode.GAME_OPPONENT_PRESENT)
    away_since = opponent.away_since
    if away_since is None:
        # Not connected, yet never marked away (it never joined, or the mark is on its way):
        # its absence counts from now.
        away_since = utcnow()
        await _presence(ctx).mark_away(game_id, opponent.seat, away_since)
    grace_ms = _presence(ctx).grace_ms
    start = absent_from(away_since, game.started_at)
    now = now_ms()
    claimable = (start if start is not None else now) + grace_ms
    if now < claimable:
        raise ApiError(
            ErrorCode.GAME_CLAIM_TOO_EARLY,
            f"Your opponent may still come back; you can claim in {-(-(claimable - now) // 1000)}s",
            details={"claimableAt": claimable, "secondsLeft": round((claimable - now) / 1000, 1)},
        )
    committed = await withdraw_seat(
        ctx, game_id, opponent.seat, EndReason.ABANDONED, expected_version=game.version
    )
    if committed is None:
        raise ApiError(
            ErrorCode.GAME_VERSION_CONFLICT,
            "The game changed while the claim was checked; look again",
            details={"expectedVersion": game.version},
        )
    return await store.get_game(ctx, game_id, user)


async def abandoned_candidates(ctx: AppContext) -> list[tuple[str, int, int]]:
    """(game, version, seat) of away seats in active 3-4 player Fischer games whose grace is
    over, by the stored marks (the caller re-checks the live entries)."""
    async with ctx.db.session() as session:
        rows = (
            await session.execute(
                select(Game, GameSeat.seat, GameSeat.away_since)
                .join(GameSeat, GameSeat.game_id == Game.id)
                .where(
                    Game.status == GameStatus.ACTIVE.value,
                    Game.max_players > 2,
                    GameSeat.is_ai.is_(False),
                    GameSeat.away_since.is_not(None),
                )
                .order_by(GameSeat.away_since)
                .limit(SWEEP_BATCH)
            )
        ).all()
    grace = _presence(ctx).grace_ms
    now = now_ms()
    found: list[tuple[str, int, int]] = []
    for game, seat, away_since in rows:
        if not tracked(game.time_control) or seat in withdrawn_seats(game):
            continue
        start = absent_from(away_since, game.started_at)
        if start is not None and now >= start + grace:
            found.append((game.id, game.version, seat))
    return found


async def sweep_abandoned(ctx: AppContext) -> int:
    """Withdraw every abandoned seat of a 3-4 player game once; returns how many were."""
    presence = _presence(ctx)
    if not presence.has_full_knowledge:
        return 0
    candidates = await abandoned_candidates(ctx)
    if not candidates:
        return 0
    live = await presence.live_seats(sorted({c[0] for c in candidates}))
    if live is None:
        return 0
    done = 0
    for game_id, version, seat in candidates:
        if seat in live.get(game_id, set()):
            continue
        committed = await withdraw_seat(
            ctx, game_id, seat, EndReason.ABANDONED, expected_version=version
        )
        if committed is not None:
            done += 1
            log.info("withdrew an abandoned seat", extra={"gameId": game_id, "seat": seat})
    return done


async def run_sweeper(ctx: AppContext) -> None:
    """Every ``presence_sweep_seconds``: withdraw abandoned seats of 3-4 player games."""
    while True:
        await asyncio.sleep(ctx.settings.presence_sweep_seconds)
        try:
            await sweep_abandoned(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("abandonment sweep failed; retrying at the next sweep", exc_info=True)
