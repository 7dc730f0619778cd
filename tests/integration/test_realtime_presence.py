"""Seat presence and abandonment across two app processes on one PostgreSQL and one Redis:
a socket closing on one instance is seen at once on the other, claims before the grace are
refused and after it win (rated like any win), a return cancels the grace, a 3-player game
loses its absent seat exactly once although both instances sweep, and bad claim/abort frames
get error frames and change nothing."""

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
    move_list,
    register,
    two_apps,
)

from ringrift.ops.services import RedisServer

pytestmark = pytest.mark.integration

FISCHER = {"initialSeconds": 600, "incrementSeconds": 0}
# Long enough that the early claim below lands before it ends on a loaded 2-core machine.
GRACE = 4.0
PRESENCE_SETTINGS: dict[str, Any] = {
    "presence_grace_seconds": GRACE,
    "presence_heartbeat_seconds": 0.5,
    "presence_sweep_seconds": 0.3,
    "rated_requires_verified_email": False,
}


@pytest.fixture(scope="module")
def instances(pg_database: str, redis_server: RedisServer) -> Iterator[tuple[Process, Process]]:
    with two_apps(pg_database, redis_server.url, **PRESENCE_SETTINGS, timeout=180) as pair:
        yield pair


async def _timed_game(base: str, players: int = 2) -> tuple[list[dict[str, Any]], str]:
    users = [await register(base) for _ in range(players)]
    game = await create_game(
        base, users[0]["token"], maxPlayers=players, timeControl=FISCHER, isRated=True
    )
    for user in users[1:]:
        await join_game(base, user["token"], game["id"])
    return users, game["id"]


async def _post(base: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, timeout=15) as http:
        return await http.post(path, headers=bearer(token), **kwargs)


def _offline(game_id: str, seat: int) -> Any:
    return is_type("presence", gameId=game_id, seat=seat, online=False)


async def test_absence_seen_across_instances_and_claimed_after_the_grace(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    (first, second), game_id = await _timed_game(a.url)
    leaver = await joined(sockets, a.url, first["token"], game_id)
    stayer = await joined(sockets, b.url, second["token"], game_id)
    state = await stayer.expect(is_type("state", gameId=game_id))
    assert {p["seat"] for p in state["d"]["presence"]} == {1, 2}

    closed = time.monotonic()
    await leaver.close()
    frame = await stayer.expect(_offline(game_id, 1), 5)
    assert time.monotonic() - closed < 3.0
    claimable_at = frame["d"]["claimableAt"]
    assert claimable_at >= frame["d"]["since"] + GRACE * 1000 - 1

    # The stored marks agree (eventually: a sweep on a busy instance may mark the stayer away
    # for a moment, and its own instance marks it back within a sweep).
    seen: dict[int, bool] = {}
    for _ in range(30):
        shown = await get_game(a.url, game_id, second["token"])
        seen = {p["seat"]: p["online"] for p in shown["presence"]}
        if seen == {1: False, 2: True}:
            break
        await asyncio.sleep(0.1)
    assert seen == {1: False, 2: True}

    early = await _post(b.url, f"/api/games/{game_id}/claim-victory", second["token"])
    assert early.status_code == 409, (early.text, claimable_at / 1000 - time.time())
    assert early.json()["error"]["code"] == "GAME_CLAIM_TOO_EARLY"
    assert early.json()["error"]["details"]["claimableAt"] == claimable_at
    assert (await get_game(a.url, game_id, second["token"]))["status"] == "active"

    await asyncio.sleep(max(0.0, claimable_at / 1000 - time.time()) + 0.2)
    await stayer.send("claim", {"gameId": game_id, "ack": "claim"})
    await stayer.expect(is_type("ack", ack="claim"), 10)
    ended = await stayer.expect(
        lambda f: f["t"] in ("state", "event") and f["d"].get("status") == "completed", 10
    )
    assert ended["d"]["endReason"] == "abandoned" and ended["d"]["winner"] == 2

    game = await get_game(a.url, game_id, second["token"])
    seats = {s["seat"]: s for s in game["seats"]}
    assert seats[2]["ratingAfter"] > seats[2]["ratingBefore"]
    assert seats[1]["ratingAfter"] < seats[1]["ratingBefore"]
    withdrawals = [
        m for m in await move_list(a.url, game_id, first["token"]) if m["source"] == "withdrawal"
    ]
    assert [m["player"] for m in withdrawals] == [1]


async def test_coming_back_cancels_the_grace(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    (first, second), game_id = await _timed_game(b.url)
    leaver = await joined(sockets, a.url, first["token"], game_id)
    stayer = await joined(sockets, a.url, second["token"], game_id)
    await leaver.close()
    await stayer.expect(_offline(game_id, 1), 5)

    await joined(sockets, b.url, first["token"], game_id)  # back, on the other instance
    back = await stayer.expect(is_type("presence", gameId=game_id, seat=1, online=True), 5)
    assert back["d"]["claimableAt"] is None
    await asyncio.sleep(GRACE + 0.5)
    refused = await _post(a.url, f"/api/games/{game_id}/claim-victory", second["token"])
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "GAME_OPPONENT_PRESENT"
    game = await get_game(b.url, game_id, first["token"])
    assert game["status"] == "active"
    assert {p["seat"]: p["online"] for p in game["presence"]} == {1: True, 2: True}


async def test_three_players_the_absent_seat_is_withdrawn_once(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    users, game_id = await _timed_game(a.url, players=3)
    watcher = await joined(sockets, a.url, users[0]["token"], game_id)
    await joined(sockets, b.url, users[1]["token"], game_id)
    leaver = await joined(sockets, b.url, users[2]["token"], game_id)
    await leaver.close()
    await watcher.expect(_offline(game_id, 3), 5)

    async def withdrawn() -> list[dict[str, Any]]:
        found = await move_list(a.url, game_id, users[0]["token"])
        return [m for m in found if m["source"] == "withdrawal"]

    deadline = time.monotonic() + GRACE + 10
    while not await withdrawn():
        assert time.monotonic() < deadline, "the absent seat was never withdrawn"
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # several more sweeps on both instances
    entries = await withdrawn()
    assert [m["player"] for m in entries] == [3]
    game = await get_game(b.url, game_id, users[0]["token"])
    assert game["status"] == "active"
    assert game["state"]["withdrawnSeats"] == [3]


async def test_bad_claim_and_abort_frames_change_nothing(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    (first, second), game_id = await _timed_game(a.url)
    untimed = await create_game(a.url, first["token"], timeControl="1 day")  # correspondence
    await join_game(a.url, second["token"], untimed["id"])
    ws = await joined(sockets, a.url, first["token"], game_id)
    other = await joined(sockets, b.url, second["token"], game_id)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("claim", {"ack": 1}, "VALIDATION_FAILED"),
        ("claim", {"gameId": 5, "ack": 2}, "VALIDATION_FAILED"),
        ("claim", {"gameId": "nope", "ack": 3}, "GAME_NOT_FOUND"),
        ("claim", {"gameId": untimed["id"], "ack": 4}, "GAME_CLAIM_NOT_ALLOWED"),
        ("claim", {"gameId": game_id, "ack": 5}, "GAME_OPPONENT_PRESENT"),
        ("abort", {"gameId": game_id, "v": "0", "ack": 6}, "VALIDATION_FAILED"),
        ("abort", {"gameId": game_id, "v": 99, "ack": 7}, "GAME_VERSION_CONFLICT"),
        ("abort", {"ack": 8}, "VALIDATION_FAILED"),
    ]
    for frame_type, data, code in cases:
        await ws.send(frame_type, data)
        error = await ws.expect(is_type("error", ack=data["ack"]), 5)
        assert error["d"]["code"] == code, (frame_type, data, error)
    for gid in (game_id, untimed["id"]):
        game = await get_game(a.url, gid, first["token"])
        assert game["status"] == "active" and game["version"] == 0

    # A good abort over the socket reaches the opponent on the other instance.
    await ws.send("abort", {"gameId": game_id, "v": 0, "ack": "abort"})
    await ws.expect(is_type("ack", ack="abort"), 5)
    ended = await other.expect(is_type("state", gameId=game_id, status="cancelled"), 5)
    assert ended["d"]["endReason"] == "aborted"
