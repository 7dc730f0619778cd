"""``ringrift secrets``: rotate and inspect the JWT keyring."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

secrets_app = typer.Typer(help="JWT signing keys.", no_args_is_help=True)

KeyringOpt = Annotated[
    Path | None,
    typer.Option("--keyring-file", help="Keyring JSON file (default: $JWT_KEYRING_FILE)."),
]


def _path(keyring_file: Path | None) -> Path:
    path = keyring_file or (
        Path(os.environ["JWT_KEYRING_FILE"]) if os.environ.get("JWT_KEYRING_FILE") else None
    )
    if path is None:
        raise typer.BadParameter(
            "give --keyring-file or set JWT_KEYRING_FILE", param_hint="--keyring-file"
        )
    return path


@secrets_app.command("rotate")
def rotate_command(
    keyring_file: KeyringOpt = None,
    immediate: Annotated[
        bool,
        typer.Option("--immediate/--graceful", help="Reject old tokens now, or let them expire."),
    ] = False,
    redis_url: Annotated[
        str,
        typer.Option(
            "--redis-url", help="Tell every app instance to reload (default: $REDIS_URL)."
        ),
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Write a new active signing key; running apps reload it without a restart."""
    from ringrift.ops.secrets import rotate
    from ringrift.server.security.keyring import KeyringError

    path = _path(keyring_file)
    try:
        result = rotate(
            path,
            "immediate" if immediate else "graceful",
            redis_url=redis_url or os.environ.get("REDIS_URL", ""),
        )
    except KeyringError as error:
        typer.secho(f"rotation refused: {error}", fg="red", err=True)
        raise typer.Exit(2) from error
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    console = Console()
    console.print(f"[green]rotated[/] ({result.mode}): active key {result.active_kid}")
    console.print(f"keys that verify: {', '.join(result.verifying_kids)}")
    if result.mode == "immediate":
        console.print("tokens signed before now are rejected; users must log in again")
    console.print(
        "instances notified over Redis"
        if result.notified
        else "instances reload the file within seconds"
    )


@secrets_app.command("status")
def status_command(
    keyring_file: KeyringOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Show the keyring's key ids (never the secrets)."""
    from ringrift.ops.secrets import read_keyring
    from ringrift.server.security.keyring import KeyringError

    path = _path(keyring_file)
    try:
        document = read_keyring(path)
    except KeyringError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(2) from error
    if document is None:
        typer.secho(f"{path}: no keyring yet", fg="yellow", err=True)
        raise typer.Exit(1)
    rows = [
        {
            "kid": k["kid"],
            "active": k["kid"] == document["activeKid"],
            "createdAt": k.get("createdAt"),
            "retiredAt": k.get("retiredAt"),
        }
        for k in document["keys"]
    ]
    if as_json:
        typer.echo(json.dumps({"keyringFile": str(path), "keys": rows}, indent=2))
        return
    table = Table(title=str(path))
    for col in ("kid", "active", "createdAt", "retiredAt"):
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("kid", "active", "createdAt", "retiredAt")))
    Console().print(table)
