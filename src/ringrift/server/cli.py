"""CLI commands of the app: ``ringrift serve``, ``ringrift db upgrade|current``,
``ringrift admin ...`` and ``ringrift bench api``. Heavy imports happen inside the commands to
keep the CLI fast."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "",
) -> None:
    """Run the RingRift app (HTTP API) with uvicorn."""
    import uvicorn

    from ringrift.server.app import create_app
    from ringrift.server.config import Settings
    from ringrift.server.logs import configure_logging
    from ringrift.server.security.keyring import KeyringError

    settings = Settings()
    level = log_level or settings.log_level
    configure_logging(level)
    if workers > 1:
        # Each worker builds its own app from the environment.
        uvicorn.run(
            "ringrift.server.cli:_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            proxy_headers=True,
        )
        return
    try:
        app = create_app(settings)
    except KeyringError as error:
        typer.secho(f"refusing to start: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from error
    except ValueError as error:
        typer.secho(f"invalid configuration: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from error
    from ringrift.server.runner import run

    run(app, host, port, log_config=None, proxy_headers=True)


def _factory() -> object:
    from ringrift.server.app import create_app
    from ringrift.server.config import Settings
    from ringrift.server.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)


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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """WebSocket move round trip (send -> ack, send -> opponent's event), p50/p95 for 1 and
    50 concurrent games by default, against a real app on PostgreSQL and Redis."""
    import json

    from rich.console import Console
    from rich.table import Table

    from ringrift.server.wsbench import run_ws_bench

    levels = games or [1, 50]
    result = run_ws_bench(
        levels=levels, moves=moves, think_ms=think_ms, database_url=database_url, seed=seed
    )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"WebSocket move round trip (ms), {moves} moves per game")
    columns = ("games", "think ms", "moves", "moves/s", "ack p50", "ack p95", "event p50")
    for column in (*columns, "event p95"):
        table.add_column(column, justify="right")
    for row in result["rounds"]:
        event = row["event"] or {"p50": float("nan"), "p95": float("nan")}
        table.add_row(
            str(row["games"]),
            str(row["thinkMs"]),
            str(row["moves"]),
            f"{row['movesPerSecond']:.1f}",
            f"{row['ack']['p50']:.2f}",
            f"{row['ack']['p95']:.2f}",
            f"{event['p50']:.2f}",
            f"{event['p95']:.2f}",
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
