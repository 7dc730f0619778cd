"""OpenTelemetry tracing for the app and the AI service: off unless an OTLP endpoint is set.

Each service owns a private ``TracerProvider`` (never the process-global one), for the same
reason ``Metrics`` owns its registry: tests run several apps in one process, and the global
provider can be set only once. The active span still travels in the OpenTelemetry context
(a contextvar), so spans nest across modules and ``logs.JsonFormatter`` can print the ids.

When tracing is off, ``Tracing.span`` hands back one shared no-op context manager: no span
object, no context switch, no exporter thread, so the hot paths (WebSocket frames, database
statements, Redis calls) pay a single attribute check.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

__all__ = [
    "Span",
    "SpanKind",
    "Tracing",
    "TracingConfig",
    "current_trace_ids",
]

INSTRUMENTATION_NAME: Final = "ringrift"
# OTLP over HTTP posts spans to this path below the base endpoint (OpenTelemetry spec).
TRACES_PATH: Final = "/v1/traces"

# W3C trace context only (``traceparent``/``tracestate``): the one format both of our
# services and every OTLP collector understand; no baggage is carried.
_PROPAGATOR: Final = TraceContextTextMapPropagator()
_NO_SPAN: Final[AbstractContextManager[Span]] = contextlib.nullcontext(INVALID_SPAN)

Attributes = Mapping[str, AttributeValue]


@dataclass(frozen=True)
class TracingConfig:
    """Where spans go. The names are the standard OpenTelemetry environment variables, so a
    collector sidecar or an operator's usual settings work unchanged:

    * ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``: the full URL spans are posted to, or
    * ``OTEL_EXPORTER_OTLP_ENDPOINT``: the collector's base URL (``/v1/traces`` is appended);
    * ``OTEL_SERVICE_NAME``: the ``service.name`` resource attribute;
    * ``OTEL_SDK_DISABLED=true`` turns tracing off even with an endpoint set.
    """

    endpoint: str = ""
    traces_endpoint: str = ""
    service_name: str = "ringrift"
    disabled: bool = False

    @property
    def enabled(self) -> bool:
        return not self.disabled and bool(self.traces_endpoint or self.endpoint)

    @property
    def exporter_url(self) -> str:
        if self.traces_endpoint:
            return self.traces_endpoint
        return self.endpoint.rstrip("/") + TRACES_PATH

    @classmethod
    def from_env(
        cls, default_service: str, environ: Mapping[str, str] | None = None
    ) -> TracingConfig:
        """For processes without pydantic settings (the AI service)."""
        env = os.environ if environ is None else environ
        return cls(
            endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip(),
            traces_endpoint=env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip(),
            service_name=env.get("OTEL_SERVICE_NAME", "").strip() or default_service,
            disabled=env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true",
        )


class Tracing:
    """The tracer of one service, or the absence of one (``Tracing.disabled()``)."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer(INSTRUMENTATION_NAME) if provider else None

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @classmethod
    def disabled(cls) -> Tracing:
        return cls(None)

    @classmethod
    def from_config(cls, config: TracingConfig) -> Tracing:
        """An OTLP/HTTP exporter behind a batching processor (spans leave on a background
        thread, never on the request path), or ``disabled()`` when no endpoint is set."""
        if not config.enabled:
            return cls.disabled()
        # Imported here: the exporter pulls in protobuf and requests, which a process that
        # does not trace has no reason to load.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=config.exporter_url)
        return cls.with_exporter(exporter, config.service_name, batch=True)

    @classmethod
    def with_exporter(
        cls, exporter: SpanExporter, service_name: str, *, batch: bool = False
    ) -> Tracing:
        """Spans to ``exporter``; unbatched by default, so each span is exported as it ends
        (what a test with the SDK's in-memory exporter wants)."""
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)
        return cls(provider)

    def span(
        self,
        name: str,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
        parent: Context | None = None,
    ) -> AbstractContextManager[Span]:
        """A span made current for the block; exceptions are recorded and set the status."""
        if self._tracer is None:
            return _NO_SPAN
        return self._tracer.start_as_current_span(
            name, context=parent, kind=kind, attributes=attributes
        )

    def child_span(
        self,
        name: str,
        kind: SpanKind = SpanKind.CLIENT,
        attributes: Attributes | None = None,
    ) -> AbstractContextManager[Span]:
        """Like ``span``, but only inside an active span. Background loops (presence
        heartbeats, sweeps, the Redis monitor) would otherwise start a new trace for every
        statement they run each second and drown the traces of real requests."""
        if self._tracer is None or not trace.get_current_span().get_span_context().is_valid:
            return _NO_SPAN
        return self._tracer.start_as_current_span(name, kind=kind, attributes=attributes)

    def start_child(
        self, name: str, kind: SpanKind, attributes: Attributes | None = None
    ) -> Span | None:
        """A started (not current) child span, for code whose begin and end are separate
        callbacks (SQLAlchemy's cursor events); the caller ends it."""
        if self._tracer is None or not trace.get_current_span().get_span_context().is_valid:
            return None
        return self._tracer.start_span(name, kind=kind, attributes=attributes)

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Add ``traceparent`` for the current span to outgoing request headers."""
        if self._tracer is not None:
            _PROPAGATOR.inject(headers)

    def extract(self, headers: Mapping[str, str]) -> Context | None:
        """The caller's trace context from incoming headers (None: start a new trace)."""
        if self._tracer is None or "traceparent" not in headers:
            return None
        return _PROPAGATOR.extract(headers)

    def shutdown(self) -> None:
        """Flush what is still batched and stop the exporter thread (blocking)."""
        if self.provider is not None:
            self.provider.shutdown()


def mark_error(span: Span, description: str) -> None:
    """Flag a span as failed without an exception (an error answer the code chose to send)."""
    span.set_status(Status(StatusCode.ERROR, description))


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the active span, for log lines; None outside a span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
