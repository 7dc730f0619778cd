"""The AI service: ``POST /ai/move``, ``POST /ai/analyze`` plus health, readiness and
Prometheus metrics.

Searches run in a process pool (real parallelism despite the GIL), so concurrent requests do
not block each other or the event loop. With an OTLP endpoint set (``OTEL_EXPORTER_OTLP_*``,
see ``server/tracing.py``) each request is a server span that continues the caller's
``traceparent``, with an ``ai search`` span around the search.

Every bad request is answered with 400/422 and a body ``{"error": {"code", "message"}}``;
nothing a client sends produces a 500.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import multiprocessing
import os
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

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
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ringrift.ai.ladder import budget_scale as resolve_scale
from ringrift.ai.ladder import level_budget
from ringrift.aiservice import worker
from ringrift.rules import BOARD_TYPES, GameState, WireFormatError
from ringrift.rules.geometry import DEFAULT_SIZE
from ringrift.server.security.http import BodyLimitMiddleware
from ringrift.server.tracing import SpanKind, Tracing, TracingConfig, mark_error

MAX_SEED = 2**63 - 1
RequestT = TypeVar("RequestT", bound=BaseModel)

# Largest request body per board (bytes): a state with a long move history, with room to spare.
# The largest of them is enforced before the body is read; the board's own after parsing.
BODY_LIMITS = {
    "square8": 512 * 1024,
    "hex8": 1024 * 1024,
    "square19": 3 * 1024 * 1024,
    "hexagonal": 4 * 1024 * 1024,
}
MAX_BODY_BYTES = max(BODY_LIMITS.values())


class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    game_state: dict[str, Any]
    player_number: StrictInt = Field(ge=1, le=4)
    difficulty: StrictInt = Field(ge=1, le=10)
    seed: StrictInt | None = Field(default=None, ge=0, le=MAX_SEED)
    # The caller's cap on the think time (an AI seat plays within its game clock): the search
    # gets the smaller of this and the level's budget.
    time_budget_s: float | None = Field(default=None, gt=0, le=600)


class MoveResponse(BaseModel):
    move: dict[str, Any]
    evaluation: float
    thinking_time_ms: float
    difficulty: int


class AnalyzeRequest(BaseModel):
    """``POST /ai/analyze``: a position (any status) and the level whose depth and budget the
    analysis uses; ``top`` is how many best moves get exact scores."""

    model_config = ConfigDict(extra="ignore")

    game_state: dict[str, Any]
    level: StrictInt = Field(ge=1, le=10)
    top: StrictInt = Field(default=5, ge=1, le=10)


class SeatOut(BaseModel):
    player: int
    evaluation: float
    win_chance: float


class ScoredMoveOut(BaseModel):
    move: dict[str, Any]
    score: float
    win_chance: float


class AnalyzeResponse(BaseModel):
    """See ``ringrift.ai.analysis`` for what the numbers mean (``win_chance`` is a squashed
    evaluation, not a calibrated probability)."""

    player_to_move: int | None
    level: int
    seats: list[SeatOut]
    best_move: dict[str, Any] | None
    top_moves: list[ScoredMoveOut]
    depth: int
    complete: bool
    nodes: int
    thinking_time_ms: float


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


def _too_large(limit: int, _request_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": "body_too_large",
                "message": f"request body too large: the limit is {limit} bytes",
            }
        }
    ).encode()


def _decode(body: bytes, model: type[RequestT]) -> RequestT:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ServiceError(422, "invalid_json", f"body: invalid JSON ({error})") from None
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in item.get('loc', ())) or 'body'}: {item.get('msg')}"
            for item in error.errors()
        ]
        raise ServiceError(422, "invalid_request", "; ".join(problems)[:2000]) from None


def _parse_request(body: bytes) -> tuple[MoveRequest, GameState]:
    """Decode, validate and load a move request (CPU work: run it off the event loop)."""
    req = _decode(body, MoveRequest)
    return req, _check_request(req, len(body))


def _parse_analyze(body: bytes) -> tuple[AnalyzeRequest, GameState]:
    """Decode, validate and load an analysis request (any game status is fine)."""
    req = _decode(body, AnalyzeRequest)
    return req, _load_state(req.game_state, len(body))


def _load_state(game_state: dict[str, Any], body_bytes: int) -> GameState:
    """The board checks (type, size, body size for the board) and the wire-format load."""
    board = game_state.get("board")
    board_type = board.get("type") if isinstance(board, dict) else None
    if board_type is not None and board_type not in BOARD_TYPES:
        raise ServiceError(
            400, "unknown_board", f"unknown board type {board_type!r}: use {', '.join(BOARD_TYPES)}"
        )
    if isinstance(board, dict) and isinstance(board_type, str):
        size = board.get("size", DEFAULT_SIZE[board_type])
        # Boards larger than the standard size cost more than any level's budget allows (a
        # hexagonal board of size 63 searched for 13 s); smaller ones (test positions) are fine.
        if not isinstance(size, int) or isinstance(size, bool) or size > DEFAULT_SIZE[board_type]:
            raise ServiceError(
                400,
                "unsupported_board_size",
                f"board size {size!r} is not served: {board_type} boards are at most "
                f"{DEFAULT_SIZE[board_type]}",
            )
        if body_bytes > BODY_LIMITS[board_type]:
            raise ServiceError(
                413,
                "body_too_large",
                f"request body too large for a {board_type} board: the limit is "
                f"{BODY_LIMITS[board_type]} bytes",
            )
    try:
        return GameState.from_json(game_state)
    except WireFormatError as error:
        raise ServiceError(400, "invalid_state", str(error)) from None
    except Exception as error:  # the loader should only raise WireFormatError; be safe
        raise ServiceError(400, "invalid_state", f"malformed game state: {error}") from None


def _check_request(req: MoveRequest, body_bytes: int = 0) -> GameState:
    """Everything about a move request that can be wrong, as a ServiceError."""
    state = _load_state(req.game_state, body_bytes)
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


def service_tokens_from_env() -> tuple[str, ...]:
    """``AI_SERVICE_TOKEN``: one token, or several separated by commas while rotating (the
    service accepts all of them; the app sends one)."""
    raw = os.environ.get("AI_SERVICE_TOKEN", "")
    return tuple(token.strip() for token in raw.split(",") if token.strip())


def create_app(
    *,
    workers: int = 2,
    budget_scale: float | None = None,
    use_processes: bool = True,
    tokens: tuple[str, ...] | None = None,
    queue_limit: int | None = None,
    deadline_grace_seconds: float = 1.0,
    tracing: Tracing | None = None,
) -> FastAPI:
    """Build the service. ``workers`` caps concurrent searches; ``budget_scale`` scales every
    level's budget (default: ``RINGRIFT_AI_BUDGET_SCALE`` or 1). ``tokens`` (default
    ``AI_SERVICE_TOKEN``) are the bearer tokens ``/ai/move`` accepts; none = open (development).
    At most ``queue_limit`` (default 2 x workers) requests wait for a worker; more get 503 with
    Retry-After. A search that runs past its level's budget plus ``deadline_grace_seconds`` is
    answered 503 ``deadline_exceeded``. ``tracing`` defaults to the OTLP environment variables
    (service name ``ringrift-ai``)."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if tracing is None:
        tracing = Tracing.from_config(TracingConfig.from_env("ringrift-ai"))
    accepted = tuple(t.encode() for t in (service_tokens_from_env() if tokens is None else tokens))
    waiting_limit = 2 * workers if queue_limit is None else queue_limit
    admitted = {"count": 0}
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
            await asyncio.to_thread(tracing.shutdown)

    app = FastAPI(title="RingRift AI service", version="1", lifespan=lifespan)
    app.state.metrics = metrics
    app.state.tracing = tracing
    app.add_middleware(
        BodyLimitMiddleware, limit_for=lambda _path: MAX_BODY_BYTES, render=_too_large
    )

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        endpoint = request.url.path if request.url.path in _ENDPOINTS else "other"
        parent = tracing.extract(request.headers) if tracing.enabled else None
        attributes = {"http.request.method": request.method, "http.route": endpoint}
        name = f"{request.method} {endpoint}"
        with tracing.span(name, SpanKind.SERVER, attributes, parent) as span:
            try:
                response: Response = await call_next(request)
            except Exception:  # pragma: no cover - handlers below turn errors into responses
                metrics.requests.labels(endpoint, "500").inc()
                metrics.errors.labels("internal").inc()
                mark_error(span, "internal")
                return _error(500, "internal", "internal error")
            metrics.requests.labels(endpoint, str(response.status_code)).inc()
            metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                mark_error(span, f"status {response.status_code}")
            return response

    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, error: RequestValidationError) -> JSONResponse:
        code, message = _validation_message(error)
        metrics.errors.labels(code).inc()
        return _error(422, code, message)

    @app.exception_handler(ServiceError)
    async def on_service_error(_: Request, error: ServiceError) -> JSONResponse:
        metrics.errors.labels(error.code).inc()
        response = _error(error.status, error.code, error.message)
        if error.status == 503:
            response.headers["Retry-After"] = "1"
        if error.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            error.status_code, "http_error"
        )
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

    @app.post(
        "/ai/move",
        response_model=MoveResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": MoveRequest.model_json_schema()}},
            }
        },
    )
    async def ai_move(request: Request) -> MoveResponse:
        _admit(request)
        admitted["count"] += 1
        release = {"by_search": False}
        try:
            return await _serve_move(request, release)
        finally:
            if not release["by_search"]:
                admitted["count"] -= 1

    @app.post(
        "/ai/analyze",
        response_model=AnalyzeResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": AnalyzeRequest.model_json_schema()}},
            }
        },
    )
    async def ai_analyze(request: Request) -> AnalyzeResponse:
        """The evaluation of a position for every seat and the best moves with their scores,
        under the same token, queue, deadline and body limits as ``/ai/move``."""
        _admit(request)
        admitted["count"] += 1
        release = {"by_search": False}
        try:
            return await _serve_analysis(request, release)
        finally:
            if not release["by_search"]:
                admitted["count"] -= 1

    def _admit(request: Request) -> None:
        """The service token, then a place in the bounded queue (the caller takes it)."""
        if accepted:
            header = request.headers.get("authorization", "")
            given = header.removeprefix("Bearer ").encode() if header.startswith("Bearer ") else b""
            if not any(hmac.compare_digest(given, token) for token in accepted):
                raise ServiceError(401, "unauthorized", "a valid service token is required")
        if admitted["count"] >= workers + waiting_limit:
            raise ServiceError(503, "busy", "the search queue is full; retry shortly")

    async def _run(
        release: dict[str, bool], level: int, *args: Any, budget_s: float | None = None
    ) -> dict[str, Any]:
        """Run ``args`` in the pool under the level's hard deadline (or ``budget_s``'s, when
        the caller capped the think time)."""
        executor = state["executor"]
        if executor is None or not state["ready"]:
            raise ServiceError(503, "not_ready", "the search workers are starting")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(executor, *args)
        # The slot is held until the search really ends (even past the deadline below), so a
        # flood of slow searches cannot pile up behind the workers.
        release["by_search"] = True
        future.add_done_callback(_release)
        # Hard deadline: the level's budget (as scaled) plus a grace for scheduling.
        budget = level_budget(level, scale) if budget_s is None else budget_s
        deadline = budget + deadline_grace_seconds
        attributes = {"ringrift.ai.level": level, "ringrift.ai.budget_s": budget}
        try:
            with tracing.span("ai search", attributes=attributes):
                result: dict[str, Any] = await asyncio.wait_for(asyncio.shield(future), deadline)
        except TimeoutError:
            raise ServiceError(
                503, "deadline_exceeded", f"the search did not finish within {deadline:.1f}s"
            ) from None
        return result

    async def _serve_analysis(request: Request, release: dict[str, bool]) -> AnalyzeResponse:
        body = await request.body()
        req, _state = await asyncio.to_thread(_parse_analyze, body)
        result = await _run(
            release, req.level, worker.analyze, req.game_state, req.level, req.top, scale
        )
        metrics.thinking.labels(str(req.level)).observe(result["thinking_time_ms"] / 1000.0)
        return AnalyzeResponse.model_validate(result)

    def _release(_future: object) -> None:
        admitted["count"] -= 1

    async def _serve_move(request: Request, release: dict[str, bool]) -> MoveResponse:
        body = await request.body()
        # Decoding and loading a large state takes a while: never on the event loop, so
        # /health and other requests are answered meanwhile.
        req, _state = await asyncio.to_thread(_parse_request, body)
        # An AI seat plays within its game clock: a cap below the level's budget shortens the
        # search (and its deadline).
        cap = req.time_budget_s
        if cap is not None and cap >= level_budget(req.difficulty, scale):
            cap = None
        result = await _run(
            release,
            req.difficulty,
            worker.search,
            req.game_state,
            req.difficulty,
            req.seed,
            scale,
            cap,
            budget_s=cap,
        )
        metrics.thinking.labels(str(req.difficulty)).observe(result["thinking_time_ms"] / 1000.0)
        return MoveResponse(
            move=result["move"],
            evaluation=result["evaluation"],
            thinking_time_ms=result["thinking_time_ms"],
            difficulty=req.difficulty,
        )

    return app


_ENDPOINTS = frozenset({"/ai/move", "/ai/analyze", "/health", "/ready", "/metrics"})
