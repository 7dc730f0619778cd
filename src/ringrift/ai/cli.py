"""``ringrift arena``: play AI players against each other and report win rates and Elo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringrift.ai.arena import (
    DEFAULT_MOVE_CAP,
    Competitor,
    MatchSummary,
    ladder_elo,
    parse_competitor,
    run_match,
    validate_game,
    validate_match,
    with_eval_file,
)
from ringrift.ai.budgets import measure, sample_positions
from ringrift.ai.ladder import LADDER, budget_scale, check_level

arena_app = typer.Typer(
    help="Play AI players against each other (seeded, alternating seats).",
    invoke_without_command=True,
    no_args_is_help=False,
)

BoardOpt = Annotated[str, typer.Option("--board", help="square8, square19, hex8 or hexagonal.")]
PlayersOpt = Annotated[int, typer.Option("--players", help="Players per game (2-4).")]
GamesOpt = Annotated[int, typer.Option("--games", help="Games per match.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Base seed of the match.")]
ScaleOpt = Annotated[
    float | None,
    typer.Option("--budget-scale", help="Multiply every think-time budget (default env or 1)."),
]
JobsOpt = Annotated[int, typer.Option("--jobs", help="Worker processes.")]
CapOpt = Annotated[int, typer.Option("--move-cap", help="Moves after which a game is a draw.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
SaveOpt = Annotated[
    Path | None, typer.Option("--save", help="Also write the JSON result to this file.")
]


def fail(message: str) -> None:
    """Print an error on stderr and exit with code 2. The message is never wrapped at the
    terminal's width, so a long path cannot split it (and scripts can match it)."""
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _play(
    a: Competitor,
    b: Competitor,
    *,
    board: str,
    players: int,
    games: int,
    seed: int,
    scale: float | None,
    jobs: int,
    move_cap: int,
    quiet: bool,
) -> MatchSummary:
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("A {task.fields[wa]} / B {task.fields[wb]} / draw {task.fields[d]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task(f"{a.label} vs {b.label}", total=games, wa=0, wb=0, d=0)
        counts = {"a": 0, "b": 0, "draw": 0}

        def on_result(result: object) -> None:
            counts[result.outcome] += 1  # type: ignore[attr-defined]
            progress.update(task, advance=1, wa=counts["a"], wb=counts["b"], d=counts["draw"])

        return run_match(
            a,
            b,
            board=board,
            players=players,
            games=games,
            seed=seed,
            scale=scale,
            jobs=jobs,
            move_cap=move_cap,
            on_result=on_result,
        )


def _check_save(path: Path | None) -> None:
    if path is not None and not path.parent.is_dir():
        raise ValueError(f"cannot save to {path}: {path.parent} is not a directory")


def _save(path: Path | None, data: dict[str, object]) -> None:
    if path is not None:
        path.write_text(json.dumps(data, indent=2) + "\n")


def _match_table(summary: MatchSummary) -> Table:
    data = summary.to_json()
    table = Table(title=f"{data['a']} vs {data['b']} on {data['board']} ({data['players']}p)")
    for col in ("games", "A wins", "B wins", "draws", "A score", "95% CI", "mean moves"):
        table.add_column(col, justify="right")
    table.add_column("latency p50/p95 ms", justify="right")
    multi = data["players"] > 2
    if multi:
        table.add_column("A rank score", justify="right")
    lo, hi = data["ci95"]
    row = [
        str(data["games"]),
        str(data["wins_a"]),
        str(data["wins_b"]),
        str(data["draws"]),
        f"{data['win_rate_a']:.3f}",
        f"[{lo:.3f}, {hi:.3f}]",
        f"{data['mean_moves']:.1f}",
        f"{data['latency_ms']['p50']:.1f} / {data['latency_ms']['p95']:.1f}",
    ]
    if multi:
        rlo, rhi = data["rank_ci95"]
        row.append(f"{data['rank_score_a']:.3f} [{rlo:.3f}, {rhi:.3f}]")
    table.add_row(*row)
    return table


@arena_app.callback()
def arena(
    ctx: typer.Context,
    a: Annotated[str | None, typer.Option("--a", help="Player A: level 1-10 or a name.")] = None,
    b: Annotated[str | None, typer.Option("--b", help="Player B: level 1-10 or a name.")] = None,
    board: BoardOpt = "square8",
    players: PlayersOpt = 2,
    games: GamesOpt = 20,
    seed: SeedOpt = 0,
    scale: ScaleOpt = None,
    jobs: JobsOpt = 2,
    move_cap: CapOpt = DEFAULT_MOVE_CAP,
    as_json: JsonOpt = False,
    save: SaveOpt = None,
    eval_a: Annotated[
        Path | None,
        typer.Option(
            "--eval-a",
            help="Weights file for A (ringrift train eval, or a network from ringrift train "
            "net), 'shipped' for the file shipped for the board and player count, or 'hand' "
            "for the hand-written evaluation.",
        ),
    ] = None,
    eval_b: Annotated[
        Path | None,
        typer.Option(
            "--eval-b",
            help="Weights file for B (ringrift train eval, or a network from ringrift train "
            "net), 'shipped' for the file shipped for the board and player count, or 'hand' "
            "for the hand-written evaluation.",
        ),
    ] = None,
) -> None:
    """Play GAMES games of A against B. With more than two players, B fills every other seat.

    Named players: random, heuristic, alphabeta, mcts. --eval-a/--eval-b give a heuristic or
    alpha-beta player a fitted evaluation, a value network or the hand-written evaluation
    instead of its own."""
    if ctx.invoked_subcommand is not None:
        return
    if a is None or b is None:
        fail("give both --a and --b (a level 1-10 or random/heuristic/alphabeta/mcts)")
        return
    try:
        ca, cb = parse_competitor(a), parse_competitor(b)
        validate_match(board, players, games, jobs, move_cap)
        if eval_a is not None:
            ca = with_eval_file(ca, eval_a, board=board, players=players)
        if eval_b is not None:
            cb = with_eval_file(cb, eval_b, board=board, players=players)
        factor = budget_scale(scale)
        _check_save(save)
    except ValueError as error:
        fail(str(error))
        return
    summary = _play(
        ca,
        cb,
        board=board,
        players=players,
        games=games,
        seed=seed,
        scale=factor,
        jobs=jobs,
        move_cap=move_cap,
        quiet=as_json,
    )
    _save(save, summary.to_json())
    if as_json:
        typer.echo(json.dumps(summary.to_json(), indent=2))
    else:
        Console().print(_match_table(summary))


@arena_app.command("ladder")
def ladder(
    low: Annotated[int, typer.Option("--from", help="Lowest level.")] = 1,
    high: Annotated[int, typer.Option("--to", help="Highest level.")] = 10,
    board: BoardOpt = "square8",
    players: PlayersOpt = 2,
    games: GamesOpt = 100,
    seed: SeedOpt = 0,
    scale: ScaleOpt = None,
    strong_budget: Annotated[
        float | None,
        typer.Option(
            "--strong-budget",
            help="Scale each pair so that its stronger level thinks this many seconds per "
            "move (never more than its real budget). Replaces --budget-scale.",
        ),
    ] = None,
    jobs: JobsOpt = 2,
    move_cap: CapOpt = DEFAULT_MOVE_CAP,
    as_json: JsonOpt = False,
    save: SaveOpt = None,
) -> None:
    """Play each level against the one below it and chain the results into an Elo table
    (the lowest level is anchored at 0).

    With three or four players the higher level takes one seat in turn and copies of the
    lower level the others; a pair is scored by the higher level's rank score (the share of
    the other seats it finished above, so 0.5 is even), and its Elo step is that score's.

    One --budget-scale shrinks every budget alike, which at small scales squeezes the top
    levels into the same shallow search. --strong-budget instead gives every pair the same
    wall-clock cost and keeps the ratio of the two budgets, so each step is measured in the
    regime where it matters."""
    try:
        check_level(low)
        check_level(high)
        if low >= high:
            raise ValueError("--from must be below --to")
        validate_match(board, players, games, jobs, move_cap)
        if strong_budget is not None and scale is not None:
            raise ValueError("give --budget-scale or --strong-budget, not both")
        if strong_budget is not None and not (0 < strong_budget < float("inf")):
            raise ValueError("--strong-budget must be a positive number of seconds")
        factor = budget_scale(scale) if strong_budget is None else 1.0
        _check_save(save)
    except ValueError as error:
        fail(str(error))
        return
    pair_factor = {
        level: factor
        if strong_budget is None
        else min(1.0, strong_budget / LADDER[level + 1].budget_s)
        for level in range(low, high)
    }
    matches: list[MatchSummary] = []
    pair_scores: list[tuple[int, int, float]] = []
    for level in range(low, high):
        upper, lower = parse_competitor(str(level + 1)), parse_competitor(str(level))
        summary = _play(
            upper,
            lower,
            board=board,
            players=players,
            games=games,
            seed=seed + level,
            scale=pair_factor[level],
            jobs=jobs,
            move_cap=move_cap,
            quiet=as_json,
        )
        matches.append(summary)
        pair_scores.append((level, level + 1, summary.rank_score_a))
        if not as_json:
            Console().print(_match_table(summary))
    ratings = ladder_elo(pair_scores)
    result = {
        "board": board,
        "players": players,
        "games_per_pair": games,
        "budget_scale": factor if strong_budget is None else None,
        "strong_budget_s": strong_budget,
        "pairs": [m.to_json() for m in matches],
        "elo": {str(k): round(v, 1) for k, v in sorted(ratings.items())},
        "budgets_s": {str(k): LADDER[k].budget_s for k in range(low, high + 1)},
        "pair_score": "win rate" if players == 2 else "rank score",
        "each_level_beats_lower": all(m.rank_score_a > 0.5 for m in matches),
        "weakest_step": min(m.rank_score_a for m in matches),
    }
    _save(save, result)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    how = (
        f"budget scale {factor:g}"
        if strong_budget is None
        else f"each pair scaled so the stronger level thinks {strong_budget:g} s"
    )
    score_name = "score" if players == 2 else "rank score"
    table = Table(title=f"Elo ladder on {board}, {players} players ({how})")
    for col in ("level", "player", "vs lower: budgets s", score_name, "95% CI", "Elo"):
        table.add_column(col, justify="right")
    by_high = {m.a: m for m in matches}
    for level in range(low, high + 1):
        m = by_high.get(f"L{level}")
        score, ci, budgets = "-", "-", "-"
        if m is not None:
            data = m.to_json()
            score = f"{data['rank_score_a']:.3f}"
            ci = f"[{data['rank_ci95'][0]:.3f}, {data['rank_ci95'][1]:.3f}]"
            f = pair_factor[level - 1]
            budgets = f"{LADDER[level].budget_s * f:.3g} vs {LADDER[level - 1].budget_s * f:.3g}"
        table.add_row(
            str(level),
            LADDER[level].kind,
            budgets,
            score,
            ci,
            f"{ratings.get(level, 0.0):.0f}",
        )
    Console().print(table)


# The bar of ``arena budgets``: every level's p95 think time within 1.1x its budget.
P95_BAR = 1.1


@arena_app.command("budgets")
def budgets(
    board: BoardOpt,
    players: PlayersOpt = 2,
    low: Annotated[int, typer.Option("--from", help="Lowest level.")] = 1,
    high: Annotated[int, typer.Option("--to", help="Highest level.")] = 10,
    positions: Annotated[
        int, typer.Option("--positions", help="Positions each level decides in.", min=1)
    ] = 20,
    seed: SeedOpt = 0,
    scale: ScaleOpt = None,
    as_json: JsonOpt = False,
    save: SaveOpt = None,
) -> None:
    """Let each level choose a move in the same POSITIONS positions (sampled from seeded
    random playouts) at its budget, one decision at a time: think time p50/p95/max against
    the budget (the bar: p95 <= 1.1x) and the search depth reached."""
    try:
        validate_game(board, players)
        check_level(low)
        check_level(high)
        if low > high:
            raise ValueError("--from must not be above --to")
        factor = budget_scale(scale)
        _check_save(save)
    except ValueError as error:
        fail(str(error))
        return
    levels = list(range(low, high + 1))
    sampled = sample_positions(board, players, positions, seed)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), disable=as_json, transient=True) as progress:
        task = progress.add_task(f"{board} {players}p decisions", total=len(levels) * positions)
        results = measure(
            sampled, levels, seed=seed, scale=factor, on_decision=lambda: progress.advance(task)
        )
    rows = [r.to_json() for r in results]
    report: dict[str, object] = {
        "board": board,
        "players": players,
        "positions": positions,
        "seed": seed,
        "budgetScale": factor,
        "plies": sorted(p.move_count for p in sampled),
        "levels": rows,
        "allWithinBar": all(r.p95_ratio <= P95_BAR for r in results),
    }
    _save(save, report)
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


def main() -> None:  # pragma: no cover - console entry for `python -m ringrift.ai.cli`
    arena_app()


if __name__ == "__main__":  # pragma: no cover
    main()
