"""Application settings, read from the environment (or a `.env` file) via pydantic-settings.

Only the names documented in docs/system.md are part of the public contract (`DATABASE_URL`,
`REDIS_URL`, `AI_SERVICE_URL`, `JWT_KEYRING_FILE`, `JWT_SECRET`, `JWT_REFRESH_SECRET`,
`RINGRIFT_ENV`); the remaining knobs are tuning values with safe defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ringrift.server.clocks import PRESETS
from ringrift.server.redissentinel import SentinelConfig, parse_addresses, parse_sentinels
from ringrift.server.tracing import TracingConfig

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ringrift.db"

ENV_ALIASES = {
    "prod": "production",
    "dev": "development",
    "develop": "development",
    "testing": "test",
}


def parse_gc_thresholds(value: str) -> tuple[int, int, int] | None:
    """ "gen0,gen1,gen2" as three whole numbers, each at least 1 (None when empty)."""
    if not value.strip():
        return None
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 3 or not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise ValueError('must be three whole numbers of at least 1, "gen0,gen1,gen2"')
    first, second, third = (int(part) for part in parts)
    return first, second, third


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
    # AUTH to the Sentinels below (their requirepass); empty when they take none. Declared
    # before them so that their validators can check it without echoing it in an error.
    redis_sentinel_password: str = ""
    # Redis through Sentinel instead of REDIS_URL (server/redissentinel.py): comma-separated
    # host:port of the Sentinels and the master name they monitor; database 0 of the primary.
    redis_sentinels: str = ""
    redis_sentinel_master: str = ""
    ai_service_url: str = "http://127.0.0.1:8001"
    # Sent as ``Authorization: Bearer`` to the AI service (which accepts AI_SERVICE_TOKEN).
    ai_service_token: str = ""

    jwt_keyring_file: str = ""
    jwt_secret: str = ""
    jwt_refresh_secret: str = ""
    jwt_issuer: str = "ringrift"
    jwt_audience: str = "ringrift-api"
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=30, le=24 * 3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    # A just-rotated refresh token presented again within this many seconds returns the same
    # successor instead of counting as reuse (tabs refreshing at once). 0 = strict reuse.
    refresh_reuse_interval_seconds: float = Field(default=5.0, ge=0, le=60)

    # argon2id cost parameters (OWASP minimum recommendation by default).
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_cost_kib: int = Field(default=19 * 1024, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    # Login throttling (server/security/throttle.py; no account lock). 0 disables a limit.
    login_failure_window_seconds: int = Field(default=15 * 60, ge=1)
    login_max_failures_per_address: int = Field(default=5, ge=0)  # per client address + email
    login_max_failures_per_account: int = Field(default=20, ge=0)  # per email, unknown addresses
    login_max_failures_per_ip: int = Field(default=50, ge=0)  # per client address, all emails
    login_known_address_days: int = Field(default=30, ge=1)
    # "Email already registered" answers per client address and window before register refuses
    # that address (limits enumeration through register). 0 disables.

    # Database behaviour.
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    db_command_timeout_seconds: float = Field(default=10.0, gt=0)
    # Kept connections, plus a little overflow. Overflow connections are closed when they come
    # back, so a pool that lives on overflow under load opens a PostgreSQL backend per burst
    # (`bench ws` saw over 100 backends started in 15 s with 10+10); 20 kept connections carry
    # one process at saturation. Several workers or instances multiply this against
    # PostgreSQL's max_connections (100 by default).
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
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
    rate_limit_login_ip: int = Field(default=100, ge=0)  # per client address, all emails
    rate_limit_register: int = Field(default=60, ge=0)  # per client address
    rate_limit_game_create: int = Field(default=60, ge=0)  # per user
    rate_limit_moves: int = Field(default=600, ge=0)  # per user (REST and WebSocket)
    rate_limit_ws_messages: int = Field(default=1200, ge=0)  # per user, all frame types
    rate_limit_replay: int = Field(default=120, ge=0)  # per user, GET /api/games/{id}/states/{n}
    # Position analysis (POST /api/analysis, GET /api/games/{id}/analysis): per user, or per
    # client address for visitors without an account. Each costs up to a level's think time.
    rate_limit_analysis: int = Field(default=30, ge=0)
    # The anonymous sandbox (POST /api/sandbox/*): per client address, every request.
    rate_limit_sandbox: int = Field(default=240, ge=0)
    # Game chat (services/chat.py): messages per user and per game in a window of its own.
    rate_limit_chat_window_seconds: int = Field(default=10, ge=1, le=3600)
    rate_limit_chat_messages: int = Field(default=5, ge=0)  # per user, every game
    rate_limit_chat_per_game: int = Field(default=30, ge=0)  # per game, every user
    # Messages per channel sent on join (without a last seq) and per catch-up or REST page.
    chat_history_limit: int = Field(default=100, ge=1, le=500)
    # Worker processes that rebuild replayed positions (0 = a thread of the app process).
    replay_workers: int = Field(default=1, ge=0, le=16)
    # Start them with the app (in the background) rather than on the first replay, which would
    # otherwise wait about a second for the interpreter to start.
    replay_prewarm: bool = True
    # The garbage collector's thresholds (``gc.set_threshold``) while the app runs, as
    # "gen0,gen1,gen2"; empty keeps Python's (700,10,10). With Python's, a full collection
    # over the 200,000+ objects of 300 games' sockets and positions ran every 4 s and paused
    # the event loop up to 184 ms each time; collecting the youngest generation every 50,000
    # net allocations instead lets short-lived objects die of reference counting before they
    # are promoted, and full collections become rare (docs/server.md, "Garbage collection").
    gc_thresholds: str = "50000,20,100"

    # WebSocket.
    ws_auth_timeout_seconds: float = Field(default=5.0, gt=0)
    # Open sockets re-check their token this often (revocation, rotation, expiry; wsguard.py).
    ws_auth_check_seconds: float = Field(default=2.0, gt=0)
    # After expiry, a socket has this long to send an auth frame with a fresh token.
    ws_reauth_grace_seconds: float = Field(default=30.0, gt=0)
    ws_max_sockets_per_user: int = Field(default=20, ge=0)  # 0 = unlimited
    ws_max_frame_bytes: int = Field(default=64 * 1024, ge=256)
    ws_queue_limit: int = Field(default=1000, ge=10)  # queued outbound items before resync
    # Moves sent over the WebSocket return their ack at once; AI replies follow as events.
    ws_ai_in_background: bool = True
    # Seconds between sweeps that schedule AI turns left due (e.g. by a restart); 0 = only at start.
    ai_sweep_interval_seconds: float = Field(default=30.0, ge=0)

    # A connection must send a complete request head within this time (slowloris).
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    # Request body limits (bytes), enforced before the body is read (413 otherwise).
    max_body_bytes_auth: int = Field(default=64 * 1024, ge=1024)  # /api/auth/*
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)  # every other route

    # Addresses (comma-separated IPs or CIDRs) of reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed. Empty: nobody's (not even loopback): the peer address is
    # the client address.
    trusted_proxies: str = ""

    # Accounts: e-mail, tokens mailed to users, moderation.
    # smtp://[user:password@]host[:port][?starttls=1] or smtps://... (implicit TLS). Empty: no
    # SMTP; mails are written to MAIL_OUTBOX_DIR (one .eml file each) or, without it, dropped
    # with a log line.
    smtp_url: str = ""
    # CA bundle that SMTP TLS certificates must chain to (empty: the system store).
    smtp_ca_file: str = ""
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    mail_from: str = "RingRift <no-reply@ringrift.local>"
    mail_outbox_dir: str = ""
    # Base of the links in mails (the web client); the token is appended as a query value.
    public_base_url: str = "http://127.0.0.1:8000"
    password_reset_ttl_seconds: int = Field(default=30 * 60, ge=60, le=24 * 3600)
    email_verification_ttl_seconds: int = Field(default=48 * 3600, ge=300)
    # Unverified accounts play unrated games only (see docs/server.md, "Accounts").
    rated_requires_verified_email: bool = True
    rate_limit_password_reset: int = Field(default=5, ge=0)  # per client address and per email
    rate_limit_verify_resend: int = Field(default=5, ge=0)  # per user
    rate_limit_reports: int = Field(default=10, ge=0)  # per user
    rate_limit_account_export: int = Field(default=5, ge=0)  # per user (a heavy read)
    rate_limit_account_tokens: int = Field(default=30, ge=0)  # token confirmations per address

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

    # Game clocks: a game against people created without a time control gets this preset
    # (untimed games are for play against AI only); every instance looks for fallen flags
    # every `clock_sweep_interval_seconds` (0 = never; moves still refuse a fallen flag).
    default_time_control: str = "10+5"
    clock_sweep_interval_seconds: float = Field(default=1.0, ge=0)
    # Presence and abandonment (server/presence.py): a seat of a Fischer game whose sockets
    # are all gone for `presence_grace_seconds` is abandoned (2 players: the opponent may claim
    # the win; 3-4 players: the sweep withdraws it). Each instance re-announces its sockets
    # every `presence_heartbeat_seconds` (entries live 3 heartbeats) and sweeps every
    # `presence_sweep_seconds`.
    presence_grace_seconds: float = Field(default=60.0, gt=0, le=3600)
    presence_heartbeat_seconds: float = Field(default=5.0, gt=0, le=60)
    presence_sweep_seconds: float = Field(default=2.0, gt=0, le=60)
    # Live lobby on the socket (server/lobby.py): changes are gathered for `flush_seconds`
    # before the changed games are read; each socket gets at most one lobby frame per
    # `min_frame_interval_seconds`; snapshots hold at most `snapshot_limit` games per list.
    lobby_flush_seconds: float = Field(default=0.2, ge=0, le=5)
    lobby_min_frame_interval_seconds: float = Field(default=0.5, ge=0, le=10)
    lobby_snapshot_limit: int = Field(default=100, ge=1, le=1000)

    log_level: str = "INFO"

    # Tracing (docs/operations.md, "Tracing"): the standard OpenTelemetry variables, read
    # like every other setting. Off while both endpoints are empty.
    otel_exporter_otlp_endpoint: str = ""
    otel_exporter_otlp_traces_endpoint: str = ""
    otel_service_name: str = "ringrift-app"
    otel_sdk_disabled: bool = False

    @field_validator("ringrift_env", mode="before")
    @classmethod
    def _environment(cls, value: object) -> object:
        """Case and common short names are accepted: ``PRODUCTION``, ``prod``, ``dev``."""
        if not isinstance(value, str):
            return value
        name = value.strip().lower()
        return ENV_ALIASES.get(name, name)

    @field_validator(
        "redis_url", "ai_service_url", "jwt_keyring_file", "smtp_url", "mail_outbox_dir"
    )
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("gc_thresholds")
    @classmethod
    def _gc_thresholds(cls, value: str) -> str:
        parse_gc_thresholds(value)
        return value.strip()

    @property
    def gc_threshold_values(self) -> tuple[int, int, int] | None:
        """``gc_thresholds`` as numbers (None: keep Python's)."""
        return parse_gc_thresholds(self.gc_thresholds)

    @field_validator("default_time_control")
    @classmethod
    def _preset(cls, value: str) -> str:
        if value not in PRESETS or not PRESETS[value].timed:
            raise ValueError(f"must be a timed preset: {', '.join(PRESETS)}")
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_addresses(cls, value: str) -> str:
        """A bad Sentinel address is a configuration error at start-up, not a Redis outage
        later. (Field validators, not a model validator: a model-level error would echo
        every setting, secrets included, in the start-up message.)"""
        parse_addresses(value)
        return value.strip()

    @field_validator("redis_sentinel_master")
    @classmethod
    def _sentinel_master(cls, value: str, info: ValidationInfo) -> str:
        """The master name goes with the Sentinel list, and the list excludes REDIS_URL: two
        sources of the primary's address would disagree after the first failover."""
        if "redis_sentinels" not in info.data:
            return value.strip()  # REDIS_SENTINELS itself is invalid; that error says why
        sentinels = str(info.data["redis_sentinels"])
        if not sentinels:
            if value.strip():
                raise ValueError("REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is empty")
            if info.data.get("redis_sentinel_password"):
                # Raised here, not by the password's own validator: the error message quotes
                # the input it rejects, and this one is the (empty) master name.
                raise ValueError("REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is empty")
            return ""
        if info.data.get("redis_url"):
            raise ValueError("set REDIS_URL or REDIS_SENTINELS, not both")
        parse_sentinels(sentinels, value)
        return value.strip()

    @property
    def redis_sentinel(self) -> SentinelConfig | None:
        """The Sentinel configuration, None when Redis is a plain ``REDIS_URL`` (or absent)."""
        return parse_sentinels(
            self.redis_sentinels, self.redis_sentinel_master, self.redis_sentinel_password
        )

    @property
    def is_production(self) -> bool:
        return self.ringrift_env == "production"

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [item.strip() for item in self.trusted_proxies.split(",") if item.strip()]

    @property
    def tracing(self) -> TracingConfig:
        return TracingConfig(
            endpoint=self.otel_exporter_otlp_endpoint.strip(),
            traces_endpoint=self.otel_exporter_otlp_traces_endpoint.strip(),
            service_name=self.otel_service_name.strip() or "ringrift-app",
            disabled=self.otel_sdk_disabled,
        )

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
