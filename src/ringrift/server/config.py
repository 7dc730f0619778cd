"""Application settings, read from the environment (or a `.env` file) via pydantic-settings.

Only the names documented in docs/system.md are part of the public contract (`DATABASE_URL`,
`REDIS_URL`, `AI_SERVICE_URL`, `JWT_KEYRING_FILE`, `JWT_SECRET`, `JWT_REFRESH_SECRET`,
`RINGRIFT_ENV`); the remaining knobs are tuning values with safe defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ringrift.db"


class Settings(BaseSettings):
    """Every configuration value the app reads. Field names map to upper-case env vars."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    ringrift_env: Literal["development", "production", "test"] = "development"

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = ""
    ai_service_url: str = "http://127.0.0.1:8001"

    jwt_keyring_file: str = ""
    jwt_secret: str = ""
    jwt_refresh_secret: str = ""
    jwt_issuer: str = "ringrift"
    jwt_audience: str = "ringrift-api"
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=30, le=24 * 3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)

    # argon2id cost parameters (OWASP minimum recommendation by default).
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_cost_kib: int = Field(default=19 * 1024, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)

    # Database behaviour.
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    db_command_timeout_seconds: float = Field(default=10.0, gt=0)
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    sqlite_busy_timeout_seconds: float = Field(default=10.0, gt=0)
    # None = migrate automatically for SQLite only; True/False forces it for any backend.
    auto_migrate: bool | None = None

    # Readiness check timeouts (seconds).
    ready_db_timeout_seconds: float = Field(default=1.5, gt=0)
    ready_redis_timeout_seconds: float = Field(default=0.5, gt=0)
    ready_ai_timeout_seconds: float = Field(default=1.0, gt=0)

    # AI seats.
    ai_move_timeout_seconds: float = Field(default=8.0, gt=0)
    ai_fallback_max_level: int = Field(default=2, ge=1, le=10)
    # Upper bound of AI moves played in a row inside one request (guards against AI-only loops).
    ai_max_consecutive_moves: int = Field(default=500, ge=1)

    # AI service client: concurrency cap and circuit breaker.
    ai_max_concurrent_requests: int = Field(default=8, ge=1)
    ai_breaker_failure_threshold: int = Field(default=3, ge=1)
    ai_breaker_cooldown_seconds: float = Field(default=10.0, gt=0)

    # Redis client: per-call timeout and reconnect backoff bounds (seconds).
    redis_timeout_seconds: float = Field(default=0.3, gt=0, le=5)
    redis_backoff_min_seconds: float = Field(default=0.1, gt=0)
    redis_backoff_max_seconds: float = Field(default=1.0, gt=0)
    redis_monitor_interval_seconds: float = Field(default=0.5, gt=0)

    # Rate limits: requests per window (fixed windows on Redis, per-instance memory while Redis
    # is down). 0 disables a limit.
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    rate_limit_login: int = Field(default=30, ge=0)  # per client address and email
    rate_limit_register: int = Field(default=60, ge=0)  # per client address
    rate_limit_game_create: int = Field(default=60, ge=0)  # per user
    rate_limit_moves: int = Field(default=600, ge=0)  # per user (REST and WebSocket)
    rate_limit_ws_messages: int = Field(default=1200, ge=0)  # per user, all frame types

    # WebSocket.
    ws_resync_threshold: int = Field(default=100, ge=0)  # larger gaps get a full state
    ws_auth_timeout_seconds: float = Field(default=5.0, gt=0)
    ws_max_frame_bytes: int = Field(default=64 * 1024, ge=256)
    ws_queue_limit: int = Field(default=1000, ge=10)  # queued outbound items before resync
    # Moves sent over the WebSocket return their ack at once; AI replies follow as events.
    ws_ai_in_background: bool = True

    # Matchmaking: a waiting player accepts opponents within a rating window that starts at
    # `base` and widens by `growth` points per second waited, up to `max`. Entries without a
    # heartbeat (status poll) for `heartbeat_seconds` leave the queue; the sweep pairs and
    # expires every `sweep_seconds` on every instance.
    matchmaking_window_base: float = Field(default=100.0, ge=0)
    matchmaking_window_growth: float = Field(default=10.0, ge=0)
    matchmaking_window_max: float = Field(default=1000.0, ge=0)
    matchmaking_heartbeat_seconds: float = Field(default=30.0, gt=0)
    matchmaking_sweep_seconds: float = Field(default=2.0, gt=0)
    matchmaking_max_wait_seconds: float = Field(default=25.0, ge=0, le=25.0)  # status long-poll

    log_level: str = "INFO"

    @field_validator("redis_url", "ai_service_url", "jwt_keyring_file")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @property
    def is_production(self) -> bool:
        return self.ringrift_env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        if self.auto_migrate is None:
            return self.is_sqlite
        return self.auto_migrate


def get_settings() -> Settings:
    """Read settings from the environment now (no caching: tests build their own)."""
    return Settings()
