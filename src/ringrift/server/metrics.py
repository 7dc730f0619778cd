"""Prometheus metrics of one app instance (own registry, so several apps can share a process)."""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# WebSocket moves: 1 ms to 5 s. 25 ms (the round-trip target of docs/system.md) and 250 ms
# (the alerting SLO) are bucket bounds, so the p95 estimate is exact where it matters.
WS_MOVE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class MoveOutcome(StrEnum):
    """How a WebSocket move frame ended: acknowledged, or answered with an error frame."""

    OK = "ok"
    ERROR = "error"


class PublishOutcome(StrEnum):
    """What became of game events queued for Redis: published, a round trip retried after a
    Redis error, or dropped (outbox full or event too old)."""

    OK = "ok"
    RETRIED = "retried"
    DROPPED = "dropped"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "ringrift_http_requests_total",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ringrift_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "ringrift_http_errors_total",
            "Error responses by route template and error code",
            ["route", "code"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "ringrift_http_requests_in_flight",
            "HTTP requests being served",
            registry=self.registry,
        )
        self.ai_moves = Counter(
            "ringrift_ai_moves_total",
            "AI seat moves by where the move came from (service, local, fallback)",
            ["source"],
            registry=self.registry,
        )
        self.ai_fallbacks = Counter(
            "ringrift_ai_fallback_total",
            "AI moves not taken from the AI service, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.mail = Counter(
            "ringrift_mail_total",
            "Account mails by outcome (sent, outbox, dropped, failed)",
            ["result"],
            registry=self.registry,
        )
        self.db_unavailable = Counter(
            "ringrift_db_unavailable_total",
            "Requests answered with SERVER_DATABASE_UNAVAILABLE",
            registry=self.registry,
        )
        self.games_completed = Counter(
            "ringrift_games_completed_total",
            "Games that reached a final state, by end reason",
            ["reason"],
            registry=self.registry,
        )
        self.matchmaking_pairs = Counter(
            "ringrift_matchmaking_games_total",
            "Games created by matchmaking, by board type",
            ["board"],
            registry=self.registry,
        )

        self.ratelimit_rejected = Counter(
            "ringrift_ratelimit_rejected_total",
            "Requests refused with RATE_LIMIT_EXCEEDED, by bucket",
            ["bucket"],
            registry=self.registry,
        )
        self.ratelimit_local = Counter(
            "ringrift_ratelimit_local_total",
            "Rate-limit hits counted in process memory because Redis was unavailable",
            ["bucket"],
            registry=self.registry,
        )
        self.ai_breaker_state = Gauge(
            "ringrift_ai_breaker_open",
            "1 while the AI service circuit breaker is open (or half-open), else 0",
            registry=self.registry,
        )
        self.ws_connections = Gauge(
            "ringrift_ws_connections",
            "Open WebSocket connections on this instance",
            registry=self.registry,
        )
        self.ws_frames = Counter(
            "ringrift_ws_frames_total",
            "WebSocket frames by direction and type",
            ["direction", "type"],
            registry=self.registry,
        )
        self.ws_errors = Counter(
            "ringrift_ws_errors_total",
            "WebSocket error frames sent, by code",
            ["code"],
            registry=self.registry,
        )
        self.bus_published = Counter(
            "ringrift_bus_published_total",
            "Game events published on Redis, by outcome (ok, retried, dropped)",
            ["outcome"],
            registry=self.registry,
        )
        # At 0 from the start, so the first drop after a scrape is an increase to rate().
        for published in PublishOutcome:
            self.bus_published.labels(outcome=published.value)
        self.bus_received = Counter(
            "ringrift_bus_received_total",
            "Messages received from Redis pub/sub, by channel kind",
            ["kind"],
            registry=self.registry,
        )
        self.bus_resubscribes = Counter(
            "ringrift_bus_resubscribes_total",
            "Times the pub/sub subscriber (re)connected and resynchronised local sockets",
            registry=self.registry,
        )

        self.ws_move_latency = Histogram(
            "ringrift_ws_move_duration_seconds",
            "WebSocket move frames: time from the frame's receipt to its ack or error frame",
            ["outcome"],
            buckets=WS_MOVE_BUCKETS,
            registry=self.registry,
        )
        # Both series exist from the start, so rate() and the alerts see zeros, not gaps.
        for outcome in MoveOutcome:
            self.ws_move_latency.labels(outcome=outcome.value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
