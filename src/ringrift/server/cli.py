"""CLI commands of the app: ``ringrift serve``, ``ringrift db upgrade|current``,
``ringrift admin ...``. Heavy imports happen inside the commands to
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


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``db`` and ``admin`` to the ``ringrift`` CLI."""
    from ringrift.server.admin_cli import admin_app

    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
    app.add_typer(admin_app, name="admin")
