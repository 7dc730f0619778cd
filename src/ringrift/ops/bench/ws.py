"""``ringrift bench ws``: WebSocket move round trip under concurrent games, against a real app.

By default it starts a private PostgreSQL cluster and redis-server, runs ``ringrift serve`` in a
subprocess (rate limits off), registers two players and, for each ``--games N``, opens N human
square8 games (``--board``) with one socket per player per game. Every game then plays ``--moves``
moves concurrently with the others: the player to move picks a random legal move from the frame
that offers them (the ``state`` after a join, then the last ``event`` of each commit) and sends
it, after a think time (``--think-ms``, randomised +-50 %; 0 = as fast as possible, which
measures saturation: every game always has a move in flight). Measured per move:

* ``ack``: send -> ``ack`` on the mover's socket (the move is committed),
* ``event``: send -> ``event`` on the opponent's socket (fan-out).

``--long-game`` plays square19 games of ``--moves`` (default 600) moves and reports the ack
latency by game version: ``early`` (versions 1-40, around move 20) against ``late`` (versions
480-520, around move 500), to show that a move's cost does not grow with the game.
``movesPerSecond`` of a round without think time is the saturation throughput.

The client runs on the same machine as the server, so the figures include its CPU share. Its
own garbage collections would count as server latency (with Python's thresholds, 1,000 games
gave the client 15 full collections of up to 322 ms), so during a round it runs with the app's
default collector policy; ``clientGc`` reports the pauses it still took. A round's clock
starts once every socket holds its game's state: opening N games at once is a burst of 2N
joins, timed apart as ``joinSeconds``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import gc
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from ringrift.ops.bench.api import _process, sign_up, summarize
from ringrift.ops.bench.cpu import postmaster_pid, tree_cpu_seconds
from ringrift.ops.bench.env import bench_env
from ringrift.ops.services import PostgresCluster, RedisServer, free_port

# The app's default GC_THRESHOLDS (see Settings.gc_thresholds).
CLIENT_GC_THRESHOLDS = (50_000, 20, 100)


class _CollectorWatch:
    """The load generator's collector during a round: what was alive at the start is frozen
    (never scanned again), the app's thresholds apply, and every pause is recorded."""

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses_ms.append((time.perf_counter() - self._started) * 1000)

    @contextlib.contextmanager
    def watching(self) -> Iterator[_CollectorWatch]:
        gc.collect()
        gc.freeze()
        previous = gc.get_threshold()
        gc.set_threshold(*CLIENT_GC_THRESHOLDS)
        gc.callbacks.append(self._callback)
        try:
            yield self
        finally:
            gc.callbacks.remove(self._callback)
            gc.set_threshold(*previous)
            gc.unfreeze()

    def summary(self) -> dict[str, Any]:
        return {
            "collections": len(self.pauses_ms),
            "maxMs": round(max(self.pauses_ms, default=0.0), 1),
            "totalMs": round(sum(self.pauses_ms), 1),
        }


class _Player:
    """One socket of one game: a reader task routes frames to futures and queues."""

    def __init__(self, ws: Any, game_id: str, seat: int, game: _Game) -> None:
        self.ws = ws
        self.game_id = game_id
        self.seat = seat
        self.game = game
        self.acks: dict[int, asyncio.Future[float]] = {}
        self.synced = asyncio.Event()  # the join's first state frame has arrived
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            data = frame["d"]
            if frame["t"] == "ack":
                future = self.acks.pop(data.get("ack"), None)
                if future is not None and not future.done():
                    future.set_result(now)
                    self.game.version = max(self.game.version, int(data.get("v") or 0))
            elif frame["t"] == "event":
                self.game.on_event(self.seat, data, now)
                if data.get("legalMoves"):
                    self.game.prompts.put_nowait((self.seat, data))
            elif frame["t"] == "state":
                self.synced.set()
                if data.get("legalMoves"):
                    self.game.prompts.put_nowait((self.seat, data))
            elif frame["t"] == "error":
                self.game.errors.append(data)
                future = self.acks.pop(data.get("ack"), None)
                if future is not None and not future.done():
                    future.set_exception(RuntimeError(f"move refused: {data}"))


class _Game:
    def __init__(self, game_id: str, rng: random.Random) -> None:
        self.game_id = game_id
        self.rng = rng
        self.prompts: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
        self.players: dict[int, _Player] = {}
        self.sent: dict[int, tuple[int, float]] = {}  # version -> (mover seat, sent at)
        self.ack_ms: list[float] = []
        self.ack_by_version: list[tuple[int, float]] = []  # (version played against, ms)
        self.event_ms: list[float] = []
        self.errors: list[dict[str, Any]] = []
        self.finished = False
        self.version = 0  # newest acknowledged version (auto-played moves included)

    def on_event(self, seat: int, data: dict[str, Any], now: float) -> None:
        sent = self.sent.get(data["v"])
        if sent is not None and sent[0] != seat:
            self.event_ms.append((now - sent[1]) * 1000)
        if data.get("status") not in (None, "active"):
            self.finished = True
            self.prompts.put_nowait((0, {}))

    async def play(self, moves: int, think_s: float) -> None:
        # Stagger the games so they do not all move in lock-step.
        await asyncio.sleep(self.rng.uniform(0, think_s))
        for _ in range(moves):
            try:
                seat, data = await asyncio.wait_for(self.prompts.get(), 60)
            except TimeoutError:
                self.errors.append({"code": "TIMEOUT", "message": "no prompt within 60 s"})
                return
            if think_s:
                await asyncio.sleep(self.rng.uniform(0.5 * think_s, 1.5 * think_s))
            if seat == 0 or self.finished:
                return
            move = self.rng.choice(data["legalMoves"])
            version = data["v"]
            player = self.players[seat]
            future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            player.acks[version] = future
            started = time.perf_counter()
            self.sent[version + 1] = (seat, started)
            await player.ws.send(
                json.dumps(
                    {
                        "t": "move",
                        "d": {"gameId": self.game_id, "move": move, "v": version, "ack": version},
                    }
                )
            )
            try:
                acked = await asyncio.wait_for(future, 60)
            except (RuntimeError, TimeoutError):
                return  # refused (recorded in errors) or lost: this game stops
            self.ack_ms.append((acked - started) * 1000)
            self.ack_by_version.append((version, self.ack_ms[-1]))


async def _setup_users(http: httpx.AsyncClient) -> list[str]:
    return [await sign_up(http, "ws", "bench-pass-1") for _ in range(2)]


EARLY = (0, 40)  # versions around move 20
LATE = (480, 520)  # versions around move 500


def _window(sessions: list[_Game], window: tuple[int, int]) -> dict[str, float] | None:
    values = [ms for g in sessions for v, ms in g.ack_by_version if window[0] <= v < window[1]]
    return summarize(values) if values else None


SERVER_MOVE_METRIC = "ringrift_ws_move_duration_seconds"


async def _server_move_buckets(http: httpx.AsyncClient) -> dict[float, float]:
    """The app's cumulative histogram of acknowledged move frames (receipt to ack, measured
    inside the app): upper bound (s) -> count."""
    from prometheus_client.parser import text_string_to_metric_families

    response = await http.get("/metrics")
    response.raise_for_status()
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name != SERVER_MOVE_METRIC:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("outcome") == "ok":
                buckets[float(sample.labels["le"])] = sample.value
    return buckets


def server_quantiles(before: dict[float, float], after: dict[float, float]) -> dict[str, Any]:
    """p50 and p95 of the moves between two histogram readings, as the upper bound (ms) of
    the bucket each falls in (the app's buckets are coarse: 1, 2.5, 5, 10, 25, 50 ms ...)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    result: dict[str, Any] = {"n": int(total)}
    for name, q in (("p50AtMost", 0.5), ("p95AtMost", 0.95)):
        bound = next((b for b, c in zip(bounds, counts, strict=True) if c >= q * total), None)
        result[name] = None if bound is None or not total else round(bound * 1000, 1)
    return result


async def _round(
    base: str,
    tokens: list[str],
    games: int,
    moves: int,
    seed: int,
    think_s: float,
    board: str = "square8",
    watch: dict[str, Callable[[], float]] | None = None,
    server_metrics: bool = False,
) -> dict[str, Any]:
    """One round; ``watch`` names CPU clocks (the app's and the database's process trees, this
    client) whose seconds per committed move are reported. ``server_metrics`` (one app process:
    with several, /metrics answers for whichever took the request) adds the app's own ack
    latency, which leaves out the client's and the network's share."""
    from websockets.asyncio.client import connect

    headers = [{"Authorization": f"Bearer {t}"} for t in tokens]
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        semaphore = asyncio.Semaphore(10)

        async def make_game() -> str:
            async with semaphore:
                created = await http.post(
                    "/api/games",
                    json={"boardType": board, "maxPlayers": 2, "isRated": False},
                    headers=headers[0],
                )
                created.raise_for_status()
                game_id: str = created.json()["data"]["game"]["id"]
                joined = await http.post(f"/api/games/{game_id}/join", headers=headers[1])
                joined.raise_for_status()
                return game_id

        game_ids = await asyncio.gather(*(make_game() for _ in range(games)))
    rng = random.Random(seed)
    url = base.replace("http://", "ws://") + "/ws"
    sessions: list[_Game] = []
    sockets: list[Any] = []
    joins_started = time.perf_counter()
    try:
        for game_id in game_ids:
            game = _Game(game_id, random.Random(rng.random()))
            for seat, token in ((1, tokens[0]), (2, tokens[1])):
                ws = await connect(f"{url}?token={token}", max_size=2**24, open_timeout=30)
                sockets.append(ws)
                game.players[seat] = _Player(ws, game_id, seat, game)
                await ws.send(json.dumps({"t": "join", "d": {"gameId": game_id}}))
            sessions.append(game)
        # The clock starts once every socket holds its game's state: a burst of N joins is
        # start-up, not play (measured apart as joinSeconds).
        await asyncio.wait_for(
            asyncio.gather(*(p.synced.wait() for g in sessions for p in g.players.values())),
            120,
        )
        joined_in = time.perf_counter() - joins_started
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            server_before = await _server_move_buckets(http) if server_metrics else {}
            cpu_before = {name: clock() for name, clock in (watch or {}).items()}
            collector = _CollectorWatch()
            with collector.watching():
                started = time.perf_counter()
                await asyncio.gather(*(g.play(moves, think_s) for g in sessions))
                elapsed = time.perf_counter() - started
            cpu_spent = {name: clock() - cpu_before[name] for name, clock in (watch or {}).items()}
            server_after = await _server_move_buckets(http) if server_metrics else {}
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
    ack_ms = [v for g in sessions for v in g.ack_ms]
    event_ms = [v for g in sessions for v in g.event_ms]
    return {
        "games": games,
        "thinkMs": round(think_s * 1000),
        "joinSeconds": round(joined_in, 2),  # connect + join of every socket, until in sync
        "moves": len(ack_ms),
        "movesPerSecond": round(len(ack_ms) / elapsed, 1) if elapsed else 0.0,
        "ack": summarize(ack_ms),
        "serverAck": server_quantiles(server_before, server_after) if server_metrics else None,
        "event": summarize(event_ms) if event_ms else None,
        # Committed moves per second: every version, bookkeeping the server played included.
        "committedPerSecond": round(sum(g.version for g in sessions) / elapsed, 1)
        if elapsed
        else 0.0,
        "errors": sum(len(g.errors) for g in sessions),
        "errorCodes": dict(
            collections.Counter(str(e.get("code")) for g in sessions for e in g.errors)
        ),
        # CPU milliseconds per committed move, per process tree: stable where the rates swing.
        "cpuMsPerCommitted": {
            name: round(1000 * spent / committed, 3) for name, spent in cpu_spent.items()
        }
        if (committed := sum(g.version for g in sessions))
        else {},
        "clientGc": collector.summary(),
        "maxVersion": max((v for g in sessions for v, _ in g.ack_by_version), default=0),
        "early": _window(sessions, EARLY),
        "late": _window(sessions, LATE),
    }


async def _measure(
    base: str,
    levels: list[int],
    moves: int,
    seed: int,
    think_ms: list[int],
    board: str,
    watch: dict[str, Callable[[], float]] | None = None,
    server_metrics: bool = False,
) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        tokens = await _setup_users(http)
    # Warm-up: one short game (connections, statement caches, lazy imports).
    await _round(base, tokens, 1, 4, seed, 0.0)
    return [
        await _round(base, tokens, n, moves, seed + n, think / 1000, board, watch, server_metrics)
        for think in think_ms
        for n in levels
    ]


def run_ws_bench(
    *,
    levels: list[int],
    moves: int = 20,
    think_ms: list[int] | None = None,
    database_url: str = "",
    seed: int = 1,
    quiet: bool = False,
    board: str = "square8",
    workers: int = 1,
) -> dict[str, Any]:
    log = (lambda *_: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    run_dir = Path(tempfile.mkdtemp(prefix="ringrift-wsbench-"))
    # The client is this process alone (the app is its child, so not its process tree).
    watch: dict[str, Callable[[], float]] = {"client": time.process_time}
    with contextlib.ExitStack() as stack:
        if not database_url:
            log("starting a private PostgreSQL cluster and redis-server ...")
            pg = PostgresCluster(run_dir / "pg")
            stack.callback(pg.destroy)
            pg.start()
            database_url = pg.url()
            if (postmaster := postmaster_pid(pg.data_dir)) is not None:
                watch["database"] = functools.partial(tree_cpu_seconds, postmaster)
        redis = RedisServer(run_dir / "redis")
        stack.callback(redis.destroy)
        redis.start()
        env = bench_env(
            "wsbench",
            database_url,
            redis_url=redis.url,
            limits_off=True,
            LOG_LEVEL="WARNING",
            DB_POOL_SIZE="40",
            DB_MAX_OVERFLOW="0",
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        app = stack.enter_context(
            _process(
                [
                    sys.executable,
                    "-m",
                    "ringrift.cli",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                ],
                env,
                run_dir / "app.log",
                f"{base}/health",
            )
        )
        log(f"app at {base}; games per round: {levels}, {moves} moves per game ...")
        watch["app"] = functools.partial(tree_cpu_seconds, app.pid)
        rounds = asyncio.run(
            _measure(base, levels, moves, seed, think_ms or [0], board, watch, workers == 1)
        )
    return {
        "benchmark": "ws-move-round-trip",
        "board": board,
        "workers": workers,
        "database": database_url.split("://")[0],
        "movesPerGame": moves,
        "cpus": os.cpu_count(),
        "rounds": rounds,
    }
