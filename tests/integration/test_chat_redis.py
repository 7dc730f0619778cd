"""Chat while Redis is down: posting keeps working, sockets on the posting instance hear at
once, and a socket on the other instance catches up by seq when Redis returns (no duplicate,
no gap)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from realtime_support import (
    WS,
    Frame,
    Process,
    is_type,
    redis_status,
    two_apps,
    two_player_game,
    wait_for,
)

from ringrift.ops.services import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def instances(pg_database: str, private_redis: RedisServer) -> Iterator[tuple[Process, Process]]:
    with two_apps(pg_database, private_redis.url, timeout=120) as pair:
        yield pair


def _seqs(frames: list[Frame]) -> list[int]:
    seqs: list[int] = []
    for frame in frames:
        if frame["t"] == "chat" and not frame["d"]["message"]["removed"]:
            seqs.append(frame["d"]["message"]["seq"])
        elif frame["t"] == "chatHistory" and frame["d"]["channel"] == "players":
            seqs.extend(m["seq"] for m in frame["d"]["messages"])
    return seqs


async def test_chat_catches_up_across_instances_after_a_redis_outage(
    instances: tuple[Process, Process], private_redis: RedisServer, sockets: list[WS]
) -> None:
    a, b = instances
    first, second, game_id = await two_player_game(a.url)
    talker = await WS.open(a.url, first["token"])
    listener = await WS.open(b.url, second["token"])
    sockets += [talker, listener]
    for ws in (talker, listener):
        await ws.send("join", {"gameId": game_id, "ack": "j", "chat": {}})
        await ws.expect(is_type("ack", ack="j"))
        await ws.expect(lambda f: f["t"] == "chatHistory")

    async def say(body: str, ack: str) -> None:
        await talker.send(
            "chat", {"gameId": game_id, "channel": "players", "body": body, "ack": ack}
        )
        await talker.expect(is_type("ack", ack=ack), 10)
        await talker.expect(lambda f: f["t"] == "chat" and f["d"]["message"]["body"] == body)

    await say("before", "m1")
    await listener.expect(lambda f: f["t"] == "chat" and f["d"]["message"]["seq"] == 1, 10)

    private_redis.stop()
    await wait_for(lambda: redis_status(a.url, "degraded"), 5.0, 0.05)
    await say("during one", "m2")  # posting needs no Redis; A's sockets hear at once
    await say("during two", "m3")

    private_redis.start()
    for base in (a.url, b.url):
        await wait_for(lambda base=base: redis_status(base, "healthy"), 10.0, 0.1)
    # B's socket gets what it missed (from its resync, or the retried publish: either way
    # each seq exactly once), and then live messages again.
    await say("after", "m4")
    seen: list[Frame] = list(listener.backlog)
    listener.backlog = []
    deadline = asyncio.get_running_loop().time() + 20
    while not {2, 3, 4} <= set(_seqs(seen)):
        assert asyncio.get_running_loop().time() < deadline, seen
        seen.append(await listener.recv(20))
    seen += await listener.drain(0.5)
    assert sorted(_seqs(seen)) == [2, 3, 4], seen
