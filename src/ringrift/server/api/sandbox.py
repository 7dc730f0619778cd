"""The anonymous sandbox against the AI (``services/sandbox.py``): no account, nothing stored.
Every route is rate limited per client address (``RATE_LIMIT_SANDBOX``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ringrift.server.api.account_schemas import error_responses
from ringrift.server.api.analysis_schemas import (
    SandboxAiRequest,
    SandboxEnvelope,
    SandboxMoveRequest,
    SandboxNewRequest,
)
from ringrift.server.api.deps import Ctx, client_address
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import sandbox
from ringrift.server.services.positions_in import load_state

router = APIRouter(prefix="/api/sandbox", tags=["sandbox"])


async def _limit(ctx: Ctx, request: Request) -> None:
    await ctx.limiter.enforce(
        Bucket.SANDBOX, client_address(request), ctx.settings.rate_limit_sandbox
    )


@router.post("/new", response_model=SandboxEnvelope, responses=error_responses(400, 429))
async def sandbox_new(body: SandboxNewRequest, request: Request, ctx: Ctx) -> SandboxEnvelope:
    """The first position of a new sandbox game (the AI's seats play on ``/ai``)."""
    await _limit(ctx, request)
    return SandboxEnvelope(data=sandbox.new(body.board_type, body.players, body.seat))


@router.post("/move", response_model=SandboxEnvelope, responses=error_responses(400, 429))
async def sandbox_move(body: SandboxMoveRequest, request: Request, ctx: Ctx) -> SandboxEnvelope:
    """The visitor's move, checked by the rules engine, and the position after it."""
    await _limit(ctx, request)
    state = load_state(body.state, len(await request.body()))
    return SandboxEnvelope(data=sandbox.human_move(state, body.move, body.seat))


@router.post("/ai", response_model=SandboxEnvelope, responses=error_responses(400, 429))
async def sandbox_ai(body: SandboxAiRequest, request: Request, ctx: Ctx) -> SandboxEnvelope:
    """One decision of the AI seat to move (at ``level``), and the position after it."""
    await _limit(ctx, request)
    state = load_state(body.state, len(await request.body()))
    return SandboxEnvelope(data=await sandbox.ai_move(ctx, state, body.seat, body.level))
