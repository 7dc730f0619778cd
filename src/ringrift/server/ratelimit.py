"""Rate limits: fixed windows counted on Redis (shared by every instance), with a per-instance
in-memory counter while Redis is unavailable.

A hit increments ``ringrift:rl:{bucket}:{key}:{window}`` (``INCR`` + ``EXPIRE`` in one pipeline).
When Redis cannot answer (down, slow, not configured) the same window is counted in this
process instead: limits keep applying per instance and nobody is refused just because Redis is
down (fail open to the local limiter, never closed). A refusal carries the seconds until the
window ends, which becomes the ``Retry-After`` header (or ``retryAfter`` on the WebSocket).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.metrics import Metrics
from ringrift.server.redis import RedisUnavailable, ResilientRedis

KEY_PREFIX = "ringrift:rl:"
LOCAL_MAX_KEYS = 100_000


class Bucket(StrEnum):
    """Every rate-limit bucket, by the name it has in Redis keys and in the ``bucket`` label.

    The limiter's counters get one child per bucket at 0 when it is built: a counter child
    born on its first increment makes that increment invisible to ``rate()``, so a Redis
    outage shorter than a scrape (every hit counted locally) would raise no alert."""

    REGISTER = "register"
    LOGIN_IP = "login_ip"
    LOGIN = "login"
    PASSWORD_CHANGE = "password-change"
    RESET_IP = "reset-ip"
    RESET_EMAIL = "reset-email"
    ACCOUNT_TOKEN = "account-token"
    VERIFY_RESEND = "verify-resend"
    EXPORT = "export"
    GAMES = "games"
    MOVES = "moves"
    MATCHMAKING = "matchmaking"
    SANDBOX = "sandbox"
    REPLAY = "replay"
    ANALYSIS = "analysis"
    CHAT = "chat"
    CHAT_GAME = "chatgame"
    REPORTS = "reports"
    WS = "ws"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window resets (>= 1)
    backend: str  # "redis" or "local"


class RateLimiter:
    def __init__(
        self,
        redis: ResilientRedis,
        window_seconds: int,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.window = window_seconds
        self.metrics = metrics
        self.clock = clock
        self._local: dict[str, tuple[int, int]] = {}  # key -> (window index, count)
        for bucket in Bucket:
            metrics.ratelimit_local.labels(bucket=bucket.value)
            metrics.ratelimit_rejected.labels(bucket=bucket.value)

    def _window(self, window: int) -> tuple[int, int]:
        now = self.clock()
        index = int(now // window)
        retry_after = max(1, math.ceil((index + 1) * window - now))
        return index, retry_after

    async def hit(
        self, bucket: Bucket, key: str, limit: int, window: int | None = None
    ) -> Decision:
        """Count one request against ``bucket``/``key``; ``limit <= 0`` means unlimited.
        ``window`` (seconds) overrides the limiter's window for this bucket."""
        if limit <= 0:
            return Decision(True, 0, limit, 0, "none")
        seconds = window or self.window
        index, retry_after = self._window(seconds)
        name = f"{KEY_PREFIX}{bucket}:{key}:{index}"
        backend = "redis"
        try:
            count = await self.redis.call(
                lambda client: _incr(client, name, seconds), name="INCR+EXPIRE"
            )
        except RedisUnavailable:
            backend = "local"
            count = self._local_hit(name, index)
            self.metrics.ratelimit_local.labels(bucket=bucket).inc()
        allowed = count <= limit
        if not allowed:
            self.metrics.ratelimit_rejected.labels(bucket=bucket).inc()
        return Decision(allowed, count, limit, retry_after, backend)

    async def enforce(
        self, bucket: Bucket, key: str, limit: int, window: int | None = None
    ) -> None:
        """Raise 429 ``RATE_LIMIT_EXCEEDED`` with ``Retry-After`` when over the limit."""
        decision = await self.hit(bucket, key, limit, window)
        if not decision.allowed:
            raise rate_limited(decision)

    def _local_hit(self, name: str, index: int) -> int:
        if len(self._local) > LOCAL_MAX_KEYS:
            self._local = {k: v for k, v in self._local.items() if v[0] >= index}
        window, count = self._local.get(name, (index, 0))
        if window != index:
            count = 0
        count += 1
        self._local[name] = (index, count)
        return count


async def _incr(client: object, name: str, window: int) -> int:
    pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
    pipe.incr(name)
    pipe.expire(name, window + 1)
    count, _ = await pipe.execute()
    return int(count)


def rate_limited(decision: Decision) -> ApiError:
    return ApiError(
        ErrorCode.RATE_LIMIT_EXCEEDED,
        f"Too many requests; retry in {decision.retry_after}s",
        details={"limit": decision.limit, "retryAfter": decision.retry_after},
        headers={"Retry-After": str(decision.retry_after)},
    )
