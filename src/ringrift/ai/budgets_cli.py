"""``ringrift arena budgets``: each level's think time against its budget, and its depth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringrift.ai.budgets import measure, sample_positions
from ringrift.ai.ladder import budget_scale, check_level
from ringrift.rules import BOARD_TYPES

# The bar: every level's p95 think time within 1.1x its budget.
P95_BAR = 1.1


def budgets(
    board: Annotated[str, typer.Option("--board", help="square8, square19, hex8 or hexagonal.")],
    players: Annotated[int, typer.Option("--players", help="Players per game (2-4).")] = 2,
    low: Annotated[int, typer.Option("--from", help="Lowest level.")] = 1,
    high: Annotated[int, typer.Option("--to", help="Highest level.")] = 10,
    positions: Annotated[
        int, typer.Option("--positions", help="Positions each level decides in.", min=1)
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the positions.")] = 0,
    scale: Annotated[
        float | None,
        typer.Option("--budget-scale", help="Multiply every think-time budget (default env or 1)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    save: Annotated[
        Path | None, typer.Option("--save", help="Also write the JSON result to this file.")
    ] = None,
) -> None:
    """Let each level choose a move in the same POSITIONS positions (sampled from seeded
    random playouts) at its budget, one decision at a time: think time p50/p95/max against
    the budget (the bar: p95 <= 1.1x) and the search depth reached."""
    try:
        if board not in BOARD_TYPES:
            raise ValueError(f"unknown board {board!r}; choose from {', '.join(BOARD_TYPES)}")
        if not 2 <= players <= 4:
            raise ValueError(f"players must be 2-4, got {players}")
        check_level(low)
        check_level(high)
        if low > high:
            raise ValueError("--from must not be above --to")
        factor = budget_scale(scale)
        if save is not None and not save.parent.is_dir():
            raise ValueError(f"--save: no directory {save.parent}")
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    levels = list(range(low, high + 1))
    sampled = sample_positions(board, players, positions, seed)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), disable=as_json, transient=True) as progress:
        task = progress.add_task(f"{board} {players}p decisions", total=len(levels) * positions)
        results = measure(
            sampled, levels, seed=seed, scale=factor, on_decision=lambda: progress.advance(task)
        )
    rows = [r.to_json() for r in results]
    report: dict[str, Any] = {
        "board": board,
        "players": players,
        "positions": positions,
        "seed": seed,
        "budgetScale": factor,
        "plies": sorted(p.move_count for p in sampled),
        "levels": rows,
        "allWithinBar": all(r.p95_ratio <= P95_BAR for r in results),
    }
    if save is not None:
        save.write_text(json.dumps(report, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(
        title=f"Think time and depth on {board}, {players} players ({positions} positions)"
    )
    for column in ("level", "budget ms", "p50 ms", "p95 ms", "max ms", "p95/budget", "depth"):
        table.add_column(column, justify="right")
    for level in rows:
        think, depth = level["thinkMs"], level["depth"]
        table.add_row(
            str(level["level"]),
            f"{level['budgetMs']:g}",
            f"{think['p50']:.1f}",
            f"{think['p95']:.1f}",
            f"{think['max']:.1f}",
            f"{level['p95OverBudget']:.2f}",
            f"{depth['median']:g} ({depth['min']}-{depth['max']})",
        )
    Console().print(table)
