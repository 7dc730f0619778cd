"""Two app processes on one PostgreSQL database and one Redis: events cross instances, the
database version check serialises concurrent moves made through different instances, rate
limits are shared through Redis, and the keyring channel reaches every instance."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from realtime_support import (
    WS,
    Frame,
    Process,
    get_game,
    is_type,
    joined,
    move_list,
    register,
    to_move,
    two_apps,
    two_player_game,
    wait_for,
)
from redis.asyncio import Redis

from ringrift.ops.services import RedisServer
from ringrift.rules import GameState, legal_moves

pytestmark = pytest.mark.integration


def _keyring(path: Path, active: str, kids: list[str]) -> None:
    keys = [{"kid": kid, "secret": secrets.token_urlsafe(48)} for kid in kids]
    path.write_text(json.dumps({"activeKid": active, "keys": keys}))


@pytest.fixture(scope="module")
def keyring_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "keyring.json"
    _keyring(path, "k1", ["k1"])
    return path


@pytest.fixture(scope="module")
def instances(
    pg_database: str, redis_server: RedisServer, keyring_file: Path
) -> Iterator[tuple[Process, Process]]:
    settings = {"rate_limit_login": 3, "jwt_keyring_file": str(keyring_file), "jwt_secret": ""}
    with two_apps(pg_database, redis_server.url, **settings) as pair:
        yield pair


def _reaching(game_id: str, v: int) -> Callable[[Frame], bool]:
    """An event of version ``v``, or a state at ``v`` or later, of ``game_id``."""

    def match(frame: Frame) -> bool:
        d = frame["d"]
        if d.get("gameId") != game_id:
            return False
        if frame["t"] == "event":
            return bool(d["v"] == v)
        return frame["t"] == "state" and d["v"] >= v

    return match


async def _joined_v0(sockets: list[WS], base: str, token: str, game_id: str) -> WS:
    return await joined(sockets, base, token, game_id, v=0)


async def test_a_move_through_one_instance_reaches_a_socket_on_the_other(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    first, second, game_id = await two_player_game(a.url)
    mover = await _joined_v0(sockets, a.url, first["token"], game_id)
    watcher = await _joined_v0(sockets, b.url, second["token"], game_id)
    prompt = await mover.expect(to_move(game_id))
    move = prompt["d"]["legalMoves"][0]
    await mover.send("move", {"gameId": game_id, "move": move, "v": 0, "ack": 1})
    version = (await mover.expect(is_type("ack", ack=1)))["d"]["v"]
    seen = await watcher.expect(is_type("event", gameId=game_id, v=1), 5)
    assert seen["d"]["move"] == move and seen["d"]["by"] == 1 and seen["d"]["patch"]
    # Whoever is to move now gets its legal moves on its own instance.
    current = (await get_game(a.url, game_id, first["token"]))["currentPlayer"]
    prompted = await (mover if current == 1 else watcher).expect(to_move(game_id), 5)
    assert prompted["d"]["v"] == version


async def test_the_seat_to_move_on_the_other_instance_gets_its_legal_moves(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    """Bus payloads leave out legal moves; the instance holding the socket of the seat to
    move puts them on the event, from the position it keeps in step by playing each event's
    move (``PositionCache.follow``) or, failing that, from the database."""
    a, b = instances
    first, second, game_id = await two_player_game(a.url)
    mover = await _joined_v0(sockets, a.url, first["token"], game_id)
    waiting = await _joined_v0(sockets, b.url, second["token"], game_id)
    prompt = await mover.expect(to_move(game_id))
    for _ in range(10):
        v = prompt["d"]["v"]
        move = {"gameId": game_id, "move": prompt["d"]["legalMoves"][0], "v": v, "ack": v}
        await mover.send("move", move)
        await mover.expect(is_type("ack", ack=v))
        game = await get_game(a.url, game_id, first["token"])
        if game["currentPlayer"] == 2:
            break
        prompt = await mover.expect(to_move(game_id))
    assert game["currentPlayer"] == 2
    offered = await waiting.expect(to_move(game_id), 5)
    assert offered["t"] == "event" and offered["d"]["v"] == game["version"]
    expected = legal_moves(GameState.from_json(game["state"]))
    assert offered["d"]["legalMoves"] == [m.to_json() for m in expected]


async def test_concurrent_moves_through_both_instances_one_wins(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    first, second, game_id = await two_player_game(a.url)
    on_a = {
        1: await _joined_v0(sockets, a.url, first["token"], game_id),
        2: await _joined_v0(sockets, a.url, second["token"], game_id),
    }
    on_b = {
        1: await _joined_v0(sockets, b.url, first["token"], game_id),
        2: await _joined_v0(sockets, b.url, second["token"], game_id),
    }
    version, seat = 0, 1
    for round_number in range(6):
        prompt_a = await on_a[seat].expect(to_move(game_id), 5)
        prompt_b = await on_b[seat].expect(to_move(game_id), 5)
        assert prompt_a["d"]["v"] == prompt_b["d"]["v"] == version
        moves = prompt_a["d"]["legalMoves"]
        ack = f"r{round_number}"
        # The same player sends a (different, when possible) legal move through each instance.
        await asyncio.gather(
            on_a[seat].send(
                "move", {"gameId": game_id, "move": moves[0], "v": version, "ack": ack}
            ),
            on_b[seat].send(
                "move", {"gameId": game_id, "move": moves[-1], "v": version, "ack": ack}
            ),
        )
        replies = [
            await ws.expect(lambda f, a=ack: f["d"].get("ack") == a, 5)
            for ws in (on_a[seat], on_b[seat])
        ]
        kinds = sorted(r["t"] for r in replies)
        assert kinds == ["ack", "error"], replies
        loser = next(r for r in replies if r["t"] == "error")
        assert loser["d"]["code"] == "GAME_VERSION_CONFLICT"
        winner = next(r for r in replies if r["t"] == "ack")
        previous, version = version, winner["d"]["v"]
        # Everyone, on both instances, sees the one move (and the bookkeeping it forced): as
        # events, or as a state at that version or later when the socket's first sync after
        # its join (queued behind the join's ack) ran after the move committed.
        for ws in (*on_a.values(), *on_b.values()):
            v = previous + 1
            while v <= version:
                seen = await ws.expect(_reaching(game_id, v), 5)
                if seen["t"] == "event":
                    assert seen["d"]["v"] == v and seen["d"]["auto"] is (v > previous + 1)
                if "legalMoves" in seen["d"]:
                    ws.backlog.insert(0, seen)  # the next round's prompt
                v = seen["d"]["v"] + 1
        game = await get_game(a.url, game_id, first["token"])
        assert game["version"] == version
        seat = game["currentPlayer"]
    recorded = await move_list(a.url, game_id, first["token"])
    assert [m["moveNumber"] for m in recorded] == list(range(1, version + 1))


async def test_rate_limits_are_shared_through_redis(instances: tuple[Process, Process]) -> None:
    a, b = instances
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "wrong-password"}
    async with httpx.AsyncClient(timeout=10) as http:
        for base in (a.url, b.url, a.url):
            response = await http.post(f"{base}/api/auth/login", json=body)
            assert response.status_code == 401, response.text
        refused = await http.post(f"{b.url}/api/auth/login", json=body)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def _kid(token: str) -> str:
    header = token.split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


async def _keyring_messages(base: str) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{base}/metrics")).text
    for line in text.splitlines():
        if line.startswith('ringrift_bus_received_total{kind="keyring"}'):
            return float(line.split()[-1])
    return 0.0


async def test_keyring_reload_message_reaches_every_instance(
    instances: tuple[Process, Process], redis_server: RedisServer, keyring_file: Path
) -> None:
    user = await register(instances[0].url)
    assert _kid(user["token"]) == "k1"
    before = [await _keyring_messages(p.url) for p in instances]
    _keyring(keyring_file, "k2", ["k2"])
    client = Redis.from_url(redis_server.url)
    try:
        receivers = await client.publish("ringrift:keyring", json.dumps({"origin": "test"}))
    finally:
        await client.aclose()
    assert receivers == 2  # both instances are subscribed
    for process, count in zip(instances, before, strict=True):

        async def received(p: Process = process, c: float = count) -> bool:
            return await _keyring_messages(p.url) > c

        await wait_for(received, 3)
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.post(
                f"{process.url}/api/auth/login",
                json={"email": user["email"], "password": "anchor-violet-ridge-27"},
            )
        assert response.status_code == 200, response.text
        assert _kid(response.json()["data"]["accessToken"]) == "k2"
