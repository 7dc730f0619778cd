"""The FastAPI application: routers, error envelope, request ids, access logs, metrics and
the HTTP server span of each request."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringrift import __version__
from ringrift.server import realtime
from ringrift.server.api import (
    account,
    admin,
    analysis,
    auth,
    chat,
    endings,
    games,
    leaderboard,
    live,
    matchmaking,
    play,
    rematch,
    reports,
    root,
    sandbox,
    users,
)
from ringrift.server.config import Settings
from ringrift.server.context import AppContext
from ringrift.server.db.migrate import upgrade_engine
from ringrift.server.db.session import DatabaseUnavailable, is_database_unavailable
from ringrift.server.errors import ApiError, ErrorCode, default_message, error_body
from ringrift.server.lobby import LobbyFeed
from ringrift.server.logs import accept_request_id, request_id_var
from ringrift.server.security.headers import SecurityHeadersMiddleware
from ringrift.server.security.http import BodyLimitMiddleware, BodyTooLarge, app_body_limit
from ringrift.server.services import abandonment, ai_turns, flags
from ringrift.server.services import matchmaking as matchmaking_service
from ringrift.server.tracing import Span, SpanKind, mark_error
from ringrift.server.web import mount_web
from ringrift.server.wsguard import SocketGuard

log = logging.getLogger("ringrift.server")

SHUTDOWN_STEP_SECONDS = 10.0


async def _bounded(step: Awaitable[Any], name: str) -> None:
    """Await one shutdown step for at most SHUTDOWN_STEP_SECONDS; log and move on after."""
    try:
        await asyncio.wait_for(step, SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        log.warning("shutdown: %s did not finish in %ss", name, SHUTDOWN_STEP_SECONDS)


access_log = logging.getLogger("ringrift.server.access")

KEYRING_POLL_SECONDS = 2.0


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


def _trace_headers(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in raw.items()}


class RequestContextMiddleware:
    """Request id in and out, one JSON access-log line, metrics, the last-resort 500, and a
    server span per request (continuing the caller's trace when it sends ``traceparent``)."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        tracing = self.ctx.tracing
        parent = tracing.extract(_trace_headers(headers)) if tracing.enabled else None
        # Named by the method until routing has found the template (set when the span ends).
        attributes = {"http.request.method": scope["method"], "url.path": scope["path"]}
        with tracing.span(scope["method"], SpanKind.SERVER, attributes, parent) as span:
            await self._serve(scope, receive, send, headers, span)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes], span: Span
    ) -> None:
        raw_id = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = accept_request_id(raw_id)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        metrics = self.ctx.metrics

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                response_headers = list(message.get("headers") or [])
                response_headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": response_headers}
            await send(message)

        metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception(
                "unhandled error", extra={"method": scope["method"], "path": scope["path"]}
            )
            route = _route_template(scope)
            metrics.errors.labels(route=route, code=ErrorCode.SERVER_INTERNAL_ERROR.value).inc()
            if not status_holder["started"]:
                body = json.dumps(
                    error_body(
                        ErrorCode.SERVER_INTERNAL_ERROR,
                        default_message(ErrorCode.SERVER_INTERNAL_ERROR),
                        request_id,
                    )
                ).encode()
                await send_wrapper(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send_wrapper({"type": "http.response.body", "body": body})
        finally:
            metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            status = int(status_holder["status"])
            metrics.requests.labels(method=method, route=route, status=str(status)).inc()
            metrics.latency.labels(method=method, route=route).observe(elapsed)
            if span.is_recording():
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    mark_error(span, f"status {status}")
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "durationMs": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


def _request_id(request: Request) -> str:
    state = request.scope.get("state") or {}
    return str(state.get("request_id") or request_id_var.get() or "")


def _error_response(
    request: Request,
    status: int,
    code: ErrorCode,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    ctx: AppContext = request.app.state.ctx
    ctx.metrics.errors.labels(route=_route_template(request.scope), code=code.value).inc()
    return JSONResponse(
        error_body(code, message, _request_id(request), details), status, headers=headers
    )


def _validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header"}:
            where, field = loc[0], ".".join(loc[1:])
        else:
            where, field = "request", ".".join(loc)
        details.append(
            {"in": where, "field": field, "reason": str(item.get("msg")), "type": item.get("type")}
        )
    return details


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(DatabaseUnavailable)
    async def db_unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        ctx: AppContext = request.app.state.ctx
        ctx.metrics.db_unavailable.inc()
        log.warning("database unavailable", extra={"detail": str(exc)[:300]})
        return _error_response(
            request,
            503,
            ErrorCode.SERVER_DATABASE_UNAVAILABLE,
            default_message(ErrorCode.SERVER_DATABASE_UNAVAILABLE),
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(SQLAlchemyError)
    async def sqlalchemy_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if is_database_unavailable(exc):
            return await db_unavailable(request, DatabaseUnavailable(str(exc)))
        raise exc

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(
            request,
            400,
            ErrorCode.VALIDATION_FAILED,
            default_message(ErrorCode.VALIDATION_FAILED),
            _validation_details(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        headers = dict(exc.headers or {})
        if status == 404:
            code, message = ErrorCode.RESOURCE_NOT_FOUND, "No such route"
        elif status == 405:
            code = ErrorCode.RESOURCE_NOT_FOUND
            message = f"Method {request.method} is not allowed on this route"
        elif status == 401:
            code, message = ErrorCode.AUTH_REQUIRED, default_message(ErrorCode.AUTH_REQUIRED)
        elif status == 403:
            code, message = ErrorCode.AUTH_FORBIDDEN, default_message(ErrorCode.AUTH_FORBIDDEN)
        elif isinstance(exc, BodyTooLarge):
            code, message = ErrorCode.VALIDATION_FAILED, str(exc.detail)
            return _error_response(
                request, 413, code, message, {"limitBytes": exc.limit}, {"Connection": "close"}
            )
        elif status == 429:
            code = ErrorCode.RATE_LIMIT_EXCEEDED
            message = default_message(ErrorCode.RATE_LIMIT_EXCEEDED)
        elif 400 <= status < 500:
            code, message = ErrorCode.VALIDATION_FAILED, str(exc.detail)
        else:
            code = ErrorCode.SERVER_INTERNAL_ERROR
            message = default_message(ErrorCode.SERVER_INTERNAL_ERROR)
        return _error_response(request, status, code, message, headers=headers)


async def _startup(ctx: AppContext) -> None:
    if ctx.settings.should_auto_migrate:
        try:
            await upgrade_engine(ctx.db.engine)
        except Exception as error:
            if ctx.db.backend == "sqlite" or not is_database_unavailable(error):
                raise
            log.error(
                "database unavailable at start-up; skipped migrations (run `ringrift db upgrade`)",
                extra={"detail": str(error)[:300]},
            )


async def _watch_keyring(ctx: AppContext) -> None:
    """Pick up a rewritten JWT_KEYRING_FILE without a restart (polls its mtime)."""
    while True:
        await asyncio.sleep(KEYRING_POLL_SECONDS)
        try:
            if ctx.keyring.reload_if_changed():
                ctx.sockets.sweep_soon()
        except Exception as error:
            log.error(
                "keyring reload failed; keeping the previous keys", extra={"detail": str(error)}
            )


def _reload_keyring(ctx: AppContext) -> None:
    """``ringrift:keyring`` message: re-read the keys now (used by secrets rotation)."""
    try:
        ctx.keyring.reload()
        ctx.sockets.sweep_soon()
    except Exception as error:
        log.error("keyring reload failed; keeping the previous keys", extra={"detail": str(error)})


def create_app(settings: Settings | None = None, *, ctx: AppContext | None = None) -> FastAPI:
    """Build the app. Resources are created here (no network I/O); migrations (SQLite by
    default) and the keyring watcher run in the lifespan."""
    if ctx is None:
        ctx = AppContext.build(settings or Settings())

    hub = realtime.Hub(ctx)
    ctx.hub = hub
    ctx.sockets = SocketGuard(ctx)
    ctx.bus.on_event(hub.dispatch)
    ctx.bus.on_resubscribe(hub.resync_all)
    ctx.lobby = LobbyFeed(ctx)
    ctx.bus.on_event(ctx.lobby.dispatch)
    ctx.bus.on_resubscribe(ctx.lobby.resync_all)
    ctx.bus.on_keyring_reload(lambda: _reload_keyring(ctx))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await _startup(ctx)
        ctx.redis.start()
        ctx.bus.start()
        watcher = asyncio.create_task(_watch_keyring(ctx)) if ctx.keyring.file is not None else None
        guard = asyncio.create_task(ctx.sockets.run(), name="ws-guard")
        # Everything alive now (modules, app, settings) lives as long as the process: move it
        # out of the collector's generations so full collections stay short under load.
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        if ctx.settings.gc_threshold_values is not None:
            gc.set_threshold(*ctx.settings.gc_threshold_values)
        # AI turns left due by a restart (or a crashed instance) are picked up here.
        sweeper = asyncio.create_task(ai_turns.sweep(ctx), name="ai-sweep")
        matchmaker = asyncio.create_task(
            matchmaking_service.run_sweeper(ctx), name="matchmaking-sweep"
        )
        # Fallen flags are adjudicated here while nobody moves (every instance sweeps).
        flag_sweeper = asyncio.create_task(flags.sweep(ctx), name="flag-sweep")
        # Seat presence (heartbeats, reconciliation) and withdrawal of abandoned seats.
        presence = asyncio.create_task(hub.presence.run(), name="presence")
        abandoner = asyncio.create_task(abandonment.run_sweeper(ctx), name="abandonment-sweep")
        background = [presence, abandoner, guard, matchmaker, flag_sweeper, sweeper]
        if ctx.settings.replay_prewarm:
            background.append(asyncio.create_task(ctx.prewarm_replays(), name="replay-prewarm"))
        log.info(
            "ringrift app started",
            extra={"database": ctx.db.backend, "env": ctx.settings.ringrift_env},
        )
        try:
            yield
        finally:
            # Shutdown never hangs: each step gets a bounded wait (a dependency that went
            # away must not keep the process, or a test, from ending).
            await _bounded(hub.close_all(), "sockets")
            tasks = list(background)
            if watcher is not None:
                tasks.append(watcher)
            for task in tasks:
                task.cancel()
            await _bounded(hub.presence.forget_local(), "presence entries")
            await _bounded(asyncio.gather(*tasks, return_exceptions=True), "background tasks")
            await _bounded(ctx.lobby.close(), "lobby feed")
            await _bounded(ctx.close(), "connections")
            gc.set_threshold(*thresholds)  # the process may go on (tests start many apps)

    app = FastAPI(
        title="RingRift API",
        version=__version__,
        description="RingRift platform: accounts, games, moves, ratings, health.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    # `live` before `games`: its `/api/games/live` must not be taken for a game id.
    for module in (
        root,
        auth,
        users,
        leaderboard,
        live,
        games,
        matchmaking,
        play,
        rematch,
        realtime,
        account,
        admin,
        reports,
        chat,
    ):
        app.include_router(module.router)
    for module in (analysis, sandbox):
        app.include_router(module.router)
    app.include_router(endings.router)
    app.include_router(account.auth_router)
    mount_web(app)
    _install_error_handlers(app)
    # Outermost last: the request id and access log wrap the body limit, so a 413 carries the
    # request id and is logged like any other answer.
    app.add_middleware(
        BodyLimitMiddleware,
        limit_for=app_body_limit(ctx.settings.max_body_bytes_auth, ctx.settings.max_body_bytes),
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware, ctx=ctx)
    return app
