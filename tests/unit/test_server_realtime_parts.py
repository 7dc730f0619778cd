"""Pure parts of the realtime layer: circuit breaker, rate limiter fallback, frame parsing, and
the Redis client failing fast against a port where nothing listens."""

from __future__ import annotations

import time

import pytest

from ringrift.ops.services import free_port
from ringrift.server.aiclient import CircuitBreaker
from ringrift.server.errors import ErrorCode
from ringrift.server.metrics import Metrics
from ringrift.server.ratelimit import Bucket, RateLimiter
from ringrift.server.realtime import FrameError, parse_frame
from ringrift.server.redis import RedisUnavailable, ResilientRedis


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_half_opens_after_cooldown_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure("boom")
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure("boom")
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.state == "half_open"
    assert breaker.allow()  # the single trial
    assert not breaker.allow()  # no second request while the trial runs
    breaker.record_failure("still down")
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.failures == 0 and breaker.allow()
    assert breaker.snapshot() == {"state": "closed", "consecutiveFailures": 0}


def test_breaker_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=1, clock=Clock())
    breaker.record_failure("x")
    breaker.record_success()
    breaker.record_failure("y")
    assert breaker.state == "closed"


async def test_rate_limiter_counts_locally_without_redis_and_resets_per_window() -> None:
    clock = Clock(120.5)
    metrics = Metrics()
    limiter = RateLimiter(ResilientRedis(""), 60, metrics, clock=clock)
    decisions = [await limiter.hit(Bucket.LOGIN, "1.2.3.4", 2) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[-1].retry_after == 60 and decisions[-1].backend == "local"
    assert (await limiter.hit(Bucket.LOGIN, "5.6.7.8", 2)).allowed  # other keys unaffected
    assert (await limiter.hit(Bucket.LOGIN, "1.2.3.4", 0)).allowed  # 0 = unlimited
    clock.now = 180.0  # next window
    assert (await limiter.hit(Bucket.LOGIN, "1.2.3.4", 2)).allowed
    with pytest.raises(Exception) as raised:
        for _ in range(3):
            await limiter.enforce(Bucket.LOGIN, "1.2.3.4", 2)
    error = raised.value
    assert getattr(error, "code", None) == ErrorCode.RATE_LIMIT_EXCEEDED
    assert getattr(error, "headers", {})["Retry-After"] == "60"
    rejected = metrics.registry.get_sample_value(
        "ringrift_ratelimit_rejected_total", {"bucket": "login"}
    )
    assert rejected == 2


def test_rate_limiter_exports_every_bucket_at_zero_from_the_start() -> None:
    """A child born on its first increment hides that increment from rate(): a Redis outage
    shorter than a scrape would go unalerted. Every bucket exists at 0 before any hit."""
    metrics = Metrics()
    assert (
        metrics.registry.get_sample_value("ringrift_ratelimit_local_total", {"bucket": "moves"})
        is None
    )  # prometheus_client alone creates labelled children lazily
    RateLimiter(ResilientRedis(""), 60, metrics)
    for name in ("ringrift_ratelimit_local_total", "ringrift_ratelimit_rejected_total"):
        values = {
            bucket.value: metrics.registry.get_sample_value(name, {"bucket": bucket.value})
            for bucket in Bucket
        }
        assert values == {bucket.value: 0.0 for bucket in Bucket}, name


async def test_redis_client_fails_fast_while_down() -> None:
    client = ResilientRedis(
        f"redis://127.0.0.1:{free_port()}/0", 0.3, backoff_min=0.5, backoff_max=1.0
    )
    try:
        with pytest.raises(RedisUnavailable):
            await client.call(lambda r: r.ping())
        assert not client.healthy and client.last_error
        started = time.perf_counter()
        with pytest.raises(RedisUnavailable):  # inside the backoff: no network attempt at all
            await client.call(lambda r: r.ping())
        assert time.perf_counter() - started < 0.05
        result = await client.ping()
        assert not result.ok and result.error
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "not valid JSON"),
        ("nul\x00", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "larger than"),
        ("[" * 5000 + "]" * 5000, "not valid JSON"),  # nesting beyond the JSON parser's depth
        ("42", "JSON object"),
        ('{"t": 1}', "string field t"),
        ('{"t": "join", "d": "x"}', "must be a JSON object"),
    ],
)
def test_parse_frame_rejects_bad_envelopes(text: str, fragment: str) -> None:
    with pytest.raises(FrameError) as raised:
        parse_frame(text, 64 * 1024)
    assert raised.value.code == ErrorCode.VALIDATION_FAILED
    assert fragment in raised.value.message


def test_parse_frame_accepts_missing_or_null_data() -> None:
    assert parse_frame('{"t": "leave"}', 1024) == ("leave", {})
    assert parse_frame('{"t": "leave", "d": null}', 1024) == ("leave", {})
