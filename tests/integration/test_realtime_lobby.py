"""The live lobby over the socket with two app processes on one PostgreSQL database and one
Redis: games made through instance A appear in, move through and leave the lobby of a socket
on instance B; a reconnecting client gets a fresh snapshot; changes are coalesced; bad lobby
frames get error frames and change nothing."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

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
    join_game,
    register,
    two_apps,
)

from ringrift.ops.services import RedisServer
from ringrift.rules import GameState, legal_moves

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def instances(pg_database: str, redis_server: RedisServer) -> Iterator[tuple[Process, Process]]:
    settings = {"lobby_flush_seconds": 0.05}
    with two_apps(pg_database, redis_server.url, **settings, timeout=120) as pair:
        yield pair


class LobbyView:
    """What a client knows of the lobby, built from `lobby` and `lobbyDelta` frames only."""

    def __init__(self) -> None:
        self.seq = -1
        self.open: dict[str, dict[str, Any]] = {}
        self.live: dict[str, dict[str, Any]] = {}
        self.frames: list[Frame] = []

    def apply(self, frame: Frame) -> None:
        data = frame["d"]
        self.frames.append(frame)
        if frame["t"] == "lobby":
            assert data["seq"] > self.seq
            self.open = {g["id"]: g for g in data["open"]}
            self.live = {g["id"]: g for g in data["live"]}
        else:
            assert data["seq"] == self.seq + 1, f"gap: have {self.seq}, got {data['seq']}"
            for change in data["changes"]:
                game_id = change["gameId"]
                if change["change"] == "moved":
                    if game_id in self.live:
                        self.live[game_id]["moveCount"] = change["moveCount"]
                    continue
                self.open.pop(game_id, None)
                self.live.pop(game_id, None)
                if change["section"] == "open":
                    self.open[game_id] = change["game"]
                elif change["section"] == "live":
                    self.live[game_id] = change["game"]
        self.seq = data["seq"]

    def changes_of(self, game_id: str) -> list[str]:
        return [
            c["change"]
            for f in self.frames
            if f["t"] == "lobbyDelta"
            for c in f["d"]["changes"]
            if c["gameId"] == game_id
        ]


def _lobby_frame(frame: Frame) -> bool:
    return frame["t"] in ("lobby", "lobbyDelta")


async def _watch(sockets: list[WS], base: str, token: str) -> tuple[WS, LobbyView]:
    ws = await WS.open(base, token)
    sockets.append(ws)
    await ws.send("lobby", {"ack": "lobby"})
    await ws.expect(is_type("ack", ack="lobby"))
    view = LobbyView()
    view.apply(await ws.expect(is_type("lobby")))
    return ws, view


async def _until(ws: WS, view: LobbyView, done: Any, timeout: float = 10.0) -> None:
    """Apply lobby frames until ``done(view)`` holds."""
    while not done(view):
        view.apply(await ws.expect(_lobby_frame, timeout))


async def _leave(base: str, token: str, game_id: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post(f"/api/games/{game_id}/leave", headers=bearer(token))
    assert response.status_code == 200, response.text


async def test_a_game_made_on_a_moves_through_the_lobby_of_a_socket_on_b(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    viewer, creator, joiner = await register(b.url), await register(a.url), await register(a.url)
    ws, view = await _watch(sockets, b.url, viewer["token"])

    game = await create_game(a.url, creator["token"], boardType="hex8")
    game_id = game["id"]
    await _until(ws, view, lambda v: game_id in v.open)
    entry = view.open[game_id]
    assert entry["boardType"] == "hex8" and entry["openSeats"] == 1
    assert entry["players"][0]["userId"] == creator["id"]

    await join_game(a.url, joiner["token"], game_id)
    await _until(ws, view, lambda v: game_id in v.live)
    assert game_id not in view.open
    assert "started" in view.changes_of(game_id) or "joined" in view.changes_of(game_id)
    assert view.live[game_id]["moveCount"] == 0

    current = await get_game(a.url, game_id, creator["token"])
    mover = creator if current["currentPlayer"] == 1 else joiner
    move = legal_moves(GameState.from_json(current["state"]))[0].to_json()
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
        played = await http.post(
            f"/api/games/{game_id}/moves",
            json={"move": move, "version": current["version"]},
            headers=bearer(mover["token"]),
        )
    assert played.status_code == 200, played.text
    version = played.json()["data"]["game"]["version"]
    await _until(ws, view, lambda v: v.live[game_id]["moveCount"] == version)

    await _leave(a.url, joiner["token"], game_id)  # resigns: the game is over
    await _until(ws, view, lambda v: game_id not in v.live)
    assert "completed" in view.changes_of(game_id)


async def test_a_cancelled_game_vanishes_and_a_private_one_never_shows(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    viewer, creator = await register(b.url), await register(a.url)
    ws, view = await _watch(sockets, b.url, viewer["token"])

    hidden = await create_game(a.url, creator["token"], isPrivate=True)
    game = await create_game(a.url, creator["token"])
    await _until(ws, view, lambda v: game["id"] in v.open)
    await _leave(a.url, creator["token"], game["id"])  # the creator leaves: cancelled
    await _until(ws, view, lambda v: game["id"] not in v.open)
    assert view.changes_of(game["id"])[-1] == "cancelled"
    assert view.changes_of(hidden["id"]) == []
    assert hidden["id"] not in view.open and hidden["id"] not in view.live


async def test_a_reconnecting_client_gets_a_fresh_snapshot(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    viewer, creator = await register(b.url), await register(a.url)
    ws, view = await _watch(sockets, b.url, viewer["token"])
    await ws.close()
    sockets.remove(ws)

    # Made while the client was away: no delta could reach it.
    game = await create_game(a.url, creator["token"])
    ws, view = await _watch(sockets, b.url, viewer["token"])
    assert game["id"] in view.open
    first_seq = view.seq

    # Asking again on the same socket gives a new snapshot with a later seq.
    await _leave(a.url, creator["token"], game["id"])
    await ws.send("lobby", {})
    snapshot = await ws.expect(is_type("lobby"))
    assert snapshot["d"]["seq"] > first_seq
    assert game["id"] not in {g["id"] for g in snapshot["d"]["open"]}


async def test_a_burst_of_games_is_coalesced_and_frames_are_throttled(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    viewer, creator = await register(b.url), await register(a.url)
    ws, view = await _watch(sockets, b.url, viewer["token"])
    games = await asyncio.gather(*(create_game(a.url, creator["token"]) for _ in range(8)))
    ids = {g["id"] for g in games}
    await _until(ws, view, lambda v: ids <= set(v.open))
    await asyncio.gather(*(_leave(a.url, creator["token"], g["id"]) for g in games))
    await _until(ws, view, lambda v: not ids & set(v.open))
    # Never two lobby frames on one socket within the 0.5 s interval: what changes meanwhile
    # waits and goes out together (how many per frame depends on the machine's speed).
    times = [f["d"]["serverTime"] for f in view.frames]
    assert all(later - earlier >= 480 for earlier, later in itertools.pairwise(times)), times
    changes = [c for f in view.frames if f["t"] == "lobbyDelta" for c in f["d"]["changes"]]
    assert ids <= {c["gameId"] for c in changes}


async def test_bad_lobby_frames_get_errors_and_change_nothing(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    viewer, creator = await register(b.url), await register(a.url)
    ws = await WS.open(b.url, viewer["token"])
    sockets.append(ws)

    bad: list[tuple[dict[str, Any], str]] = [
        ({"watch": "yes", "ack": 1}, "watch"),
        ({"watch": 1, "ack": 2}, "watch"),
        ({"watch": None, "ack": 3}, "watch"),
        ({"watch": False, "ack": 4}, "watch"),  # not watching yet
        ({"ack": {"x": 1}}, "ack"),
        ({"ack": True}, "ack"),
        ({"ack": "x" * 200}, "ack"),
    ]
    for data, field in bad:
        await ws.send("lobby", data)
        error = await ws.expect(is_type("error"))
        assert error["d"]["code"] == "VALIDATION_FAILED", error
        assert error["d"]["details"][0]["field"] == field
        if isinstance(data.get("ack"), int) and not isinstance(data["ack"], bool):
            assert error["d"]["ack"] == data["ack"]
    await ws.send_raw('{"t": "lobby", "d": []}')
    assert (await ws.expect(is_type("error")))["d"]["code"] == "VALIDATION_FAILED"
    await ws.send_raw('{"t": "lobbyy", "d": {}}')
    unknown = await ws.expect(is_type("error"))
    assert "lobby" in unknown["d"]["message"]

    # None of that subscribed the socket: a new game brings no lobby frame.
    await create_game(a.url, creator["token"])
    assert not [f for f in await ws.drain(1.0) if _lobby_frame(f)]

    # Stopping works once watching, and then deltas stop.
    await ws.send("lobby", {"ack": "on"})
    await ws.expect(is_type("ack", ack="on"))
    await ws.expect(is_type("lobby"))
    await ws.send("lobby", {"watch": False, "ack": "off"})
    await ws.expect(is_type("ack", ack="off"))
    await create_game(a.url, creator["token"])
    assert not [f for f in await ws.drain(1.0) if _lobby_frame(f)]


async def test_a_socket_without_a_token_cannot_watch_the_lobby(
    instances: tuple[Process, Process],
) -> None:
    _a, b = instances
    ws = await WS.open(b.url, None)
    try:
        await ws.send("lobby", {"ack": uuid.uuid4().hex[:8]})
        error = await ws.expect(is_type("error"))
        assert error["d"]["code"] == "AUTH_REQUIRED"
    finally:
        await ws.close()


async def test_a_matchmade_game_shows_up_live_and_never_while_private(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    viewer, first, second = await register(b.url), await register(a.url), await register(a.url)
    ws, view = await _watch(sockets, b.url, viewer["token"])
    pool = {"boardType": "square19", "maxPlayers": 2, "timeControl": "3+2", "rated": False}
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
        for user in (first, second):
            response = await http.post("/api/matchmaking", json=pool, headers=bearer(user["token"]))
            assert response.status_code == 201, response.text
        ticket = response.json()["data"]["ticket"]
    assert ticket["status"] == "matched"
    game_id = ticket["gameId"]
    await _until(ws, view, lambda v: game_id in v.live)
    entry = view.live[game_id]
    assert entry["boardType"] == "square19" and entry["timeControl"]["label"] == "3+2"
    assert {p["userId"] for p in entry["players"]} == {first["id"], second["id"]}
    # While it was private (seating), nothing about it was sent: no change ever put it in the
    # open list (the change names are hints; the section read from the database is the truth).
    sections = [
        c["section"]
        for f in view.frames
        if f["t"] == "lobbyDelta"
        for c in f["d"]["changes"]
        if c["gameId"] == game_id and c["change"] != "moved"
    ]
    assert sections and set(sections) == {"live"}
