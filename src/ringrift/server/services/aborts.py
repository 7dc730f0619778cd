"""Aborting a game: a seated player may end an active game while some seat has not yet made a
move. The game becomes ``cancelled`` with end reason ``aborted``: no winner, no ranks, no
player statistics and no rating change.

Serialised by the game version like a move: the abort is ``UPDATE games ... WHERE version = v
AND status = 'active'``, so of an abort and a move racing for the same version exactly one
commits. An abort without an expected version that loses such a race looks again: when the move
that won made every seat have moved, the abort is refused (``GAME_ABORT_NOT_ALLOWED``),
otherwise it is tried at the new version.
"""

from __future__ import annotations

from sqlalchemy import update

from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, User, utcnow
from ringrift.server.domain import EndReason, GameStatus
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.events import StatusEvent
from ringrift.server.services import store

MAX_ATTEMPTS = 5


def seats_yet_to_move(game: Game) -> list[int]:
    """Seats that have not made a move yet (from the stored position's ``playersMoved``)."""
    moved = game.state.get("playersMoved") if isinstance(game.state, dict) else None
    done = {p for p in moved or [] if isinstance(p, int)}
    return [n for n in range(1, game.max_players + 1) if n not in done]


def abort_allowed(game: Game) -> bool:
    return game.status == GameStatus.ACTIVE.value and bool(seats_yet_to_move(game))


async def abort_game(
    ctx: AppContext, user: User, game_id: str, expected_version: int | None = None
) -> store.Loaded:
    for _ in range(MAX_ATTEMPTS):
        async with ctx.db.session() as session:
            loaded = await store.load(session, game_id, with_usernames=False)
        if loaded is None:
            raise ApiError(ErrorCode.GAME_NOT_FOUND)
        if loaded.seat_of(user.id) is None:
            raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "You are not seated in this game")
        game = loaded.game
        if game.status in (GameStatus.COMPLETED.value, GameStatus.CANCELLED.value):
            raise ApiError(ErrorCode.GAME_ALREADY_ENDED)
        if game.status != GameStatus.ACTIVE.value:
            raise ApiError(
                ErrorCode.GAME_ABORT_NOT_ALLOWED,
                "The game has not started; leave it instead",
                details={"status": game.status},
            )
        if expected_version is not None and expected_version != game.version:
            raise ApiError(
                ErrorCode.GAME_VERSION_CONFLICT,
                details={"currentVersion": game.version, "expectedVersion": expected_version},
            )
        if not seats_yet_to_move(game):
            raise ApiError(ErrorCode.GAME_ABORT_NOT_ALLOWED)
        now = utcnow()
        async with ctx.db.session() as session:
            result = await session.execute(
                update(Game)
                .where(
                    Game.id == game_id,
                    Game.version == game.version,
                    Game.status == GameStatus.ACTIVE.value,
                )
                .values(
                    status=GameStatus.CANCELLED.value,
                    end_reason=EndReason.ABORTED.value,
                    winner_seat=None,
                    ended_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        if result.rowcount == 1:  # type: ignore[attr-defined]
            ctx.metrics.games_completed.labels(reason=EndReason.ABORTED.value).inc()
            loaded = await store.get_game(ctx, game_id, user)
            ended = loaded.game
            ctx.bus.publish(
                StatusEvent(
                    ended.id, ended.version, ended.status, ended.winner_seat, ended.end_reason
                ).to_json()
            )
            return loaded
        if expected_version is not None:
            raise ApiError(
                ErrorCode.GAME_VERSION_CONFLICT, details={"expectedVersion": expected_version}
            )
    raise ApiError(ErrorCode.GAME_VERSION_CONFLICT, "The game keeps changing; reload it")
