"""Root routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ringrift.server import health
from ringrift.server.api.deps import Ctx

router = APIRouter(tags=["health"])

HEALTH_JSON = "application/health+json"


@router.get("/health")
async def liveness(ctx: Ctx) -> dict[str, Any]:
    """Liveness: answers while the process serves; never touches a dependency."""
    return {
        "status": "healthy",
        "version": health.app_version(),
        "uptime": round(ctx.uptime_seconds(), 3),
    }


@router.get(
    "/ready",
    responses={
        200: {"description": "healthy or degraded (optional dependency down)"},
        503: {"description": "unhealthy (the database is unavailable)"},
    },
)
async def readiness(request: Request, ctx: Ctx) -> JSONResponse:
    """Readiness: database (required), Redis and AI service (optional), checked concurrently.
    Send ``Accept: application/health+json`` for the pass/warn/fail form."""
    status, body = await health.readiness(ctx)
    if HEALTH_JSON in request.headers.get("accept", ""):
        return JSONResponse(health.as_health_json(body), status, media_type=HEALTH_JSON)
    return JSONResponse(body, status)


@router.get("/metrics", response_class=Response)
async def metrics(ctx: Ctx) -> Response:
    """Prometheus exposition of this instance's metrics."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
