"""``POST /ai/analyze`` of the AI service: the real app in-process (search threads instead of
processes), with a service token."""

from __future__ import annotations

import copy
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from ringrift.aiservice.app import create_app
from ringrift.rules import GameState, apply_move, legal_moves, new_game

TOKEN = "analyze-token-" + "z" * 30
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _state(board: str = "square8", players: int = 2, plies: int = 6) -> GameState:
    state = new_game(board, players)
    rng = random.Random(5)
    for _ in range(plies):
        state = apply_move(state, rng.choice(legal_moves(state)))
    return state


def _body(level: int = 1, **extra: Any) -> dict[str, Any]:
    return {"game_state": _state().to_json(), "level": level, **extra}


async def _client(processes: bool = False, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(workers=1, use_processes=processes, tokens=(TOKEN,), **options)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ai") as http:
            yield http


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(budget_scale=0.2):
        yield client


async def test_analysis_needs_the_service_token(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = await http.post("/ai/analyze", json=_body(), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("level", [1, 4, 5, 7])
async def test_result_shape(http: httpx.AsyncClient, level: int) -> None:
    state = _state()
    response = await http.post(
        "/ai/analyze",
        json={"game_state": state.to_json(), "level": level, "top": 3},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["level"] == level
    assert data["player_to_move"] == state.current_player
    assert [s["player"] for s in data["seats"]] == [1, 2]
    for seat in data["seats"]:
        assert 0.0 <= seat["win_chance"] <= 1.0
    assert 1 <= len(data["top_moves"]) <= 3
    scores = [m["score"] for m in data["top_moves"]]
    assert scores == sorted(scores, reverse=True)
    assert data["best_move"] == data["top_moves"][0]["move"]
    legal = [m.to_json() for m in legal_moves(state)]
    assert all(m["move"] in legal for m in data["top_moves"])
    assert data["depth"] >= 1 and data["nodes"] >= 1
    # The level's budget (0.2 x base, at most 1 s at level 7) plus a margin.
    assert data["thinking_time_ms"] < 2000


async def test_finished_game_is_analysed_without_moves(http: httpx.AsyncClient) -> None:
    state = new_game("square8", 2)
    rng = random.Random(2)
    while state.game_status == "active":
        state = apply_move(state, rng.choice(legal_moves(state)))
    response = await http.post(
        "/ai/analyze", json={"game_state": state.to_json(), "level": 2}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["best_move"] is None and data["top_moves"] == []
    assert data["player_to_move"] is None


async def test_bad_requests_are_4xx(http: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any] | bytes, int, str]] = [
        (b"{nope", 422, "invalid_json"),
        ({"level": 1}, 422, "invalid_request"),
        (_body(level=0), 422, "invalid_request"),
        (_body(level=11), 422, "invalid_request"),
        (_body(level="3"), 422, "invalid_request"),
        (_body(top=0), 422, "invalid_request"),
        (_body(top=11), 422, "invalid_request"),
        ({"game_state": {"board": {"type": "moon"}}, "level": 1}, 400, "unknown_board"),
        ({"game_state": {"board": "x"}, "level": 1}, 400, "invalid_state"),
        ({"game_state": {}, "level": 1}, 400, "invalid_state"),
    ]
    broken = _body()
    broken["game_state"]["currentPlayer"] = 7
    cases.append((broken, 400, "invalid_state"))
    big = _body()
    big["game_state"]["board"]["size"] = 30
    cases.append((big, 400, "unsupported_board_size"))
    for body, status, code in cases:
        if isinstance(body, bytes):
            response = await http.post(
                "/ai/analyze", content=body, headers={**AUTH, "Content-Type": "application/json"}
            )
        else:
            response = await http.post("/ai/analyze", json=body, headers=AUTH)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == code


async def test_body_limit_is_the_boards(http: httpx.AsyncClient) -> None:
    body = _body()
    body["pad"] = "x" * (600 * 1024)  # within the service-wide limit, beyond square8's
    response = await http.post("/ai/analyze", json=body, headers=AUTH)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


async def test_deadline_is_hard() -> None:
    # A search process, as in production: the answer cannot sneak in before the timer fires
    # on a busy machine, as a thread's can.
    async for http in _client(True, budget_scale=0.001, deadline_grace_seconds=0.0):
        body = {"game_state": _state("hexagonal", 4, 0).to_json(), "level": 1}
        response = await http.post("/ai/analyze", json=body, headers=AUTH)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "deadline_exceeded"
        assert response.headers["Retry-After"]
        assert (await http.get("/health")).status_code == 200


async def test_queue_is_shared_with_moves() -> None:
    import asyncio

    async for http in _client(budget_scale=1.0, queue_limit=0):
        slow = {"game_state": _state("square19", 2, 0).to_json(), "level": 9}
        first = asyncio.create_task(http.post("/ai/analyze", json=slow, headers=AUTH))
        await asyncio.sleep(1.0)
        refused = await http.post(
            "/ai/move",
            json={"game_state": _state().to_json(), "player_number": 1, "difficulty": 1},
            headers=AUTH,
        )
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "busy"
        assert (await first).status_code == 200


async def test_move_endpoint_still_works(http: httpx.AsyncClient) -> None:
    state = _state()
    body = {
        "game_state": copy.deepcopy(state.to_json()),
        "player_number": state.current_player,
        "difficulty": 3,
    }
    response = await http.post("/ai/move", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
