"""AI turns: play every AI turn that is due, schedule them in the background, and find the
ones left due (by a restart or a crashed instance) at start-up and in a periodic sweep.

Each AI move is committed like a human one (``moves.commit``), together with the bookkeeping it
forces on a human seat. Several instances may race for the same turn: the versioned UPDATE lets
exactly one commit and the others stop, so a turn is played once however often it is scheduled.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import and_, select

from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, GameSeat
from ringrift.server.domain import GameStatus, MoveSource
from ringrift.server.events import now_ms
from ringrift.server.positions import Position
from ringrift.server.services import moves, store, timing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Known:
    """A game's version and position that the caller holds, so no reload is needed."""

    version: int
    position: Position
    loaded: store.Loaded


def ai_to_move(loaded: store.Loaded) -> bool:
    game = loaded.game
    if game.status != GameStatus.ACTIVE:
        return False
    return any(s.seat == game.current_player and s.is_ai for s in loaded.seats)


async def play_ai_turns(ctx: AppContext, game_id: str, known: Known | None = None) -> int:
    """Play every AI turn that is due, each committed with the bookkeeping it forces. Returns
    how many AI moves were committed."""
    if known is None:
        async with ctx.db.session() as session:
            loaded = await store.load(session, game_id, with_usernames=False)
        if loaded is None or loaded.game.status != GameStatus.ACTIVE:
            return 0
        known = Known(loaded.game.version, store.position(ctx, loaded.game), loaded)
    version, position, loaded = known.version, known.position, known.loaded
    by_number = {s.seat: s for s in loaded.seats}
    humans = loaded.human_seats()
    seed = loaded.game.seed
    played = 0
    while (
        played < ctx.settings.ai_max_consecutive_moves
        and position.state.game_status == GameStatus.ACTIVE
    ):
        seat = by_number.get(position.state.current_player)
        if seat is None or not seat.is_ai:
            break
        choice = await ctx.ai.choose(
            position.state,
            seat.seat,
            seat.ai_level or 1,
            None if seed is None else seed + version,
            timing.ai_cap_s(loaded.game, seat.seat, now_ms()),
        )
        after = Position.of(choice.state, game_id)
        planned = moves.Planned(seat.seat, choice.move, after, MoveSource(choice.source), None)
        chain = [planned, *moves.forced_bookkeeping(after, humans, game_id)]
        try:
            committed = await moves.commit(ctx, loaded, version, position, chain)
        except timing.TimeUp as flagged:  # the AI thought past its clock (should not happen)
            await moves.flag_fall(ctx, game_id, flagged.seat, flagged.version)
            break
        if committed is None:
            break
        version, position = committed.version, committed.position
        played += 1
    return played


def schedule_ai_turns(ctx: AppContext, game_id: str) -> None:
    """Play due AI turns in a background task of this instance (one task per game; a request
    made while it runs makes it look once more when done)."""
    task = ctx.ai_tasks.get(game_id)
    if task is not None and not task.done():
        ctx.ai_rerun.add(game_id)
        return
    ctx.ai_tasks[game_id] = asyncio.create_task(_ai_task(ctx, game_id), name=f"ai-{game_id}")


async def _ai_task(ctx: AppContext, game_id: str) -> None:
    try:
        while True:
            ctx.ai_rerun.discard(game_id)
            try:
                await play_ai_turns(ctx, game_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background AI turn failed", extra={"gameId": game_id})
                return
            if game_id not in ctx.ai_rerun:
                return
    finally:
        if ctx.ai_tasks.get(game_id) is asyncio.current_task():
            del ctx.ai_tasks[game_id]


async def due_ai_games(ctx: AppContext, limit: int = 1000) -> list[str]:
    """Active games whose seat to move is an AI."""
    async with ctx.db.session() as session:
        rows = await session.scalars(
            select(Game.id)
            .join(
                GameSeat,
                and_(GameSeat.game_id == Game.id, GameSeat.seat == Game.current_player),
            )
            .where(Game.status == GameStatus.ACTIVE.value, GameSeat.is_ai.is_(True))
            .order_by(Game.updated_at)
            .limit(limit)
        )
        return list(rows.all())


async def resume_due_turns(ctx: AppContext) -> int:
    """Schedule every due AI turn (start-up and sweep); returns how many games were due."""
    due = await due_ai_games(ctx)
    for game_id in due:
        schedule_ai_turns(ctx, game_id)
    return len(due)


async def sweep(ctx: AppContext) -> None:
    """Resume due AI turns now and then every ``ai_sweep_interval_seconds`` (0 = once)."""
    interval = ctx.settings.ai_sweep_interval_seconds
    while True:
        try:
            count = await resume_due_turns(ctx)
            if count:
                log.info("resumed due AI turns", extra={"games": count})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("AI turn sweep failed; retrying at the next sweep", exc_info=True)
        if interval <= 0:
            return
        await asyncio.sleep(interval)
