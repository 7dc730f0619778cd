"""WebSockets under attack: revoked, rotated and expired tokens end open sockets (close code
4401), every frame counts against the message limit, sockets per user are capped, and slow
request heads do not hold connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from realtime_support import WS, Process, app_process, bearer, register, two_player_game
from server_support import TEST_JWT_SECRET
from websockets.exceptions import ConnectionClosed

from ringrift.ops.secrets import new_keyring, rotate, write_keyring
from ringrift.server.security.keyring import derived_kid

SETTINGS: dict[str, Any] = {
    "ws_auth_check_seconds": 0.3,
    "ws_reauth_grace_seconds": 1.5,
    "ws_max_sockets_per_user": 3,
    "rate_limit_ws_messages": 10,
    "http_header_timeout_seconds": 2,
}


@pytest.fixture(scope="module")
def apps(pg_database: str) -> Iterator[tuple[Process, Process]]:
    """Two instances on one database (no Redis: nothing is shared but the database)."""
    a = app_process(pg_database, **SETTINGS).start()
    b = app_process(pg_database, **SETTINGS).start()
    yield a, b
    a.stop()
    b.stop()


async def _closed_with(ws: WS, timeout: float = 5.0) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the server closes; returns (close code, frames seen)."""
    frames: list[dict[str, Any]] = list(ws.backlog)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(ws.conn.recv(), deadline - time.monotonic())
            frames.append(json.loads(raw))
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), frames
    except TimeoutError:
        pass
    return None, frames


def _short_token(user_id: str, lifetime: int) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "iat": now,
        "exp": now + lifetime,
        "iss": "ringrift",
        "aud": "ringrift-api",
        "tv": 0,
        "type": "access",
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(
        claims, TEST_JWT_SECRET, algorithm="HS256", headers={"kid": derived_kid(TEST_JWT_SECRET)}
    )


async def test_logout_all_closes_sockets_here_and_on_other_instances(
    apps: tuple[Process, Process],
) -> None:
    a, b = apps
    first, _second, game_id = await two_player_game(a.url)
    here = await WS.open(a.url, first["token"])
    there = await WS.open(b.url, first["token"])
    for ws in (here, there):
        await ws.send("join", {"gameId": game_id})
        await ws.expect(lambda f: f["t"] == "state")
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        response = await http.post("/api/auth/logout-all", headers=bearer(first["token"]))
        assert response.status_code == 200
    started = time.monotonic()
    code, frames = await _closed_with(here, 2.0)
    assert code == 4401, frames
    assert any(f["t"] == "error" and f["d"]["code"] == "AUTH_TOKEN_INVALID" for f in frames)
    code, frames = await _closed_with(there, 3.0)
    assert code == 4401, frames
    assert time.monotonic() - started < 3.0


async def test_moves_are_refused_once_the_token_is_revoked(apps: tuple[Process, Process]) -> None:
    a, _b = apps
    first, _second, game_id = await two_player_game(a.url)
    ws = await WS.open(a.url, first["token"])
    await ws.send("join", {"gameId": game_id})
    state = await ws.expect(lambda f: f["t"] == "state" and bool(f["d"].get("legalMoves")))
    # Revoke through the database path another instance would take (token-version bump).
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        login = await http.post(
            "/api/auth/login",
            json={"email": first["email"], "password": "anchor-violet-ridge-27"},
        )
        other = login.json()["data"]["accessToken"]
    b_url = _b.url
    async with httpx.AsyncClient(base_url=b_url, timeout=10) as http:
        assert (await http.post("/api/auth/logout-all", headers=bearer(other))).status_code == 200
    # Whatever the sweep timing, a move is never acknowledged. The sweep may close the socket
    # before the move goes out; then sending fails and the close code is read below.
    with contextlib.suppress(ConnectionClosed):
        await ws.send(
            "move",
            {
                "gameId": game_id,
                "move": state["d"]["legalMoves"][0],
                "v": state["d"]["v"],
                "ack": 1,
            },
        )
    code, frames = await _closed_with(ws, 3.0)
    assert code == 4401
    assert not any(f["t"] == "ack" for f in frames), frames


async def test_expired_token_gets_a_grace_for_in_band_reauth(apps: tuple[Process, Process]) -> None:
    a, _b = apps
    user = await register(a.url)
    renewing = await WS.open(a.url, _short_token(user["id"], 2))
    lapsing = await WS.open(a.url, _short_token(user["id"], 2))
    notice = await renewing.expect(
        lambda f: f["t"] == "error" and f["d"]["code"] == "AUTH_TOKEN_EXPIRED", timeout=5
    )
    assert notice["d"]["details"]["reauthWithinSeconds"] == 1.5
    await renewing.send("auth", {"token": user["token"], "ack": "re"})
    await renewing.expect(lambda f: f["t"] == "ack" and f["d"]["ack"] == "re")
    code, _frames = await _closed_with(lapsing, 5.0)
    assert code == 4401
    # The renewed socket stays open past the grace and still serves frames.
    await asyncio.sleep(2.0)
    await renewing.send("leave", {"ack": "still-here"})
    await renewing.expect(lambda f: f["t"] == "ack" and f["d"]["ack"] == "still-here")
    await renewing.close()


async def test_reauth_with_another_users_token_is_refused(apps: tuple[Process, Process]) -> None:
    a, _b = apps
    one, two = await register(a.url), await register(a.url)
    ws = await WS.open(a.url, one["token"])
    await ws.send("auth", {"token": two["token"], "ack": 7})
    error = await ws.expect(lambda f: f["t"] == "error")
    assert error["d"]["code"] == "AUTH_FORBIDDEN"
    await ws.close()


async def test_invalid_json_and_binary_frames_count_against_the_limit(
    apps: tuple[Process, Process],
) -> None:
    a, _b = apps
    user = await register(a.url)
    ws = await WS.open(a.url, user["token"])
    for index in range(12):
        if index % 2:
            await ws.conn.send(b"\x00\x01binary")
        else:
            await ws.send_raw("{not json")
    frames = await ws.drain(0.5)
    codes = [f["d"]["code"] for f in frames if f["t"] == "error"]
    assert len(codes) == 12
    assert codes[:10] == ["VALIDATION_FAILED"] * 10
    assert codes[10:] == ["RATE_LIMIT_EXCEEDED"] * 2
    await ws.close()


async def test_sockets_per_user_are_capped(apps: tuple[Process, Process]) -> None:
    a, _b = apps
    user = await register(a.url)
    sockets = [await WS.open(a.url, user["token"]) for _ in range(3)]
    for index, ws in enumerate(sockets):  # each is authenticated and registered
        await ws.send("leave", {"ack": index})
        await ws.expect(lambda f, index=index: f["t"] == "ack" and f["d"]["ack"] == index)
    extra = await WS.open(a.url, user["token"])
    code, frames = await _closed_with(extra, 3.0)
    assert code == 4429
    assert frames and frames[0]["d"]["code"] == "RATE_LIMIT_EXCEEDED"
    # Closing one makes room again.
    await sockets[0].close()
    await asyncio.sleep(0.3)
    again = await WS.open(a.url, user["token"])
    await again.send("leave", {"ack": 1})
    await again.expect(lambda f: f["t"] == "ack")
    for ws in (*sockets[1:], again):
        await ws.close()


def test_slow_request_heads_are_cut_off(apps: tuple[Process, Process]) -> None:
    a, _b = apps
    port = int(a.url.rsplit(":", 1)[1])
    held = []
    for _ in range(20):
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        held.append(conn)
    time.sleep(3.0)  # header timeout is 2 s here
    closed = 0
    for conn in held:
        conn.settimeout(1.0)
        try:
            if conn.recv(1) == b"":
                closed += 1
        except (ConnectionResetError, TimeoutError):
            pass
        conn.close()
    assert closed == len(held)
    assert httpx.get(f"{a.url}/health", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def keyed(
    pg_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Process, Path]]:
    path = tmp_path_factory.mktemp("ws-keys") / "keyring.json"
    write_keyring(path, new_keyring())
    process = app_process(
        pg_database, jwt_keyring_file=str(path), jwt_secret="", **SETTINGS
    ).start()
    yield process, path
    process.stop()


async def test_immediate_rotation_closes_open_sockets(keyed: tuple[Process, Path]) -> None:
    process, path = keyed
    user = await register(process.url)
    ws = await WS.open(process.url, user["token"])
    await ws.send("leave", {"ack": 1})
    await ws.expect(lambda f: f["t"] == "ack")
    rotate(path, "immediate")
    code, frames = await _closed_with(ws, 6.0)
    assert code == 4401, frames
    assert any(f["t"] == "error" and f["d"]["code"] == "AUTH_TOKEN_INVALID" for f in frames)


async def test_huge_frames_are_refused_by_the_protocol(apps: tuple[Process, Process]) -> None:
    a, _b = apps
    user = await register(a.url)
    ws = await WS.open(a.url, user["token"])
    # Just over the frame limit: an error frame, the socket stays open.
    await ws.send_raw("x" * 70_000)
    error = await ws.expect(lambda f: f["t"] == "error")
    assert error["d"]["code"] == "VALIDATION_FAILED"
    # Far over it: the protocol refuses it (1009) instead of buffering megabytes. Without
    # permessage-deflate the frame goes out uncompressed, so the server's close can arrive
    # while the client is still sending it: the send itself then reports the close.
    try:
        await ws.send_raw("x" * (4 * 1024 * 1024))
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
    else:
        code, _frames = await _closed_with(ws, 5.0)
    assert code == 1009


async def test_a_ban_from_the_cli_closes_the_users_sockets(
    apps: tuple[Process, Process], pg_database: str
) -> None:
    a, _b = apps
    user = await register(a.url)
    ws = await WS.open(a.url, user["token"])
    await ws.send("leave", {"ack": "open"})
    await ws.expect(lambda f: f["t"] == "ack")
    # Another process (an operator's CLI) bans through the database only.
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ringrift.cli", "admin", "ban", user["email"]],
        env={**os.environ, "DATABASE_URL": pg_database},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    code, frames = await _closed_with(ws, 4.0)
    assert code == 4401, frames


@pytest.fixture(scope="module")
def sweeping(pg_database: str) -> Iterator[Process]:
    """An instance whose auth sweep runs back to back, so sockets attach during its query."""
    process = app_process(pg_database, **{**SETTINGS, "ws_auth_check_seconds": 0.01}).start()
    yield process
    process.stop()


async def test_a_socket_opened_during_a_sweep_is_not_taken_for_revoked(
    sweeping: Process,
) -> None:
    """The sweep reads the token versions of the users it had when it started; a user whose
    first socket arrived while it waited for the database is not in that read and must be left
    for the next sweep, not closed as revoked. (Found by the lb-instance-loss drill: the
    sockets a dead instance dropped reconnected to the survivor in one burst, and some were
    closed there with 4401.)"""
    users = [await register(sweeping.url) for _ in range(11)]
    keep = await WS.open(sweeping.url, users[0]["token"])  # sweeps run only with sockets open
    newcomers = []
    for user in users[1:]:  # each user's first socket here, attached at any point of a sweep
        newcomers.append(await WS.open(sweeping.url, user["token"]))
        await asyncio.sleep(0.003)
    await asyncio.sleep(0.5)  # dozens of sweeps
    for index, ws in enumerate([keep, *newcomers]):
        await ws.send("leave", {"ack": index})
        await ws.expect(lambda f, index=index: f["t"] == "ack" and f["d"]["ack"] == index)
        await ws.close()
