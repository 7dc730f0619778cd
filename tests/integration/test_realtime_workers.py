"""``ringrift serve --workers 2``: sockets spread over two worker processes on one port still
see each other's moves (through Redis), and stopping the server closes every socket with 1001
(going away); a client that reconnects resyncs by version."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from realtime_support import (
    WS,
    Process,
    app_process,
    is_type,
    register,
    to_move,
    two_player_game,
)
from websockets.exceptions import ConnectionClosed

from ringrift.ops.services import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
def workers(pg_database: str, redis_server: RedisServer) -> Iterator[Process]:
    process = app_process(pg_database, redis_server.url, rate_limit_ws_messages=0)
    process.args += ["--workers", "2"]
    yield process.start()
    process.stop()


async def test_two_workers_fan_out_and_close_with_going_away(workers: Process) -> None:
    base = workers.url
    first, second, game_id = await two_player_game(base)
    watcher = await register(base)
    # Enough sockets that both workers get some (the kernel spreads connections).
    sockets = [await WS.open(base, t) for t in (first["token"], second["token"])]
    sockets += [await WS.open(base, watcher["token"]) for _ in range(6)]
    for index, ws in enumerate(sockets):
        await ws.send("join", {"gameId": game_id, "ack": index})
        await ws.expect(is_type("ack", ack=index))
    prompt = await sockets[0].expect(to_move(game_id))
    move = prompt["d"]["legalMoves"][0]
    await sockets[0].send("move", {"gameId": game_id, "move": move, "v": 0, "ack": "m"})
    version = (await sockets[0].expect(is_type("ack", ack="m")))["d"]["v"]
    for ws in sockets:
        event = await ws.expect(is_type("event", gameId=game_id, v=1), 10)
        assert event["d"]["move"] == move

    assert workers.process is not None
    workers.process.send_signal(signal.SIGTERM)
    for ws in sockets:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv(15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert workers.stop() in (0, None)

    # Back up: a client that reconnects with its version is brought up to date.
    workers.start()
    back = await WS.open(base, watcher["token"])
    try:
        await back.send("join", {"gameId": game_id, "v": 0, "ack": "again"})
        await back.expect(is_type("ack", ack="again"))
        state = await back.expect(is_type("state", gameId=game_id))
        assert state["d"]["v"] == version
    finally:
        await back.close()
