"""Tracing with the SDK's in-memory exporter: a real app (PostgreSQL, Redis) and the real AI
service, each on uvicorn in this process with its own exporter. An HTTP request, a WebSocket
move and the AI's answer are followed span by span, and one trace runs from the move frame
through the app's AI client into the AI service. Also: the trace id in the JSON log line,
the move-latency histogram on /metrics, and nothing traced while tracing is off."""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from realtime_support import WS, bearer, is_type, register, to_move
from server_support import LiveServer, fake_ai_service, make_settings

from ringrift.aiservice.app import create_app as create_ai_service
from ringrift.ops.services import RedisServer
from ringrift.server.app import create_app
from ringrift.server.context import AppContext
from ringrift.server.logs import JsonFormatter
from ringrift.server.tracing import Tracing

pytestmark = pytest.mark.integration


@dataclass
class Traced:
    """A running app and AI service and the spans each has exported."""

    app: LiveServer
    ai: LiveServer
    app_spans: InMemorySpanExporter
    ai_spans: InMemorySpanExporter

    @property
    def url(self) -> str:
        return self.app.url


@pytest.fixture(scope="module")
def traced(pg_database: str, redis_server: RedisServer) -> Iterator[Traced]:
    ai_spans = InMemorySpanExporter()
    ai_app = create_ai_service(
        workers=1,
        use_processes=False,
        tokens=(),
        tracing=Tracing.with_exporter(ai_spans, "ringrift-ai"),
    )
    ai = LiveServer(ai_app).start()
    settings = make_settings(
        pg_database,
        redis_url=redis_server.url,
        ai_service_url=ai.url,
        # Limits on, so that frames and moves go through Redis (and show as Redis spans).
        rate_limit_ws_messages=100_000,
        rate_limit_moves=100_000,
        ai_move_timeout_seconds=10.0,
    )
    app_spans = InMemorySpanExporter()
    ctx = AppContext.build(settings, tracing=Tracing.with_exporter(app_spans, "ringrift-app"))
    app = LiveServer(create_app(settings, ctx=ctx)).start()
    yield Traced(app, ai, app_spans, ai_spans)
    app.stop()
    ai.stop()


def _named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def _children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    parent_id = parent.context.span_id
    return [span for span in spans if span.parent is not None and span.parent.span_id == parent_id]


def _moves(spans: Sequence[ReadableSpan], game_id: str) -> list[ReadableSpan]:
    return [
        span
        for span in _named(spans, "ws move")
        if (span.attributes or {}).get("ringrift.game_id") == game_id
    ]


def _wait_spans(
    exporter: InMemorySpanExporter,
    found: Callable[[Sequence[ReadableSpan]], bool],
    timeout: float = 20.0,
) -> Sequence[ReadableSpan]:
    deadline = time.monotonic() + timeout
    while True:
        spans = exporter.get_finished_spans()
        if found(spans):
            return spans
        if time.monotonic() > deadline:
            names = sorted({span.name for span in spans})
            raise AssertionError(f"spans not seen within {timeout}s; have {names}")
        time.sleep(0.05)


def _traceparent() -> tuple[str, int, int]:
    trace_id, span_id = uuid.uuid4().int >> 1, uuid.uuid4().int >> 65
    return f"00-{trace_id:032x}-{span_id:016x}-01", trace_id, span_id


async def _ai_game(base: str) -> tuple[dict[str, Any], str]:
    user = await register(base)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post(
            "/api/games",
            json={
                "boardType": "square8",
                "maxPlayers": 2,
                "aiOpponents": {"count": 1, "difficulty": [1]},
                "seed": 7,
            },
            headers=bearer(user["token"]),
        )
    assert response.status_code == 201, response.text
    return user, response.json()["data"]["game"]["id"]


async def _play_until_ai(ws: WS, game_id: str) -> int:
    """Play the human seat (first legal move, each acknowledged) until the AI seat has
    answered; returns how many moves the human played."""
    played = 0
    while True:
        prompt = await ws.expect(to_move(game_id), 30)
        if any(f["t"] == "event" and f["d"].get("by") == 2 for f in [*ws.backlog, prompt]):
            return played
        assert played < 6, "the AI seat never got a turn"
        ws.backlog = [f for f in ws.backlog if f["t"] not in ("event", "state")]
        move = prompt["d"]["legalMoves"][0]
        version = prompt["d"]["v"]
        await ws.send("move", {"gameId": game_id, "move": move, "v": version, "ack": version})
        await ws.expect(is_type("ack", ack=version))
        played += 1


def _metric(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{sample} not on /metrics")


async def test_http_request_is_a_server_span_with_database_children(traced: Traced) -> None:
    user, game_id = await _ai_game(traced.url)
    header, trace_id, caller_span = _traceparent()
    async with httpx.AsyncClient(base_url=traced.url, timeout=10) as http:
        response = await http.get(
            f"/api/games/{game_id}", headers={**bearer(user["token"]), "traceparent": header}
        )
    assert response.status_code == 200, response.text

    def seen(spans: Sequence[ReadableSpan]) -> bool:
        return any(span.context.trace_id == trace_id for span in spans)

    spans = _wait_spans(traced.app_spans, seen)
    [server] = [
        span
        for span in _named(spans, "GET /api/games/{game_id}")
        if span.context.trace_id == trace_id
    ]
    # The caller's trace goes on: same trace id, the caller's span as parent.
    assert server.kind is SpanKind.SERVER
    assert server.parent is not None and server.parent.span_id == caller_span
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/api/games/{game_id}"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["url.path"] == f"/api/games/{game_id}"
    queries = [span for span in _children(spans, server) if span.name.startswith("SELECT ")]
    assert queries, "the game was read without a database span"
    for query in queries:
        assert query.kind is SpanKind.CLIENT
        assert query.attributes is not None
        assert query.attributes["db.system.name"] == "postgresql"
        assert "select" in str(query.attributes["db.query.text"]).lower()


async def test_ws_move_and_ai_reply_are_one_trace_across_both_services(traced: Traced) -> None:
    user, game_id = await _ai_game(traced.url)
    async with httpx.AsyncClient(base_url=traced.url, timeout=10) as http:
        before = (await http.get("/metrics")).text
    ws = await WS.open(traced.url, user["token"])
    try:
        await ws.send("join", {"gameId": game_id, "ack": "j"})
        await ws.expect(is_type("ack", ack="j"))
        bogus = {"type": "place_ring", "player": 1, "to": {"x": 99, "y": 99}}
        await ws.send("move", {"gameId": game_id, "move": bogus, "v": 0, "ack": "bad"})
        error = await ws.expect(is_type("error", ack="bad"))
        played = await _play_until_ai(ws, game_id)
    finally:
        await ws.close()

    def moved(spans: Sequence[ReadableSpan]) -> bool:
        return len(_moves(spans, game_id)) == played + 1

    spans = _wait_spans(traced.app_spans, moved)
    frames = _moves(spans, game_id)
    [refused] = [s for s in frames if (s.attributes or {})["ringrift.ws.outcome"] != "ok"]
    assert refused.attributes is not None
    assert refused.attributes["ringrift.ws.outcome"] == error["d"]["code"]
    assert refused.status.status_code is StatusCode.UNSET  # a client mistake, not a failure
    accepted = [s for s in frames if s is not refused]
    join = [
        s
        for s in _named(spans, "ws join")
        if (s.attributes or {}).get("ringrift.game_id") == game_id
    ]
    assert len(join) == 1
    traces = {s.context.trace_id for s in [*frames, *join]}
    assert len(traces) == len(frames) + 1  # one trace per frame, not one per socket
    for ok in accepted:
        assert ok.kind is SpanKind.SERVER and ok.parent is None
        children = _children(spans, ok)
        assert any(s.name.startswith(("INSERT ", "UPDATE ")) for s in children), children
        assert any(s.name.startswith("redis ") for s in children), [s.name for s in children]

    # The AI turn started by the last move: app side, then the service's own spans, one trace.
    ok = accepted[-1]
    trace_id = ok.context.trace_id
    spans = _wait_spans(
        traced.app_spans,
        lambda found: any(s.name == "ai move" and s.context.trace_id == trace_id for s in found),
    )
    ai_move = next(s for s in _named(spans, "ai move") if s.context.trace_id == trace_id)
    assert ai_move.attributes is not None
    assert ai_move.attributes["ringrift.ai.source"] == "service"
    assert ai_move.attributes["ringrift.ai.level"] == 1
    [client] = [s for s in _children(spans, ai_move) if s.name == "POST /ai/move"]
    assert client.kind is SpanKind.CLIENT
    assert client.attributes is not None and client.attributes["http.response.status_code"] == 200

    ai_spans = _wait_spans(
        traced.ai_spans,
        lambda found: any(s.context.trace_id == trace_id for s in found),
    )
    [served] = _children(ai_spans, client)  # the service continued the client's span
    assert served.name == "POST /ai/move" and served.kind is SpanKind.SERVER
    assert served.context.trace_id == trace_id
    assert served.resource.attributes["service.name"] == "ringrift-ai"
    assert ok.resource.attributes["service.name"] == "ringrift-app"
    [search] = _children(ai_spans, served)
    assert search.name == "ai search" and search.attributes is not None
    assert search.attributes["ringrift.ai.level"] == 1

    # The move-latency histogram counted both frames, each under its outcome.
    async with httpx.AsyncClient(base_url=traced.url, timeout=10) as http:
        after = (await http.get("/metrics")).text
    for outcome, count in (("ok", played), ("error", 1)):
        sample = f'ringrift_ws_move_duration_seconds_count{{outcome="{outcome}"}}'
        assert _metric(after, sample) == _metric(before, sample) + count
    top = 'ringrift_ws_move_duration_seconds_bucket{le="5.0",outcome="ok"}'
    assert _metric(after, top) == _metric(before, top) + played


@pytest.fixture
def access_lines() -> Iterator[list[dict[str, Any]]]:
    """The app's access-log records, formatted by the JSON formatter the app uses."""
    lines: list[dict[str, Any]] = []
    formatter = JsonFormatter()

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(formatter.format(record)))

    logger = logging.getLogger("ringrift.server.access")
    handler, level = Capture(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_log_line_carries_trace_and_span_id(
    traced: Traced, access_lines: list[dict[str, Any]]
) -> None:
    header, trace_id, _caller = _traceparent()
    async with httpx.AsyncClient(base_url=traced.url, timeout=10) as http:
        response = await http.get("/api/leaderboard", headers={"traceparent": header})
    assert response.status_code == 200, response.text
    [line] = [entry for entry in access_lines if entry.get("traceId") == f"{trace_id:032x}"]
    assert line["path"] == "/api/leaderboard" and line["status"] == 200
    spans = _wait_spans(
        traced.app_spans, lambda found: any(s.context.trace_id == trace_id for s in found)
    )
    [server] = [s for s in spans if s.context.trace_id == trace_id and s.kind is SpanKind.SERVER]
    assert line["spanId"] == f"{server.context.span_id:016x}"


@pytest.fixture
def recording_ai() -> Iterator[tuple[LiveServer, list[tuple[str, dict[str, str]]]]]:
    """A stand-in AI service that keeps the path and headers of every request it gets."""
    app: FastAPI = fake_ai_service()
    seen: list[tuple[str, dict[str, str]]] = []

    @app.middleware("http")
    async def keep(request: Any, call_next: Any) -> Any:
        seen.append((request.url.path, dict(request.headers)))
        return await call_next(request)

    server = LiveServer(app).start()
    yield server, seen
    server.stop()


async def test_tracing_off_by_default_exports_and_propagates_nothing(
    sqlite_template: Path,
    tmp_path: Path,
    recording_ai: tuple[LiveServer, list[tuple[str, dict[str, str]]]],
    access_lines: list[dict[str, Any]],
) -> None:
    database = tmp_path / "ringrift.db"
    shutil.copyfile(sqlite_template, database)
    ai, seen = recording_ai
    settings = make_settings(f"sqlite+aiosqlite:///{database}", ai_service_url=ai.url)
    assert not settings.tracing.enabled
    ctx = AppContext.build(settings)
    assert not ctx.tracing.enabled and ctx.tracing.provider is None
    server = LiveServer(create_app(settings, ctx=ctx)).start()
    try:
        header, _trace_id, _caller = _traceparent()
        user, game_id = await _ai_game(server.url)
        ws = await WS.open(server.url, user["token"])
        try:
            await ws.send("join", {"gameId": game_id, "ack": "j"})
            await ws.expect(is_type("ack", ack="j"))
            played = await _play_until_ai(ws, game_id)
        finally:
            await ws.close()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            response = await http.get("/api/leaderboard", headers={"traceparent": header})
            assert response.status_code == 200
            metrics = (await http.get("/metrics")).text
    finally:
        server.stop()
    # The AI service was asked, without trace headers; no log line names a trace.
    assert "/ai/move" in [path for path, _headers in seen]
    assert all("traceparent" not in headers for _path, headers in seen)
    assert access_lines and all("traceId" not in line for line in access_lines)
    # The histogram does not depend on tracing.
    assert _metric(metrics, 'ringrift_ws_move_duration_seconds_count{outcome="ok"}') == played
