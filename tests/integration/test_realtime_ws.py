"""The WebSocket API against a real ``ringrift serve`` process on PostgreSQL and Redis: a full
game between two humans with a spectator, reconnects by version, REST moves reaching sockets,
authentication, error frames for bad input (and a generated list of garbage frames), and the
graceful shutdown close code."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from realtime_support import (
    WS,
    Frame,
    GameView,
    Process,
    app_process,
    bearer,
    create_game,
    get_game,
    is_type,
    move_list,
    register,
    to_move,
    two_player_game,
)
from websockets.exceptions import ConnectionClosed

from ringrift.ops.services import RedisServer
from ringrift.rules import GameState, legal_moves
from ringrift.rules.moves import BOOKKEEPING_TYPES
from ringrift.server.errors import ErrorCode

pytestmark = pytest.mark.integration

CATALOGUE = {code.value for code in ErrorCode}


@pytest.fixture(scope="module")
def app(pg_database: str, redis_server: RedisServer) -> Iterator[Process]:
    process = app_process(
        pg_database,
        redis_server.url,
        ws_auth_timeout_seconds=1,
        rate_limit_ws_messages=0,
    ).start()
    yield process
    process.stop()


async def _open(sockets: list[WS], base: str, token: str | None) -> WS:
    ws = await WS.open(base, token)
    sockets.append(ws)
    return ws


async def _join(ws: WS, game_id: str, v: int | None = None) -> None:
    data: dict[str, Any] = {"gameId": game_id, "ack": f"join-{game_id}"}
    if v is not None:
        data["v"] = v
    await ws.send("join", data)
    await ws.expect(is_type("ack", ack=f"join-{game_id}"))


async def _next_prompt(players: dict[int, WS], game_id: str, v: int) -> tuple[int, Frame]:
    """Wait for whichever player gets the ``state`` with legal moves at version ``v`` (polls
    the sockets in turn; no task is cancelled in the middle of a receive)."""

    def match(frame: Frame) -> bool:
        return to_move(game_id)(frame) and frame["d"]["v"] == v

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for seat, ws in players.items():
            try:
                return seat, await ws.expect(match, 0.05)
            except (AssertionError, TimeoutError):
                continue
    raise AssertionError(f"nobody was asked to move at version {v}")


async def test_two_humans_play_to_the_end_and_a_spectator_sees_every_move(
    app: Process, sockets: list[WS]
) -> None:
    base = app.url
    first, second, game_id = await two_player_game(base)
    watcher = await register(base)
    players = {1: await _open(sockets, base, first["token"])}
    players[2] = await _open(sockets, base, second["token"])
    spectator = await _open(sockets, base, watcher["token"])
    for ws in (*players.values(), spectator):
        await _join(ws, game_id)
    initial = await spectator.expect(is_type("state", gameId=game_id))
    assert initial["d"]["v"] == 0 and "legalMoves" not in initial["d"]
    assert initial["d"]["yourSeat"] is None and "moveHistory" not in initial["d"]["state"]
    assert isinstance(initial["d"]["serverTime"], int)
    view = GameView()
    view.apply(initial)

    rng = random.Random(11)
    version, sent_moves, autos = 0, [], 0
    while True:
        seat, prompt = await _next_prompt(players, game_id, version)
        assert view.doc is not None and view.v == version
        state = GameState.from_json(view.doc)
        assert state.current_player == seat
        offered = prompt["d"]["legalMoves"]
        assert offered == [m.to_json() for m in legal_moves(state)]
        # Humans are asked only for real decisions.
        assert not (len(offered) == 1 and offered[0]["type"] in BOOKKEEPING_TYPES)
        move = rng.choice(offered)
        await players[seat].send(
            "move", {"gameId": game_id, "move": move, "v": version, "ack": version}
        )
        ack = await players[seat].expect(is_type("ack", ack=version))
        new_version = ack["d"]["v"]
        assert new_version > version
        for v in range(version + 1, new_version + 1):
            seen = await spectator.expect(is_type("event", gameId=game_id, v=v))
            view.apply(seen)
            assert GameState.from_json(view.doc).state_hash() == seen["d"]["hash"]
            if v == version + 1:
                assert seen["d"]["move"] == move and seen["d"]["by"] == seat
                assert seen["d"]["auto"] is False
            else:
                assert seen["d"]["auto"] is True and seen["d"]["by"] in players
                assert seen["d"]["move"]["type"] in BOOKKEEPING_TYPES
                autos += 1
        sent_moves.append(move)
        version = new_version
        if seen["d"]["status"] == "completed":
            break
        assert version < 2000, "game did not end"

    rest = spectator.backlog + await spectator.drain(0.3)
    assert not any("legalMoves" in f["d"] for f in rest), "a spectator was sent legal moves"
    game = await get_game(base, game_id, first["token"])
    assert game["status"] == "completed" and game["version"] == version
    assert game["winner"] == seen["d"]["winner"]
    # Patches alone rebuilt the stored position exactly.
    assert view.matches(game["state"])
    recorded = await move_list(base, game_id, first["token"])
    assert [m["move"] for m in recorded if not m["auto"]] == sent_moves
    assert autos == sum(m["auto"] for m in recorded) > 0


async def _rest_moves(base: str, game_id: str, tokens: dict[int, str], count: int) -> int:
    """Play ``count`` legal moves over REST (the first legal move each time); the version."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        game = (await http.get(f"/api/games/{game_id}", headers=bearer(tokens[1]))).json()
        game = game["data"]["game"]
        for _ in range(count):
            state = GameState.from_json(game["state"])
            response = await http.post(
                f"/api/games/{game_id}/moves",
                json={"move": legal_moves(state)[0].to_json(), "version": game["version"]},
                headers=bearer(tokens[state.current_player]),
            )
            assert response.status_code == 200, response.text
            game = response.json()["data"]["game"]
    version: int = game["version"]
    return version


async def _game_frames(ws: WS, seconds: float = 0.5) -> list[Frame]:
    """The frames of the next ``seconds`` without presence news: the presence sweep may mark
    the seat that never connected away at any moment, and that frame is not about versions."""
    return [f for f in await ws.drain(seconds) if f["t"] != "presence"]


async def test_reconnect_with_version_resyncs_by_full_state(
    app: Process, sockets: list[WS]
) -> None:
    base = app.url
    first, second, game_id = await two_player_game(base)
    tokens = {1: first["token"], 2: second["token"]}
    watcher = await register(base)
    staying = await _open(sockets, base, first["token"])
    await _join(staying, game_id, v=0)
    # Seat 1 is to move at version 0: a join at the current version still gets its legal moves.
    prompt = await staying.expect(is_type("state", gameId=game_id, v=0))
    assert prompt["d"]["legalMoves"] and prompt["d"]["yourSeat"] == 1
    view = GameView()
    view.apply(prompt)

    version = await _rest_moves(base, game_id, tokens, 2)
    assert version >= 2
    behind = await _open(sockets, base, watcher["token"])
    await _join(behind, game_id, v=0)
    frames = await _game_frames(behind)
    assert [(f["t"], f["d"]["v"]) for f in frames] == [("state", version)]
    await behind.close()

    version = await _rest_moves(base, game_id, tokens, 3)
    # Moves made over REST reach the socket that stayed, one event per version, in order.
    for v in range(1, version + 1):
        view.apply(await staying.expect(is_type("event", gameId=game_id, v=v)))
    game = await get_game(base, game_id, first["token"])
    assert view.matches(game["state"])

    # A spectator at the current version gets nothing more; behind or ahead, one full state.
    back = await _open(sockets, base, watcher["token"])
    await _join(back, game_id, v=version)
    assert await _game_frames(back) == []
    for v in (2, version + 50):
        await _join(back, game_id, v=v)
        frames = await _game_frames(back)
        assert [(f["t"], f["d"]["v"]) for f in frames] == [("state", version)]
        assert frames[0]["d"]["state"] == game["state"]
    # resync asks for the full state of a joined game; only joined games.
    await back.send("resync", {"gameId": game_id})
    full = await back.expect(is_type("state", gameId=game_id))
    assert full["d"]["v"] == version and full["d"]["state"] == game["state"]
    await _expect_error(back, {"t": "resync", "d": {"gameId": "other"}}, "VALIDATION_FAILED")


async def test_authentication(app: Process, sockets: list[WS]) -> None:
    base = app.url
    user = await register(base)

    bad = await _open(sockets, base, "not-a-token")
    error = await bad.recv()
    assert error["t"] == "error" and error["d"]["code"] == "AUTH_TOKEN_INVALID"
    with pytest.raises(ConnectionClosed) as closed:
        await bad.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    silent = await _open(sockets, base, None)
    error = await silent.recv(3)
    assert error["d"]["code"] == "AUTH_REQUIRED"

    wrong_first = await _open(sockets, base, None)
    await wrong_first.send("join", {"gameId": "x"})
    assert (await wrong_first.recv())["d"]["code"] == "AUTH_REQUIRED"

    late = await _open(sockets, base, None)
    await late.send("auth", {"token": user["token"]})
    game = await create_game(base, user["token"])
    await _join(late, game["id"])

    owner = await register(base)
    private = await create_game(base, owner["token"], isPrivate=True)
    await late.send("join", {"gameId": private["id"], "ack": 1})
    refused = await late.expect(is_type("error"))
    assert refused["d"] == {
        "code": "RESOURCE_ACCESS_DENIED",
        "message": "This game is private",
        "ack": 1,
    }


async def _expect_error(ws: WS, frame: str | dict[str, Any], code: str) -> Frame:
    await ws.send_raw(frame if isinstance(frame, str) else json.dumps(frame))
    error = await ws.expect(is_type("error"), 5)
    assert error["d"]["code"] == code, (frame, error)
    return error


async def test_bad_frames_get_error_frames_and_change_nothing(
    app: Process, sockets: list[WS]
) -> None:
    base = app.url
    first, second, game_id = await two_player_game(base)
    mover = await _open(sockets, base, first["token"])
    waiting = await _open(sockets, base, second["token"])
    await _join(mover, game_id)
    prompt = await mover.expect(to_move(game_id))
    await _join(waiting, game_id)
    legal = prompt["d"]["legalMoves"][0]

    V = "VALIDATION_FAILED"
    move = {"t": "move", "d": {"gameId": game_id, "move": legal, "v": 0, "ack": 5}}
    await _expect_error(mover, "{not json", V)
    await _expect_error(mover, "[1, 2]", V)
    await _expect_error(mover, {"d": {}}, V)
    await _expect_error(mover, {"t": "dance", "d": {}}, V)
    await _expect_error(mover, {"t": "join", "d": [1]}, V)
    await _expect_error(mover, {"t": "join", "d": {"gameId": 7}}, V)
    await _expect_error(mover, {"t": "join", "d": {"gameId": game_id, "v": -1}}, V)
    await _expect_error(mover, {"t": "join", "d": {"gameId": game_id, "v": True}}, V)
    await _expect_error(mover, {"t": "join", "d": {"gameId": "x" * 65}}, V)
    await _expect_error(mover, {"t": "join", "d": {"gameId": "no-such-game"}}, "GAME_NOT_FOUND")
    # In-band re-authentication (wsguard.py): a bad or missing token is refused, nothing else.
    await _expect_error(mover, {"t": "auth", "d": {}}, V)
    await _expect_error(mover, {"t": "auth", "d": {"token": "not-a-jwt"}}, "AUTH_TOKEN_INVALID")
    await _expect_error(mover, {"t": "auth", "d": {"token": second["token"]}}, "AUTH_FORBIDDEN")
    await _expect_error(mover, {"t": "leave", "d": {"gameId": "not-joined"}}, V)
    await _expect_error(mover, {**move, "d": {**move["d"], "v": "0"}}, V)
    await _expect_error(mover, {**move, "d": {**move["d"], "move": "e4"}}, V)
    await _expect_error(mover, {**move, "d": {**move["d"], "ack": [1]}}, V)
    await _expect_error(mover, {**move, "d": {**move["d"], "move": {"type": "fly"}}}, V)
    not_joined = await _expect_error(mover, {**move, "d": {**move["d"], "gameId": "other"}}, V)
    assert "join" in not_joined["d"]["message"] and not_joined["d"]["ack"] == 5
    stale = await _expect_error(
        mover, {**move, "d": {**move["d"], "v": 3}}, "GAME_VERSION_CONFLICT"
    )
    assert stale["d"]["ack"] == 5
    illegal = {**legal, "to": {"x": 40, "y": 40}}
    await _expect_error(mover, {**move, "d": {**move["d"], "move": illegal}}, "GAME_INVALID_MOVE")
    await _expect_error(waiting, move, "GAME_NOT_YOUR_TURN")
    await _expect_error(mover, "x" * 70_000, V)
    await mover.conn.send(b"\x00\x01binary")
    assert (await mover.expect(is_type("error")))["d"]["code"] == V

    # Generated garbage: each frame is followed by a sentinel join; between the two only error
    # frames may arrive, the socket stays open and the game does not change.
    rng = random.Random(2024)
    for index, frame in enumerate(_garbage(rng, game_id, legal, 250)):
        await waiting.send_raw(frame)
        await waiting.send("join", {"gameId": game_id, "v": 0, "ack": f"s{index}"})
        while True:
            reply = await waiting.recv(5)
            if reply["t"] == "ack" and reply["d"].get("ack") == f"s{index}":
                break
            if reply["t"] == "presence":
                continue  # a join/leave among the garbage: the seat's presence changed
            # Some generated frames are valid joins/leaves (a state or ack at version 0).
            assert reply["t"] in ("error", "state", "ack"), (frame, reply)
            if reply["t"] == "error":
                assert reply["d"]["code"] in CATALOGUE and reply["d"]["message"]
            else:
                assert reply["d"].get("v", 0) == 0, (frame, reply)
    game = await get_game(base, game_id, first["token"])
    assert game["version"] == 0 and game["status"] == "active"
    assert await move_list(base, game_id, first["token"]) == []

    # The same sockets still play normally afterwards.
    await mover.send("move", move["d"])
    assert (await mover.expect(is_type("ack", ack=5)))["d"]["v"] >= 1


def _garbage(rng: random.Random, game_id: str, legal: dict[str, Any], count: int) -> list[str]:
    """Frames a player who is *not* to move might send: junk text, broken JSON, wrong shapes,
    wrong field types, mutated moves, unknown types. None of them may change the game (a few
    are valid joins or leaves)."""
    scalars: list[Any] = [
        None,
        True,
        0,
        -1,
        2**63,
        1e308,
        "",
        "\u0000",
        "é" * 3,
        [],
        {},
        [[[[]]]],
        {"$ne": 1},
    ]
    frames: list[str] = []
    while len(frames) < count:
        kind = rng.randrange(7)
        if kind == 0:
            frames.append("".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(40))))
        elif kind == 1:
            valid = json.dumps({"t": "move", "d": {"gameId": game_id, "move": legal, "v": 0}})
            frames.append(valid[: rng.randrange(len(valid))])
        elif kind == 2:
            frames.append(json.dumps(rng.choice(scalars)))
        elif kind == 3:
            frames.append(json.dumps({"t": rng.choice(scalars), "d": rng.choice(scalars)}))
        elif kind == 4:
            data: dict[str, Any] = {"gameId": game_id, "move": dict(legal), "v": 0, "ack": 1}
            data[rng.choice(list(data))] = rng.choice(scalars)
            frames.append(json.dumps({"t": rng.choice(["move", "join", "leave"]), "d": data}))
        elif kind == 5:
            mutated = dict(legal)
            mutated[rng.choice(list(mutated))] = rng.choice(scalars)
            frames.append(
                json.dumps({"t": "move", "d": {"gameId": game_id, "move": mutated, "v": 0}})
            )
        else:
            frames.append(json.dumps({"t": "x" * rng.randrange(1, 300), "d": {"gameId": game_id}}))
    return frames


async def test_shutdown_closes_sockets_with_going_away(
    pg_database: str, redis_server: RedisServer
) -> None:
    process = app_process(pg_database, redis_server.url).start()
    try:
        user = await register(process.url)
        ws = await WS.open(process.url, user["token"])
        game = await create_game(process.url, user["token"])
        await _join(ws, game["id"])
        stopping = asyncio.get_running_loop().run_in_executor(None, process.stop, signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv(10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
        assert await stopping in (0, -signal.SIGTERM)
    finally:
        process.stop()


async def test_rate_limits_on_websocket_frames_and_game_creation(
    pg_database: str, redis_server: RedisServer
) -> None:
    process = app_process(
        pg_database,
        redis_server.url,
        rate_limit_ws_messages=4,
        rate_limit_game_create=2,
        rate_limit_window_seconds=60,
    ).start()
    try:
        user = await register(process.url)
        created = [await create_game(process.url, user["token"]) for _ in range(2)]
        async with httpx.AsyncClient(timeout=10) as http:
            refused = await http.post(
                f"{process.url}/api/games",
                json={"boardType": "square8", "maxPlayers": 2},
                headers=bearer(user["token"]),
            )
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60

        ws = await WS.open(process.url, user["token"])
        try:
            for index in range(4):
                await ws.send("join", {"gameId": created[0]["id"], "ack": index})
                await ws.expect(is_type("ack", ack=index))
            await ws.send("join", {"gameId": created[1]["id"], "ack": "over"})
            error = await ws.expect(is_type("error"))
            assert error["d"]["code"] == "RATE_LIMIT_EXCEEDED" and error["d"]["ack"] == "over"
            assert 1 <= error["d"]["details"]["retryAfter"] <= 60
            # The refused join changed nothing: no state for the second game arrives.
            rest = ws.backlog + await ws.drain(0.3)
            assert all(f["d"].get("gameId") != created[1]["id"] for f in rest)
        finally:
            await ws.close()
    finally:
        process.stop()
