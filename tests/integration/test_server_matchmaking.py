"""Matchmaking through two app instances sharing one database (SQLite and PostgreSQL): pairing
by rating window, widening with waiting time, no player used twice, multi-player pools,
heartbeat expiry, claims of a dead instance, cancelling, and bad input that changes nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server_support import AppFactory, bearer, register
from sqlalchemy import func, select, update

from ringrift.server.db.models import MatchmakingEntry, User, utcnow
from ringrift.server.services import matchmaking

FAST = {
    "matchmaking_window_base": 100.0,
    "matchmaking_window_growth": 250.0,  # points per second: 800 points after ~2.8 s
    "matchmaking_sweep_seconds": 0.2,
}
BLITZ = {"boardType": "square8", "maxPlayers": 2, "timeControl": "3+2", "rated": True}


async def _set_rating(app: FastAPI, user_id: str, rating: float) -> None:
    async with app.state.ctx.db.session() as session:
        await session.execute(update(User).where(User.id == user_id).values(rating=rating))
        await session.commit()


async def _queue_size(app: FastAPI) -> int:
    async with app.state.ctx.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(MatchmakingEntry)) or 0)


async def _player(http: httpx.AsyncClient, app: FastAPI, rating: float) -> dict[str, Any]:
    user = await register(http)
    await _set_rating(app, user["user"]["id"], rating)
    return user


async def _join(http: httpx.AsyncClient, user: dict[str, Any], **pool: Any) -> dict[str, Any]:
    response = await http.post(
        "/api/matchmaking", json={**BLITZ, **pool}, headers=bearer(user["accessToken"])
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()["data"]["ticket"]
    return ticket


async def _status(http: httpx.AsyncClient, user: dict[str, Any], wait: float = 0) -> Any:
    return await http.get(
        "/api/matchmaking", params={"wait": wait}, headers=bearer(user["accessToken"])
    )


async def test_similar_ratings_pair_across_instances_and_far_ones_wait(
    app_factory: AppFactory,
) -> None:
    async with app_factory(**FAST) as (app_a, http_a), app_factory(**FAST) as (app_b, http_b):
        alice = await _player(http_a, app_a, 1500)
        carol = await _player(http_a, app_a, 2300)
        bob = await _player(http_b, app_b, 1520)
        assert (await _join(http_a, alice))["status"] == "waiting"
        assert (await _join(http_a, carol))["status"] == "waiting"
        # Bob joins on the other instance and is paired with Alice, not with Carol.
        ticket = await _join(http_b, bob)
        assert ticket["status"] == "matched" and ticket["gameId"]
        game_id = ticket["gameId"]
        seen = (await _status(http_a, alice)).json()["data"]["ticket"]
        assert seen["gameId"] == game_id
        game = (await http_a.get(f"/api/games/{game_id}")).json()["data"]["game"]
        assert game["status"] == "active" and game["isRated"] and not game["isPrivate"]
        assert {s["userId"] for s in game["seats"]} == {alice["user"]["id"], bob["user"]["id"]}
        assert game["timeControl"]["label"] == "3+2"
        assert (await _status(http_a, carol)).json()["data"]["ticket"]["status"] == "waiting"

        # Dave is 800 points below Carol: no pair until both windows have widened that far.
        dave = await _player(http_b, app_b, 1500)
        started = time.monotonic()
        assert (await _join(http_b, dave))["status"] == "waiting"
        response = await _status(http_b, dave, wait=10)
        waited = time.monotonic() - started
        dave_ticket = response.json()["data"]["ticket"]
        assert dave_ticket["status"] == "matched", dave_ticket
        assert waited >= (800 - 100) / 250 - 0.3  # not before Dave's own window reached 800
        carol_ticket = (await _status(http_a, carol)).json()["data"]["ticket"]
        assert carol_ticket["gameId"] == dave_ticket["gameId"] != game_id


async def test_concurrent_joins_never_use_a_player_twice(app_factory: AppFactory) -> None:
    async with app_factory(**FAST) as (app_a, http_a), app_factory(**FAST) as (_app_b, http_b):
        players = [await _player(http_a, app_a, 1500 + i) for i in range(6)]
        clients = [http_a, http_b] * 3
        await asyncio.gather(*(_join(c, p) for c, p in zip(clients, players, strict=True)))
        deadline = time.monotonic() + 10
        games: dict[str, str | None] = {}
        while time.monotonic() < deadline:
            for p in players:
                ticket = (await _status(http_a, p)).json()["data"]["ticket"]
                games[p["user"]["id"]] = ticket["gameId"]
            if all(games.values()):
                break
            await asyncio.sleep(0.2)
        assert all(games.values()), games
        by_game: dict[str | None, list[str]] = {}
        for user_id, game_id in games.items():
            by_game.setdefault(game_id, []).append(user_id)
        assert sorted(len(v) for v in by_game.values()) == [2, 2, 2]
        for game_id, user_ids in by_game.items():
            game = (await http_b.get(f"/api/games/{game_id}")).json()["data"]["game"]
            assert sorted(s["userId"] for s in game["seats"]) == sorted(user_ids)


async def test_a_three_player_pool_fills_up(app_factory: AppFactory) -> None:
    async with app_factory(**FAST) as (app, http):
        players = [await _player(http, app, 1500) for _ in range(3)]
        pool = {"boardType": "hex8", "maxPlayers": 3, "timeControl": "5+3", "rated": False}
        assert (await _join(http, players[0], **pool))["status"] == "waiting"
        assert (await _join(http, players[1], **pool))["status"] == "waiting"
        last = await _join(http, players[2], **pool)
        assert last["status"] == "matched"
        game = (await http.get(f"/api/games/{last['gameId']}")).json()["data"]["game"]
        assert game["maxPlayers"] == 3 and game["status"] == "active" and not game["isRated"]
        assert len(game["seats"]) == 3


async def test_silent_waiters_leave_and_dead_claims_are_released(app_factory: AppFactory) -> None:
    async with app_factory(**FAST, matchmaking_heartbeat_seconds=0.6) as (app, http):
        quiet = await _player(http, app, 1500)
        await _join(http, quiet, timeControl="10+5")
        await asyncio.sleep(1.5)  # no polling: the sweep drops the entry
        response = await _status(http, quiet)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "MATCHMAKING_NOT_QUEUED"

        # An instance claimed two players and died before creating their game.
        one, two = await _player(http, app, 1500), await _player(http, app, 1500)
        async with app.state.ctx.db.session() as session:
            for user in (one, two):
                session.add(
                    MatchmakingEntry(
                        user_id=user["user"]["id"],
                        board_type="square19",
                        max_players=2,
                        time_control="1 day",
                        is_rated=True,
                        rating=1500,
                        claim="dead-instance",
                        claimed_at=utcnow() - timedelta(minutes=5),
                    )
                )
            await session.commit()
        ticket = (await _status(http, one, wait=5)).json()["data"]["ticket"]
        assert ticket["status"] == "matched"
        assert (await _status(http, two)).json()["data"]["ticket"]["gameId"] == ticket["gameId"]


async def test_cancel(app_factory: AppFactory) -> None:
    async with app_factory(**FAST) as (app, http):
        me, other = await _player(http, app, 1500), await _player(http, app, 1500)
        await _join(http, me, timeControl="15+10")
        response = await http.delete("/api/matchmaking", headers=bearer(me["accessToken"]))
        assert response.status_code == 200 and response.json()["data"] == {"cancelled": True}
        assert (await _status(http, me)).status_code == 404
        again = await http.delete("/api/matchmaking", headers=bearer(me["accessToken"]))
        assert again.status_code == 404
        # Once matched, cancelling answers with the game.
        await _join(http, me, timeControl="15+10")
        matched = await _join(http, other, timeControl="15+10")
        late = await http.delete("/api/matchmaking", headers=bearer(me["accessToken"]))
        assert late.status_code == 409
        assert late.json()["error"]["code"] == "MATCHMAKING_ALREADY_MATCHED"
        assert late.json()["error"]["details"] == {"gameId": matched["gameId"]}


@pytest.mark.parametrize(
    "body",
    [
        {**BLITZ, "timeControl": "2+1"},
        {**BLITZ, "timeControl": "untimed"},
        {**BLITZ, "boardType": "square9"},
        {**BLITZ, "maxPlayers": 5},
        {**BLITZ, "maxPlayers": "2"},
        {**BLITZ, "rated": "yes"},
        {**BLITZ, "extra": 1},
        {"boardType": "square8"},
        [],
        "3+2",
    ],
)
async def test_bad_requests_change_nothing(app_factory: AppFactory, body: Any) -> None:
    async with app_factory(**FAST) as (app, http):
        user = await _player(http, app, 1500)
        response = await http.post(
            "/api/matchmaking", json=body, headers=bearer(user["accessToken"])
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "VALIDATION_FAILED"
        anonymous = await http.post("/api/matchmaking", json=BLITZ)
        assert anonymous.status_code == 401
        bad_wait = await _status(http, user, wait=99)
        assert bad_wait.status_code == 400
        assert await _queue_size(app) == 0


async def test_presets_are_listed(app_factory: AppFactory) -> None:
    async with app_factory() as (_app, http):
        presets = (await http.get("/api/time-controls")).json()["data"]["presets"]
        assert [p["label"] for p in presets] == list(matchmaking.PRESETS)
        assert presets[1] == {
            "kind": "fischer",
            "label": "3+2",
            "initialSeconds": 180,
            "incrementSeconds": 2,
            "daysPerMove": None,
        }


async def test_rated_pools_need_a_verified_email(app_factory: AppFactory) -> None:
    async with app_factory(**FAST, rated_requires_verified_email=True) as (app, http):
        user = await _player(http, app, 1500)
        headers = bearer(user["accessToken"])
        refused = await http.post("/api/matchmaking", json=BLITZ, headers=headers)
        assert refused.json()["error"]["code"] == "AUTH_EMAIL_NOT_VERIFIED"
        assert await _queue_size(app) == 0
        unrated = await http.post(
            "/api/matchmaking", json={**BLITZ, "rated": False}, headers=headers
        )
        assert unrated.status_code == 201
