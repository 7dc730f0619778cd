"""Rematches over HTTP on SQLite and PostgreSQL: offer, accept, decline and withdraw; the new
game keeps board, players, time control and rated flag with every seat moved one on; AI seats
accept by themselves; two instances accepting at the same moment create one game; bad input
gets a clear code and changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from server_support import AppFactory, bearer, register
from sqlalchemy import func, select

from ringrift.server.db.models import Game


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def _game(client: httpx.AsyncClient, path: str, token: str) -> dict[str, Any]:
    response = await client.get(path, headers=bearer(token))
    assert response.status_code == 200, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


async def _finished(
    client: httpx.AsyncClient, a: str, b: str, **body: Any
) -> tuple[dict[str, Any], str]:
    """A 2-player game between the holders of tokens a and b, ended by b's resignation."""
    created = await client.post(
        "/api/games",
        json={
            "boardType": "hex8",
            "maxPlayers": 2,
            "isRated": True,
            "timeControl": {"initialSeconds": 300, "incrementSeconds": 2},
            **body,
        },
        headers=bearer(a),
    )
    game = created.json()["data"]["game"]
    params = {"invite": game["inviteToken"]} if game["isPrivate"] else {}
    joined = await client.post(f"/api/games/{game['id']}/join", params=params, headers=bearer(b))
    assert joined.status_code == 200, joined.text
    resigned = await client.post(f"/api/games/{game['id']}/leave", headers=bearer(b))
    assert resigned.json()["data"]["game"]["status"] == "completed"
    return resigned.json()["data"]["game"], f"/api/games/{game['id']}/rematch"


async def _rematches(app: FastAPI, game_id: str) -> int:
    async with app.state.ctx.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Game).where(Game.rematch_of == game_id)
        )
    return int(count or 0)


async def test_offer_accept_creates_the_rematch_with_seats_moved_on(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as (app, client):
        alice, bob = await register(client), await register(client)
        a, b = alice["accessToken"], bob["accessToken"]
        old, url = await _finished(client, a, b, isPrivate=True)
        assert old["rematch"] is None

        offered = await client.post(url, headers=bearer(a))
        assert offered.status_code == 200, offered.text
        offer = offered.json()["data"]["rematch"]
        assert offer == {
            "gameId": old["id"],
            "status": "open",
            "offeredBy": alice["user"]["id"],
            "accepted": [alice["user"]["id"]],
            "declinedBy": None,
            "newGameId": None,
        }
        again = await client.post(url, headers=bearer(a))
        assert again.status_code == 409 and _code(again) == "REMATCH_ALREADY_ACCEPTED"
        seen = await _game(client, f"/api/games/{old['id']}", b)
        assert seen["rematch"]["offeredBy"] == alice["user"]["id"]
        assert seen["rematch"]["status"] == "open"

        accepted = await client.post(url, headers=bearer(b))
        assert accepted.status_code == 200, accepted.text
        done = accepted.json()["data"]["rematch"]
        assert done["status"] == "created" and done["newGameId"]
        assert set(done["accepted"]) == {alice["user"]["id"], bob["user"]["id"]}
        new = await _game(client, f"/api/games/{done['newGameId']}", b)
        assert new["status"] == "active" and new["rematchOf"] == old["id"]
        for key in ("boardType", "maxPlayers", "isRated", "isPrivate", "timeControl"):
            assert new[key] == old[key], key
        assert new["inviteToken"] and new["inviteToken"] != old["inviteToken"]
        before = {s["userId"]: s["seat"] for s in old["seats"]}
        after = {s["userId"]: s["seat"] for s in new["seats"]}
        assert after == {user: seat % 2 + 1 for user, seat in before.items()}
        shown = (await _game(client, f"/api/games/{old['id']}", a))["rematch"]
        assert {"gameId": old["id"], **shown} == done
        listed = (await client.get("/api/games", headers=bearer(b))).json()["data"]["games"]
        assert {g["id"]: g["rematch"] for g in listed} == {old["id"]: shown, new["id"]: None}

        for method in ("POST", "DELETE"):
            late = await client.request(method, url, headers=bearer(a))
            assert late.status_code == 409 and _code(late) == "REMATCH_ALREADY_CREATED"
            assert late.json()["error"]["details"] == {"newGameId": done["newGameId"]}
        assert await _rematches(app, old["id"]) == 1


async def test_decline_and_withdraw_end_the_offer(app_factory: AppFactory) -> None:
    async with app_factory() as (app, client):
        a = (await register(client))["accessToken"]
        bob = await register(client)
        b = bob["accessToken"]
        _old, url = await _finished(client, a, b)
        nothing = await client.delete(url, headers=bearer(b))
        assert nothing.status_code == 404 and _code(nothing) == "REMATCH_NOT_OFFERED"
        assert (await client.post(url, headers=bearer(a))).status_code == 200
        declined = await client.delete(url, headers=bearer(b))
        assert declined.status_code == 200
        offer = declined.json()["data"]["rematch"]
        assert offer["status"] == "declined" and offer["declinedBy"] == bob["user"]["id"]
        for token in (a, b):
            for method in ("POST", "DELETE"):
                late = await client.request(method, url, headers=bearer(token))
                assert late.status_code == 409 and _code(late) == "REMATCH_DECLINED"

        old2, url2 = await _finished(client, a, b)
        assert (await client.post(url2, headers=bearer(a))).status_code == 200
        withdrawn = await client.delete(url2, headers=bearer(a))
        assert withdrawn.json()["data"]["rematch"]["status"] == "declined"
        refused = await client.post(url2, headers=bearer(b))
        assert refused.status_code == 409 and _code(refused) == "REMATCH_DECLINED"
        assert await _rematches(app, old2["id"]) == 0


async def test_a_rematch_against_the_ai_starts_at_once(app_factory: AppFactory) -> None:
    async with app_factory() as (app, client):
        a = (await register(client))["accessToken"]
        created = await client.post(
            "/api/games",
            json={"boardType": "square8", "aiOpponents": {"count": 1, "difficulty": [1]}},
            headers=bearer(a),
        )
        old = created.json()["data"]["game"]
        await client.post(f"/api/games/{old['id']}/leave", headers=bearer(a))
        response = await client.post(f"/api/games/{old['id']}/rematch", headers=bearer(a))
        assert response.status_code == 200, response.text
        offer = response.json()["data"]["rematch"]
        assert offer["status"] == "created"
        new = await _game(client, f"/api/games/{offer['newGameId']}", a)
        assert new["status"] == "active" and not new["isRated"]
        seats = {s["seat"]: s for s in new["seats"]}
        assert seats[1]["isAi"] and seats[1]["aiLevel"] == 1  # the AI moved from 2 to 1
        assert not seats[2]["isAi"]
        assert new["version"] >= 1  # the AI, now first, has already moved
        assert await _rematches(app, old["id"]) == 1


async def test_two_instances_accepting_at_once_create_one_game(app_factory: AppFactory) -> None:
    async with app_factory() as (app, one), app_factory() as (_app_two, two):
        a = (await register(one))["accessToken"]
        b = (await register(two))["accessToken"]
        for _ in range(3):
            old, url = await _finished(one, a, b)
            # Nobody has offered yet: both offer at the same moment through different apps.
            first, second = await asyncio.gather(
                one.post(url, headers=bearer(a)), two.post(url, headers=bearer(b))
            )
            assert first.status_code == second.status_code == 200, (first.text, second.text)
            statuses = sorted(r.json()["data"]["rematch"]["status"] for r in (first, second))
            assert statuses == ["created", "open"]
            assert await _rematches(app, old["id"]) == 1
            assert (await _game(one, f"/api/games/{old['id']}", a))["rematch"]["newGameId"]


async def test_bad_rematch_requests_change_nothing(app_factory: AppFactory) -> None:
    async with app_factory() as (app, client):
        a = (await register(client))["accessToken"]
        b = (await register(client))["accessToken"]
        stranger = (await register(client))["accessToken"]
        waiting = (
            await client.post("/api/games", json={"boardType": "square8"}, headers=bearer(a))
        ).json()["data"]["game"]
        url = f"/api/games/{waiting['id']}/rematch"
        for method in ("POST", "DELETE"):
            early = await client.request(method, url, headers=bearer(a))
            assert early.status_code == 409 and _code(early) == "REMATCH_UNAVAILABLE"
        await client.post(f"/api/games/{waiting['id']}/join", headers=bearer(b))
        active = await client.post(url, headers=bearer(a))
        assert active.status_code == 409 and _code(active) == "REMATCH_UNAVAILABLE"
        cancelled = (
            await client.post("/api/games", json={"boardType": "square8"}, headers=bearer(a))
        ).json()["data"]["game"]
        await client.post(f"/api/games/{cancelled['id']}/leave", headers=bearer(a))
        gone = await client.post(f"/api/games/{cancelled['id']}/rematch", headers=bearer(a))
        assert gone.status_code == 409 and _code(gone) == "REMATCH_UNAVAILABLE"

        old, done_url = await _finished(client, a, b)
        for method in ("POST", "DELETE"):
            outsider = await client.request(method, done_url, headers=bearer(stranger))
            assert outsider.status_code == 403 and _code(outsider) == "RESOURCE_ACCESS_DENIED"
            anonymous = await client.request(method, done_url)
            assert anonymous.status_code == 401 and _code(anonymous) == "AUTH_REQUIRED"
            unknown = await client.request(method, "/api/games/nope/rematch", headers=bearer(a))
            assert unknown.status_code == 404 and _code(unknown) == "GAME_NOT_FOUND"
            too_long = await client.request(
                method, f"/api/games/{'x' * 65}/rematch", headers=bearer(a)
            )
            assert too_long.status_code == 400 and _code(too_long) == "VALIDATION_FAILED"
        put = await client.put(done_url, headers=bearer(a))
        assert put.status_code == 405
        assert (await _game(client, f"/api/games/{old['id']}", a))["rematch"] is None
        assert await _rematches(app, old["id"]) == 0


async def test_three_seats_two_people_and_an_ai(app_factory: AppFactory) -> None:
    async with app_factory() as (app, client):
        alice, bob = await register(client), await register(client)
        a, b = alice["accessToken"], bob["accessToken"]
        created = await client.post(
            "/api/games",
            json={
                "boardType": "square8",
                "maxPlayers": 3,
                "aiOpponents": {"count": 1, "difficulty": [2]},
            },
            headers=bearer(a),
        )
        old = created.json()["data"]["game"]
        await client.post(f"/api/games/{old['id']}/join", headers=bearer(b))
        # Bob withdraws and the others play on; when Alice resigns too, the AI has won.
        await client.post(f"/api/games/{old['id']}/leave", headers=bearer(b))
        url = f"/api/games/{old['id']}/rematch"
        early = await client.post(url, headers=bearer(b))
        assert early.status_code == 409 and _code(early) == "REMATCH_UNAVAILABLE"
        ended = await client.post(f"/api/games/{old['id']}/leave", headers=bearer(a))
        assert ended.json()["data"]["game"]["status"] == "completed", ended.text
        offered = (await client.post(url, headers=bearer(b))).json()["data"]["rematch"]
        assert offered["status"] == "open"  # the AI accepts by itself; Alice has not yet
        assert await _rematches(app, old["id"]) == 0
        done = (await client.post(url, headers=bearer(a))).json()["data"]["rematch"]
        assert done["status"] == "created"
        new = await _game(client, f"/api/games/{done['newGameId']}", a)
        assert new["maxPlayers"] == 3 and new["creatorId"] == bob["user"]["id"]
        seats = {s["seat"]: (s["userId"], s["aiLevel"]) for s in new["seats"]}
        assert seats == {1: (bob["user"]["id"], None), 2: (alice["user"]["id"], None), 3: (None, 2)}
