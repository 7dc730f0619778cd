"""`/api/reports`: a player reports another user to the moderators."""

from __future__ import annotations

from fastapi import APIRouter, status

from ringrift.server.api.account_schemas import (
    Envelope,
    ReportOut,
    ReportRequest,
    error_responses,
)
from ringrift.server.api.admin import report_out
from ringrift.server.api.deps import Ctx, CurrentUser
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import moderation as service

router = APIRouter(prefix="/api", tags=["reports"], responses=error_responses(400, 401, 404, 429))


@router.post("/reports", status_code=status.HTTP_201_CREATED, response_model=Envelope[ReportOut])
async def create_report(body: ReportRequest, user: CurrentUser, ctx: Ctx) -> Envelope[ReportOut]:
    """Report a user (rate limited per reporter)."""
    await ctx.limiter.enforce(Bucket.REPORTS, user.id, ctx.settings.rate_limit_reports)
    report = await service.create_report(ctx.db, user, body.user_id, body.reason)
    return Envelope(data=report_out(report))
