"""Position analysis: ``POST /api/analysis`` for any position (signed in or not),
``GET /api/games/{id}/analysis`` for a position of a game the caller may see, and
``GET /api/games/{id}/analysis/curve`` for the evaluation curve of the whole game."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from ringrift.server.api.account_schemas import error_responses
from ringrift.server.api.analysis_schemas import (
    AnalysisEnvelope,
    AnalysisRequest,
    CurveEnvelope,
)
from ringrift.server.api.deps import Ctx, CurrentUser, OptionalUser, client_address
from ringrift.server.db.models import User
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import analysis
from ringrift.server.services.positions_in import load_state

router = APIRouter(prefix="/api", tags=["analysis"])

GameId = Annotated[str, Path(min_length=1, max_length=64, description="game id")]


def limit_key(user: User | None, request: Request) -> str:
    """Per account when signed in, else per client address."""
    return f"user:{user.id}" if user is not None else f"ip:{client_address(request)}"


@router.post("/analysis", response_model=AnalysisEnvelope, responses=error_responses(400, 401, 429))
async def analyze_position(
    body: AnalysisRequest, request: Request, user: OptionalUser, ctx: Ctx
) -> AnalysisEnvelope:
    """The AI's view of any position: every seat's evaluation, the best moves with scores, the
    depth reached. No account needed; rate limited per user or address
    (``RATE_LIMIT_ANALYSIS``); the body limit depends on the board."""
    limit = ctx.settings.rate_limit_analysis
    await ctx.limiter.enforce(Bucket.ANALYSIS, limit_key(user, request), limit)
    state = load_state(body.state, len(await request.body()))
    return AnalysisEnvelope(data=await analysis.analyze(ctx, state, body.level, body.top))


@router.get(
    "/games/{game_id}/analysis",
    response_model=AnalysisEnvelope,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def analyze_game_position(
    game_id: GameId,
    user: CurrentUser,
    ctx: Ctx,
    v: Annotated[int | None, Query(ge=0, le=1_000_000, description="moves applied")] = None,
    level: Annotated[int, Query(ge=1, le=10)] = 5,
    top: Annotated[int, Query(ge=1, le=10)] = 3,
) -> AnalysisEnvelope:
    """The analysis of the position after ``v`` moves (default: now) of a game the caller may
    see. While it is played, only practice games (unrated, one human against AI seats);
    others answer ``RESOURCE_ACCESS_DENIED`` until they end."""
    await ctx.limiter.enforce(Bucket.ANALYSIS, f"user:{user.id}", ctx.settings.rate_limit_analysis)
    return AnalysisEnvelope(data=await analysis.analyze_game(ctx, user, game_id, v, level, top))


@router.get(
    "/games/{game_id}/analysis/curve",
    response_model=CurveEnvelope,
    responses=error_responses(401, 403, 404, 429),
)
async def game_evaluation_curve(game_id: GameId, user: CurrentUser, ctx: Ctx) -> CurveEnvelope:
    """The evaluation curve of a whole game the caller may see: every seat's share of the
    winning chances at the start and after every turn, and the turning points (the turns
    that moved a share by at least 0.15). The same rule as the position analysis: while it
    is played, only practice games. Rate limited with the analysis."""
    await ctx.limiter.enforce(Bucket.ANALYSIS, f"user:{user.id}", ctx.settings.rate_limit_analysis)
    return CurveEnvelope(data=await analysis.game_curve(ctx, user, game_id))
