"""Readiness: concurrent, individually time-bounded checks of the database, Redis and the AI
service, reported in the docs/system.md shape (or ``application/health+json``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from ringrift import __version__ as _pkg_version
from ringrift.server.context import AppContext

HEALTHY, DEGRADED, UNHEALTHY, DISABLED = "healthy", "degraded", "unhealthy", "disabled"
_HEALTH_JSON = {HEALTHY: "pass", DEGRADED: "warn", UNHEALTHY: "fail", DISABLED: "pass"}


def app_version() -> str:
    return str(_pkg_version)


async def _timed(
    check: Callable[[], Awaitable[None]], timeout: float
) -> tuple[bool, float, str | None]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout)
    except TimeoutError:
        return False, (time.perf_counter() - started) * 1000, f"timed out after {timeout:g}s"
    except Exception as error:
        message = str(error).strip() or type(error).__name__
        return False, (time.perf_counter() - started) * 1000, message[:300]
    return True, (time.perf_counter() - started) * 1000, None


def _entry(status: str, latency_ms: float | None, error: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": status}
    if latency_ms is not None:
        entry["latencyMs"] = round(latency_ms, 2)
    if error:
        entry["error"] = error
    return entry


async def check_database(ctx: AppContext) -> dict[str, Any]:
    ok, latency, error = await _timed(ctx.db.ping, ctx.settings.ready_db_timeout_seconds)
    return _entry(HEALTHY if ok else UNHEALTHY, latency, error)


async def check_redis(ctx: AppContext) -> dict[str, Any]:
    if not ctx.redis.enabled:
        return _entry(DISABLED, None, None)
    result = await ctx.redis.ping(ctx.settings.ready_redis_timeout_seconds)
    return _entry(HEALTHY if result.ok else DEGRADED, result.latency_ms, result.error)


async def check_ai_service(ctx: AppContext) -> dict[str, Any]:
    if not ctx.ai.enabled:
        return _entry(DISABLED, None, None)
    timeout = ctx.settings.ready_ai_timeout_seconds

    async def probe() -> None:
        try:
            response = await ctx.http.get(f"{ctx.ai.base_url}/health", timeout=timeout)
        except httpx.TimeoutException as error:
            raise TimeoutError(f"timed out after {timeout:g}s") from error
        except httpx.HTTPError as error:
            raise ConnectionError(f"{type(error).__name__}: {error}") from error
        if response.status_code != 200:
            raise ConnectionError(f"GET /health answered {response.status_code}")

    # The outer bound is a little longer than httpx's own timeout so its message wins.
    ok, latency, error = await _timed(probe, timeout + 0.25)
    breaker = ctx.ai.breaker.snapshot()
    if ok and breaker["state"] == "open":
        # Reachable again, but moves still go to the local AI until the breaker half-opens.
        ok, error = False, "circuit breaker open: AI seats are played by the in-process AI"
    entry = _entry(HEALTHY if ok else DEGRADED, latency, error)
    entry["breaker"] = breaker
    return entry


async def readiness(ctx: AppContext) -> tuple[int, dict[str, Any]]:
    database, redis, ai_service = await asyncio.gather(
        check_database(ctx), check_redis(ctx), check_ai_service(ctx)
    )
    if database["status"] != HEALTHY:
        overall = UNHEALTHY
    elif DEGRADED in (redis["status"], ai_service["status"]):
        overall = DEGRADED
    else:
        overall = HEALTHY
    body = {
        "status": overall,
        "version": app_version(),
        "uptime": round(ctx.uptime_seconds(), 3),
        "checks": {"database": database, "redis": redis, "aiService": ai_service},
    }
    return (503 if overall == UNHEALTHY else 200), body


def as_health_json(body: dict[str, Any]) -> dict[str, Any]:
    """The same result in the IETF ``application/health+json`` shape (pass/warn/fail)."""
    now = datetime.now(UTC).isoformat()
    component = {"database": "datastore", "redis": "datastore", "aiService": "component"}
    checks: dict[str, list[dict[str, Any]]] = {}
    for name, entry in body["checks"].items():
        item: dict[str, Any] = {
            "componentType": component[name],
            "status": _HEALTH_JSON[entry["status"]],
            "time": now,
        }
        if entry["status"] == DISABLED:
            item["output"] = "disabled (not configured)"
        if "latencyMs" in entry:
            item["observedValue"] = entry["latencyMs"]
            item["observedUnit"] = "ms"
        if "error" in entry:
            item["output"] = entry["error"]
        checks[f"{name}:responseTime"] = [item]
    return {
        "status": _HEALTH_JSON[body["status"]],
        "version": body["version"],
        "serviceId": "ringrift-app",
        "description": f"RingRift app readiness ({body['status']})",
        "notes": [f"uptime {body['uptime']}s"],
        "checks": checks,
    }
