"""``ringrift bench``: benchmark commands (engine playouts here; other packages add theirs)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ringrift.rules.geometry import BOARD_TYPES

bench_app = typer.Typer(help="Benchmarks that check the performance targets.", no_args_is_help=True)

DEFAULT_GAMES = {"square8": 200, "hex8": 100, "square19": 10, "hexagonal": 6}


@bench_app.command("rules")
def bench_rules(
    board: Annotated[
        list[str] | None, typer.Option("--board", help="Board(s); default: all four.")
    ] = None,
    players: Annotated[
        list[int] | None, typer.Option("--players", help="Player count(s); default: 2, 3, 4.")
    ] = None,
    games: Annotated[
        int | None, typer.Option("--games", min=1, help="Games per configuration.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the first game.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Play seeded random games and report games/s, moves/s and mean game length."""
    from ringrift.rules.bench import bench

    boards = board or list(BOARD_TYPES)
    for b in boards:
        if b not in BOARD_TYPES:
            raise typer.BadParameter(f"unknown board {b!r}; choose from {', '.join(BOARD_TYPES)}")
    counts = players or [2, 3, 4]
    for n in counts:
        if not 2 <= n <= 4:
            raise typer.BadParameter(f"players must be 2-4, got {n}")
    configs = [(b, n) for b in boards for n in counts]
    results = []
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("benchmarking", total=len(configs))
        for b, n in configs:
            progress.update(task, description=f"{b} {n}p")
            results.append(bench(b, n, games or DEFAULT_GAMES[b], seed))
            progress.advance(task)
    if as_json:
        keys = ("board", "players", "games", "games_per_s", "moves_per_s", "mean_moves")
        typer.echo(json.dumps([{k: r.as_dict()[k] for k in keys} for r in results], indent=2))
        return
    table = Table(title="Random playouts (legal_moves + apply_move per ply)")
    for col in ("board", "players", "games", "games/s", "moves/s", "mean moves"):
        table.add_column(col, justify="right" if col != "board" else "left")
    for r in results:
        table.add_row(
            r.board,
            str(r.players),
            str(r.games),
            f"{r.games_per_s:.1f}",
            f"{r.moves_per_s:,.0f}",
            f"{r.mean_moves:.0f}",
        )
    Console().print(table)
