"""Presence while Redis is down (two app processes, a private redis-server that is stopped and
started again): each instance falls back to what its own sockets tell it, claims are refused
with a clear code instead of being decided on half the truth, and once Redis is back the
instances agree again and a claim against a connected opponent is refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from realtime_support import (
    WS,
    Process,
    bearer,
    create_game,
    get_game,
    is_type,
    join_game,
    joined,
    register,
    two_apps,
    wait_for,
)

from ringrift.ops.services import RedisServer

pytestmark = pytest.mark.integration

GRACE = 1.5
SETTINGS: dict[str, Any] = {
    "presence_grace_seconds": GRACE,
    "presence_heartbeat_seconds": 0.5,
    "presence_sweep_seconds": 0.3,
}


@pytest.fixture(scope="module")
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def instances(pg_database: str, private_redis: RedisServer) -> Iterator[tuple[Process, Process]]:
    with two_apps(pg_database, private_redis.url, **SETTINGS, timeout=180) as pair:
        yield pair


async def _claim(base: str, game_id: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, timeout=15) as http:
        return await http.post(f"/api/games/{game_id}/claim-victory", headers=bearer(token))


async def test_presence_degrades_to_each_instance_while_redis_is_down(
    instances: tuple[Process, Process], private_redis: RedisServer, sockets: list[WS]
) -> None:
    a, b = instances
    first, second = await register(a.url), await register(a.url)
    game = await create_game(
        a.url, first["token"], timeControl={"initialSeconds": 600, "incrementSeconds": 0}
    )
    game_id = game["id"]
    await join_game(a.url, second["token"], game_id)
    leaver = await joined(sockets, a.url, first["token"], game_id)
    stayer = await joined(sockets, a.url, second["token"], game_id)

    private_redis.stop()
    await asyncio.sleep(1.0)

    # The stayer's instance saw the socket close itself: the frame needs no Redis.
    await leaver.close()
    gone = await stayer.expect(is_type("presence", gameId=game_id, seat=1, online=False), 5)
    await asyncio.sleep(max(0.0, gone["d"]["claimableAt"] / 1000 - time.time()))
    await asyncio.sleep(0.3)
    refused = await _claim(a.url, game_id, second["token"])
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "SERVER_PRESENCE_UNAVAILABLE"
    assert (await get_game(b.url, game_id, first["token"]))["status"] == "active"

    # The leaver comes back on the other instance: that instance marks the seat online in the
    # database, which both instances' game JSON shows, although its event cannot cross.
    await joined(sockets, b.url, first["token"], game_id)

    async def online_again() -> bool:
        shown = await get_game(a.url, game_id, second["token"])
        return {p["seat"]: p["online"] for p in shown["presence"]}[1] is True

    await wait_for(online_again, 5)

    # Redis returns: entries are re-announced, and after one entry lifetime claims are decided
    # again, on full knowledge: the opponent is connected.
    private_redis.start()

    async def decided() -> httpx.Response | None:
        response = await _claim(a.url, game_id, second["token"])
        return None if response.status_code == 503 else response

    response, _ = await wait_for(decided, 15, 0.3)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "GAME_OPPONENT_PRESENT"
    assert (await get_game(a.url, game_id, second["token"]))["status"] == "active"
