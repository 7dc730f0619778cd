"""The anonymous sandbox over HTTP: new games, moves checked by the rules, AI replies, clear
4xx for bad input, the per-address rate limit, and nothing stored."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from server_support import AppFactory
from sqlalchemy import func, select

from ringrift.rules import GameState, apply_move, legal_moves
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game


async def _new(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/sandbox/new", json={"boardType": "square8", **body})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _ai_until_mine(
    client: httpx.AsyncClient, data: dict[str, Any], seat: int, level: int = 1
) -> dict[str, Any]:
    for _ in range(50):
        if not data["aiToMove"]:
            return data
        response = await client.post(
            "/api/sandbox/ai", json={"state": data["state"], "seat": seat, "level": level}
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["played"] and all(p["byAi"] or p["player"] == seat for p in data["played"])
    raise AssertionError("the AI never handed the turn back")


async def test_play_a_few_moves_against_the_ai(app_factory: AppFactory) -> None:
    async with app_factory() as (app, client):
        data = await _new(client, players=2, seat=1, level=1)
        assert data["toMove"] == 1 and not data["aiToMove"] and data["status"] == "active"
        assert "moveHistory" not in data["state"]
        state = GameState.from_json(data["state"])
        assert data["legalMoves"] == [m.to_json() for m in legal_moves(state)]
        for _ in range(4):
            move = data["legalMoves"][0]
            response = await client.post(
                "/api/sandbox/move", json={"state": data["state"], "move": move, "seat": 1}
            )
            assert response.status_code == 200, response.text
            after = response.json()["data"]
            assert after["played"][0] == {"player": 1, "move": move, "byAi": False}
            expected = apply_move(GameState.from_json(data["state"]), legal_moves(state)[0])
            if len(after["played"]) == 1:  # no lone move followed
                assert GameState.from_json(after["state"]).state_hash() == expected.state_hash()
            data = await _ai_until_mine(client, after, 1)
            if data["status"] != "active":
                break
            assert data["toMove"] == 1 and data["legalMoves"]
            state = GameState.from_json(data["state"])
        # Nothing was stored.
        ctx: AppContext = app.state.ctx
        async with ctx.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Game)) == 0


async def test_the_ai_opens_when_the_visitor_takes_a_later_seat(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as (_app, client):
        data = await _new(client, boardType="hex8", players=3, seat=2, level=2)
        assert data["aiToMove"] and data["toMove"] == 1 and data["legalMoves"] == []
        data = await _ai_until_mine(client, data, 2, level=2)
        assert data["toMove"] == 2 and data["legalMoves"]


async def test_bad_sandbox_requests_change_nothing(app_factory: AppFactory) -> None:
    async with app_factory() as (_app, client):
        data = await _new(client)
        state = data["state"]
        legal = data["legalMoves"]
        origin, step = {"x": 0, "y": 0}, {"x": 0, "y": 1}
        illegal = {"type": "move_stack", "player": 1, "from": origin, "to": step}
        cases: list[tuple[str, Any, int, str]] = [
            ("/api/sandbox/new", {"boardType": "moon"}, 400, "VALIDATION_FAILED"),
            ("/api/sandbox/new", {"boardType": "square8", "players": 5}, 400, "VALIDATION_FAILED"),
            ("/api/sandbox/new", {"boardType": "square8", "seat": 3}, 400, "VALIDATION_FAILED"),
            ("/api/sandbox/new", {"boardType": "square8", "level": 0}, 400, "VALIDATION_FAILED"),
            ("/api/sandbox/move", {"state": state, "seat": 1}, 400, "VALIDATION_FAILED"),
            (
                "/api/sandbox/move",
                {"state": state, "move": illegal, "seat": 1},
                400,
                "GAME_INVALID_MOVE",
            ),
            (
                "/api/sandbox/move",
                {"state": state, "move": {"type": "fly"}, "seat": 1},
                400,
                "VALIDATION_FAILED",
            ),
            (
                "/api/sandbox/move",
                {"state": state, "move": legal[0], "seat": 2},
                400,
                "GAME_NOT_YOUR_TURN",
            ),
            (
                "/api/sandbox/move",
                {"state": state, "move": legal[0], "seat": 3},
                400,
                "VALIDATION_FAILED",
            ),
            (
                "/api/sandbox/move",
                {"state": {"board": 1}, "move": legal[0], "seat": 1},
                400,
                "VALIDATION_FAILED",
            ),
            ("/api/sandbox/ai", {"state": state, "seat": 1, "level": 1}, 400, "GAME_NOT_YOUR_TURN"),
            ("/api/sandbox/ai", {"state": state, "seat": 2, "level": 11}, 400, "VALIDATION_FAILED"),
        ]
        finished = copy.deepcopy(state)
        finished["gameStatus"] = "completed"
        finished["winner"] = 2
        cases.append(
            (
                "/api/sandbox/move",
                {"state": finished, "move": legal[0], "seat": 1},
                400,
                "GAME_ALREADY_ENDED",
            )
        )
        padded = copy.deepcopy(state)
        padded["board"]["padding"] = "x" * 40_000
        cases.append(
            (
                "/api/sandbox/move",
                {"state": padded, "move": legal[0], "seat": 1},
                413,
                "VALIDATION_FAILED",
            )
        )
        for path, body, status, code in cases:
            before = copy.deepcopy(body)
            response = await client.post(path, json=body)
            assert response.status_code == status, (path, code, response.text)
            error = response.json()["error"]
            assert error["code"] == code and error["message"], error
            assert body == before
        bad_json = await client.post(
            "/api/sandbox/move", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        assert bad_json.status_code == 400
        # The original position still plays.
        fine = await client.post(
            "/api/sandbox/move", json={"state": state, "move": legal[0], "seat": 1}
        )
        assert fine.status_code == 200


async def test_sandbox_is_rate_limited_per_address(app_factory: AppFactory) -> None:
    async with app_factory(rate_limit_sandbox=3) as (_app, client):
        for _ in range(3):
            await _new(client)
        refused = await client.post("/api/sandbox/new", json={"boardType": "square8"})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert int(refused.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_whole_game_ends_with_a_result(app_factory: AppFactory) -> None:
    async with app_factory(rate_limit_sandbox=0) as (_app, client):
        data = await _new(client, players=2, seat=2, level=1)
        for _ in range(2000):
            data = await _ai_until_mine(client, data, 2)
            if data["status"] != "active":
                break
            response = await client.post(
                "/api/sandbox/move",
                json={"state": data["state"], "move": data["legalMoves"][-1], "seat": 2},
            )
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            if data["status"] != "active":
                break
        assert data["status"] == "completed"
        assert data["winner"] in (1, 2) and data["victoryReason"]
        assert data["legalMoves"] == [] and not data["aiToMove"] and data["toMove"] is None
        late = await client.post(
            "/api/sandbox/ai", json={"state": data["state"], "seat": 2, "level": 1}
        )
        assert late.status_code == 400 and late.json()["error"]["code"] == "GAME_ALREADY_ENDED"
