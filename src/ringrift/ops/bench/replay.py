"""``ringrift bench replay``: the cost of ``GET /api/games/{id}/states/{n}`` on a long game, and
whether replays starve the event loop (``/health`` latency while they run).

It starts ``ringrift serve`` on a private PostgreSQL cluster (or ``--database-url``), plays one
game over REST up to ``--moves`` versions (random legal moves; by default on the hexagonal
board with four players, whose random games run past 1,000 moves, where a two-player square19
game ends near 600), then measures:

* ``replay``: ``--samples`` sequential requests for random move numbers (first requests are
  mostly cache misses: a snapshot plus up to 31 moves in a worker thread);
* ``health``: ``GET /health`` every 10 ms while ``--concurrent`` replay requests of uncached
  move numbers are in flight, against ``healthIdle`` without them. The poller runs in a process
  of its own (``healthDuringReplays``), like a load balancer's health check: polled from the
  benchmark's event loop (``healthDuringReplaysSameClient``), a /health answer also waits for
  that loop to read twenty large replay responses, which is the client's latency, not the app's.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ringrift.ops.bench.api import _process, sign_up, summarize
from ringrift.ops.bench.env import bench_env
from ringrift.ops.services import PostgresCluster, free_port

# Rounds of ``--concurrent`` uncached replays while /health is polled (about 60 polls per 5
# rounds on a 2-core box: 10 rounds give its p95 more than a handful of samples to rest on).
ROUNDS = 10


async def _long_game(
    http: httpx.AsyncClient, moves: int, rng: random.Random, board: str, players: int
) -> dict[str, Any]:
    from ringrift.rules import GameState, legal_moves

    tokens = [await sign_up(http, "rb", "bench-pass-1") for _ in range(players)]
    auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
    created = await http.post(
        "/api/games", json={"boardType": board, "maxPlayers": players}, headers=auth[0]
    )
    created.raise_for_status()
    game_id = created.json()["data"]["game"]["id"]
    for seat in auth[1:]:
        joined = await http.post(f"/api/games/{game_id}/join", headers=seat)
        joined.raise_for_status()
        game = joined.json()["data"]["game"]
    while game["version"] < moves and game["status"] == "active":
        state = GameState.from_json(game["state"])
        move = rng.choice(legal_moves(state)).to_json()
        response = await http.post(
            f"/api/games/{game_id}/moves",
            json={"move": move, "version": game["version"]},
            headers=auth[state.current_player - 1],
        )
        response.raise_for_status()
        game = response.json()["data"]["game"]
    game["authHeaders"] = auth[0]
    return game


async def _timed_get(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = await http.get(url, headers=headers)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def _poll_health(port: int, stop: Any, ready: Any, results: Any, interval: float = 0.01) -> None:
    """``GET /health`` every ``interval`` on one keep-alive connection until ``stop`` is set;
    the latencies (ms) go to ``results``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"/health answered {response.status}")
        samples.append((time.perf_counter() - started) * 1000)
        ready.set()
        time.sleep(interval)
    connection.close()
    results.put(samples)


async def _measure(
    base: str, moves: int, samples: int, concurrent: int, board: str, players: int
) -> dict[str, Any]:
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=concurrent + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        game = await _long_game(http, moves, rng, board, players)
        headers, version = game["authHeaders"], game["version"]
        url = f"/api/games/{game['id']}/states"
        replay = [
            await _timed_get(http, f"{url}/{rng.randrange(version)}", headers)
            for _ in range(samples)
        ]
        idle = [await _timed_get(http, "/health", {}) for _ in range(100)]
        untouched = [n for n in range(version) if n % 4 == 3][: concurrent * ROUNDS]
        busy: list[float] = []
        done = asyncio.Event()

        async def poll_health() -> None:
            while not done.is_set():
                busy.append(await _timed_get(http, "/health", {}))
                await asyncio.sleep(0.01)

        spawn = multiprocessing.get_context("spawn")
        stop, ready, results = spawn.Event(), spawn.Event(), spawn.Queue()
        port = int(base.rsplit(":", 1)[1])
        outside = spawn.Process(target=_poll_health, args=(port, stop, ready, results))
        outside.start()
        try:
            await asyncio.to_thread(ready.wait, 60)
            poller = asyncio.create_task(poll_health())
            for start in range(0, len(untouched), concurrent):
                chunk = untouched[start : start + concurrent]
                await asyncio.gather(*(_timed_get(http, f"{url}/{n}", headers) for n in chunk))
            done.set()
            await poller
            stop.set()
            polled: list[float] = await asyncio.to_thread(results.get, True, 60)
        finally:
            stop.set()
            await asyncio.to_thread(outside.join, 30)
            if outside.is_alive():
                outside.kill()
    return {
        "board": board,
        "players": players,
        "version": version,
        "replay": summarize(replay),
        "healthIdle": summarize(idle),
        "healthDuringReplays": summarize(polled),
        "healthDuringReplaysSameClient": summarize(busy),
        "concurrentReplays": concurrent,
    }


def run_replay_bench(
    *,
    moves: int = 1000,
    samples: int = 200,
    concurrent: int = 20,
    database_url: str = "",
    board: str = "hexagonal",
    players: int = 4,
) -> dict[str, Any]:
    from rich.console import Console

    console = Console(stderr=True)  # stdout carries the JSON result
    run_dir = Path(tempfile.mkdtemp(prefix="ringrift-replaybench-"))
    with contextlib.ExitStack() as stack:
        if not database_url:
            console.print("starting a private PostgreSQL cluster ...")
            pg = PostgresCluster(run_dir / "pg")
            stack.callback(pg.destroy)
            pg.start()
            database_url = pg.url()
        env = bench_env("replaybench", database_url, limits_off=True, LOG_LEVEL="WARNING")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        stack.enter_context(
            _process(
                [sys.executable, "-m", "ringrift.cli", "serve", "--port", str(port)],
                env,
                run_dir / "app.log",
                f"{base}/health",
            )
        )
        console.print(f"app at {base}; playing a {board} {players}p game to {moves} moves ...")
        result = asyncio.run(_measure(base, moves, samples, concurrent, board, players))
    return {"benchmark": "replay", "database": database_url.split("://")[0], **result}
