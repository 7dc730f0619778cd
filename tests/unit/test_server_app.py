"""The app shell without external services: envelope, request ids, metrics, liveness,
configuration and production start-up checks (SQLite in a temp dir)."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ringrift.server.app import create_app
from ringrift.server.config import Settings
from ringrift.server.errors import ErrorCode
from ringrift.server.logs import JsonFormatter, accept_request_id
from ringrift.server.security.keyring import KeyringError

STRONG = "kQ3vX9pL2mZ7wR4tY8nB1cF6hJ5dG0sKe-Tq2Wn5Zr7Tk1Mv4"


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'unit.db'}",
        "ai_service_url": "",
        "jwt_secret": STRONG,
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 1024,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(_settings(tmp_path))

    @app.get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


async def test_error_envelope_for_framework_errors(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _app, client = app_client
    not_found = await client.get("/api/nothing-here")
    assert not_found.status_code == 404
    assert not_found.json()["error"]["code"] == ErrorCode.RESOURCE_NOT_FOUND

    wrong_method = await client.put("/api/auth/login")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == ErrorCode.RESOURCE_NOT_FOUND
    assert "POST" in wrong_method.headers["allow"]

    bad_json = await client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["code"] == ErrorCode.VALIDATION_FAILED

    bad_query = await client.get("/api/leaderboard?limit=0")
    assert bad_query.status_code == 400
    details = bad_query.json()["error"]["details"]
    assert details[0]["in"] == "query" and details[0]["field"] == "limit"

    crash = await client.get("/boom", headers={"X-Request-ID": "trace-123"})
    assert crash.status_code == 500
    body = crash.json()
    assert body == {
        "success": False,
        "error": {
            "code": "SERVER_INTERNAL_ERROR",
            "message": "Internal server error",
            "requestId": "trace-123",
        },
    }
    assert "secret internal detail" not in crash.text
    assert crash.headers["x-request-id"] == "trace-123"


async def test_request_ids_and_metrics(app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _app, client = app_client
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-DEF_1.2"})
    assert echoed.headers["x-request-id"] == "abc-DEF_1.2"
    minted = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert minted.headers["x-request-id"] != "bad id with spaces"
    assert len(minted.headers["x-request-id"]) == 32
    missing = await client.get("/api/users/me")
    assert missing.json()["error"]["requestId"] == missing.headers["x-request-id"]
    await client.get("/api/users/some-id")

    metrics = (await client.get("/metrics")).text
    assert 'route="/api/users/{user_id}"' in metrics  # templates, not raw paths
    assert "some-id" not in metrics
    assert 'ringrift_http_errors_total{code="AUTH_REQUIRED",route="/api/users/me"}' in metrics
    assert "ringrift_http_request_duration_seconds_bucket" in metrics


async def test_health_never_touches_dependencies(tmp_path: Path) -> None:
    # A PostgreSQL URL where nothing listens: liveness still answers at once.
    settings = _settings(
        tmp_path, database_url="postgresql+asyncpg://x@127.0.0.1:1/none", redis_url=""
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            started = time.monotonic()
            response = await client.get("/health")
            assert response.status_code == 200 and response.json()["status"] == "healthy"
            assert time.monotonic() - started < 0.5
            ready = await client.get("/ready")
            assert ready.status_code == 503 and ready.json()["status"] == "unhealthy"
            api = await client.get("/api/lobby")
            assert api.status_code == 503
            assert api.json()["error"]["code"] == "SERVER_DATABASE_UNAVAILABLE"


def test_production_refuses_weak_secrets_at_startup(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="too weak"):
        create_app(_settings(tmp_path, ringrift_env="production", jwt_secret="changeme"))
    with pytest.raises(KeyringError, match="no JWT signing secret"):
        create_app(_settings(tmp_path, ringrift_env="production", jwt_secret=""))
    create_app(
        _settings(
            tmp_path,
            ringrift_env="production",
            jwt_secret=STRONG,
            jwt_refresh_secret="u8Hq2Wn5Zr7Tk1Mv4Xb9Lc3Pf6Sd0GjR-yP4mE7aQ1zN8vC3xW",
        )
    )


def test_settings_read_the_documented_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h:5/db")
    monkeypatch.setenv("REDIS_URL", " redis://r:6379/0 ")
    monkeypatch.setenv("AI_SERVICE_URL", "http://ai:8001")
    monkeypatch.setenv("JWT_SECRET", "s1")
    monkeypatch.setenv("JWT_REFRESH_SECRET", "s2")
    monkeypatch.setenv("JWT_KEYRING_FILE", "/etc/ring.json")
    monkeypatch.setenv("RINGRIFT_ENV", "production")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+asyncpg://u@h:5/db"
    assert settings.redis_url == "redis://r:6379/0"
    assert settings.ai_service_url == "http://ai:8001"
    assert (settings.jwt_secret, settings.jwt_refresh_secret) == ("s1", "s2")
    assert settings.jwt_keyring_file == "/etc/ring.json"
    assert settings.is_production and not settings.should_auto_migrate
    monkeypatch.setenv("RINGRIFT_ENV", "staging")
    with pytest.raises(ValueError):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("RINGRIFT_ENV", "development")
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    assert default.database_url == "sqlite+aiosqlite:///./ringrift.db"
    assert default.should_auto_migrate


async def test_the_app_sets_the_collector_thresholds_while_it_runs(tmp_path: Path) -> None:
    before = gc.get_threshold()
    app = create_app(_settings(tmp_path, gc_thresholds=" 40000, 15,90 "))
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == (40000, 15, 90)
    assert gc.get_threshold() == before
    app = create_app(_settings(tmp_path, gc_thresholds=""))  # empty: Python's own
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == before


@pytest.mark.parametrize("value", ["1,2", "1,2,3,4", "0,10,10", "a,b,c", "-5,10,10", "1.5,2,3"])
def test_bad_collector_thresholds_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match="gen0,gen1,gen2"):
        _settings(tmp_path, gc_thresholds=value)


def test_json_log_lines_carry_the_request_id() -> None:
    import logging

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.request_id = "rid-1"
    record.status = 201
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "hello you" and line["requestId"] == "rid-1" and line["status"] == 201
    assert accept_request_id("ok-id") == "ok-id"
    assert accept_request_id("x" * 200) != "x" * 200
