"""Invites and rematches through two app processes on one PostgreSQL database and one Redis:
a socket may watch a private game only with its token; rematch offers, declines and the new
game reach the players' sockets on both instances as ``rematch`` frames; two players accepting
at the same moment on different instances make exactly one new game."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from realtime_support import (
    WS,
    Frame,
    Process,
    bearer,
    create_game,
    get_game,
    is_type,
    register,
    two_apps,
)

from ringrift.ops.services import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def instances(pg_database: str, redis_server: RedisServer) -> Iterator[tuple[Process, Process]]:
    with two_apps(pg_database, redis_server.url, timeout=120) as pair:
        yield pair


async def _ws(sockets: list[WS], base: str, token: str) -> WS:
    ws = await WS.open(base, token)
    sockets.append(ws)
    return ws


def _finished(game_id: str) -> Callable[[Frame], bool]:
    def match(frame: Frame) -> bool:
        data = frame["d"]
        return (
            frame["t"] in ("state", "event")
            and data.get("gameId") == game_id
            and data.get("status") == "completed"
        )

    return match


async def _post(base: str, path: str, token: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        return await http.post(path, params=params, headers=bearer(token))


async def test_watching_a_private_game_on_a_socket_needs_its_token(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    owner, guest, watcher = await register(a.url), await register(a.url), await register(b.url)
    game = await create_game(a.url, owner["token"], isPrivate=True, isRated=False)
    token = game["inviteToken"]
    ws = await _ws(sockets, b.url, watcher["token"])
    await ws.send("join", {"gameId": game["id"], "ack": 1})
    missing = await ws.expect(is_type("error", ack=1))
    assert missing["d"]["code"] == "RESOURCE_ACCESS_DENIED"
    await ws.send("join", {"gameId": game["id"], "invite": token[::-1], "ack": 2})
    wrong = await ws.expect(is_type("error", ack=2))
    assert wrong["d"]["code"] == "GAME_INVITE_INVALID"
    for bad, ack in ((123, 3), ("", 4), ("t" * 129, 5), (["x"], 6)):
        await ws.send("join", {"gameId": game["id"], "invite": bad, "ack": ack})
        refused = await ws.expect(is_type("error", ack=ack))
        assert refused["d"]["code"] == "VALIDATION_FAILED"
        assert refused["d"]["details"][0]["field"] == "invite"
    # Refused joins subscribed nothing: a move-free status change is not delivered.
    assert await ws.drain(0.3) == []

    # The guest joins through the other instance with the token; the watcher, now with the
    # token, sees the game start.
    await ws.send("join", {"gameId": game["id"], "invite": token, "ack": 7})
    await ws.expect(is_type("ack", ack=7))
    first = await ws.expect(is_type("state", gameId=game["id"]))
    assert first["d"]["status"] == "waiting" and first["d"]["yourSeat"] is None
    refused_join = await _post(a.url, f"/api/games/{game['id']}/join", guest["token"])
    assert refused_join.status_code == 403
    joined = await _post(a.url, f"/api/games/{game['id']}/join", guest["token"], invite=token)
    assert joined.status_code == 200, joined.text
    started = await ws.expect(is_type("state", gameId=game["id"], status="active"))
    assert started["d"]["yourSeat"] is None


async def test_rematch_frames_and_one_new_game_when_both_accept_at_once(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    for _round in range(2):
        alice, bob = await register(a.url), await register(b.url)
        game = await create_game(a.url, alice["token"], isRated=False)
        old_id = game["id"]
        assert (await _post(b.url, f"/api/games/{old_id}/join", bob["token"])).status_code == 200
        ws_a = await _ws(sockets, a.url, alice["token"])
        ws_b = await _ws(sockets, b.url, bob["token"])
        for ws in (ws_a, ws_b):
            await ws.send("join", {"gameId": old_id, "ack": "j"})
            await ws.expect(is_type("ack", ack="j"))
        assert (await _post(a.url, f"/api/games/{old_id}/leave", alice["token"])).status_code == 200
        for ws in (ws_a, ws_b):  # a resignation is a versioned event (or a state)
            await ws.expect(_finished(old_id))

        url = f"/api/games/{old_id}/rematch"
        first, second = await asyncio.gather(
            _post(a.url, url, alice["token"]), _post(b.url, url, bob["token"])
        )
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        new_ids = {r.json()["data"]["rematch"]["newGameId"] for r in (first, second)} - {None}
        assert len(new_ids) == 1
        new_id = new_ids.pop()
        for ws in (ws_a, ws_b):
            created = await ws.expect(is_type("rematch", gameId=old_id, status="created"))
            assert created["d"]["newGameId"] == new_id
            assert set(created["d"]["accepted"]) == {alice["id"], bob["id"]}
        # Exactly one rematch: both players' game lists hold the old game and one new one.
        async with httpx.AsyncClient(base_url=b.url, timeout=10) as http:
            listed = await http.get("/api/games", headers=bearer(bob["token"]))
        ids = [g["id"] for g in listed.json()["data"]["games"]]
        assert sorted(ids) == sorted([old_id, new_id])
        new = await get_game(b.url, new_id, bob["token"])
        assert new["status"] == "active" and new["rematchOf"] == old_id
        assert {s["userId"]: s["seat"] for s in new["seats"]} == {alice["id"]: 2, bob["id"]: 1}


async def test_offers_and_declines_reach_the_other_instance(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    alice, bob = await register(a.url), await register(b.url)
    game = await create_game(a.url, alice["token"], isRated=False)
    old_id = game["id"]
    await _post(b.url, f"/api/games/{old_id}/join", bob["token"])
    await _post(b.url, f"/api/games/{old_id}/leave", bob["token"])
    ws_b = await _ws(sockets, b.url, bob["token"])
    await ws_b.send("join", {"gameId": old_id, "ack": "j"})
    await ws_b.expect(is_type("ack", ack="j"))
    offered = await _post(a.url, f"/api/games/{old_id}/rematch", alice["token"])
    assert offered.status_code == 200
    frame = await ws_b.expect(is_type("rematch", gameId=old_id, status="open"))
    assert frame["d"]["offeredBy"] == alice["id"] and frame["d"]["accepted"] == [alice["id"]]
    assert frame["d"]["newGameId"] is None
    async with httpx.AsyncClient(base_url=b.url, timeout=10) as http:
        declined = await http.delete(f"/api/games/{old_id}/rematch", headers=bearer(bob["token"]))
    assert declined.status_code == 200
    over = await ws_b.expect(is_type("rematch", gameId=old_id, status="declined"))
    assert over["d"]["declinedBy"] == bob["id"]
    assert (await get_game(a.url, old_id, alice["token"]))["rematch"]["status"] == "declined"
