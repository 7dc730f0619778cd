"""A Redis client that never blocks a request for long and reconnects by itself.

Every call is bounded by a short socket timeout plus an overall ``asyncio.wait_for``; connection
objects are created on demand by redis-py's pool, so when Redis comes back the next call simply
opens a fresh connection (there is no "closed client" state to get stuck in).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry


@dataclass(frozen=True)
class PingResult:
    ok: bool
    latency_ms: float
    error: str | None = None


class ResilientRedis:
    def __init__(self, url: str, timeout_seconds: float = 0.5) -> None:
        self.url = url
        self.timeout = timeout_seconds
        self._client: Redis | None = None
        if url:
            self._client = Redis.from_url(
                url,
                socket_connect_timeout=timeout_seconds,
                socket_timeout=timeout_seconds,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=5,
                decode_responses=True,
            )

    @property
    def enabled(self) -> bool:
        return self._client is not None

    @property
    def client(self) -> Redis:
        if self._client is None:
            raise RuntimeError("Redis is not configured (REDIS_URL is empty)")
        return self._client

    async def ping(self, timeout: float | None = None) -> PingResult:
        started = time.perf_counter()
        if self._client is None:
            return PingResult(ok=False, latency_ms=0.0, error="not configured")
        try:
            await asyncio.wait_for(self._client.ping(), timeout or self.timeout)
        except TimeoutError:
            await self._drop_connections()
            return PingResult(
                ok=False,
                latency_ms=(time.perf_counter() - started) * 1000,
                error=f"timed out after {timeout or self.timeout:.2f}s",
            )
        except Exception as error:
            await self._drop_connections()
            return PingResult(
                ok=False,
                latency_ms=(time.perf_counter() - started) * 1000,
                error=f"{type(error).__name__}: {error}"[:300],
            )
        return PingResult(ok=True, latency_ms=(time.perf_counter() - started) * 1000)

    async def _drop_connections(self) -> None:
        """Discard pooled connections after a failure so the next call dials afresh."""
        if self._client is None:
            return
        with contextlib.suppress(Exception):
            await self._client.connection_pool.disconnect(inuse_connections=True)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
