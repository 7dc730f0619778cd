"""Legal moves for the player to move, replayed states, and the web client's page."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from typing import Any

import httpx
from server_support import AppFactory, bearer, register
from sqlalchemy import select

from ringrift.rules import GameState, legal_moves
from ringrift.server import replaywork
from ringrift.server.context import AppContext
from ringrift.server.db.models import GameSnapshot
from ringrift.server.services.store import SNAPSHOT_INTERVAL


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


async def _play(
    client: httpx.AsyncClient, tokens: dict[int, str], game: dict[str, Any], min_version: int
) -> dict[str, Any]:
    """Play the first legal move over REST until the game reaches ``min_version``."""
    while game["version"] < min_version and game["status"] == "active":
        state = GameState.from_json(game["state"])
        response = await client.post(
            f"/api/games/{game['id']}/moves",
            headers=bearer(tokens[state.current_player]),
            json={"move": legal_moves(state)[0].to_json(), "version": game["version"]},
        )
        assert response.status_code == 200, response.text
        game = response.json()["data"]["game"]
    return game


async def test_states_replay_every_move_from_snapshots(app_factory: AppFactory) -> None:
    async with app_factory(rate_limit_replay=1000) as (app, client):
        a, b, game = await _two_player_game(client)
        tokens = {1: a["accessToken"], 2: b["accessToken"]}
        game = await _play(client, tokens, game, 2 * SNAPSHOT_INTERVAL + 3)
        version = game["version"]
        ctx: AppContext = app.state.ctx
        async with ctx.db.session() as session:
            snapshots = (
                await session.scalars(
                    select(GameSnapshot.move_number)
                    .where(GameSnapshot.game_id == game["id"])
                    .order_by(GameSnapshot.move_number)
                )
            ).all()
        assert list(snapshots) == list(range(SNAPSHOT_INTERVAL, version + 1, SNAPSHOT_INTERVAL))
        assert len(snapshots) >= 2
        recorded = (await client.get(f"/api/games/{game['id']}/moves")).json()["data"]
        hashes = [GameState.from_json(recorded["initialState"]).state_hash()]
        hashes += [m["stateHash"] for m in recorded["moves"]]
        assert len(hashes) == version + 1
        url = f"/api/games/{game['id']}/states"
        for n in range(version + 1):
            response = await client.get(f"{url}/{n}", headers=bearer(tokens[1]))
            assert response.status_code == 200, response.text
            body = response.json()["data"]
            assert body["moveNumber"] == n and "moveHistory" not in body["state"]
            replayed = GameState.from_json(body["state"])
            assert replayed.state_hash() == hashes[n], f"move {n}"
            assert replayed.move_count == n
        assert body["state"] == game["state"]
        # Past positions are cached (bounded) per (game, move number).
        assert ctx.replays.get((game["id"], SNAPSHOT_INTERVAL + 1)) is not None
        beyond = await client.get(f"{url}/{version + 1}", headers=bearer(tokens[1]))
        assert beyond.status_code == 400 and beyond.json()["error"]["code"] == "VALIDATION_FAILED"
        negative = await client.get(f"{url}/-1", headers=bearer(tokens[1]))
        assert negative.status_code == 400
        # The positions above were rebuilt in a worker process; a thread gives the same ones.
        assert isinstance(ctx.replay_executor(), concurrent.futures.ProcessPoolExecutor)
        sample = [1, SNAPSHOT_INTERVAL - 1, SNAPSHOT_INTERVAL + 5, version - 1]
        processed = [
            (await client.get(f"{url}/{n}", headers=bearer(tokens[1]))).json() for n in sample
        ]
    async with app_factory(replay_workers=0) as (other, client):
        assert other.state.ctx.replay_executor() is None
        threaded = [
            (await client.get(f"{url}/{n}", headers=bearer(tokens[1]))).json() for n in sample
        ]
    assert threaded == processed


async def test_states_need_login_visibility_and_are_rate_limited(
    app_factory: AppFactory,
) -> None:
    async with app_factory(rate_limit_replay=2) as (_app, client):
        owner, stranger = await register(client), await register(client)
        created = await client.post(
            "/api/games",
            headers=bearer(owner["accessToken"]),
            json={"boardType": "square8", "maxPlayers": 2, "isRated": False, "isPrivate": True},
        )
        private = created.json()["data"]["game"]
        url = f"/api/games/{private['id']}/states/0"
        anonymous = await client.get(url)
        assert anonymous.status_code == 401
        denied = await client.get(url, headers=bearer(stranger["accessToken"]))
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "RESOURCE_ACCESS_DENIED"
        missing = await client.get("/api/games/nope/states/0", headers=bearer(owner["accessToken"]))
        assert missing.status_code == 404
        ok = await client.get(url, headers=bearer(owner["accessToken"]))
        assert ok.status_code == 200
        # Per user: the owner's third request in the window (the 404 counted) is refused.
        limited = await client.get(url, headers=bearer(owner["accessToken"]))
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        body = limited.json()
        assert body["success"] is False and body["error"]["code"] == "RATE_LIMIT_EXCEEDED"


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


async def test_hint_is_a_legal_move_for_your_own_turn_in_practice_games(
    client: httpx.AsyncClient,
) -> None:
    """Hints only in an unrated game against AI seats; never against a person, never rated."""
    a = await register(client)
    created = await client.post(
        "/api/games",
        headers=bearer(a["accessToken"]),
        json={
            "boardType": "square8",
            "maxPlayers": 2,
            "isRated": False,
            "aiOpponents": {"count": 1, "difficulty": [1]},
        },
    )
    assert created.status_code == 201, created.text
    game = created.json()["data"]["game"]
    assert game["status"] == "active" and game["currentPlayer"] == 1
    url = f"/api/games/{game['id']}/hint"
    answer = await client.get(url, headers=bearer(a["accessToken"]))
    assert answer.status_code == 200, answer.text
    hint = answer.json()["data"]
    legal = [m.to_json() for m in legal_moves(GameState.from_json(game["state"]))]
    assert hint["move"] in legal and hint["version"] == game["version"]
    # Nothing was played.
    again = (await client.get(f"/api/games/{game['id']}", headers=bearer(a["accessToken"]))).json()
    assert again["data"]["game"]["version"] == game["version"]
    # Against a person, even unrated: no engine help for either player, on any turn.
    b, c, human = await _two_player_game(client)
    for token, code in ((b, "RESOURCE_ACCESS_DENIED"), (c, "RESOURCE_ACCESS_DENIED")):
        refused = await client.get(
            f"/api/games/{human['id']}/hint", headers=bearer(token["accessToken"])
        )
        assert refused.status_code == 403 and refused.json()["error"]["code"] == code
        assert "against people" in refused.json()["error"]["message"]
    d = await register(client)
    rated = await client.post(
        "/api/games",
        headers=bearer(d["accessToken"]),
        json={"boardType": "square8", "maxPlayers": 2, "isRated": True},
    )
    rated_id = rated.json()["data"]["game"]["id"]
    refused = await client.get(f"/api/games/{rated_id}/hint", headers=bearer(d["accessToken"]))
    assert refused.json()["error"]["code"] == "RESOURCE_ACCESS_DENIED"


async def test_the_replay_worker_starts_with_the_app(app_factory: AppFactory) -> None:
    """With ``REPLAY_PREWARM`` the worker process starts in the background at start-up, so the
    first replay of an instance does not wait for an interpreter; without it, on first use."""
    async with app_factory(replay_prewarm=True) as (app, _client):
        ctx: AppContext = app.state.ctx
        await asyncio.wait_for(ctx.replays_ready.wait(), 60)
        pool = ctx.replay_executor()
        assert isinstance(pool, concurrent.futures.ProcessPoolExecutor)
        worker = await asyncio.get_running_loop().run_in_executor(pool, replaywork.ready)
        assert worker != os.getpid()
    async with app_factory(replay_prewarm=False) as (app, _client):
        await asyncio.sleep(0.5)
        assert not app.state.ctx.replays_ready.is_set()
