"""Helpers for the realtime integration tests: real app and AI-service processes on free ports
and a small WebSocket client speaking the ``{"t", "d"}`` protocol."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from server_support import TEST_JWT_SECRET
from websockets.asyncio.client import ClientConnection, connect

from ringrift.ops.services import free_port
from ringrift.server import mergepatch
from ringrift.server.presence import ENTRY_LIFETIME_HEARTBEATS

Frame = dict[str, Any]


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-3000:]
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-3000:]}")


class Process:
    """A child process serving HTTP on ``port``; restartable on the same port."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, name: str) -> None:
        self.args = args
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = Path(tempfile.mkdtemp(prefix=f"ringrift-{name}-")) / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> Process:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd="/"
            )
        try:
            _wait_http(f"{self.url}/health", self.process, self.log, timeout)
        except BaseException:
            self.stop(signal.SIGKILL)  # never leave a half-started server behind
            raise
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout)


def app_process(
    database_url: str, redis_url: str = "", ai_url: str = "", **settings: Any
) -> Process:
    """``ringrift serve`` with the given settings (names of ``Settings`` fields)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AI_SERVICE_URL": ai_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "JWT_KEYRING_FILE": "",
        "RINGRIFT_ENV": "test",
        "AUTO_MIGRATE": "false",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST_KIB": "1024",
        "LOG_LEVEL": "WARNING",
        "REPLAY_PREWARM": "false",
    }
    for key, value in settings.items():
        env[key.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    args = [sys.executable, "-m", "ringrift.cli", "serve", "--port", str(port)]
    return Process(args, env, port, "app")


@contextmanager
def two_apps(
    database_url: str, redis_url: str, *, timeout: float = 180, **settings: Any
) -> Iterator[tuple[Process, Process]]:
    """Two app instances on one database and one Redis (the cross-instance tests), stopped
    when the block ends. A generous start-up time: the machine running the suite is busy.

    With ``presence_heartbeat_seconds`` set, the block starts only once both instances have
    seen Redis for one presence-entry lifetime: before that an instance cannot tell "no
    socket anywhere" from "not heard yet" and refuses claims with 503, by design.

    Redis calls may take up to 2 s here (the default is 0.3 s): with four test workers and
    browsers on two cores, an event loop can stall past 0.3 s, and a timed-out call marks Redis
    down, which drops that fan-out and makes presence unknowable for a while. Those are the
    designed degradations, tested where Redis really fails, not what these tests are about."""
    settings.setdefault("redis_timeout_seconds", 2.0)
    a = app_process(database_url, redis_url, **settings).start(timeout=timeout)
    try:
        b = app_process(database_url, redis_url, **settings).start(timeout=timeout)
    except BaseException:
        a.stop()
        raise
    heartbeat = settings.get("presence_heartbeat_seconds")
    if heartbeat is not None:
        time.sleep(float(heartbeat) * ENTRY_LIFETIME_HEARTBEATS + 0.2)
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def ai_service_process(port: int | None = None) -> Process:
    port = port or free_port()
    args = [
        sys.executable,
        "-m",
        "ringrift.aiservice",
        "serve",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
    ]
    return Process(args, dict(os.environ), port, "ai")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(base: str) -> dict[str, Any]:
    name = "u" + uuid.uuid4().hex[:10]
    credentials = {"email": f"{name}@example.com", "password": "anchor-violet-ridge-27"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        response = await http.post("/api/auth/register", json={**credentials, "username": name})
        assert response.status_code == 202, response.text
        response = await http.post("/api/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return {
        "token": data["accessToken"],
        "id": data["user"]["id"],
        "email": f"{name}@example.com",
    }


async def create_game(base: str, token: str, **body: Any) -> dict[str, Any]:
    payload = {"boardType": "square8", "maxPlayers": 2, **body}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post("/api/games", json=payload, headers=bearer(token))
    assert response.status_code == 201, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


async def join_game(base: str, token: str, game_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post(f"/api/games/{game_id}/join", headers=bearer(token))
    assert response.status_code == 200, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


async def get_game(base: str, game_id: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        response = await http.get(f"/api/games/{game_id}", headers=bearer(token))
    assert response.status_code == 200, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


async def move_list(base: str, game_id: str, token: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        response = await http.get(f"/api/games/{game_id}/moves", headers=bearer(token))
    assert response.status_code == 200, response.text
    moves: list[dict[str, Any]] = response.json()["data"]["moves"]
    return moves


async def two_player_game(base: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Two registered users in a started human square8 game: (seat 1, seat 2, game id)."""
    first, second = await register(base), await register(base)
    game = await create_game(base, first["token"])
    await join_game(base, second["token"], game["id"])
    return first, second, game["id"]


async def ready(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        body: dict[str, Any] = (await http.get("/ready")).json()
    return body


async def redis_status(base: str, wanted: str) -> dict[str, Any] | None:
    """The ``/ready`` body when its redis check has status ``wanted`` (for ``wait_for``)."""
    body = await ready(base)
    return body if body["checks"]["redis"]["status"] == wanted else None


async def wait_for(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.1
) -> tuple[Any, float]:
    """Poll an async predicate until it returns something truthy; (result, seconds taken)."""
    started = time.monotonic()
    while True:
        result = await predicate()
        if result:
            return result, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


class WS:
    """A protocol client: frames that a waiting call skips are kept in ``backlog``."""

    def __init__(self, connection: ClientConnection) -> None:
        self.conn = connection
        self.backlog: list[Frame] = []

    @classmethod
    async def open(cls, base: str, token: str | None) -> WS:
        url = base.replace("http://", "ws://") + "/ws"
        if token is not None:
            url += f"?token={token}"
        return cls(await connect(url, open_timeout=5, max_size=2**24))

    async def send(self, frame_type: str, data: dict[str, Any]) -> None:
        await self.conn.send(json.dumps({"t": frame_type, "d": data}))

    async def send_raw(self, text: str) -> None:
        await self.conn.send(text)

    async def recv(self, timeout: float = 5.0) -> Frame:
        if self.backlog:
            return self.backlog.pop(0)
        frame: Frame = json.loads(await asyncio.wait_for(self.conn.recv(), timeout))
        return frame

    async def expect(self, predicate: Callable[[Frame], bool], timeout: float = 10.0) -> Frame:
        """The first frame (backlog first) matching ``predicate``; others stay in the backlog."""
        for index, frame in enumerate(self.backlog):
            if predicate(frame):
                return self.backlog.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; got {self.backlog}")
            try:
                raw = await asyncio.wait_for(self.conn.recv(), remaining)
            except TimeoutError:
                raise AssertionError(
                    f"no matching frame within {timeout}s; got {self.backlog}"
                ) from None
            frame = json.loads(raw)
            if predicate(frame):
                return frame
            self.backlog.append(frame)

    async def drain(self, quiet: float = 0.4) -> list[Frame]:
        """Everything that arrives until the socket is quiet for ``quiet`` seconds."""
        frames, self.backlog = self.backlog, []
        while True:
            try:
                frames.append(json.loads(await asyncio.wait_for(self.conn.recv(), quiet)))
            except TimeoutError:
                return frames

    async def close(self) -> None:
        await self.conn.close()


async def joined(sockets: list[WS], base: str, token: str, game_id: str, **join: Any) -> WS:
    """A new socket (closed by the ``sockets`` fixture) that joined ``game_id``; ``join`` adds
    fields to the join frame (``v``, ``chat``)."""
    ws = await WS.open(base, token)
    sockets.append(ws)
    await ws.send("join", {"gameId": game_id, "ack": "joined", **join})
    await ws.expect(is_type("ack", ack="joined"))
    return ws


def is_type(frame_type: str, **fields: Any) -> Callable[[Frame], bool]:
    def match(frame: Frame) -> bool:
        return frame["t"] == frame_type and all(frame["d"].get(k) == v for k, v in fields.items())

    return match


def to_move(game_id: str) -> Callable[[Frame], bool]:
    """A ``state`` or ``event`` frame that offers legal moves (this socket's player is to move
    at the frame's version)."""

    def match(frame: Frame) -> bool:
        return (
            frame["t"] in ("state", "event")
            and frame["d"].get("gameId") == game_id
            and bool(frame["d"].get("legalMoves"))
        )

    return match


def without_nulls(value: Any) -> Any:
    """A JSON document with its null members removed (a merge patch cannot carry nulls)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


class GameView:
    """What a client knows of one game, built only from frames: a ``state`` replaces the
    position, an ``event`` at the next version applies its merge patch (RFC 7386)."""

    def __init__(self) -> None:
        self.v = -1
        self.doc: dict[str, Any] | None = None

    def apply(self, frame: Frame) -> None:
        data = frame["d"]
        if frame["t"] == "state":
            self.v, self.doc = data["v"], data["state"]
        elif frame["t"] == "event":
            assert data["v"] == self.v + 1, f"gap: have {self.v}, got event {data['v']}"
            assert self.doc is not None
            self.v, self.doc = data["v"], mergepatch.apply(self.doc, data["patch"])

    def matches(self, state: dict[str, Any]) -> bool:
        return without_nulls(self.doc) == without_nulls(state)
