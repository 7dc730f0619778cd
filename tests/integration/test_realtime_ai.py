"""AI seats over the WebSocket with the real AI service process: its moves are used while it is
up; when it is stopped mid-game the seat is played by the in-process AI (legal moves, the game
goes on), /ready shows the service degraded with the breaker open; after a restart on the same
port the breaker half-opens and the service plays again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from realtime_support import (
    WS,
    Process,
    ai_service_process,
    app_process,
    is_type,
    move_list,
    ready,
    register,
    to_move,
    wait_for,
)

from ringrift.ops.services import RedisServer
from ringrift.rules import Move, apply_move, new_game

pytestmark = pytest.mark.integration

COOLDOWN = 2.0


@pytest.fixture(scope="module")
def ai_service() -> Iterator[Process]:
    process = ai_service_process().start(timeout=60)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def app(pg_database: str, redis_server: RedisServer, ai_service: Process) -> Iterator[Process]:
    process = app_process(
        pg_database,
        redis_server.url,
        ai_service.url,
        ai_breaker_failure_threshold=2,
        ai_breaker_cooldown_seconds=COOLDOWN,
        ai_move_timeout_seconds=3,
        ready_ai_timeout_seconds=0.5,
    ).start()
    yield process
    process.stop()


@pytest_asyncio.fixture
async def player(app: Process) -> AsyncIterator[tuple[WS, dict[str, Any], str]]:
    user = await register(app.url)
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
        response = await http.post(
            "/api/games",
            json={
                "boardType": "square8",
                "maxPlayers": 2,
                "aiOpponents": {"count": 1, "difficulty": [1]},
                "seed": 5,
            },
            headers={"Authorization": f"Bearer {user['token']}"},
        )
    assert response.status_code == 201, response.text
    game_id = response.json()["data"]["game"]["id"]
    ws = await WS.open(app.url, user["token"])
    await ws.send("join", {"gameId": game_id, "ack": "j"})
    await ws.expect(is_type("ack", ack="j"))
    yield ws, user, game_id
    await ws.close()


async def _play_until(ws: WS, game_id: str, ai_moves: int) -> list[dict[str, Any]]:
    """Play the human seat (first legal move) until ``ai_moves`` more AI moves were seen;
    returns the AI move events."""
    seen: list[dict[str, Any]] = []
    while len(seen) < ai_moves:
        prompt = await ws.expect(to_move(game_id), 20)
        v = prompt["d"]["v"]
        for frame in [*ws.backlog, prompt]:
            if frame["t"] == "event" and frame["d"].get("by") == 2:
                seen.append(frame["d"])
        ws.backlog = [f for f in ws.backlog if f["t"] not in ("event", "state")]
        assert prompt["d"]["status"] == "active", "the game ended early"
        move = prompt["d"]["legalMoves"][0]
        await ws.send("move", {"gameId": game_id, "move": move, "v": v, "ack": v})
        await ws.expect(is_type("ack", ack=v), 10)
    return seen


def _sources(moves: list[dict[str, Any]]) -> list[str]:
    return [m["source"] for m in moves if m["isAi"]]


def _replays(moves: list[dict[str, Any]]) -> bool:
    state = new_game("square8", 2)
    for record in moves:
        state = apply_move(state, Move.from_json(record["move"]))  # raises when illegal
    return True


async def test_ai_service_outage_falls_back_and_recovers(
    app: Process, ai_service: Process, player: tuple[WS, dict[str, Any], str]
) -> None:
    ws, user, game_id = player
    await _play_until(ws, game_id, 2)
    moves = await move_list(app.url, game_id, user["token"])
    assert _sources(moves) and set(_sources(moves)) == {"service"}
    body = await ready(app.url)
    assert body["checks"]["aiService"]["status"] == "healthy"
    assert body["checks"]["aiService"]["breaker"]["state"] == "closed"

    # --- the AI service goes away mid-game -----------------------------------------------
    ai_service.stop()
    before = len(moves)
    await _play_until(ws, game_id, 4)
    moves = await move_list(app.url, game_id, user["token"])
    assert set(_sources(moves[before:])) == {"local"}  # played in-process, game goes on
    assert _replays(moves)  # every move, fallbacks included, is legal
    body = await ready(app.url)
    service = body["checks"]["aiService"]
    assert body["status"] == "degraded" and service["status"] == "degraded" and service["error"]
    assert service["breaker"]["state"] in ("open", "half_open")
    assert service["breaker"]["consecutiveFailures"] >= 2
    async with httpx.AsyncClient(timeout=5) as http:
        metrics = (await http.get(f"{app.url}/metrics")).text
    assert 'ringrift_ai_fallback_total{reason="breaker_open"}' in metrics
    assert 'ringrift_ai_fallback_total{reason="unreachable"}' in metrics

    # --- it comes back on the same port ------------------------------------------------
    ai_service.start(timeout=60)

    async def healthy() -> bool:
        check = (await ready(app.url))["checks"]["aiService"]
        return check["status"] == "healthy"

    await wait_for(healthy, COOLDOWN + 5)
    before = len(moves)
    await _play_until(ws, game_id, 3)
    moves = await move_list(app.url, game_id, user["token"])
    assert "service" in _sources(moves[before:])  # the half-open trial succeeded
    assert _sources(moves)[-1] == "service"
    body = await ready(app.url)
    assert body["status"] == "healthy"
    assert body["checks"]["aiService"]["breaker"]["state"] == "closed"
