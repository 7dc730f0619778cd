"""The app's analysis routes against the real AI service (in a thread, with its token) and
against the in-process fallback: shapes, bad input, visibility, the rated-game rule, limits."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_support import AppFactory, LiveServer, bearer, register

from ringrift.ai.curve import curve, turning_points
from ringrift.aiservice.app import create_app as create_ai_app
from ringrift.rules import GameState, Move, apply_move, legal_moves, new_game

TOKEN = "analysis-proxy-" + "q" * 30


@pytest.fixture(scope="module")
def ai_url() -> Iterator[str]:
    app = create_ai_app(workers=1, use_processes=False, tokens=(TOKEN,), budget_scale=0.1)
    server = LiveServer(app).start()
    yield server.url
    server.stop()


def _position(plies: int = 6) -> dict[str, Any]:
    state = new_game("square8", 2)
    rng = random.Random(9)
    for _ in range(plies):
        state = apply_move(state, rng.choice(legal_moves(state)))
    return state.to_json()


async def test_anonymous_analysis_through_the_service(app_factory: AppFactory, ai_url: str) -> None:
    async with app_factory(ai_service_url=ai_url, ai_service_token=TOKEN) as (_app, client):
        doc = _position()
        response = await client.post("/api/analysis", json={"state": doc, "level": 5, "top": 3})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["source"] == "service"
        assert data["level"] == 5 and data["depth"] >= 1
        state = GameState.from_json(doc)
        assert data["playerToMove"] == state.current_player
        legal = [m.to_json() for m in legal_moves(state)]
        assert data["bestMove"] in legal
        assert data["topMoves"][0]["move"] == data["bestMove"]
        assert len(data["topMoves"]) <= 3
        seats = data["seats"]
        assert [s["player"] for s in seats] == [1, 2]
        assert seats[0]["evaluation"] == pytest.approx(-seats[1]["evaluation"])
        assert all(0 <= s["winChance"] <= 1 for s in seats)
        assert data["thinkingTimeMs"] >= 0 and data["nodes"] >= 1


async def test_analysis_falls_back_in_process(client: httpx.AsyncClient) -> None:
    # The test settings point the AI client at a port where nothing listens.
    response = await client.post("/api/analysis", json={"state": _position(), "level": 9})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["source"] == "local"
    assert data["level"] <= 2  # AI_FALLBACK_MAX_LEVEL


async def test_bad_analysis_requests_are_refused_clearly(client: httpx.AsyncClient) -> None:
    good = _position()
    huge = dict(good)
    huge["board"] = {**good["board"], "padding": "x" * 40_000}
    bad_board = dict(good)
    bad_board["board"] = {**good["board"], "type": "moon"}
    bad_player = dict(good)
    bad_player["currentPlayer"] = 9
    cases: list[tuple[Any, int]] = [
        ({}, 400),
        ({"state": good, "level": 0}, 400),
        ({"state": good, "level": "5"}, 400),
        ({"state": good, "top": 11}, 400),
        ({"state": "square8"}, 400),
        ({"state": bad_board}, 400),
        ({"state": bad_player}, 400),
        ({"state": {"board": {"type": "square8", "size": 99}}}, 400),
        ({"state": huge}, 413),
    ]
    for body, status in cases:
        response = await client.post("/api/analysis", json=body)
        assert response.status_code == status, (body if status != 413 else "huge", response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_FAILED" and error["message"]


async def test_analysis_is_rate_limited_per_address_and_per_user(app_factory: AppFactory) -> None:
    async with app_factory(rate_limit_analysis=2) as (_app, client):
        body = {"state": _position(), "level": 1}
        for _ in range(2):
            assert (await client.post("/api/analysis", json=body)).status_code == 200
        refused = await client.post("/api/analysis", json=body)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert refused.headers["Retry-After"]
        # A signed-in player counts on their own account, and a game's curve counts too.
        user = await register(client)
        mine = await client.post("/api/analysis", json=body, headers=bearer(user["accessToken"]))
        assert mine.status_code == 200
        game = await _game(client, user["accessToken"])
        curve_url = f"/api/games/{game['id']}/analysis/curve"
        assert (await client.get(curve_url, headers=bearer(user["accessToken"]))).is_success
        third = await client.get(curve_url, headers=bearer(user["accessToken"]))
        assert third.status_code == 429
        assert third.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"


async def _game(client: httpx.AsyncClient, token: str, **options: Any) -> dict[str, Any]:
    body = {"boardType": "square8", "maxPlayers": 2, "isRated": False, **options}
    response = await client.post("/api/games", headers=bearer(token), json=body)
    assert response.status_code == 201, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


async def test_game_positions_respect_visibility_and_live_play(client: httpx.AsyncClient) -> None:
    a, b, c = await register(client), await register(client), await register(client)
    ta, tb, tc = a["accessToken"], b["accessToken"], c["accessToken"]

    # An unrated game against the AI: its players and onlookers may analyse it while it runs.
    unrated = await _game(client, ta, aiOpponents={"count": 1, "difficulty": [1]})
    url = f"/api/games/{unrated['id']}/analysis"
    for token in (ta, tc):
        response = await client.get(url, params={"level": 2}, headers=bearer(token))
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["gameId"] == unrated["id"] and data["moveNumber"] >= 0
    first = await client.get(url, params={"v": 0, "level": 1}, headers=bearer(tc))
    assert first.json()["data"]["moveNumber"] == 0
    assert (await client.get(url)).status_code == 401
    beyond = await client.get(url, params={"v": 10_000}, headers=bearer(ta))
    assert beyond.status_code == 400 and beyond.json()["error"]["code"] == "VALIDATION_FAILED"
    bad_level = await client.get(url, params={"level": 11}, headers=bearer(ta))
    assert bad_level.status_code == 400
    missing = await client.get("/api/games/nope/analysis", headers=bearer(ta))
    assert missing.status_code == 404

    # A private game: only its players.
    private = await _game(client, ta, isPrivate=True)
    purl = f"/api/games/{private['id']}/analysis"
    denied = await client.get(purl, headers=bearer(tc))
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "RESOURCE_ACCESS_DENIED"

    # A game in play between two people, rated or not: nobody may analyse it, its own players
    # included (no engine help against a person); once it has ended: everyone.
    for options, reason in (({"isRated": True}, "rated games"), ({}, "against people")):
        game = await _game(client, ta, **options)
        joined = await client.post(f"/api/games/{game['id']}/join", headers=bearer(tb))
        assert joined.status_code == 200, joined.text
        gurl = f"/api/games/{game['id']}/analysis"
        for token in (ta, tb, tc):
            live = await client.get(gurl, headers=bearer(token))
            assert live.status_code == 403, live.text
            assert live.json()["error"]["code"] == "RESOURCE_ACCESS_DENIED"
            assert reason in live.json()["error"]["message"]
        left = await client.post(f"/api/games/{game['id']}/leave", headers=bearer(tb))
        assert left.is_success
        ended = await client.get(gurl, params={"level": 1}, headers=bearer(tc))
        assert ended.status_code == 200, ended.text


async def test_a_games_evaluation_curve(client: httpx.AsyncClient) -> None:
    """The curve of a practice game while it runs and of a finished game between people: the
    replayed game's own curve (ringrift.ai.curve), refused while people play each other."""
    a, b, c = await register(client), await register(client), await register(client)
    ta, tb, tc = a["accessToken"], b["accessToken"], c["accessToken"]
    game = await _game(client, ta, aiOpponents={"count": 1, "difficulty": [1]})
    rng = random.Random(3)
    for _ in range(8):
        state = GameState.from_json(game["state"])
        if game["status"] != "active":
            break
        move = rng.choice(legal_moves(state)).to_json()
        response = await client.post(
            f"/api/games/{game['id']}/moves",
            json={"move": move, "version": game["version"]},
            headers=bearer(ta),
        )
        assert response.status_code == 200, response.text
        game = response.json()["data"]["game"]
    url = f"/api/games/{game['id']}/analysis/curve"
    response = await client.get(url, headers=bearer(tc))  # an onlooker of a practice game
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["gameId"] == game["id"] and data["version"] == game["version"] > 8

    record = (await client.get(f"/api/games/{game['id']}/moves")).json()["data"]
    positions = [(0, GameState.from_json(record["initialState"]))]
    for entry in record["moves"]:
        positions.append(
            (entry["moveNumber"], apply_move(positions[-1][1], Move.from_json(entry["move"])))
        )
    expected = curve(positions)
    assert [p["v"] for p in data["points"]] == [p.version for p in expected]
    assert [p["mover"] for p in data["points"]] == [p.mover for p in expected]
    for got, want in zip(data["points"], expected, strict=True):
        assert got["shares"] == pytest.approx(want.shares, abs=1e-4)
        assert sum(got["shares"]) == pytest.approx(1.0, abs=1e-3)
    turning = turning_points(expected)
    assert [t["v"] for t in data["turningPoints"]] == [t.version for t in turning]

    assert (await client.get(url)).status_code == 401
    missing = await client.get("/api/games/nope/analysis/curve", headers=bearer(ta))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "GAME_NOT_FOUND"
    garbage = await client.get(f"/api/games/{'x' * 65}/analysis/curve", headers=bearer(ta))
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "VALIDATION_FAILED"

    # A private game: only its players.
    private = await _game(client, ta, isPrivate=True)
    hidden = await client.get(f"/api/games/{private['id']}/analysis/curve", headers=bearer(tc))
    assert hidden.status_code == 403
    assert hidden.json()["error"]["code"] == "RESOURCE_ACCESS_DENIED"

    # People playing each other: no curve for anyone until the game has ended.
    people = await _game(client, ta)
    assert (await client.post(f"/api/games/{people['id']}/join", headers=bearer(tb))).is_success
    purl = f"/api/games/{people['id']}/analysis/curve"
    live = await client.get(purl, headers=bearer(ta))
    assert live.status_code == 403 and live.json()["error"]["code"] == "RESOURCE_ACCESS_DENIED"
    assert (await client.post(f"/api/games/{people['id']}/leave", headers=bearer(tb))).is_success
    ended = await client.get(purl, headers=bearer(tc))
    assert ended.status_code == 200, ended.text
    points = ended.json()["data"]["points"]
    assert points[0]["v"] == 0 and points[0]["mover"] is None
