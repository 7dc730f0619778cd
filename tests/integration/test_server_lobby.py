"""The lobby's REST side on SQLite and PostgreSQL: `GET /api/games/live` (public games in play,
highest average rating first, with move counts), `GET /api/lobby` unchanged, and the
leaderboard filtered by board and player count; bad parameters get 400 `VALIDATION_FAILED`."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import bearer, register

from ringrift.rules import BOARD_TYPES, GameState, legal_moves


async def _create(client: httpx.AsyncClient, token: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"boardType": "square8", "maxPlayers": 2, "isRated": True}
    body.update(overrides)
    response = await client.post("/api/games", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


async def _join(
    client: httpx.AsyncClient, token: str, game_id: str, invite: str | None = None
) -> dict[str, Any]:
    params = {"invite": invite} if invite else None
    response = await client.post(f"/api/games/{game_id}/join", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


async def _game(client: httpx.AsyncClient, first: str, second: str, **body: Any) -> dict[str, Any]:
    game = await _create(client, first, **body)
    return await _join(client, second, game["id"], game.get("inviteToken"))


async def _resign(client: httpx.AsyncClient, token: str, game_id: str) -> None:
    response = await client.post(f"/api/games/{game_id}/leave", headers=bearer(token))
    assert response.status_code == 200, response.text


async def _live(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/games/live", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True
    data: dict[str, Any] = body["data"]
    return data


async def _board(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/leaderboard", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_live_games_sorted_by_average_rating_with_move_counts(
    client: httpx.AsyncClient,
) -> None:
    a, b, c, d = [await register(client) for _ in range(4)]
    ta, tb, tc, td = (u["accessToken"] for u in (a, b, c, d))
    # c beats d (d resigns a rated hex8 game): c 1520, d 1480.
    finished = await _game(client, tc, td, boardType="hex8")
    await _resign(client, td, finished["id"])

    middle = await _game(client, ta, tb)  # average 1500
    top = await _game(client, tc, tb, boardType="hex8")  # average 1510
    low = await _game(client, td, ta)  # average 1490
    await _game(client, tc, td, isPrivate=True)  # private: never listed
    waiting = await _create(client, ta)  # waiting: the open list, not the live one

    # One move in the middle game: its move count shows it.
    state = GameState.from_json(middle["state"])
    mover = ta if middle["currentPlayer"] == 1 else tb
    played = await client.post(
        f"/api/games/{middle['id']}/moves",
        json={"move": legal_moves(state)[0].to_json(), "version": middle["version"]},
        headers=bearer(mover),
    )
    assert played.status_code == 200, played.text
    version = played.json()["data"]["game"]["version"]
    assert version >= 1

    page = await _live(client)
    assert [g["id"] for g in page["games"]] == [top["id"], middle["id"], low["id"]]
    assert page["total"] == 3 and page["limit"] == 20 and page["offset"] == 0
    by_id = {g["id"]: g for g in page["games"]}
    assert by_id[top["id"]]["averageRating"] == 1510.0
    assert by_id[middle["id"]]["moveCount"] == version
    assert by_id[top["id"]]["moveCount"] == 0
    assert by_id[top["id"]]["boardType"] == "hex8" and by_id[top["id"]]["status"] == "active"
    players = by_id[top["id"]]["players"]
    assert [(p["seat"], p["username"], p["rating"]) for p in players] == [
        (1, c["user"]["username"], 1520.0),
        (2, b["user"]["username"], 1500.0),
    ]
    assert by_id[top["id"]]["startedAt"] is not None

    second_page = await _live(client, limit=2, offset=1)
    assert [g["id"] for g in second_page["games"]] == [middle["id"], low["id"]]
    assert second_page["total"] == 3

    # The open list is still the REST lobby route, unchanged.
    lobby = (await client.get("/api/lobby")).json()["data"]
    assert [g["id"] for g in lobby["games"]] == [waiting["id"]]

    # A resignation takes a game off the live list.
    await _resign(client, tb, top["id"])
    assert [g["id"] for g in (await _live(client))["games"]] == [middle["id"], low["id"]]


async def test_live_games_include_ai_games_after_human_ones(client: httpx.AsyncClient) -> None:
    a, b = await register(client), await register(client)
    ai = await _create(
        client, a["accessToken"], isRated=False, aiOpponents={"count": 1, "difficulty": [1]}
    )
    human = await _game(client, a["accessToken"], b["accessToken"])
    page = await _live(client)
    ids = [g["id"] for g in page["games"]]
    assert set(ids) == {ai["id"], human["id"]}
    ai_entry = next(g for g in page["games"] if g["id"] == ai["id"])
    assert ai_entry["players"][1]["isAi"] is True and ai_entry["players"][1]["rating"] is None
    assert ai_entry["averageRating"] == 1500.0  # the person only


async def test_leaderboard_filters_by_board_and_players(client: httpx.AsyncClient) -> None:
    a, b, c = [await register(client) for _ in range(3)]
    ta, tb, tc = (u["accessToken"] for u in (a, b, c))
    hex_game = await _game(client, ta, tb, boardType="hex8")
    await _resign(client, tb, hex_game["id"])  # a wins a hex8 2-player game
    square = await _game(client, tc, tb)
    await _resign(client, tc, square["id"])  # b wins a square8 2-player game
    unrated = await _game(client, tc, ta, boardType="hex8", isRated=False)
    await _resign(client, ta, unrated["id"])  # unrated: counts nowhere

    everyone = await _board(client)
    assert everyone["filter"] == {"board": None, "players": None}
    assert {e["id"] for e in everyone["entries"]} == {
        a["user"]["id"],
        b["user"]["id"],
        c["user"]["id"],
    }
    assert all(e["kindGames"] is None and e["kindWins"] is None for e in everyone["entries"])

    hex2 = await _board(client, board="hex8", players=2)
    assert hex2["filter"] == {"board": "hex8", "players": 2}
    assert hex2["total"] == 2
    rows = [(e["id"], e["kindGames"], e["kindWins"], e["rank"]) for e in hex2["entries"]]
    assert rows == [(a["user"]["id"], 1, 1, 1), (b["user"]["id"], 1, 0, 2)]
    # The rating shown is the global one: b also won on square8.
    b_entry = hex2["entries"][1]
    assert b_entry["rating"] == next(
        e["rating"] for e in everyone["entries"] if e["id"] == b_entry["id"]
    )

    square_only = await _board(client, board="square8")
    assert {e["id"] for e in square_only["entries"]} == {b["user"]["id"], c["user"]["id"]}
    two_players = await _board(client, players=2)
    assert two_players["total"] == 3
    assert (await _board(client, players=3))["entries"] == []
    assert (await _board(client, board="hexagonal", players=2))["total"] == 0
    paged = await _board(client, players=2, limit=1, offset=1)
    assert [e["rank"] for e in paged["entries"]] == [2] and paged["total"] == 3


def _samples(strategy: st.SearchStrategy[str], count: int = 25) -> list[str]:
    found: list[str] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: str) -> None:
        found.append(value)

    collect()
    return found


async def _refused(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 400, (params, response.text)
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    return error


async def test_bad_parameters_are_refused_and_change_nothing(client: httpx.AsyncClient) -> None:
    a, b = await register(client), await register(client)
    game = await _game(client, a["accessToken"], b["accessToken"], boardType="hex8")
    await _resign(client, b["accessToken"], game["id"])
    before = await _board(client, board="hex8")

    error = await _refused(client, "/api/leaderboard", {"board": "hex9"})
    assert error["details"][0]["field"] == "board" and error["details"][0]["in"] == "query"
    for params in ({"players": 1}, {"players": 5}, {"players": "two"}, {"limit": 0}):
        await _refused(client, "/api/leaderboard", params)
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}):
        await _refused(client, "/api/games/live", params)

    boards = st.text(max_size=12).filter(lambda s: s not in BOARD_TYPES and s.strip() != "")
    for board in _samples(boards):
        await _refused(client, "/api/leaderboard", {"board": board})
    for players in _samples(st.integers().filter(lambda n: not 2 <= n <= 4).map(str)):
        await _refused(client, "/api/leaderboard", {"players": players})

    assert await _board(client, board="hex8") == before
