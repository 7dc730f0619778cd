"""Everything one app instance owns (settings, database, keyring, clients, metrics)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from ringrift.server.aiclient import AIClient
from ringrift.server.config import Settings
from ringrift.server.db.session import Database
from ringrift.server.metrics import Metrics
from ringrift.server.redis import ResilientRedis
from ringrift.server.security.keyring import Keyring
from ringrift.server.security.passwords import Passwords
from ringrift.server.security.tokens import TokenService


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
    started_monotonic: float = field(default_factory=time.monotonic)

    @classmethod
    def build(cls, settings: Settings) -> AppContext:
        """Create all resources. Nothing here does network I/O; failures are configuration
        errors (for instance a weak secret in production) and are raised at once."""
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
        return cls(
            settings=settings,
            db=Database(settings),
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
            redis=ResilientRedis(settings.redis_url, settings.ready_redis_timeout_seconds),
            http=http,
            ai=AIClient(
                settings.ai_service_url,
                timeout_seconds=settings.ai_move_timeout_seconds,
                fallback_max_level=settings.ai_fallback_max_level,
                metrics=metrics,
                http=http,
            ),
        )

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    async def close(self) -> None:
        await self.redis.close()
        await self.http.aclose()
        await self.db.dispose()
