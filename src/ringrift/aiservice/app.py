"""The AI service: ``POST /ai/move`` plus health, readiness and Prometheus metrics.

Searches run in a process pool (real parallelism despite the GIL), so concurrent requests do
not block each other or the event loop. Every bad request is answered with 400/422 and a body
``{"error": {"code", "message"}}``; nothing a client sends produces a 500.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.exceptions import HTTPException as StarletteHTTPException

from ringrift.ai.ladder import budget_scale as resolve_scale
from ringrift.aiservice import worker
from ringrift.rules import BOARD_TYPES, GameState, WireFormatError

MAX_SEED = 2**63 - 1


class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    game_state: dict[str, Any]
    player_number: StrictInt = Field(ge=1, le=4)
    difficulty: StrictInt = Field(ge=1, le=10)
    seed: StrictInt | None = Field(default=None, ge=0, le=MAX_SEED)


class MoveResponse(BaseModel):
    move: dict[str, Any]
    evaluation: float
    thinking_time_ms: float
    difficulty: int


class ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ServiceMetrics:
    """Prometheus metrics in a private registry (several apps may live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ringrift_ai_requests",
            "HTTP requests served, by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ringrift_ai_request_seconds",
            "Request latency, by endpoint.",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 20),
            registry=self.registry,
        )
        self.errors = Counter(
            "ringrift_ai_errors",
            "Requests answered with an error, by error code.",
            ["code"],
            registry=self.registry,
        )
        self.thinking = Histogram(
            "ringrift_ai_thinking_seconds",
            "Search time per move, by difficulty.",
            ["difficulty"],
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5),
            registry=self.registry,
        )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}})


def _validation_message(error: RequestValidationError) -> tuple[str, str]:
    problems = []
    code = "invalid_request"
    for item in error.errors():
        loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        if item.get("type") == "json_invalid":
            code = "invalid_json"
        problems.append(f"{loc or 'body'}: {item.get('msg', 'invalid')}")
    return code, "; ".join(problems)[:2000] or "invalid request"


def _check_request(req: MoveRequest) -> GameState:
    """Everything about a move request that can be wrong, as a ServiceError."""
    board = req.game_state.get("board")
    board_type = board.get("type") if isinstance(board, dict) else None
    if board_type is not None and board_type not in BOARD_TYPES:
        raise ServiceError(
            400, "unknown_board", f"unknown board type {board_type!r}: use {', '.join(BOARD_TYPES)}"
        )
    try:
        state = GameState.from_json(req.game_state)
    except WireFormatError as error:
        raise ServiceError(400, "invalid_state", str(error)) from None
    except Exception as error:  # the loader should only raise WireFormatError; be safe
        raise ServiceError(400, "invalid_state", f"malformed game state: {error}") from None
    if state.game_status != "active":
        raise ServiceError(400, "game_over", "the game is over: there is no move to choose")
    if req.player_number > state.num_players:
        raise ServiceError(
            400,
            "wrong_player",
            f"player_number {req.player_number} is not in this {state.num_players}-player game",
        )
    if req.player_number != state.current_player:
        raise ServiceError(
            400,
            "wrong_player",
            f"it is player {state.current_player}'s turn, not player {req.player_number}'s",
        )
    return state


def create_app(
    *, workers: int = 2, budget_scale: float | None = None, use_processes: bool = True
) -> FastAPI:
    """Build the service. ``workers`` caps concurrent searches; ``budget_scale`` scales every
    level's budget (default: ``RINGRIFT_AI_BUDGET_SCALE`` or 1)."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    scale = resolve_scale(budget_scale)
    metrics = ServiceMetrics()
    state: dict[str, Any] = {"executor": None, "ready": False}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        executor: Executor
        if use_processes:
            executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=worker.watch_parent,
                initargs=(os.getpid(),),
            )
        else:
            executor = ThreadPoolExecutor(max_workers=workers)
        state["executor"] = executor
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(executor, worker.warm_up) for _ in range(workers))
        )
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            # Wait for the workers to exit (running searches end within their budget).
            executor.shutdown(wait=True, cancel_futures=True)

    app = FastAPI(title="RingRift AI service", version="1", lifespan=lifespan)
    app.state.metrics = metrics

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        endpoint = request.url.path if request.url.path in _ENDPOINTS else "other"
        try:
            response: Response = await call_next(request)
        except Exception:  # pragma: no cover - handlers below turn errors into responses
            metrics.requests.labels(endpoint, "500").inc()
            metrics.errors.labels("internal").inc()
            return _error(500, "internal", "internal error")
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, error: RequestValidationError) -> JSONResponse:
        code, message = _validation_message(error)
        metrics.errors.labels(code).inc()
        return _error(422, code, message)

    @app.exception_handler(ServiceError)
    async def on_service_error(_: Request, error: ServiceError) -> JSONResponse:
        metrics.errors.labels(error.code).inc()
        return _error(error.status, error.code, error.message)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        metrics.errors.labels(code).inc()
        return _error(error.status_code, code, str(error.detail))

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, error: Exception) -> JSONResponse:
        metrics.errors.labels("internal").inc()
        return _error(500, "internal", f"{type(error).__name__}")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        if not state["ready"]:
            return _error(503, "not_ready", "the search workers are starting")
        return JSONResponse({"status": "ready", "workers": workers, "budget_scale": scale})

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/ai/move", response_model=MoveResponse)
    async def ai_move(req: MoveRequest) -> MoveResponse:
        _check_request(req)
        executor = state["executor"]
        if executor is None or not state["ready"]:
            raise ServiceError(503, "not_ready", "the search workers are starting")
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            executor, worker.search, req.game_state, req.difficulty, req.seed, scale
        )
        metrics.thinking.labels(str(req.difficulty)).observe(result["thinking_time_ms"] / 1000.0)
        return MoveResponse(
            move=result["move"],
            evaluation=result["evaluation"],
            thinking_time_ms=result["thinking_time_ms"],
            difficulty=req.difficulty,
        )

    return app


_ENDPOINTS = frozenset({"/ai/move", "/health", "/ready", "/metrics"})
