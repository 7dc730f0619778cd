"""Tracing turned on the way an operator does it: the standard OTEL_* variables on real
``ringrift serve`` and ``ringrift ai serve`` processes, exporting with the real OTLP/HTTP
exporter to a small OTLP receiver in this test (it decodes the protobuf export requests).
The caller's ``traceparent`` is continued, the app's JSON log line names the trace, and
spans still batched at shutdown are flushed, not lost."""

from __future__ import annotations

import gzip
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from realtime_support import Process, app_process

from ringrift.ops.services import RedisServer, free_port
from ringrift.rules import new_game

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]


class Receiver:
    """An OTLP/HTTP trace receiver on a free port: what a collector would get."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.paths.append(self.path)
                received.add(ExportTraceServiceRequest.FromString(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.lock = threading.Lock()

    def add(self, request: ExportTraceServiceRequest) -> None:
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            ReceivedSpan(
                                service=resource.get("service.name", ""),
                                name=span.name,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                attributes={
                                    a.key: getattr(a.value, a.value.WhichOneof("value") or "")
                                    for a in span.attributes
                                },
                            )
                        )

    def wait(
        self, found: Callable[[list[ReceivedSpan]], bool], timeout: float = 15.0
    ) -> list[ReceivedSpan]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                spans = list(self.spans)
            if found(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"not received within {timeout}s: {spans}")
            time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = f"{uuid.uuid4().int >> 1:032x}", f"{uuid.uuid4().int >> 65:016x}"
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def _ai_service(env: dict[str, str]) -> Process:
    port = free_port()
    args = [sys.executable, "-m", "ringrift.aiservice", "serve", "--port", str(port)]
    args += ["--workers", "1", "--log-level", "warning"]
    return Process(args, {**os.environ, **env}, port, "ai")


def test_ai_service_exports_spans_continuing_the_caller(receiver: Receiver) -> None:
    # A minute of batching: whatever arrives before the stop was not sent by the timer, and
    # whatever arrives after it was flushed by the shutdown.
    service = _ai_service(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "ai-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "60000",
        }
    ).start(timeout=60)
    header, trace_id, caller = _traceparent()
    try:
        body = {"game_state": new_game("square8", 2).to_json(), "player_number": 1}
        response = httpx.post(
            f"{service.url}/ai/move",
            json={**body, "difficulty": 1, "seed": 3},
            headers={"traceparent": header},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        time.sleep(0.5)
        assert receiver.spans == []  # still batched
    finally:
        service.stop()  # SIGTERM: uvicorn shuts down gracefully (lifespan included)
    spans = receiver.wait(lambda found: any(s.trace_id == trace_id for s in found))
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    [served] = [s for s in spans if s.name == "POST /ai/move"]
    assert served.service == "ai-under-test"
    assert served.trace_id == trace_id and served.parent_span_id == caller
    assert served.attributes["http.response.status_code"] == 200
    [search] = [s for s in spans if s.name == "ai search"]
    assert search.parent_span_id == served.span_id
    assert search.attributes["ringrift.ai.level"] == 1


def test_app_process_traces_requests_and_logs_the_trace_id(
    receiver: Receiver, pg_database: str, redis_server: RedisServer
) -> None:
    app = app_process(
        pg_database,
        redis_server.url,
        otel_exporter_otlp_traces_endpoint=f"{receiver.url}/custom/traces",
        otel_bsp_schedule_delay=100,
        log_level="INFO",
    ).start()
    header, trace_id, caller = _traceparent()
    try:
        response = httpx.get(
            f"{app.url}/api/leaderboard", headers={"traceparent": header}, timeout=10
        )
        assert response.status_code == 200, response.text
        spans = receiver.wait(
            lambda found: any(s.trace_id == trace_id and s.parent_span_id == caller for s in found)
        )
    finally:
        app.stop()
    assert set(receiver.paths) == {"/custom/traces"}  # the traces endpoint is used as given
    [server] = [s for s in spans if s.trace_id == trace_id and s.parent_span_id == caller]
    assert server.service == "ringrift-app"  # the default service name
    assert server.name == "GET /api/leaderboard"
    assert any(
        s.parent_span_id == server.span_id and s.attributes.get("db.system.name") == "postgresql"
        for s in spans
    )
    lines = [json.loads(line) for line in app.log.read_text().splitlines() if line.startswith("{")]
    [access] = [line for line in lines if line.get("traceId") == trace_id]
    assert access["path"] == "/api/leaderboard" and access["spanId"] == server.span_id
