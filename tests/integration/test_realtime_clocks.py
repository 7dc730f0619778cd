"""Clocks across two app processes on one PostgreSQL database and one Redis: the clocks ride on
``state`` and ``event`` frames, and a flag that falls while nobody moves is adjudicated by the
instances' sweeps exactly once (one withdrawal row, version + 1), reaching sockets on both."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from realtime_support import (
    WS,
    Process,
    create_game,
    get_game,
    is_type,
    join_game,
    move_list,
    register,
    to_move,
    two_apps,
)

from ringrift.ops.services import RedisServer

pytestmark = pytest.mark.integration

# The clock of the flag test, in seconds.
SECONDS = 6


@pytest.fixture(scope="module")
def instances(pg_database: str, redis_server: RedisServer) -> Iterator[tuple[Process, Process]]:
    settings = {"clock_sweep_interval_seconds": 0.1, "rate_limit_login": 0}
    with two_apps(pg_database, redis_server.url, **settings, timeout=120) as pair:
        yield pair


async def test_a_flag_falls_once_while_nobody_moves(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    first, second = await register(a.url), await register(a.url)
    # Long enough for the first move to land on a busy machine, short enough to wait out.
    game = await create_game(
        a.url, first["token"], isRated=False, timeControl={"initialSeconds": SECONDS}
    )
    game_id = game["id"]
    await join_game(a.url, second["token"], game_id)
    mover = await WS.open(a.url, first["token"])
    watcher = await WS.open(b.url, second["token"])
    sockets.extend([mover, watcher])
    await watcher.send("join", {"gameId": game_id})
    state = await watcher.expect(is_type("state", gameId=game_id))
    clocks = state["d"]["clocks"]
    assert clocks["running"] == 1 and clocks["remainingMs"][1] == SECONDS * 1000
    assert 0 < clocks["remainingMs"][0] <= SECONDS * 1000
    assert abs(clocks["serverTime"] - state["d"]["serverTime"]) < 1_000

    await mover.send("join", {"gameId": game_id})
    prompt = await mover.expect(to_move(game_id))
    move = prompt["d"]["legalMoves"][0]
    await mover.send("move", {"gameId": game_id, "move": move, "v": 0, "ack": 1})
    await mover.expect(is_type("ack", ack=1))
    seen = await watcher.expect(is_type("event", gameId=game_id, v=1), 15)
    assert seen["d"]["clocks"]["running"] == 1
    assert seen["d"]["clocks"]["remainingMs"][1] == SECONDS * 1000
    version = (await get_game(a.url, game_id, first["token"]))["version"]

    # Nobody moves: the sweeps of both instances find the flag within moments (the time left
    # plus a sweep; the margins are for a busy test machine).
    started = time.monotonic()
    ended = await watcher.expect(is_type("event", gameId=game_id, v=version + 1), SECONDS + 15)
    assert time.monotonic() - started < SECONDS + 8
    assert ended["d"]["move"] == {"type": "withdraw", "player": 1, "reason": "timeout"}
    assert ended["d"]["status"] == "completed" and ended["d"]["endReason"] == "timeout"
    assert ended["d"]["winner"] == 2
    assert ended["d"]["clocks"]["running"] is None and ended["d"]["clocks"]["remainingMs"][0] == 0
    await mover.expect(is_type("event", gameId=game_id, v=version + 1), 15)

    # Both sweeps kept going: still exactly one adjudication.
    time.sleep(0.5)
    final = await get_game(b.url, game_id, second["token"])
    assert final["version"] == version + 1 and final["endReason"] == "timeout"
    moves = await move_list(b.url, game_id, second["token"])
    assert [m["move"]["type"] for m in moves].count("withdraw") == 1
    loser = next(s for s in final["seats"] if s["seat"] == 1)
    assert loser["finalRank"] == 2

    # A move after the flag is refused.
    await mover.send("move", {"gameId": game_id, "move": move, "v": version + 1, "ack": 2})
    refused = await mover.expect(is_type("error", ack=2))
    assert refused["d"]["code"] == "GAME_ALREADY_ENDED"
