"""A Redis client built for failure: it never blocks a request for long and heals by itself.

* Every call is bounded twice: redis-py socket timeouts (connect and command, a few hundred
  milliseconds) and an overall ``asyncio.wait_for``.
* Connections are created on demand by redis-py's pool; after a failure the pool is emptied, so
  the next attempt dials afresh. There is no "closed client" state that needs a restart.
* After a failure the client is *down*: calls fail at once (``RedisUnavailable``) instead of
  waiting for another timeout, until a probe succeeds. A monitor task probes with exponential
  backoff (``redis_backoff_min_seconds`` .. ``redis_backoff_max_seconds``) while down and every
  ``redis_monitor_interval_seconds`` while up, so an outage and a recovery are both noticed
  within about a second even without traffic.

Callers treat ``RedisUnavailable`` as "use the local fallback" (rate limits) or "skip" (fan-out).

With a :class:`~ringrift.server.redissentinel.SentinelConfig` instead of a URL, every new
connection asks the Sentinels for the current primary (redis-py's ``SentinelConnectionPool``).
Because a failure empties the pool, the first probe after a failover dials the promoted
replica; a connection still open to a demoted primary fails on its first write (READONLY, which
redis-py turns into a connection error) and is replaced the same way. No restart is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.retry import Retry

from ringrift.server.redissentinel import SentinelConfig
from ringrift.server.tracing import SpanKind, Tracing

log = logging.getLogger(__name__)

T = TypeVar("T")


class RedisUnavailable(Exception):
    """Redis is not configured, down, or did not answer in time."""


@dataclass(frozen=True)
class PingResult:
    ok: bool
    latency_ms: float
    error: str | None = None


def _operation_name(operation: Callable[..., Any]) -> str:
    """A readable name for a call's span: the function's, or ``call`` for a lambda."""
    target = getattr(operation, "func", operation)  # functools.partial
    name = getattr(target, "__name__", "")
    return name.strip("_") if name and name != "<lambda>" else "call"


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


class ResilientRedis:
    def __init__(
        self,
        url: str,
        timeout_seconds: float = 0.3,
        *,
        backoff_min: float = 0.1,
        backoff_max: float = 1.0,
        monitor_interval: float = 0.5,
        tracing: Tracing | None = None,
        sentinel: SentinelConfig | None = None,
    ) -> None:
        if url and sentinel is not None:
            raise ValueError("give a Redis URL or a Sentinel configuration, not both")
        self.url = url
        self.tracing = tracing or Tracing.disabled()
        self.sentinel = sentinel
        self.timeout = timeout_seconds
        self.backoff_min = backoff_min
        self.backoff_max = max(backoff_max, backoff_min)
        self.monitor_interval = monitor_interval
        self._client: Redis | None = None
        self._sentinels: Sentinel | None = None
        self.healthy = bool(url) or sentinel is not None
        self.last_error: str | None = None
        self.failures = 0  # consecutive
        self._retry_at = 0.0
        self._monitor: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[bool], None]] = []
        if sentinel is not None:
            sentinel_kwargs: dict[str, Any] = {
                "socket_connect_timeout": timeout_seconds,
                "socket_timeout": timeout_seconds,
                "retry": Retry(NoBackoff(), 0),
            }
            if sentinel.password is not None:
                sentinel_kwargs["password"] = sentinel.password
            self._sentinels = Sentinel(
                [(address.host, address.port) for address in sentinel.sentinels],
                sentinel_kwargs=sentinel_kwargs,
            )
        if url or sentinel is not None:
            self._client = self._new_client(timeout_seconds)

    def _new_client(self, timeout: float, socket_timeout: float | None = None) -> Redis:
        options: dict[str, Any] = {
            "socket_connect_timeout": timeout,
            "socket_timeout": socket_timeout if socket_timeout is not None else timeout,
            "retry": Retry(NoBackoff(), 0),
            "decode_responses": True,
        }
        if self._sentinels is not None and self.sentinel is not None:
            client: Redis = self._sentinels.master_for(self.sentinel.master, **options)
            return client
        return Redis.from_url(self.url, **options)

    def new_pubsub_client(self, read_timeout: float) -> Redis:
        """A separate client for a long-lived pub/sub connection (own socket, own timeouts).
        Through Sentinel it resolves the primary when it connects, so the subscriber's
        reconnect loop follows a failover."""
        return self._new_client(self.timeout, socket_timeout=read_timeout)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    @property
    def client(self) -> Redis:
        if self._client is None:
            raise RuntimeError("Redis is not configured (REDIS_URL is empty)")
        return self._client

    def on_change(self, listener: Callable[[bool], None]) -> None:
        """Call ``listener(healthy)`` whenever the health state flips."""
        self._listeners.append(listener)

    # -- state ---------------------------------------------------------------------------

    def _mark_up(self) -> None:
        was = self.healthy
        self.healthy = True
        self.failures = 0
        self.last_error = None
        self._retry_at = 0.0
        if not was:
            log.info("redis is reachable again")
            self._notify(True)

    async def _mark_down(self, error: BaseException) -> None:
        was = self.healthy
        self.healthy = False
        self.failures += 1
        self.last_error = _describe(error)
        delay = min(self.backoff_max, self.backoff_min * (2 ** min(self.failures - 1, 10)))
        self._retry_at = time.monotonic() + delay
        await self._drop_connections()
        if was:
            log.warning("redis unavailable", extra={"detail": self.last_error})
            self._notify(False)

    def _notify(self, healthy: bool) -> None:
        for listener in self._listeners:
            try:
                listener(healthy)
            except Exception:
                log.exception("redis health listener failed")

    # -- calls ---------------------------------------------------------------------------

    async def call(
        self,
        operation: Callable[[Redis], Awaitable[T]],
        timeout: float | None = None,
        *,
        name: str | None = None,
    ) -> T:
        """Run ``operation(client)`` within the timeout, or raise ``RedisUnavailable`` (at once
        while Redis is known to be down and the backoff has not elapsed). ``name`` (else the
        operation's function name) names the trace span: ``redis incr_window``."""
        if self._client is None:
            raise RedisUnavailable("Redis is not configured")
        label = name or _operation_name(operation)
        with self.tracing.child_span(
            f"redis {label}",
            SpanKind.CLIENT,
            {"db.system.name": "redis", "db.operation.name": label},
        ):
            if not self.healthy and time.monotonic() < self._retry_at:
                raise RedisUnavailable(self.last_error or "Redis is down")
            try:
                result = await asyncio.wait_for(operation(self._client), timeout or self.timeout)
            except (Exception, TimeoutError) as error:
                await self._mark_down(error)
                raise RedisUnavailable(self.last_error or "Redis call failed") from error
            self._mark_up()
            return result

    async def ping(self, timeout: float | None = None) -> PingResult:
        """A direct probe (ignores the backoff) that also updates the health state."""
        started = time.perf_counter()
        if self._client is None:
            return PingResult(ok=False, latency_ms=0.0, error="not configured")
        limit = timeout or self.timeout
        try:
            await asyncio.wait_for(self._client.ping(), limit)
        except (Exception, TimeoutError) as error:
            await self._mark_down(error)
            message = f"timed out after {limit:.2f}s" if isinstance(error, TimeoutError) else None
            return PingResult(
                ok=False,
                latency_ms=(time.perf_counter() - started) * 1000,
                error=message or self.last_error,
            )
        self._mark_up()
        return PingResult(ok=True, latency_ms=(time.perf_counter() - started) * 1000)

    async def _drop_connections(self) -> None:
        """Discard pooled connections after a failure so the next call dials afresh."""
        if self._client is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self._client.connection_pool.disconnect(inuse_connections=True), 1.0
            )

    # -- monitor -------------------------------------------------------------------------

    def start(self) -> None:
        if self._client is not None and self._monitor is None:
            self._monitor = asyncio.create_task(self._run_monitor(), name="redis-monitor")

    async def _run_monitor(self) -> None:
        while True:
            if self.healthy:
                await asyncio.sleep(self.monitor_interval)
            else:
                await asyncio.sleep(max(0.01, self._retry_at - time.monotonic()))
            try:
                await self.ping()
            except Exception:  # never let the monitor die
                log.exception("redis monitor probe failed unexpectedly")

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.wait([self._monitor], timeout=2.0)
            self._monitor = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.aclose(), 2.0)
        if self._sentinels is not None:
            for sentinel_client in self._sentinels.sentinels:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sentinel_client.aclose(), 1.0)

    def status(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "error": self.last_error, "failures": self.failures}
