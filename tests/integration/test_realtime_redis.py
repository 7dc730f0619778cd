"""Redis stopped in the middle of a game played across two app instances, then restarted on
the same port: readiness shows it within 2 s and the recovery within 5 s (no app restart),
login and moves keep working, rate limits keep applying per instance (never 429 for everyone),
and the socket on the other instance gets every event it missed once pub/sub is back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from realtime_support import (
    WS,
    Process,
    bearer,
    get_game,
    is_type,
    move_list,
    ready,
    redis_status,
    to_move,
    two_apps,
    two_player_game,
    wait_for,
)

from ringrift.ops.services import RedisServer
from ringrift.rules import GameState, legal_moves

pytestmark = pytest.mark.integration

LOGIN_LIMIT = 3


@pytest.fixture(scope="module")
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def instances(pg_database: str, private_redis: RedisServer) -> Iterator[tuple[Process, Process]]:
    with two_apps(pg_database, private_redis.url, rate_limit_login=LOGIN_LIMIT) as pair:
        yield pair


async def _failed_logins(base: str, email: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=10) as http:
        return [
            await http.post(f"{base}/api/auth/login", json={"email": email, "password": "nope"})
            for _ in range(count)
        ]


async def test_redis_outage_and_recovery(
    instances: tuple[Process, Process], private_redis: RedisServer, sockets: list[WS]
) -> None:
    a, b = instances
    first, second, game_id = await two_player_game(a.url)
    tokens = {1: first["token"], 2: second["token"]}
    player = await WS.open(a.url, first["token"])
    watcher = await WS.open(b.url, second["token"])
    sockets += [player, watcher]
    for ws in (player, watcher):
        await ws.send("join", {"gameId": game_id, "v": 0, "ack": "j"})
        await ws.expect(is_type("ack", ack="j"))
    for base in (a.url, b.url):
        assert (await ready(base))["status"] == "healthy"

    version = 0

    async def play_one() -> None:
        """The player to move plays the first legal move: seat 1 over its WebSocket on A,
        seat 2 over REST on A."""
        nonlocal version
        game = await get_game(a.url, game_id, first["token"])
        state = GameState.from_json(game["state"])
        move = legal_moves(state)[0].to_json()
        if state.current_player == 1:
            prompt = await player.expect(to_move(game_id), 5)
            assert prompt["d"]["v"] == version
            await player.send(
                "move", {"gameId": game_id, "move": move, "v": version, "ack": version}
            )
            ack = await player.expect(is_type("ack", ack=version), 5)
            assert ack["d"]["v"] >= version + 1
            new_version = ack["d"]["v"]
        else:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.post(
                    f"{a.url}/api/games/{game_id}/moves",
                    json={"move": move, "version": version},
                    headers=bearer(tokens[2]),
                )
            assert response.status_code == 200, response.text
            new_version = response.json()["data"]["game"]["version"]
        # The socket on A always hears about it (local fan-out needs no Redis).
        for v in range(version + 1, new_version + 1):
            event = await player.expect(is_type("event", gameId=game_id, v=v), 5)
            if "legalMoves" in event["d"]:
                player.backlog.insert(0, event)  # seat 1's next prompt
        version = new_version

    await play_one()
    for v in range(1, version + 1):
        await watcher.expect(is_type("event", gameId=game_id, v=v), 5)

    # --- Redis goes down ---------------------------------------------------------------
    private_redis.stop()
    stopped = time.monotonic()
    body, _ = await wait_for(lambda: redis_status(a.url, "degraded"), 2.0, 0.05)
    assert time.monotonic() - stopped <= 2.0
    assert body["status"] == "degraded" and body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["status"] == "healthy"

    async with httpx.AsyncClient(timeout=10) as http:
        started = time.monotonic()
        login = await http.post(
            f"{a.url}/api/auth/login",
            json={"email": first["email"], "password": "anchor-violet-ridge-27"},
        )
        assert login.status_code == 200, login.text
        assert time.monotonic() - started < 1.5  # no waiting on Redis timeouts
    outage_start = version
    for _ in range(3):
        await play_one()

    # Rate limits keep applying, per instance, from memory; nobody else is refused.
    email = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
    on_a = await _failed_logins(a.url, email, LOGIN_LIMIT + 1)
    assert [r.status_code for r in on_a] == [401] * LOGIN_LIMIT + [429]
    assert on_a[-1].json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(on_a[-1].headers["Retry-After"]) >= 1
    on_b = await _failed_logins(b.url, email, 1)
    assert on_b[0].status_code == 401  # B counts on its own while Redis is down
    body = await ready(b.url)
    assert body["checks"]["redis"]["status"] == "degraded"

    # --- Redis comes back on the same port -----------------------------------------------
    private_redis.start()
    restarted = time.monotonic()
    for base in (a.url, b.url):
        await wait_for(lambda base=base: redis_status(base, "healthy"), 5.0, 0.1)
    assert time.monotonic() - restarted <= 5.0
    for base in (a.url, b.url):
        assert (await ready(base))["status"] == "healthy"

    # B's socket missed the moves of the outage: it is brought up to date with one full
    # state at the current version (never a gap, never a duplicate).
    assert version > outage_start
    caught_up = await watcher.expect(is_type("state", gameId=game_id, v=version), 5)
    assert caught_up["d"]["state"] == (await get_game(a.url, game_id, first["token"]))["state"]
    recorded = await move_list(a.url, game_id, first["token"])
    assert len(recorded) == version
    async with httpx.AsyncClient(timeout=5) as http:
        metrics = (await http.get(f"{b.url}/metrics")).text
    resubscribed = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("ringrift_bus_resubscribes_total ")
    )
    assert resubscribed >= 2  # B's subscriber reconnected by itself

    # And cross-instance events flow again.
    before = version
    await play_one()
    for v in range(before + 1, version + 1):
        await watcher.expect(is_type("event", gameId=game_id, v=v), 5)
    leftovers = watcher.backlog + await watcher.drain(0.5)
    versions = [f["d"]["v"] for f in leftovers if f["t"] == "event"]
    assert versions == [], f"duplicate or unexpected events: {versions}"
