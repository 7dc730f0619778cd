"""How the app gets a move for an AI seat.

1. Ask the AI service: ``POST {AI_SERVICE_URL}/ai/move {game_state, player_number, difficulty,
   seed?}`` with a timeout. The returned move is checked against the rules before it is used.
2. If the service is unreachable, slow, errs or answers with something unusable, play the seat
   in-process with ``ringrift.ai.choose_move`` at a reduced level (when that package is present).
3. If that is unavailable or fails too, play the first legal move.

Every move this returns is legal in the given state. Each fallback is counted in the metrics with
its reason. With tracing on, each move is an ``ai move`` span (level, seat, where the move came
from) around a client span per service call that carries ``traceparent``, so the service's own
spans join the caller's trace.

Step 1 sits behind a concurrency cap (at most ``max_concurrent`` requests in flight; a seat that
cannot get a slot within the timeout falls back with reason ``busy``) and a circuit breaker:
``failure_threshold`` consecutive failures (error, timeout, unusable or illegal answer) open it;
while open the service is not called (reason ``breaker_open``); after ``cooldown_seconds`` it
half-opens and lets one trial request through; a success closes it, a failure opens it again.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ringrift.rules import GameState, IllegalMove, Move, WireFormatError, apply_move, legal_moves
from ringrift.server.metrics import Metrics
from ringrift.server.tracing import SpanKind, Tracing, mark_error

log = logging.getLogger(__name__)

# ``ringrift.ai.choose_move(state, level, *, seed=None)``; it returns a Move or a decision
# object carrying one in ``.move``.
LocalChooser = Callable[..., Any]
# How long past a capped think time the service's answer is waited for.
BUDGET_GRACE_S = 1.0


CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Consecutive-failure circuit breaker with a cool-down and a single half-open trial."""

    def __init__(
        self,
        failure_threshold: int = 3,
        cooldown_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown_seconds
        self.clock = clock
        self.failures = 0
        self._state = CLOSED
        self._opened_at = 0.0
        self._trial_in_flight = False
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        """The state as seen now (an open breaker past its cool-down reads ``half_open``)."""
        if self._state == OPEN and self.clock() - self._opened_at >= self.cooldown:
            return HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """May a request go to the service now? (Claims the half-open trial when it does.)"""
        state = self.state
        if state == CLOSED:
            return True
        if state == OPEN:
            return False
        if self._trial_in_flight:
            return False
        self._state = HALF_OPEN
        self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        if self._state != CLOSED:
            log.info("AI service circuit breaker closed")
        self._state = CLOSED
        self.failures = 0
        self._trial_in_flight = False
        self.last_error = None

    def record_failure(self, error: str) -> None:
        self.failures += 1
        self.last_error = error
        trial = self._trial_in_flight
        self._trial_in_flight = False
        if trial or self._state == HALF_OPEN or self.failures >= self.failure_threshold:
            if self._state != OPEN or trial:
                log.warning(
                    "AI service circuit breaker opened",
                    extra={"failures": self.failures, "detail": error},
                )
            self._state = OPEN
            self._opened_at = self.clock()

    def release_trial(self) -> None:
        """A claimed trial did not reach the service (for instance no free slot)."""
        self._trial_in_flight = False

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {"state": self.state, "consecutiveFailures": self.failures}
        if self.last_error:
            data["lastError"] = self.last_error
        return data


@dataclass(frozen=True)
class AIMove:
    move: Move
    state: GameState  # the state after the move
    source: str  # "service", "local" or "fallback"
    elapsed_ms: float
    fallback_reason: str | None = None


def _load_local(module_name: str, function: str) -> LocalChooser | None:
    """``module_name.function`` of the in-process AI, or None when it is not installed."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    found = getattr(module, function, None)
    return found if callable(found) else None


class AIClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float,
        fallback_max_level: int,
        metrics: Metrics,
        http: httpx.AsyncClient,
        local_chooser: LocalChooser | bool | None = True,
        max_concurrent: int = 8,
        breaker: CircuitBreaker | None = None,
        service_token: str = "",
        tracing: Tracing | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tracing = tracing or Tracing.disabled()
        self._auth = {"Authorization": f"Bearer {service_token}"} if service_token else {}
        self.breaker = breaker or CircuitBreaker()
        self._slots = asyncio.Semaphore(max_concurrent)
        self.timeout = timeout_seconds
        self.fallback_max_level = fallback_max_level
        self.metrics = metrics
        self.http = http
        if local_chooser is True:
            self._local: LocalChooser | None = _load_local("ringrift.ai", "choose_move")
        elif local_chooser is False:
            self._local = None
        else:
            self._local = local_chooser

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)

    async def choose(
        self,
        state: GameState,
        seat: int,
        level: int,
        seed: int | None,
        budget_s: float | None = None,
    ) -> AIMove:
        """The AI's move for ``seat``. ``budget_s`` caps the think time below the level's own
        budget (an AI seat plays within its clock: ``clocks.ai_budget_s``)."""
        attributes = {"ringrift.ai.level": level, "ringrift.ai.seat": seat}
        with self.tracing.span("ai move", attributes=attributes) as span:
            chosen = await self._choose(state, seat, level, seed, budget_s)
            span.set_attribute("ringrift.ai.source", chosen.source)
            if chosen.fallback_reason is not None:
                span.set_attribute("ringrift.ai.fallback_reason", chosen.fallback_reason)
            return chosen

    async def _choose(
        self,
        state: GameState,
        seat: int,
        level: int,
        seed: int | None,
        budget_s: float | None,
    ) -> AIMove:
        started = time.perf_counter()
        reason = await self._admit()
        if reason is None:
            try:
                result = await self._from_service(state, seat, level, seed, started, budget_s)
            finally:
                self._slots.release()
            if isinstance(result, AIMove):
                self.breaker.record_success()
                self._sync_gauge()
                return result
            reason = result
            self._sync_gauge()
        self.metrics.ai_fallbacks.labels(reason=reason).inc()
        return await self._fallback(state, level, seed, started, reason, budget_s)

    async def _admit(self) -> str | None:
        """Take a service slot (None: the caller must release it) or say why the service is
        not asked: not configured, breaker open, or every slot busy past the timeout."""
        if not self.enabled:
            return "not_configured"
        if not self.breaker.allow():
            return "breaker_open"
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout)
        except TimeoutError:
            self.breaker.release_trial()
            return "busy"
        return None

    async def _from_service(
        self,
        state: GameState,
        seat: int,
        level: int,
        seed: int | None,
        started: float,
        budget_s: float | None = None,
    ) -> AIMove | str:
        """The service's move applied, or the fallback reason (the breaker is told)."""
        try:
            move = await self._ask_service(state, seat, level, seed, budget_s)
        except _ServiceProblem as problem:
            log.warning(
                "AI service move failed; falling back",
                extra={"reason": problem.reason, "detail": problem.detail},
            )
            self.breaker.record_failure(f"{problem.reason}: {problem.detail}"[:300])
            return problem.reason
        try:
            after = apply_move(state, move)
        except IllegalMove as error:
            log.warning(
                "AI service returned an illegal move; falling back",
                extra={"detail": error.reason},
            )
            self.breaker.record_failure(f"illegal_move: {error.reason}"[:300])
            return "illegal_move"
        self.metrics.ai_moves.labels(source="service").inc()
        return AIMove(move, after, "service", _ms(started))

    def _sync_gauge(self) -> None:
        self.metrics.ai_breaker_state.set(0 if self.breaker.state == CLOSED else 1)

    async def _ask_service(
        self,
        state: GameState,
        seat: int,
        level: int,
        seed: int | None,
        budget_s: float | None = None,
    ) -> Move:
        body: dict[str, Any] = {
            "game_state": state.to_json(),
            "player_number": seat,
            "difficulty": level,
        }
        if seed is not None:
            body["seed"] = seed
        timeout = self.timeout
        if budget_s is not None:
            # The service thinks at most this long; waiting much longer would spend the seat's
            # clock on the network instead of falling back.
            body["time_budget_s"] = round(budget_s, 3)
            timeout = min(timeout, budget_s + BUDGET_GRACE_S)
        try:
            response = await self._post("/ai/move", body, timeout)
        except httpx.TimeoutException as error:
            raise _ServiceProblem("timeout", str(error)) from error
        except httpx.HTTPError as error:
            raise _ServiceProblem("unreachable", f"{type(error).__name__}: {error}") from error
        if response.status_code != 200:
            raise _ServiceProblem("http_error", f"status {response.status_code}")
        try:
            payload = response.json()
            return Move.from_json(payload["move"])
        except (ValueError, KeyError, TypeError, WireFormatError) as error:
            raise _ServiceProblem("bad_response", f"{type(error).__name__}: {error}") from error

    async def _post(self, path: str, body: dict[str, Any], timeout: float) -> httpx.Response:
        """POST to the service inside a client span whose context travels as ``traceparent``."""
        url = f"{self.base_url}{path}"
        attributes = {"http.request.method": "POST", "url.full": url}
        with self.tracing.span(f"POST {path}", SpanKind.CLIENT, attributes) as span:
            headers = dict(self._auth)
            self.tracing.inject(headers)
            response = await self.http.post(url, json=body, timeout=timeout, headers=headers)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 400:
                mark_error(span, f"status {response.status_code}")
            return response

    async def analyze(self, state: GameState, level: int, top: int) -> AIAnalysis:
        """The analysis of ``state`` at ``level``: from the service (same slots and breaker as
        the moves), else in-process at a level capped like the move fallback. Raises
        LookupError when neither can answer."""
        started = time.perf_counter()
        reason = await self._admit()
        if reason is None:
            try:
                doc = await self._analysis_from_service(state, level, top)
            except _ServiceProblem as problem:
                log.warning(
                    "AI service analysis failed; analysing in-process",
                    extra={"reason": problem.reason, "detail": problem.detail},
                )
                self.breaker.record_failure(f"{problem.reason}: {problem.detail}"[:300])
                reason = problem.reason
            else:
                self.breaker.record_success()
                return AIAnalysis(doc, "service", _ms(started))
            finally:
                self._slots.release()
                self._sync_gauge()
        self.metrics.ai_fallbacks.labels(reason=reason).inc()
        local = _load_local("ringrift.ai.analysis", "analyze")
        if local is None:
            raise LookupError("no AI is available for analysis")
        local_level = max(1, min(level, self.fallback_max_level))
        try:
            result = await asyncio.to_thread(local, state, local_level, top=top)
        except Exception as error:  # a position the search cannot handle: no analysis
            log.warning(
                "local analysis failed", extra={"detail": f"{type(error).__name__}: {error}"}
            )
            raise LookupError("the analysis failed") from error
        return AIAnalysis(result.to_json(), "local", _ms(started), reason)

    async def _analysis_from_service(
        self, state: GameState, level: int, top: int
    ) -> dict[str, Any]:
        body = {"game_state": state.to_json(include_history=False), "level": level, "top": top}
        try:
            response = await self._post("/ai/analyze", body, self.timeout)
        except httpx.TimeoutException as error:
            raise _ServiceProblem("timeout", str(error)) from error
        except httpx.HTTPError as error:
            raise _ServiceProblem("unreachable", f"{type(error).__name__}: {error}") from error
        if response.status_code != 200:
            raise _ServiceProblem("http_error", f"status {response.status_code}")
        try:
            return _checked_analysis(state, response.json())
        except (ValueError, KeyError, TypeError, WireFormatError) as error:
            raise _ServiceProblem("bad_response", f"{type(error).__name__}: {error}") from error

    async def _fallback(
        self,
        state: GameState,
        level: int,
        seed: int | None,
        started: float,
        reason: str,
        budget_s: float | None = None,
    ) -> AIMove:
        if self._local is not None:
            local_level = max(1, min(level, self.fallback_max_level))
            chooser = self._local
            limit = {} if budget_s is None else {"budget_s": _local_budget(local_level, budget_s)}
            try:
                decision = await asyncio.to_thread(chooser, state, local_level, seed=seed, **limit)
                move = decision if isinstance(decision, Move) else decision.move
                if not isinstance(move, Move):
                    raise TypeError(f"local AI returned {type(move).__name__}, not a Move")
                after = apply_move(state, move)
            except Exception as error:  # any failure of the local AI ends in the last resort
                log.warning(
                    "local AI failed; playing the first legal move",
                    extra={"detail": f"{type(error).__name__}: {error}"},
                )
            else:
                self.metrics.ai_moves.labels(source="local").inc()
                return AIMove(move, after, "local", _ms(started), reason)
        moves = legal_moves(state)
        if not moves:
            raise ValueError("no legal move for the AI seat: the game is over")
        move = moves[0]
        after = apply_move(state, move)
        self.metrics.ai_moves.labels(source="fallback").inc()
        return AIMove(move, after, "fallback", _ms(started), reason)


@dataclass(frozen=True)
class AIAnalysis:
    """An analysis document as ``POST /ai/analyze`` answers it (snake_case keys, see
    ``ringrift.ai.analysis``), every move in it checked legal; ``source`` as for AIMove."""

    doc: dict[str, Any]
    source: str
    elapsed_ms: float
    fallback_reason: str | None = None


def _checked_analysis(state: GameState, doc: Any) -> dict[str, Any]:
    """The document if its shape is right and every move in it is legal here, else ValueError."""
    if not isinstance(doc, dict):
        raise ValueError("the analysis is not an object")
    seats = doc.get("seats")
    top = doc.get("top_moves")
    if not isinstance(seats, list) or len(seats) != state.num_players or not isinstance(top, list):
        raise ValueError("the analysis has no seat values or move list")
    for seat in seats:
        if not isinstance(seat, dict) or not all(
            isinstance(seat.get(k), int | float) for k in ("player", "evaluation", "win_chance")
        ):
            raise ValueError("a seat value is malformed")
    legal = set(legal_moves(state)) if state.game_status == "active" else set()
    for entry in top:
        if not isinstance(entry, dict) or not isinstance(entry.get("score"), int | float):
            raise ValueError("a scored move is malformed")
        if Move.from_json(entry.get("move")) not in legal:
            raise ValueError("the analysis names a move that is not legal here")
    if legal and not top:
        raise ValueError("the analysis names no move for an active game")
    return doc


class _ServiceProblem(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _local_budget(level: int, cap_s: float) -> float:
    """The in-process AI's think time: its level's budget, capped by the seat's clock."""
    try:
        from ringrift.ai import level_budget
    except ImportError:
        return cap_s
    return min(level_budget(level), cap_s)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
