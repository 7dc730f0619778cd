"""``ringrift bench api|ws|replay``: the platform benchmarks (``ops/bench``). Heavy imports
happen inside the commands so that the CLI starts fast."""

from __future__ import annotations

from typing import Annotated

import typer


def bench_api(
    requests: Annotated[int, typer.Option(help="/ready requests to time.", min=10)] = 200,
    samples: Annotated[int, typer.Option(help="Login/create/move samples each.", min=5)] = 50,
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url", help="Use this PostgreSQL/SQLite URL instead of a private cluster."
        ),
    ] = "",
    json_out: Annotated[str, typer.Option("--json", help="Also write results here.")] = "",
) -> None:
    """Latency of /ready, login, create-game and move against a real uvicorn server."""
    from ringrift.ops.bench.api import run_bench

    run_bench(requests=requests, samples=samples, database_url=database_url, json_out=json_out)


def bench_replay(
    moves: Annotated[
        int, typer.Option(help="Versions to play the game to (fewer if it ends).", min=10)
    ] = 1000,
    board: Annotated[
        str, typer.Option(help="Board of the game (random hexagonal 4p games last longest).")
    ] = "hexagonal",
    players: Annotated[int, typer.Option(help="Players of the game.", min=2, max=4)] = 4,
    samples: Annotated[int, typer.Option(help="Sequential replay requests.", min=1)] = 200,
    concurrent: Annotated[
        int, typer.Option(help="Replays in flight while /health is timed.", min=1)
    ] = 20,
    database_url: Annotated[str, typer.Option("--database-url", help="Database URL.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Replay latency (GET /states/{n}) on a long game, and /health latency while
    --concurrent replays run."""
    import json

    from rich.console import Console
    from rich.table import Table

    from ringrift.ops.bench.replay import run_replay_bench
    from ringrift.rules import BOARD_TYPES

    if board not in BOARD_TYPES:
        raise typer.BadParameter(f"unknown board {board!r}; choose from {', '.join(BOARD_TYPES)}")
    result = run_replay_bench(
        moves=moves,
        samples=samples,
        concurrent=concurrent,
        database_url=database_url,
        board=board,
        players=players,
    )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    title = f"Replays of a {result['version']}-version {result['board']} {players}p game (ms)"
    table = Table(title=title)
    for column in ("request", "n", "p50", "p95", "max"):
        table.add_column(column, justify="right" if column != "request" else "left")
    rows = (
        ("GET /states/{n}", "replay"),
        ("/health, idle", "healthIdle"),
        (f"/health, {result['concurrentReplays']} replays in flight", "healthDuringReplays"),
        ("  same, polled by the replaying client", "healthDuringReplaysSameClient"),
    )
    for label, key in rows:
        figures = result[key]
        table.add_row(
            label,
            str(figures["n"]),
            f"{figures['p50']:.2f}",
            f"{figures['p95']:.2f}",
            f"{figures['max']:.2f}",
        )
    Console().print(table)


def bench_ws(
    games: Annotated[
        list[int] | None,
        typer.Option("--games", min=1, max=2000, help="Concurrent games per round (repeat)."),
    ] = None,
    moves: Annotated[int, typer.Option(help="Moves per game per round.", min=2)] = 20,
    think_ms: Annotated[
        list[int] | None,
        typer.Option(
            "--think-ms",
            min=0,
            help="Player think time before each move (repeat; default 0 = saturation).",
        ),
    ] = None,
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url", help="Use this PostgreSQL/SQLite URL instead of a private cluster."
        ),
    ] = "",
    seed: Annotated[int, typer.Option(help="Seed of the move choices.")] = 1,
    board: Annotated[str, typer.Option(help="Board type of the games.")] = "square8",
    long_game: Annotated[
        bool,
        typer.Option(
            "--long-game",
            help="square19 games of --moves (default 600) moves; ack p95 near move 20 vs 500.",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(help="App worker processes (ringrift serve --workers).", min=1)
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """WebSocket move round trip (send -> ack, send -> opponent's event), p50/p95 for 1 and
    50 concurrent games by default, against a real app on PostgreSQL and Redis."""
    import json

    from rich.console import Console
    from rich.table import Table

    from ringrift.ops.bench.ws import run_ws_bench

    levels = games or [1, 50]
    if long_game:
        board = "square19"
        moves = moves if moves != 20 else 600
    result = run_ws_bench(
        levels=levels,
        moves=moves,
        think_ms=think_ms,
        database_url=database_url,
        seed=seed,
        board=board,
        workers=workers,
    )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    title = f"WebSocket move round trip (ms), {board}, {moves} moves per game, {workers} worker(s)"
    table = Table(title=title)
    columns = ("games", "think ms", "moves", "moves/s", "committed/s", "ack p50", "ack p95")
    extra = ("app ack p95 <=", "event p50", "event p95", "p95 v<40", "p95 v480-519")
    for column in (*columns, *extra):
        table.add_column(column, justify="right")
    nan = {"p50": float("nan"), "p95": float("nan")}
    for row in result["rounds"]:
        event = row["event"] or nan
        table.add_row(
            str(row["games"]),
            str(row["thinkMs"]),
            str(row["moves"]),
            f"{row['movesPerSecond']:.1f}",
            f"{row['committedPerSecond']:.1f}",
            f"{row['ack']['p50']:.2f}",
            f"{row['ack']['p95']:.2f}",
            str((row["serverAck"] or {}).get("p95AtMost") or "-"),
            f"{event['p50']:.2f}",
            f"{event['p95']:.2f}",
            f"{(row['early'] or nan)['p95']:.2f}",
            f"{(row['late'] or nan)['p95']:.2f}",
        )
    Console().print(table)


def register(bench: typer.Typer) -> None:
    """Add ``api``, ``ws`` and ``replay`` to the ``ringrift bench`` group."""
    bench.command("api")(bench_api)
    bench.command("ws")(bench_ws)
    bench.command("replay")(bench_replay)
