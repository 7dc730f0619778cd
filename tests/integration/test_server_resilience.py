"""Readiness for every dependency state, and a real PostgreSQL outage with automatic recovery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from fastapi import FastAPI
from server_support import LiveServer, bearer, dead_url, make_settings, register, running_app

from ringrift.ops.services import PostgresCluster, RedisServer, free_port


async def _ready(client: httpx.AsyncClient, health_json: bool = False) -> httpx.Response:
    headers = {"Accept": "application/health+json"} if health_json else {}
    return await client.get("/ready", headers=headers)


async def _wait_for(
    client: httpx.AsyncClient, predicate: Callable[[httpx.Response], bool], timeout: float
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    while True:
        response = await _ready(client)
        if predicate(response):
            return response, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not reached in {timeout}s: {response.text}")
        await asyncio.sleep(0.1)


async def test_ready_healthy_then_redis_outage_and_recovery(
    database_url: str,
    redis_server: RedisServer,
    ai_service_factory: Callable[[str], tuple[LiveServer, FastAPI]],
) -> None:
    ai, _ai_app = ai_service_factory("first_legal")
    settings = make_settings(database_url, redis_url=redis_server.url, ai_service_url=ai.url)
    async with running_app(settings) as (_app, client):
        response = await _ready(client)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "healthy"
        assert set(body) == {"status", "version", "uptime", "checks"}
        for name in ("database", "redis", "aiService"):
            assert body["checks"][name]["status"] == "healthy"
            assert body["checks"][name]["latencyMs"] >= 0
        health = await _ready(client, health_json=True)
        assert health.headers["content-type"].startswith("application/health+json")
        assert health.json()["status"] == "pass"

        user = await register(client)
        redis_server.stop()
        try:
            down, seen_after = await _wait_for(
                client, lambda r: r.json()["status"] == "degraded", timeout=2.0
            )
            assert down.status_code == 200
            assert down.json()["checks"]["redis"]["status"] == "degraded"
            assert down.json()["checks"]["redis"]["error"]
            assert seen_after < 2.0
            assert (await _ready(client, health_json=True)).json()["status"] == "warn"
            # Login keeps working without Redis.
            login = await client.post(
                "/api/auth/login", json={"email": user["email"], "password": user["password"]}
            )
            assert login.status_code == 200
        finally:
            redis_server.start()
        # The client reconnects by itself (no app restart).
        back, recovered_after = await _wait_for(
            client, lambda r: r.json()["status"] == "healthy", timeout=5.0
        )
        assert back.json()["checks"]["redis"]["status"] == "healthy"
        assert recovered_after < 5.0


async def test_ready_reports_disabled_and_degraded_dependencies(database_url: str) -> None:
    # No Redis configured, AI service down: degraded (AI), redis disabled, still 200.
    settings = make_settings(database_url, redis_url="", ai_service_url=dead_url())
    async with running_app(settings) as (_app, client):
        response = await _ready(client)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "degraded"
        assert body["checks"]["redis"] == {"status": "disabled"}
        assert body["checks"]["aiService"]["status"] == "degraded"
        assert body["checks"]["aiService"]["error"]
        assert (await client.get("/health")).status_code == 200

    # Redis configured but nothing listening: degraded (redis), quickly.
    settings = make_settings(
        database_url, redis_url=f"redis://127.0.0.1:{free_port()}/0", ai_service_url=""
    )
    async with running_app(settings) as (_app, client):
        started = time.monotonic()
        response = await _ready(client)
        assert time.monotonic() - started < 1.5
        body = response.json()
        assert response.status_code == 200 and body["status"] == "degraded"
        assert body["checks"]["redis"]["status"] == "degraded"
        assert body["checks"]["aiService"] == {"status": "disabled"}
        user = await register(client)  # the API works without Redis
        assert user["accessToken"]


async def test_database_outage_fails_fast_and_recovers(outage_cluster: PostgresCluster) -> None:
    settings = make_settings(
        outage_cluster.url(), ai_service_url="", db_connect_timeout_seconds=2.0
    )
    async with running_app(settings) as (_app, client):
        user = await register(client)
        token = user["accessToken"]
        game = await client.post(
            "/api/games",
            json={"boardType": "square8", "maxPlayers": 2, "isRated": False},
            headers=bearer(token),
        )
        assert game.status_code == 201
        assert (await _ready(client)).json()["status"] == "healthy"

        outage_cluster.stop(mode="fast")
        try:
            for request in (
                client.get("/api/users/me", headers=bearer(token)),
                client.post(
                    "/api/auth/login",
                    json={"email": user["email"], "password": user["password"]},
                ),
                client.get("/api/lobby"),
                client.get(f"/api/games/{game.json()['data']['game']['id']}"),
            ):
                started = time.monotonic()
                response = await request
                assert time.monotonic() - started < 3.0
                assert response.status_code == 503, response.text
                error = response.json()["error"]
                assert error["code"] == "SERVER_DATABASE_UNAVAILABLE" and error["requestId"]
            ready = await _ready(client)
            assert ready.status_code == 503
            assert ready.json()["status"] == "unhealthy"
            assert ready.json()["checks"]["database"]["status"] == "unhealthy"
            assert ready.json()["checks"]["database"]["error"]
            health_json = await _ready(client, health_json=True)
            assert health_json.status_code == 503 and health_json.json()["status"] == "fail"
            assert (await client.get("/health")).status_code == 200
            metrics = (await client.get("/metrics")).text
            assert "ringrift_db_unavailable_total 4.0" in metrics
        finally:
            outage_cluster.start()

        # Same app, no restart: it recovers by itself.
        await _wait_for(client, lambda r: r.status_code == 200, timeout=10.0)
        me = await client.get("/api/users/me", headers=bearer(token))
        assert me.status_code == 200
        login = await client.post(
            "/api/auth/login", json={"email": user["email"], "password": user["password"]}
        )
        assert login.status_code == 200
        lobby = (await client.get("/api/lobby")).json()["data"]
        assert lobby["total"] == 1
