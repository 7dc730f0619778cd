"""Which configuration turns tracing on, and what the off state costs (nothing is built)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ringrift.server.config import Settings
from ringrift.server.tracing import Tracing, TracingConfig, current_trace_ids


def test_standard_variables_turn_tracing_on_and_name_the_service() -> None:
    config = TracingConfig.from_env(
        "ringrift-ai",
        {"OTEL_EXPORTER_OTLP_ENDPOINT": " http://collector:4318/ ", "OTEL_SERVICE_NAME": ""},
    )
    assert config.enabled and config.service_name == "ringrift-ai"
    assert config.exporter_url == "http://collector:4318/v1/traces"
    exporting = Tracing.from_config(config)
    assert exporting.enabled and exporting.provider is not None
    exporting.shutdown()  # no span was made: nothing is sent to the (absent) collector


def test_spans_carry_ids_to_logs_and_headers() -> None:
    exported = InMemorySpanExporter()
    tracing = Tracing.with_exporter(exported, "unit")
    try:
        with tracing.span("outer") as span:
            assert span.is_recording()
            ids = current_trace_ids()
            assert ids == (
                format(span.get_span_context().trace_id, "032x"),
                format(span.get_span_context().span_id, "016x"),
            )
            headers: dict[str, str] = {}
            tracing.inject(headers)
            assert headers["traceparent"].split("-")[1] == ids[0]
            extracted = tracing.extract(headers)
            assert extracted is not None
            remote = trace.get_current_span(extracted).get_span_context()
            assert format(remote.span_id, "016x") == ids[1]
        assert current_trace_ids() is None
        [finished] = exported.get_finished_spans()
        assert finished.name == "outer"
        assert finished.resource.attributes["service.name"] == "unit"
    finally:
        tracing.shutdown()


def test_traces_endpoint_wins_and_sdk_disabled_turns_it_off() -> None:
    both = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:9999/in",
        "OTEL_SERVICE_NAME": "svc",
    }
    config = TracingConfig.from_env("ringrift-ai", both)
    assert config.exporter_url == "http://traces:9999/in" and config.service_name == "svc"
    off = TracingConfig.from_env("ringrift-ai", {**both, "OTEL_SDK_DISABLED": "TRUE"})
    assert not off.enabled and not Tracing.from_config(off).enabled


def test_app_settings_read_the_same_variables() -> None:
    quiet = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not quiet.tracing.enabled and quiet.tracing.service_name == "ringrift-app"
    on = Settings(_env_file=None, otel_exporter_otlp_endpoint="http://c:4318")  # type: ignore[call-arg]
    assert on.tracing.enabled and on.tracing.exporter_url == "http://c:4318/v1/traces"


def test_off_builds_no_provider_and_makes_no_spans() -> None:
    tracing = Tracing.from_config(TracingConfig())
    assert not tracing.enabled and tracing.provider is None
    with tracing.span("ignored") as span, tracing.child_span("ignored too") as child:
        assert not span.is_recording() and not child.is_recording()
        assert current_trace_ids() is None
        headers: dict[str, str] = {}
        tracing.inject(headers)
        assert headers == {}
    assert tracing.extract({"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}) is None
