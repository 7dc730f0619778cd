"""Redis is not trusted blindly: two app instances talk through a password-protected Redis,
and an event published on ``ringrift:events`` by someone else never reaches a socket."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from realtime_support import WS, Process, app_process, bearer, two_player_game

from ringrift.ops.services import RedisServer, free_port

PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def private_redis() -> Iterator[str]:
    """redis-server with ``requirepass``; yields the URL with the password."""
    port = free_port()
    directory = tempfile.mkdtemp(prefix="ringrift-redis-auth-")
    process = subprocess.Popen(
        [
            RedisServer.binary(),
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", directory),
            *("--save", "", "--appendonly", "no", "--requirepass", PASSWORD),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, password=PASSWORD)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    client.close()
    yield f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def instances(pg_database: str, private_redis: str) -> Iterator[tuple[Process, Process]]:
    a = app_process(pg_database, private_redis).start()
    b = app_process(pg_database, private_redis).start()
    yield a, b
    a.stop()
    b.stop()


async def _ready_redis(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        check: dict[str, Any] = (await http.get(f"{base}/ready")).json()["checks"]["redis"]
        return check


async def test_forged_bus_events_never_reach_sockets(
    instances: tuple[Process, Process], private_redis: str
) -> None:
    a, b = instances
    for base in (a.url, b.url):  # AUTH in the URL works
        deadline = time.monotonic() + 10
        while (await _ready_redis(base))["status"] != "healthy":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    first, second, game_id = await two_player_game(a.url)
    watcher = await WS.open(b.url, second["token"])
    await watcher.send("join", {"gameId": game_id, "v": 0, "ack": "j"})
    await watcher.expect(lambda f: f["t"] == "ack")
    await watcher.drain(1.0)  # let B's subscription settle

    forged = {
        "kind": "move",
        "gameId": game_id,
        "v": 1,
        "move": {"type": "place_ring", "player": 1, "to": {"x": 0, "y": 0}, "note": "forged"},
        "player": 1,
        "status": "completed",
        "winner": 1,
        "endReason": "forged",
        "state": {"currentPlayer": 2},
        "origin": "attacker",
    }
    publisher = redis.Redis.from_url(private_redis)
    for extra in ({}, {"kid": "whatever", "sig": "00" * 32}):
        assert publisher.publish("ringrift:events", json.dumps({**forged, **extra})) >= 1
    publisher.close()
    seen = await watcher.drain(1.5)
    assert not any(f["t"] == "event" for f in seen), seen
    assert not any("forged" in json.dumps(f) for f in seen), seen

    # A real move on A still reaches the socket on B (signed events pass).
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        legal = await http.get(f"/api/games/{game_id}/legal-moves", headers=bearer(first["token"]))
        data = legal.json()["data"]
        played = await http.post(
            f"/api/games/{game_id}/moves",
            json={"move": data["moves"][0], "version": data["version"]},
            headers=bearer(first["token"]),
        )
        assert played.status_code in (200, 201), played.text
    event = await watcher.expect(lambda f: f["t"] == "event" and f["d"]["v"] == 1, timeout=5)
    assert "forged" not in json.dumps(event)
    await watcher.close()


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """redis-server that speaks TLS only (plain port disabled), with a private CA."""
    directory = tmp_path_factory.mktemp("redis-tls")
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    openssl = ["openssl"]

    def run(*args: str) -> None:
        subprocess.run([*openssl, *args], check=True, capture_output=True)

    new_key = ("-newkey", "rsa:2048", "-nodes")
    run(
        "req",
        "-x509",
        *new_key,
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_cert),
    )
    run("req", *new_key, "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    signing = ("-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial", "-days", "1")
    run("x509", "-req", "-in", str(csr), *signing, "-extfile", str(extensions), "-out", str(cert))
    port = free_port()
    process = subprocess.Popen(
        [
            RedisServer.binary(),
            *("--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"),
            *("--tls-cert-file", str(cert), "--tls-key-file", str(key)),
            *("--tls-ca-cert-file", str(ca_cert), "--tls-auth-clients", "no"),
            *("--save", "", "--appendonly", "no", "--dir", str(directory)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca_cert}"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert process.poll() is None, "redis-server with TLS did not start"
            assert time.monotonic() < deadline, "redis-server with TLS did not answer"
            time.sleep(0.05)
    client.close()
    yield url
    process.terminate()
    process.wait(10)


async def test_redis_over_tls(pg_database: str, tls_redis: str) -> None:
    process = app_process(pg_database, tls_redis).start()
    try:
        deadline = time.monotonic() + 10
        while (check := await _ready_redis(process.url))["status"] != "healthy":
            assert time.monotonic() < deadline, check
            await asyncio.sleep(0.2)
    finally:
        process.stop()
