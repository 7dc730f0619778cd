"""Withdrawals (F-30) on SQLite and PostgreSQL: resignation in 3-player games lets the others
play on, a withdrawal is a versioned entry that replays reproduce, and of two adjudications
against one version exactly one lands."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from server_support import AppFactory, bearer, register

from ringrift.rules import GameState, legal_moves
from ringrift.server.domain import EndReason
from ringrift.server.services.withdrawals import withdraw_seat


async def _game(client: httpx.AsyncClient, tokens: list[str], players: int) -> dict[str, Any]:
    created = await client.post(
        "/api/games",
        json={"boardType": "square8", "maxPlayers": players, "isRated": False},
        headers=bearer(tokens[0]),
    )
    assert created.status_code == 201, created.text
    game: dict[str, Any] = created.json()["data"]["game"]
    for token in tokens[1:]:
        joined = await client.post(f"/api/games/{game['id']}/join", headers=bearer(token))
        assert joined.status_code == 200, joined.text
        game = joined.json()["data"]["game"]
    assert game["status"] == "active"
    return game


def _token_of(game: dict[str, Any], users: list[dict[str, Any]], seat: int) -> str:
    user_id = next(s["userId"] for s in game["seats"] if s["seat"] == seat)
    return str(next(u["accessToken"] for u in users if u["user"]["id"] == user_id))


async def test_resigning_a_three_player_game_lets_the_others_play_on(
    client: httpx.AsyncClient,
) -> None:
    users = [await register(client) for _ in range(3)]
    game = await _game(client, [u["accessToken"] for u in users], 3)
    gid = game["id"]

    resigned = await client.post(
        f"/api/games/{gid}/leave", headers=bearer(_token_of(game, users, 2))
    )
    assert resigned.status_code == 200, resigned.text
    after = resigned.json()["data"]["game"]
    assert after["status"] == "active" and after["version"] == game["version"] + 1
    state = GameState.from_json(after["state"])
    assert state.withdrawn == (2,) and state.current_player == 1
    seat2 = next(s for s in after["seats"] if s["seat"] == 2)
    assert seat2["resigned"] is True

    again = await client.post(f"/api/games/{gid}/leave", headers=bearer(_token_of(game, users, 2)))
    assert again.status_code == 400 and again.json()["error"]["code"] == "GAME_ALREADY_ENDED"

    # Seat 1 plays its turn; seat 2 is skipped, seat 3 is next.
    current = after
    while GameState.from_json(current["state"]).current_player == 1:
        move = legal_moves(GameState.from_json(current["state"]))[0]
        moved = await client.post(
            f"/api/games/{gid}/moves",
            json={"move": move.to_json(), "version": current["version"]},
            headers=bearer(_token_of(game, users, 1)),
        )
        assert moved.status_code == 200, moved.text
        current = moved.json()["data"]["game"]
    assert GameState.from_json(current["state"]).current_player == 3

    listed = await client.get(f"/api/games/{gid}/moves", headers=bearer(users[0]["accessToken"]))
    records = listed.json()["data"]["moves"]
    assert records[0]["move"] == {"type": "withdraw", "player": 2, "reason": "resignation"}

    # The replay of the version right after the withdrawal reproduces the stored position.
    replayed = await client.get(
        f"/api/games/{gid}/states/{after['version']}", headers=bearer(users[0]["accessToken"])
    )
    assert replayed.status_code == 200, replayed.text
    replay_state = GameState.from_json(replayed.json()["data"]["state"])
    assert replay_state.state_hash() == state.state_hash()
    before = await client.get(
        f"/api/games/{gid}/states/{game['version']}", headers=bearer(users[0]["accessToken"])
    )
    assert GameState.from_json(before.json()["data"]["state"]).withdrawn == ()

    # The last two seats: one resigns, the other wins with that reason.
    ended = await client.post(f"/api/games/{gid}/leave", headers=bearer(_token_of(game, users, 3)))
    final = ended.json()["data"]["game"]
    assert final["status"] == "completed" and final["endReason"] == "resignation"
    assert final["winner"] == 1
    ranks = {s["seat"]: s["finalRank"] for s in final["seats"]}
    assert ranks == {1: 1, 3: 2, 2: 3}


async def test_two_adjudications_of_one_version_apply_once(app_factory: AppFactory) -> None:
    async with app_factory() as (app, client):
        users = [await register(client) for _ in range(2)]
        game = await _game(client, [u["accessToken"] for u in users], 2)
        ctx = app.state.ctx
        version = game["version"]
        results = await asyncio.gather(
            *(
                withdraw_seat(ctx, game["id"], 1, EndReason.TIMEOUT, expected_version=version)
                for _ in range(4)
            )
        )
        assert sum(r is not None for r in results) == 1
        stale = await withdraw_seat(ctx, game["id"], 2, EndReason.TIMEOUT, expected_version=version)
        assert stale is None
        final = (await client.get(f"/api/games/{game['id']}")).json()["data"]["game"]
        assert final["status"] == "completed" and final["endReason"] == "timeout"
        assert final["winner"] == 2 and final["version"] == version + 1
