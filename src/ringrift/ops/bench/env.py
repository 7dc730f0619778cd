"""The environment of a benchmark's app process: one place for what every benchmark sets."""

from __future__ import annotations

import os
import uuid

# Per-user limits a benchmark would hit by design: two players drive hundreds of games.
_LIMITS = ("LOGIN", "LOGIN_IP", "REGISTER", "GAME_CREATE", "MOVES", "WS_MESSAGES", "REPLAY")


def bench_env(
    name: str,
    database_url: str,
    *,
    redis_url: str = "",
    ai_url: str = "",
    limits_off: bool = False,
    **extra: str,
) -> dict[str, str]:
    """The app's environment for benchmark ``name``: a throw-away signing secret, development
    mode, migrations applied at start, and, with ``limits_off``, the per-user rate limits and
    the per-user socket cap off (0 means unlimited). ``extra`` adds settings (``DB_POOL_SIZE``)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AI_SERVICE_URL": ai_url,
        "RINGRIFT_ENV": "development",
        "AUTO_MIGRATE": "true",
        **extra,
    }
    env.setdefault("JWT_SECRET", f"{name}-{uuid.uuid4().hex}{uuid.uuid4().hex}")
    if limits_off:
        env.update({f"RATE_LIMIT_{limit}": "0" for limit in _LIMITS})
        env["WS_MAX_SOCKETS_PER_USER"] = "0"
    return env
