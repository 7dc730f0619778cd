"""CLI commands of the app: ``ringrift serve``, ``ringrift db upgrade|current``,
``ringrift admin ...`` and ``ringrift bench api``. Heavy imports happen inside the commands to
keep the CLI fast."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ringrift.server.config import Settings

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "",
    reuse_port: Annotated[
        bool, typer.Option("--reuse-port", hidden=True, help="Share the port (a worker).")
    ] = False,
) -> None:
    """Run the RingRift app (HTTP API and WebSocket) with uvicorn; ``--workers N`` runs N
    processes on the same port, each closing its sockets with 1001 when it stops."""

    from ringrift.server.app import create_app
    from ringrift.server.logs import configure_logging
    from ringrift.server.security.keyring import KeyringError

    settings = load_settings_or_exit()
    level = log_level or settings.log_level
    configure_logging(level)
    _apply_connection_limits(settings)
    if workers > 1:
        _serve_workers(settings, host, port, workers, level)
        return
    try:
        app = create_app(settings)
    except KeyringError as error:
        typer.secho(f"refusing to start: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from error
    except ValueError as error:
        typer.secho(f"invalid configuration: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from error
    from ringrift.server.runner import reuse_port_socket, run, run_on_socket

    options: dict[str, object] = {
        "log_config": None,
        # Proxy headers only from TRUSTED_PROXIES (uvicorn trusts loopback by default).
        "proxy_headers": bool(settings.trusted_proxy_list),
        "forwarded_allow_ips": settings.trusted_proxy_list or None,
        "ws_max_size": _ws_max_size(settings),
    }
    if reuse_port:
        run_on_socket(app, reuse_port_socket(host, port), **options)
        return
    run(app, host, port, **options)


def _ws_max_size(settings: Settings) -> int:
    """WebSocket messages above this are refused by the protocol (close 1009) before they are
    buffered (uvicorn's default is 16 MB); up to it, frames over WS_MAX_FRAME_BYTES get an
    error frame."""
    return 2 * settings.ws_max_frame_bytes


def _apply_connection_limits(settings: Settings) -> None:
    from ringrift.server.runner import HeaderTimeoutProtocol

    HeaderTimeoutProtocol.header_timeout = settings.http_header_timeout_seconds


def load_settings_or_exit() -> Settings:
    """Settings from the environment, or a one-line-per-problem message and exit code 2
    (instead of a pydantic traceback)."""
    from pydantic import ValidationError

    from ringrift.server.config import Settings as LoadedSettings

    try:
        return LoadedSettings()
    except ValidationError as error:
        lines = []
        for item in error.errors():
            name = ".".join(str(part) for part in item.get("loc", ())).upper() or "settings"
            lines.append(f"  {name}: {item.get('msg')} (got {item.get('input')!r})")
        typer.secho("invalid configuration:\n" + "\n".join(lines), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _serve_workers(settings: Settings, host: str, port: int, workers: int, level: str) -> None:
    """Migrate once (workers must not race for it), then supervise the worker processes."""
    import os
    import sys

    from ringrift.server.db.migrate import upgrade
    from ringrift.server.runner import supervise

    if settings.should_auto_migrate:
        asyncio.run(upgrade(settings.database_url))
    command = [sys.executable, "-m", "ringrift.cli", "serve", "--host", host]
    command += ["--port", str(port), "--reuse-port", "--log-level", level]
    env = {**os.environ, "AUTO_MIGRATE": "false"}
    raise typer.Exit(supervise(command, workers, env))


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    database_url: Annotated[
        str, typer.Option("--database-url", help="Defaults to DATABASE_URL.")
    ] = "",
) -> None:
    """Apply the packaged migrations to the database."""
    from ringrift.server.config import Settings
    from ringrift.server.db import migrate

    url = database_url or Settings().database_url
    try:
        asyncio.run(migrate.upgrade(url, revision))
        current = asyncio.run(migrate.current_revision(url))
    except Exception as error:
        typer.secho(f"migration failed: {type(error).__name__}: {error}", fg="red", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"database at revision {current}")


@db_app.command("current")
def db_current(
    database_url: Annotated[
        str, typer.Option("--database-url", help="Defaults to DATABASE_URL.")
    ] = "",
) -> None:
    """Print the database's migration revision and the package's head revision."""
    from ringrift.server.config import Settings
    from ringrift.server.db import migrate

    url = database_url or Settings().database_url
    try:
        current = asyncio.run(migrate.current_revision(url))
    except Exception as error:
        typer.secho(f"cannot read revision: {type(error).__name__}: {error}", fg="red", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"current: {current or '(empty database)'}  head: {migrate.head_revision()}")


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
    from ringrift.server.bench import run_bench

    run_bench(requests=requests, samples=samples, database_url=database_url, json_out=json_out)


def bench_replay(
    moves: Annotated[int, typer.Option(help="Versions of the square19 game.", min=10)] = 1000,
    samples: Annotated[int, typer.Option(help="Sequential replay requests.", min=1)] = 200,
    concurrent: Annotated[
        int, typer.Option(help="Replays in flight while /health is timed.", min=1)
    ] = 20,
    database_url: Annotated[str, typer.Option("--database-url", help="Database URL.")] = "",
) -> None:
    """Replay latency (GET /states/{n}) on a long game, and /health latency while
    --concurrent replays run (JSON on stdout)."""
    import json

    from ringrift.server.replaybench import run_replay_bench

    result = run_replay_bench(
        moves=moves, samples=samples, concurrent=concurrent, database_url=database_url
    )
    typer.echo(json.dumps(result, indent=2))


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

    from ringrift.server.wsbench import run_ws_bench

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
    for column in (*columns, "event p50", "event p95", "p95 v<40", "p95 v480-519"):
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
            f"{event['p50']:.2f}",
            f"{event['p95']:.2f}",
            f"{(row['early'] or nan)['p95']:.2f}",
            f"{(row['late'] or nan)['p95']:.2f}",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``db``, ``admin`` and ``bench api`` to the ``ringrift`` CLI."""
    from ringrift.server.admin_cli import admin_app

    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
    app.add_typer(admin_app, name="admin")
    bench = next(
        (g.typer_instance for g in app.registered_groups if g.name == "bench"),
        None,
    )
    if bench is None:
        bench = typer.Typer(help="Benchmarks.", no_args_is_help=True)
        app.add_typer(bench, name="bench")
    bench.command("api")(bench_api)
    bench.command("ws")(bench_ws)
    bench.command("replay")(bench_replay)
