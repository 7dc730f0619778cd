"""Everything one app instance owns (settings, database, keyring, clients, metrics)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from ringrift.server import replaywork
from ringrift.server.aiclient import AIClient, CircuitBreaker
from ringrift.server.bus import EventBus
from ringrift.server.config import Settings
from ringrift.server.db.session import Database
from ringrift.server.mail import Mailer
from ringrift.server.metrics import Metrics
from ringrift.server.positions import LRU, PositionCache
from ringrift.server.ratelimit import RateLimiter
from ringrift.server.redis import ResilientRedis
from ringrift.server.security.busauth import SignedEventBus
from ringrift.server.security.keyring import Keyring
from ringrift.server.security.passwords import Passwords
from ringrift.server.security.throttle import LoginThrottle, ThrottleLimits
from ringrift.server.security.tokens import TokenService
from ringrift.server.tracing import Tracing

log = logging.getLogger(__name__)

POSITION_CACHE_SIZE = 4096
REPLAY_CACHE_SIZE = 256


@dataclass
class AppContext:
    settings: Settings
    db: Database
    keyring: Keyring
    tokens: TokenService
    passwords: Passwords
    metrics: Metrics
    redis: ResilientRedis
    http: httpx.AsyncClient
    ai: AIClient
    bus: EventBus
    limiter: RateLimiter
    login_throttle: LoginThrottle
    mailer: Mailer
    tracing: Tracing = field(default_factory=Tracing.disabled)
    started_monotonic: float = field(default_factory=time.monotonic)
    # The WebSocket hub (``realtime.Hub``), attached by ``create_app``.
    hub: Any = None
    # The live lobby's socket watchers (``lobby.LobbyFeed``), attached by ``create_app``.
    lobby: Any = None
    # Authentication of open sockets (``wsguard.SocketGuard``), attached by ``create_app``.
    sockets: Any = None
    # Background AI turns of this instance: game id -> task, and games to run once more.
    ai_tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    ai_rerun: set[str] = field(default_factory=set)
    # Parsed positions per (game id, version), and replayed positions (JSON) per (game, n).
    positions: PositionCache = field(default_factory=lambda: PositionCache(POSITION_CACHE_SIZE))
    replays: LRU[tuple[str, int], bytes] = field(default_factory=lambda: LRU(REPLAY_CACHE_SIZE))
    # Replays in flight on this instance (more wait their turn) and the process pool.
    replay_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    _replay_pool: concurrent.futures.ProcessPoolExecutor | None = None
    # Set once a replay worker process has answered (``prewarm_replays``).
    replays_ready: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(cls, settings: Settings, *, tracing: Tracing | None = None) -> AppContext:
        """Create all resources. Nothing here does network I/O; failures are configuration
        errors (for instance a weak secret in production) and are raised at once.
        ``tracing`` overrides the OTLP settings (tests pass the SDK's in-memory exporter)."""
        if tracing is None:
            tracing = Tracing.from_config(settings.tracing)
        keyring = Keyring(
            keyring_file=settings.jwt_keyring_file,
            jwt_secret=settings.jwt_secret,
            refresh_secret=settings.jwt_refresh_secret,
            production=settings.is_production,
        )
        metrics = Metrics()
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.ai_move_timeout_seconds, connect=1.0),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        )
        redis = ResilientRedis(
            settings.redis_url,
            settings.redis_timeout_seconds,
            backoff_min=settings.redis_backoff_min_seconds,
            backoff_max=settings.redis_backoff_max_seconds,
            monitor_interval=settings.redis_monitor_interval_seconds,
            tracing=tracing,
            sentinel=settings.redis_sentinel,
        )
        return cls(
            settings=settings,
            tracing=tracing,
            db=Database(settings, tracing),
            keyring=keyring,
            tokens=TokenService(
                keyring,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                access_ttl=settings.access_token_ttl_seconds,
            ),
            passwords=Passwords(
                settings.argon2_time_cost,
                settings.argon2_memory_cost_kib,
                settings.argon2_parallelism,
            ),
            metrics=metrics,
            redis=redis,
            http=http,
            ai=AIClient(
                settings.ai_service_url,
                timeout_seconds=settings.ai_move_timeout_seconds,
                fallback_max_level=settings.ai_fallback_max_level,
                metrics=metrics,
                http=http,
                max_concurrent=settings.ai_max_concurrent_requests,
                breaker=CircuitBreaker(
                    settings.ai_breaker_failure_threshold, settings.ai_breaker_cooldown_seconds
                ),
                service_token=settings.ai_service_token,
                tracing=tracing,
            ),
            bus=SignedEventBus(
                redis,
                metrics,
                keyring=keyring,
                backoff_min=settings.redis_backoff_min_seconds,
                backoff_max=settings.redis_backoff_max_seconds,
            ),
            limiter=RateLimiter(redis, settings.rate_limit_window_seconds, metrics),
            login_throttle=LoginThrottle(
                redis,
                ThrottleLimits(
                    window_seconds=settings.login_failure_window_seconds,
                    per_address_email=settings.login_max_failures_per_address,
                    per_account=settings.login_max_failures_per_account,
                    per_address=settings.login_max_failures_per_ip,
                    known_address_seconds=settings.login_known_address_days * 24 * 3600,
                ),
            ),
            mailer=Mailer(settings, metrics),
        )

    def replay_executor(self) -> concurrent.futures.Executor | None:
        """Where replays run: a pool of ``REPLAY_WORKERS`` processes (spawned on first use),
        or the default thread pool when that is 0."""
        if self.settings.replay_workers == 0:
            return None
        if self._replay_pool is None:
            self._replay_pool = concurrent.futures.ProcessPoolExecutor(
                self.settings.replay_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=replaywork.start_worker,
                initargs=(os.getpid(),),
            )
        return self._replay_pool

    async def prewarm_replays(self) -> None:
        """Start the replay worker process now (``REPLAY_PREWARM``), so that the first replay
        of this instance does not wait for it; a failure is logged and left to the first
        replay, which starts the pool again."""
        executor = self.replay_executor()
        if executor is None:
            self.replays_ready.set()
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, replaywork.ready)
        except Exception:
            log.warning("replay worker did not start; the first replay retries", exc_info=True)
            return
        self.replays_ready.set()

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    async def close(self) -> None:
        tasks = list(self.ai_tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        await self.mailer.drain(timeout=5.0)
        if self._replay_pool is not None:
            self._replay_pool.shutdown(wait=False, cancel_futures=True)
        await self.bus.close()
        await self.redis.close()
        await self.http.aclose()
        await self.db.dispose()
        # Last: the spans of the shutdown itself are flushed too (a bounded HTTP post).
        await asyncio.to_thread(self.tracing.shutdown)
