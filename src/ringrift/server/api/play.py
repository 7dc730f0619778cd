"""Helpers for clients without a rules engine: the legal moves of the player to move and the
position after any move of a game (replay). Both are derived from the stored game; nothing here
changes it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from ringrift.server import codec
from ringrift.server.api.deps import Ctx, CurrentUser
from ringrift.server.api.envelope import ok
from ringrift.server.domain import GameStatus
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import store
from ringrift.server.services.analysis import engine_help_refusal

router = APIRouter(prefix="/api", tags=["games"])

GameId = Annotated[str, Path(min_length=1, max_length=64, description="game id")]
MoveNumber = Annotated[int, Path(ge=0, le=1_000_000, description="moves applied")]
Invite = Annotated[
    str | None,
    Query(min_length=1, max_length=128, description="the invite token of a private game"),
]


@router.get("/games/{game_id}/legal-moves")
async def game_legal_moves(game_id: GameId, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """The legal moves of the caller when it is their turn in an active game, else none."""
    loaded = await store.get_game(ctx, game_id, user)
    game = loaded.game
    seat = loaded.seat_of(user.id)
    found: list[dict[str, Any]] = []
    if game.status == GameStatus.ACTIVE and seat is not None and game.state:
        position = store.position(ctx, game)
        state = position.state
        if state.game_status == GameStatus.ACTIVE and state.current_player == seat.seat:
            found = position.legal_json
    return ok({"gameId": game.id, "version": game.version, "moves": found})


@router.get("/games/{game_id}/states/{move_number}")
async def game_state_at(
    game_id: GameId, move_number: MoveNumber, ctx: Ctx, user: CurrentUser, invite: Invite = None
) -> Response:
    """The position after the first ``move_number`` moves (no ``moveHistory``): the nearest
    stored snapshot plus the moves after it. Login required; private games only for their
    players and holders of its ``invite`` token; rate limited per user (``RATE_LIMIT_REPLAY``)."""
    await ctx.limiter.enforce(Bucket.REPLAY, user.id, ctx.settings.rate_limit_replay)
    state = await store.state_json(ctx, game_id, move_number, user, invite)
    # The position goes out as the worker wrote it (orjson.Fragment): FastAPI's generic encoder
    # would walk every key of it, and even parsing it again costs the event loop.
    body = ok({"gameId": game_id, "moveNumber": move_number, "state": codec.raw(state)})
    return Response(codec.dumps_bytes(body), media_type="application/json")


HINT_LEVEL = 4


@router.get("/games/{game_id}/hint")
async def game_hint(game_id: GameId, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """A suggested move for the caller's turn (the AI at level 4), in unrated games against AI
    seats only (no engine help against people); the move is not played. For the web client's
    "Hint" button."""
    loaded = await store.get_game(ctx, game_id, user)
    game = loaded.game
    seat = loaded.seat_of(user.id)
    refusal = engine_help_refusal(loaded)
    if refusal is not None:
        raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, refusal)
    state = store.position(ctx, game).state if game.state else None
    if (
        game.status != GameStatus.ACTIVE
        or seat is None
        or state is None
        or state.game_status != GameStatus.ACTIVE
        or state.current_player != seat.seat
    ):
        raise ApiError(ErrorCode.GAME_NOT_YOUR_TURN, "a hint is for your own turn")
    choice = await ctx.ai.choose(state, seat.seat, HINT_LEVEL, None)
    return ok(
        {
            "gameId": game.id,
            "version": game.version,
            "level": HINT_LEVEL,
            "move": choice.move.to_json(),
        }
    )
