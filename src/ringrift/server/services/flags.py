"""Flag fall: a seat whose clock ran out is withdrawn with reason ``timeout``.

Two ways find a fallen flag: a move attempt by that seat (refused with ``GAME_TIME_OUT``, then
adjudicated at once) and the flag sweep every instance runs (``CLOCK_SWEEP_INTERVAL_SECONDS``),
which looks up active games whose running deadline has passed (``ix_games_clock_deadline``).
Adjudication commits through ``withdrawals.withdraw_seat(..., expected_version=v)``: like a
move it is serialised by the game version, so when several instances find the same flag exactly
one withdrawal lands and the others see the version moved on. Nothing is held in memory, so a
flag is never lost with an instance: the next sweep anywhere finds it.

Two players: the flagged seat loses on time (the game ends, ratings as for a loss). Three or
four: the seat is withdrawn (rules F-30, docs/rules.md section 16) and play goes on.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from ringrift.server.clocks import Clocks
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game
from ringrift.server.domain import EndReason, GameStatus
from ringrift.server.events import now_ms

log = logging.getLogger(__name__)

SWEEP_BATCH = 200


async def adjudicate(ctx: AppContext, game_id: str, seat: int, version: int) -> bool:
    """Withdraw ``seat`` on time if the game is still at ``version``; True when it landed."""
    from ringrift.server.services import withdrawals

    committed = await withdrawals.withdraw_seat(
        ctx, game_id, seat, EndReason.TIMEOUT, expected_version=version
    )
    if committed is None:
        return False
    log.info("flag fell", extra={"gameId": game_id, "seat": seat, "version": version})
    return True


async def overdue(ctx: AppContext, now: int, limit: int = SWEEP_BATCH) -> list[tuple[str, int]]:
    """(game id, version) of active games whose running clock's deadline is at or before
    ``now`` (epoch ms), oldest deadline first."""
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Game.id, Game.version)
            .where(
                Game.clock_deadline_ms <= now,
                Game.status == GameStatus.ACTIVE.value,
            )
            .order_by(Game.clock_deadline_ms)
            .limit(limit)
        )
        return [(row.id, row.version) for row in rows]


async def sweep_once(ctx: AppContext) -> int:
    """Adjudicate every flag down now; how many withdrawals this instance committed."""
    stamp = now_ms()
    landed = 0
    for game_id, version in await overdue(ctx, stamp):
        async with ctx.db.session() as session:
            game = await session.get(Game, game_id)
        if game is None or game.version != version or not game.clocks:
            continue  # moved on since the query: its new deadline is checked next time
        seat = Clocks.from_store(game.clocks).flagged(stamp)
        if seat is None:
            continue
        try:
            if await adjudicate(ctx, game_id, seat, version):
                landed += 1
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("flag adjudication failed", extra={"gameId": game_id})
    return landed


async def sweep(ctx: AppContext) -> None:
    """This instance's flag sweep, every ``clock_sweep_interval_seconds`` (0 = off)."""
    interval = ctx.settings.clock_sweep_interval_seconds
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep_once(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the database may be down: try again next round
            log.warning("flag sweep failed", extra={"detail": str(error)[:300]})
