"""Position analysis for players: any position (the sandbox, a study) or a position of a stored
game the viewer may see. The search itself is the AI service's (``POST /ai/analyze``), through
the AI client with its in-process fallback."""

from __future__ import annotations

from ringrift.rules import GameState
from ringrift.server import codec
from ringrift.server.api.analysis_schemas import AnalysisOut, AnalysisSource, CurveOut
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, User
from ringrift.server.domain import GameStatus
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import store


def engine_help_refusal(loaded: store.Loaded) -> str | None:
    """Why the engine may not help anyone with this game while it is played, or None.

    Site policy, as on lichess: no engine help against a human. Hints and live analysis are
    for practice, an unrated game whose only human player faces AI seats. A rated game is
    never helped (its result moves ratings, AI opponents included), and a game with two or
    more humans is not analysed by anyone until it ends: a player could otherwise consult the
    engine directly, or through a second account watching the game."""
    if loaded.game.is_rated:
        return "engine help is not available in rated games until they end"
    if len(loaded.human_seats()) > 1:
        return "engine help is not available in games against people until they end"
    return None


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
    may see. While it is being played, only where :func:`engine_help_refusal` allows."""
    game = await _helpable_game(ctx, viewer, game_id)
    number = game.version if move_number is None else move_number
    doc = await store.state_at(ctx, game_id, number, viewer)
    if not doc:
        raise ApiError(ErrorCode.GAME_NOT_FOUND, "this game has no position yet")
    state = GameState.from_json({k: v for k, v in doc.items() if k != "moveHistory"})
    out = await analyze(ctx, state, level, top)
    out.game_id = game_id
    out.move_number = number
    return out


async def game_curve(ctx: AppContext, viewer: User, game_id: str) -> CurveOut:
    """The evaluation curve of a game the viewer may see, up to its current move (a
    computer analysis of the whole game); while it is played, only where
    :func:`engine_help_refusal` allows."""
    await _helpable_game(ctx, viewer, game_id)
    version, doc = await store.curve_json(ctx, game_id, viewer)
    return CurveOut.model_validate({**codec.loads(doc), "gameId": game_id, "version": version})


async def _helpable_game(ctx: AppContext, viewer: User, game_id: str) -> Game:
    """The game, when the viewer may see it and the engine may help with it now."""
    loaded = await store.get_game(ctx, game_id, viewer)
    game = loaded.game
    refusal = engine_help_refusal(loaded)
    if refusal is not None and game.status in (GameStatus.ACTIVE, GameStatus.WAITING):
        raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, refusal)
    return game
