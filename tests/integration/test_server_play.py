"""Legal moves for the player to move, replayed states, and the web client's page."""

from __future__ import annotations

import httpx
from server_support import bearer, register

from ringrift.rules import GameState, Move, apply_move, legal_moves


async def _two_player_game(client: httpx.AsyncClient) -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
    a, b = await register(client), await register(client)
    created = await client.post(
        "/api/games",
        headers=bearer(a["accessToken"]),
        json={"boardType": "square8", "maxPlayers": 2, "isRated": False, "isPrivate": False},
    )
    game = created.json()["data"]["game"]
    joined = await client.post(f"/api/games/{game['id']}/join", headers=bearer(b["accessToken"]))
    return a, b, joined.json()["data"]["game"]


async def test_legal_moves_only_for_the_player_to_move(client: httpx.AsyncClient) -> None:
    a, b, game = await _two_player_game(client)
    url = f"/api/games/{game['id']}/legal-moves"
    mine = (await client.get(url, headers=bearer(a["accessToken"]))).json()["data"]
    expected = [m.to_json() for m in legal_moves(GameState.from_json(game["state"]))]
    assert mine["moves"] == expected and mine["version"] == game["version"]
    theirs = (await client.get(url, headers=bearer(b["accessToken"]))).json()["data"]
    assert theirs["moves"] == []
    assert (await client.get(url)).status_code == 401
    missing = await client.get("/api/games/nope/legal-moves", headers=bearer(a["accessToken"]))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "GAME_NOT_FOUND"


async def test_states_replay_every_move(client: httpx.AsyncClient) -> None:
    a, b, game = await _two_player_game(client)
    tokens = {1: a["accessToken"], 2: b["accessToken"]}
    state = GameState.from_json(game["state"])
    hashes = [state.state_hash()]
    for _ in range(6):
        move = legal_moves(state)[0]
        response = await client.post(
            f"/api/games/{game['id']}/moves",
            headers=bearer(tokens[state.current_player]),
            json={"move": move.to_json(), "version": game["version"]},
        )
        game = response.json()["data"]["game"]
        state = apply_move(state, Move.from_json(move.to_json()))
        hashes.append(state.state_hash())
    for n in (0, 3, 6):
        body = (await client.get(f"/api/games/{game['id']}/states/{n}")).json()["data"]
        assert body["moveNumber"] == n
        assert GameState.from_json(body["state"]).state_hash() == hashes[n]
    beyond = await client.get(f"/api/games/{game['id']}/states/7")
    assert beyond.status_code == 400 and beyond.json()["error"]["code"] == "VALIDATION_FAILED"
    negative = await client.get(f"/api/games/{game['id']}/states/-1")
    assert negative.status_code == 400


async def test_web_client_is_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script type="module" src="/static/js/main.js">' in page.text
    for link in ("/verify-email?token=abc", "/reset-password?token=abc"):  # mail links
        mailed = await client.get(link)
        assert mailed.status_code == 200 and mailed.text == page.text
    script = await client.get("/static/js/main.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    # Modules of two releases must never mix: every load revalidates.
    assert script.headers["cache-control"] == "no-cache"
    assert page.headers["cache-control"] == "no-cache"
    etag = script.headers["etag"]
    again = await client.get("/static/js/main.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    view = await client.get("/static/js/views/game.js")
    assert view.status_code == 200 and "class GameView" in view.text
    assert (await client.get("/static/../app.py")).status_code == 404


async def test_hint_is_a_legal_move_for_your_own_turn_in_unrated_games(
    client: httpx.AsyncClient,
) -> None:
    a, b, game = await _two_player_game(client)
    url = f"/api/games/{game['id']}/hint"
    hint = (await client.get(url, headers=bearer(a["accessToken"]))).json()["data"]
    legal = [m.to_json() for m in legal_moves(GameState.from_json(game["state"]))]
    assert hint["move"] in legal and hint["version"] == game["version"]
    # Nothing was played.
    again = (await client.get(f"/api/games/{game['id']}", headers=bearer(a["accessToken"]))).json()
    assert again["data"]["game"]["version"] == game["version"]
    theirs = await client.get(url, headers=bearer(b["accessToken"]))
    assert theirs.json()["error"]["code"] == "GAME_NOT_YOUR_TURN"
    c = await register(client)
    rated = await client.post(
        "/api/games",
        headers=bearer(c["accessToken"]),
        json={"boardType": "square8", "maxPlayers": 2, "isRated": True},
    )
    rated_id = rated.json()["data"]["game"]["id"]
    refused = await client.get(f"/api/games/{rated_id}/hint", headers=bearer(c["accessToken"]))
    assert refused.json()["error"]["code"] == "RESOURCE_ACCESS_DENIED"
