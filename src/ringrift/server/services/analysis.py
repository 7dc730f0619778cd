"""Position analysis for players: any position (the sandbox, a study) or a position of a stored
game the viewer may see. The search itself is the AI service's (``POST /ai/analyze``), through
the AI client with its in-process fallback."""

from __future__ import annotations

from ringrift.rules import GameState
from ringrift.server.api.analysis_schemas import AnalysisOut, AnalysisSource
from ringrift.server.context import AppContext
from ringrift.server.db.models import User
from ringrift.server.domain import GameStatus
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import store


async def analyze(ctx: AppContext, state: GameState, level: int, top: int) -> AnalysisOut:
    try:
        result = await ctx.ai.analyze(state, level, top)
    except LookupError:
        raise ApiError(ErrorCode.AI_SERVICE_UNAVAILABLE, "no AI can analyse right now") from None
    return AnalysisOut.model_validate({**result.doc, "source": AnalysisSource(result.source)})


async def analyze_game(
    ctx: AppContext, viewer: User, game_id: str, move_number: int | None, level: int, top: int
) -> AnalysisOut:
    """The position after ``move_number`` moves (default: the current one) of a game the viewer
    may see. A rated game is not analysed while it is being played, for anyone: the players
    could consult the engine (directly or through a second account) mid-game."""
    loaded = await store.get_game(ctx, game_id, viewer)
    game = loaded.game
    if game.is_rated and game.status in (GameStatus.ACTIVE, GameStatus.WAITING):
        raise ApiError(
            ErrorCode.RESOURCE_ACCESS_DENIED,
            "a rated game can be analysed once it has ended",
        )
    number = game.version if move_number is None else move_number
    doc = await store.state_at(ctx, game_id, number, viewer)
    if not doc:
        raise ApiError(ErrorCode.GAME_NOT_FOUND, "this game has no position yet")
    state = GameState.from_json({k: v for k, v in doc.items() if k != "moveHistory"})
    out = await analyze(ctx, state, level, top)
    out.game_id = game_id
    out.move_number = number
    return out
