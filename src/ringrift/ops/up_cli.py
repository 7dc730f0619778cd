"""``ringrift up`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def up(
    host: Annotated[str, typer.Option(help="Interface for the app and AI service.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="App port.", min=1, max=65535)] = 8000,
    ai_port: Annotated[int, typer.Option(help="AI service port.", min=1, max=65535)] = 8001,
    data_dir: Annotated[
        Path, typer.Option(help="Where the SQLite database, secrets and logs live.")
    ] = Path(".ringrift"),
) -> None:
    """Run the platform on its embedded defaults: SQLite, no Redis, AI service + app."""
    from ringrift.ops.up import UpError, run_up

    console = Console()
    try:
        code = run_up(host=host, port=port, ai_port=ai_port, data_dir=data_dir, console=console)
    except UpError as error:
        console.print(f"[red]ringrift up failed:[/] {error}")
        raise typer.Exit(1) from error
    raise typer.Exit(code)
