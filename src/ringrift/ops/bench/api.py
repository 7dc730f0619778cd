"""``ringrift bench api``: latency of the app's HTTP API against a real uvicorn server.

By default it starts a private PostgreSQL cluster and redis-server (``ringrift.ops.services``),
the AI service (``python -m ringrift.aiservice``) when it is installed, migrates the database and
runs ``ringrift serve`` in a subprocess. Then it measures, sequentially over keep-alive HTTP:

* ``GET /ready`` (all dependencies checked), ``--requests`` times;
* ``POST /api/auth/login``, ``POST /api/games`` (a human game, no AI) and
  ``POST /api/games/{id}/moves`` (two humans alternating), ``--samples`` times each.

and prints p50/p95/max per operation (milliseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from ringrift.ops.bench.env import bench_env
from ringrift.ops.services import PostgresCluster, RedisServer, free_port, port_open


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100)."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def sign_up(http: httpx.AsyncClient, prefix: str, password: str) -> str:
    """Register a fresh account and sign in (registering answers 202 and issues no tokens):
    its access token."""
    name = prefix + uuid.uuid4().hex[:10]
    creds = {"email": f"{name}@example.com", "password": password}
    response = await http.post("/api/auth/register", json={**creds, "username": name})
    response.raise_for_status()
    response = await http.post("/api/auth/login", json=creds)
    response.raise_for_status()
    return str(response.json()["data"]["accessToken"])


def summarize(samples_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(samples_ms),
        "p50": round(statistics.median(samples_ms), 2),
        "p95": round(percentile(samples_ms, 95), 2),
        "max": round(max(samples_ms), 2),
    }


def _wait_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def _process(
    args: list[str], env: dict[str, str], log: Path, health_url: str, timeout: float = 60.0
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        _wait_http(health_url, timeout, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def _measure(base: str, requests: int, samples: int) -> dict[str, Any]:
    from ringrift.rules import GameState, legal_moves

    results: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
        ready = await client.get("/ready")
        results["readyStatus"] = ready.json()
        for _ in range(10):  # warm-up
            await client.get("/ready")
        timings: list[float] = []
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.get("/ready")
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code >= 500:
                raise RuntimeError(f"/ready answered {response.status_code}: {response.text}")
        results["ready"] = summarize(timings)

        users = []
        for _ in range(2):
            name = "bench" + uuid.uuid4().hex[:10]
            creds = {"email": f"{name}@example.com", "password": "bench-password-1"}
            response = await client.post("/api/auth/register", json={**creds, "username": name})
            response.raise_for_status()
            response = await client.post("/api/auth/login", json=creds)
            response.raise_for_status()
            users.append({**creds, "token": response.json()["data"]["accessToken"]})

        timings = []
        for _ in range(samples):
            started = time.perf_counter()
            response = await client.post(
                "/api/auth/login",
                json={"email": users[0]["email"], "password": users[0]["password"]},
            )
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        results["login"] = summarize(timings)

        headers = [{"Authorization": f"Bearer {u['token']}"} for u in users]
        timings = []
        game_ids = []
        for _ in range(samples):
            started = time.perf_counter()
            response = await client.post(
                "/api/games",
                json={"boardType": "square8", "maxPlayers": 2, "isRated": False},
                headers=headers[0],
            )
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            game_ids.append(response.json()["data"]["game"]["id"])
        results["createGame"] = summarize(timings)

        timings = []
        game_index = 0
        game: dict[str, Any] | None = None
        seat_headers: dict[int, dict[str, str]] = {1: headers[0], 2: headers[1]}
        while len(timings) < samples:
            if game is None or game["status"] != "active":
                gid = game_ids[game_index % len(game_ids)]
                game_index += 1
                joined = await client.post(f"/api/games/{gid}/join", headers=headers[1])
                joined.raise_for_status()
                game = joined.json()["data"]["game"]
                # The creator sits in seat 1, the joiner in seat 2.
                seat_headers = {1: headers[0], 2: headers[1]}
            state = GameState.from_json(game["state"])
            options = legal_moves(state)
            move = options[len(timings) % len(options)]
            started = time.perf_counter()
            response = await client.post(
                f"/api/games/{game['id']}/moves",
                json={"move": move.to_json(), "version": game["version"]},
                headers=seat_headers[state.current_player],
            )
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            game = response.json()["data"]["game"]
        results["move"] = summarize(timings)
    return results


def run_bench(
    *, requests: int = 200, samples: int = 50, database_url: str = "", json_out: str = ""
) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    run_dir = Path(tempfile.mkdtemp(prefix="ringrift-bench-"))
    with contextlib.ExitStack() as stack:
        pg: PostgresCluster | None = None
        if not database_url:
            console.print("starting a private PostgreSQL cluster and redis-server ...")
            pg = PostgresCluster(run_dir / "pg")
            stack.callback(pg.destroy)
            pg.start()
            database_url = pg.url()
        redis = RedisServer(run_dir / "redis")
        stack.callback(redis.destroy)
        redis.start()

        env = bench_env("bench", database_url, redis_url=redis.url)
        ai_url = ""
        if importlib.util.find_spec("ringrift.aiservice") is not None:
            ai_port = free_port()
            ai_url = f"http://127.0.0.1:{ai_port}"
            stack.enter_context(
                _process(
                    [
                        sys.executable,
                        "-m",
                        "ringrift.aiservice",
                        "serve",
                        "--port",
                        str(ai_port),
                        "--workers",
                        "1",
                        "--log-level",
                        "warning",
                    ],
                    env,
                    run_dir / "ai.log",
                    f"{ai_url}/health",
                )
            )
        env["AI_SERVICE_URL"] = ai_url
        app_port = free_port()
        base = f"http://127.0.0.1:{app_port}"
        stack.enter_context(
            _process(
                [
                    sys.executable,
                    "-c",
                    "from ringrift.cli import app; app()",
                    "serve",
                    "--port",
                    str(app_port),
                    "--log-level",
                    "WARNING",
                ],
                env,
                run_dir / "app.log",
                f"{base}/health",
            )
        )
        if not port_open("127.0.0.1", app_port):
            raise RuntimeError("app is not listening")
        console.print(f"app at {base} (database: {database_url.split('://')[0]}) ...")
        results = asyncio.run(_measure(base, requests, samples))

    table = Table(title="RingRift API latency (ms, sequential requests, keep-alive)")
    for column in ("operation", "n", "p50", "p95", "max"):
        table.add_column(column, justify="right" if column != "operation" else "left")
    for key, label in (
        ("ready", "GET /ready"),
        ("login", "POST /api/auth/login"),
        ("createGame", "POST /api/games"),
        ("move", "POST /api/games/{id}/moves"),
    ):
        row = results[key]
        table.add_row(
            label, str(row["n"]), f"{row['p50']:.2f}", f"{row['p95']:.2f}", f"{row['max']:.2f}"
        )
    console.print(table)
    checks = results["readyStatus"]["checks"]
    console.print(
        "readiness during the run: "
        + ", ".join(f"{name}={entry['status']}" for name, entry in checks.items())
    )
    if json_out:
        Path(json_out).write_text(json.dumps(results, indent=2))
    return results
