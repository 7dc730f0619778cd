"""Helpers for clients without a rules engine: the legal moves of the player to move and the
state after any move of a game (replay). Both are derived from the stored game; nothing here
changes it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from ringrift.rules import GameState, Move, apply_recorded_move, legal_moves
from ringrift.server.api.deps import Ctx, CurrentUser, OptionalUser
from ringrift.server.api.envelope import ok
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import games as service

router = APIRouter(prefix="/api", tags=["games"])

GameId = Annotated[str, Path(min_length=1, max_length=64, description="game id")]
MoveNumber = Annotated[int, Path(ge=0, le=1_000_000, description="moves applied")]


@router.get("/games/{game_id}/legal-moves")
async def game_legal_moves(game_id: GameId, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """The legal moves of the caller when it is their turn in an active game, else none."""
    loaded = await service.get_game(ctx, game_id, user)
    game = loaded.game
    seat = loaded.seat_of(user.id)
    moves: list[dict[str, Any]] = []
    if game.status == "active" and seat is not None and game.state:
        state = GameState.from_json(game.state)
        if state.game_status == "active" and state.current_player == seat.seat:
            moves = [m.to_json() for m in legal_moves(state)]
    return ok({"gameId": game.id, "version": game.version, "moves": moves})


@router.get("/games/{game_id}/states/{move_number}")
async def game_state_at(
    game_id: GameId, move_number: MoveNumber, ctx: Ctx, viewer: OptionalUser
) -> dict[str, Any]:
    """The state after the first ``move_number`` moves, replayed from the stored move list."""
    history = await service.move_list(ctx, game_id, viewer)
    moves = history["moves"]
    if move_number > len(moves):
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            f"the game has {len(moves)} moves; ask for 0..{len(moves)}",
            details=[{"field": "move_number", "problem": "beyond the last move"}],
        )
    state = GameState.from_json(history["initialState"])
    for record in moves[:move_number]:
        # Stored moves were validated when they were made; replay them as recorded.
        state = apply_recorded_move(state, Move.from_json(record["move"]))
    return ok({"gameId": game_id, "moveNumber": move_number, "state": state.to_json()})


HINT_LEVEL = 4


@router.get("/games/{game_id}/hint")
async def game_hint(game_id: GameId, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """A suggested move for the caller's turn (the AI at level 4), in unrated games only; the
    move is not played. For the web client's "Hint" button."""
    loaded = await service.get_game(ctx, game_id, user)
    game = loaded.game
    seat = loaded.seat_of(user.id)
    if game.is_rated:
        raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "hints are not available in rated games")
    state = GameState.from_json(game.state) if game.state else None
    if (
        game.status != "active"
        or seat is None
        or state is None
        or state.game_status != "active"
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
