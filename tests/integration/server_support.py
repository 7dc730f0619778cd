"""Helpers shared by the server integration tests (imported by conftest and the tests)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from ringrift.ops.services import free_port
from ringrift.server.app import create_app
from ringrift.server.config import Settings

TEST_JWT_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-XYZ"


def dead_url() -> str:
    """An http URL on a local port where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": "",
        "ai_service_url": dead_url(),
        "jwt_secret": TEST_JWT_SECRET,
        "jwt_refresh_secret": "",
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 1024,
        "ai_move_timeout_seconds": 2.0,
        # These tests drive many requests from one address; rate limits and login throttling
        # have their own tests (test_realtime_redis.py, tests/security/) and are off here
        # unless a test sets them.
        "rate_limit_login": 0,
        "rate_limit_login_ip": 0,
        "login_max_failures_per_address": 0,
        "login_max_failures_per_account": 0,
        "login_max_failures_per_ip": 0,
        "rate_limit_register": 0,
        "rate_limit_game_create": 0,
        "rate_limit_moves": 0,
        "rate_limit_ws_messages": 0,
        # Most tests play rated games with fresh (unverified) accounts; the policy has its own
        # tests in test_server_accounts.py.
        "rated_requires_verified_email": False,
        # Hundreds of apps start in the suite: none spawns its replay process before it needs
        # one (test_server_play.py checks the start-up spawn).
        "replay_prewarm": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app in-process (lifespan included) with an httpx client bound to it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


AppFactory = Callable[
    ..., contextlib.AbstractAsyncContextManager[tuple[FastAPI, httpx.AsyncClient]]
]


async def register(
    client: httpx.AsyncClient, name: str | None = None, password: str = "correct-horse-1"
) -> dict[str, Any]:
    name = name or "u" + uuid.uuid4().hex[:10]
    response = await client.post(
        "/api/auth/register",
        json={"email": f"{name}@example.com", "username": name, "password": password},
    )
    assert response.status_code == 202, response.text
    response = await client.post(
        "/api/auth/login", json={"email": f"{name}@example.com", "password": password}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    data["email"] = f"{name}@example.com"
    data["password"] = password
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class LiveServer:
    """A uvicorn server for an ASGI app on a free port in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def ready_body(
    base_url: str, accept: Callable[[dict[str, Any]], bool], timeout: float = 30.0
) -> dict[str, Any]:
    """Poll ``/ready`` until ``accept`` takes its body, and return that body (or the last one
    seen, for the caller's assertion, when ``timeout`` passes). An app that has just started
    answers /health at once but may report a dependency degraded for a few seconds on a busy
    machine: its first Redis ping (Sentinel lookup, then the primary) or AI probe can outlast
    the readiness timeouts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            body: dict[str, Any] = httpx.get(f"{base_url}/ready", timeout=5).json()
        except httpx.HTTPError as error:
            body = {"error": str(error)}
        if accept(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.25)


def fake_ai_service(mode: str = "first_legal") -> FastAPI:
    """A small AI service speaking the real request/response shape. ``mode``: ``first_legal``
    (plays the first legal move), ``illegal`` (answers with a move that is not legal) or
    ``garbage`` (answers 200 with a body that is not a move)."""
    from ringrift.rules import GameState, legal_moves

    app = FastAPI()
    app.state.calls = 0

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.post("/ai/move")
    async def move(body: dict[str, Any]) -> dict[str, Any]:
        app.state.calls += 1
        if mode == "garbage":
            return {"nothing": "here"}
        state = GameState.from_json(body["game_state"])
        moves = legal_moves(state)
        if mode == "illegal":
            chosen = {
                "type": "place_ring",
                "player": body["player_number"],
                "to": {"x": 99, "y": 99},
            }
        else:
            chosen = moves[0].to_json()
        return {
            "move": chosen,
            "evaluation": 0.0,
            "thinking_time_ms": 1,
            "difficulty": body["difficulty"],
        }

    return app
