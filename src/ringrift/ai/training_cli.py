"""``ringrift selfplay``, ``ringrift train eval``, ``ringrift train net`` and ``ringrift train
tune``: self-play data, a fitted evaluation, a value network and an evaluation tuned by play."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ringrift.ai.arena import DEFAULT_MOVE_CAP
from ringrift.ai.cli import JsonOpt, fail
from ringrift.ai.fitted import EvalWeights, Model
from ringrift.ai.network_config import NetConfig, Stage
from ringrift.ai.selfplay import SelfPlayConfig, prepare, run_selfplay
from ringrift.ai.training import fit_directory
from ringrift.ai.tuning import Iteration, TuneConfig, hand_theta, load_progress, run_tuning

train_app = typer.Typer(
    help="Fit AI evaluation weights to self-play data, or tune them by play.", no_args_is_help=True
)


def selfplay(
    board: Annotated[str, typer.Option("--board", help="square8, square19, hex8 or hexagonal.")],
    players: Annotated[int, typer.Option("--players", help="Players per game (2-4).")],
    games: Annotated[int, typer.Option("--games", help="Games in the run.")],
    level: Annotated[int, typer.Option("--level", help="Ladder level (1-10) of every seat.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the shards.")],
    seed: Annotated[int, typer.Option("--seed", help="Base seed of the run.")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 2,
    nodes: Annotated[
        int, typer.Option("--nodes", help="Node limit per decision (keeps games deterministic).")
    ] = 5000,
    sample_every: Annotated[
        int, typer.Option("--sample-every", help="Store features of every k-th position.")
    ] = 4,
    shard_size: Annotated[int, typer.Option("--shard-size", help="Games per shard.")] = 25,
    move_cap: Annotated[
        int, typer.Option("--move-cap", help="Moves after which a game is a draw.")
    ] = DEFAULT_MOVE_CAP,
    as_json: JsonOpt = False,
) -> None:
    """Play GAMES self-play games at LEVEL and write them as gzip JSONL shards in OUT.

    Deterministic for a seed and resumable: rerunning the same command plays only the games
    of shards that are missing."""
    cfg = SelfPlayConfig(
        board, players, games, level, seed, nodes, sample_every, shard_size, move_cap
    )
    try:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        missing = prepare(cfg, out)
    except (ValueError, OSError) as error:
        fail(str(error))
        return
    todo = sum(b - a for a, b in missing)
    console = Console(stderr=True)
    reasons: dict[str, int] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[reasons]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=as_json,
        transient=True,
    ) as progress:
        task = progress.add_task(
            f"self-play L{level} {board} {players}p", total=todo, reasons="", start=True
        )

        def on_game(rec: dict[str, Any]) -> None:
            reason = rec["victoryReason"]
            reasons[reason] = reasons.get(reason, 0) + 1
            text = " ".join(f"{k}:{v}" for k, v in sorted(reasons.items()))
            progress.update(task, advance=1, reasons=text)

        summary = run_selfplay(cfg, out, workers=workers, on_game=on_game)
    data = summary.to_json()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"self-play into {out}")
    for col in ("games", "played now", "skipped", "shards written", "positions"):
        table.add_column(col, justify="right")
    table.add_column("end reasons")
    table.add_row(
        str(summary.games),
        str(summary.played),
        str(summary.skipped),
        str(summary.shards_written),
        str(summary.positions),
        ", ".join(f"{k} {v}" for k, v in summary.end_reasons.items()) or "-",
    )
    Console().print(table)


@train_app.command("eval")
def train_eval(
    data: Annotated[Path, typer.Option("--data", help="A self-play directory.")],
    out: Annotated[Path, typer.Option("--out", help="Weights file to write (JSON).")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the train/validation split.")] = 0,
    validation: Annotated[
        float, typer.Option("--validation", help="Fraction of games held out.")
    ] = 0.2,
    l2: Annotated[float, typer.Option("--l2", help="L2 regularisation strength.")] = 1e-3,
    model: Annotated[
        Model,
        typer.Option(
            "--model",
            help="opponents-mean: a seat's features minus its opponents' mean (logistic); "
            "softmax: the winner as a softmax over the seats' scores.",
        ),
    ] = Model.OPPONENTS_MEAN,
    as_json: JsonOpt = False,
) -> None:
    """Fit the evaluation's weights to game outcomes (logistic regression) and compare the
    log-loss with the hand-written evaluation."""
    try:
        if not data.is_dir():
            raise ValueError(f"{data} is not a directory")
        if not out.parent.is_dir():
            raise ValueError(f"cannot write {out}: {out.parent} is not a directory")
        weights = fit_directory(data, seed=seed, validation=validation, l2=l2, model=model)
    except ValueError as error:
        fail(str(error))
        return
    weights.save(out)
    if as_json:
        typer.echo(json.dumps(weights.to_json(), indent=2))
        return
    r = weights.report
    if weights.model == Model.SOFTMAX:
        _print_softmax_report(weights)
        _print_weights(weights, out)
        return
    table = Table(title=f"log-loss on {weights.board} {weights.players}p (lower is better)")
    for col in ("split", "examples", "fitted", "hand-written"):
        table.add_column(col, justify="right")
    table.add_row(
        "train",
        str(r["train_examples"]),
        f"{r['train_log_loss']:.4f}",
        f"{r['hand_train_log_loss']:.4f}",
    )
    table.add_row(
        "validation",
        str(r["validation_examples"]),
        f"{r['validation_log_loss']:.4f}",
        f"{r['hand_validation_log_loss']:.4f}",
    )
    Console().print(table)
    Console().print(
        f"validation log-loss of the hand-written evaluation rescaled by "
        f"{r['hand_rescaled_scale']:.3f}: {r['hand_rescaled_validation_log_loss']:.4f}; "
        f"of a fit on its features only: {r['base_only_validation_log_loss']:.4f}"
    )
    _print_weights(weights, out)


def _print_softmax_report(weights: EvalWeights) -> None:
    r = weights.report
    table = Table(
        title=f"winner cross-entropy on {weights.board} {weights.players}p (lower is better)"
    )
    for col in ("split", "positions", "fitted", "uniform"):
        table.add_column(col, justify="right")
    table.add_row("train", str(r["train_positions"]), f"{r['train_loss']:.4f}", "")
    table.add_row(
        "validation",
        str(r["validation_positions"]),
        f"{r['validation_loss']:.4f}",
        f"{r['uniform_validation_loss']:.4f}",
    )
    Console().print(table)


def _print_weights(weights: EvalWeights, out: Path) -> None:
    weight_table = Table(title=f"weights written to {out}")
    weight_table.add_column("feature")
    weight_table.add_column("weight", justify="right")
    for name, w in zip(weights.features, weights.weights, strict=True):
        weight_table.add_row(name, f"{w:+.3f}")
    Console().print(weight_table)


_NET = NetConfig()


@train_app.command("net")
def train_net(
    data: Annotated[Path, typer.Option("--data", help="A self-play directory.")],
    out: Annotated[Path, typer.Option("--out", help="Network file to write (JSON).")],
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the split, the initial weights and batches.")
    ] = 0,
    hidden: Annotated[int, typer.Option("--hidden", help="Hidden units.")] = _NET.hidden,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the data.")] = _NET.epochs,
    lr: Annotated[float, typer.Option("--lr", help="Adam's learning rate.")] = _NET.lr,
    l2: Annotated[float, typer.Option("--l2", help="Weight decay of the hidden layer.")] = _NET.l2,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Examples per minibatch.")
    ] = _NET.batch_size,
    validation: Annotated[
        float, typer.Option("--validation", help="Fraction of games held out.")
    ] = _NET.validation,
    as_json: JsonOpt = False,
) -> None:
    """Train a small per-cell value network on game outcomes and compare its log-loss with
    the linear fitted evaluation and the hand-written one."""
    # Imported here so that numpy loads with this command, not whenever the console script runs.
    from ringrift.ai.network_training import train_directory

    cfg = NetConfig(
        hidden=hidden,
        epochs=epochs,
        lr=lr,
        l2=l2,
        batch_size=batch_size,
        validation=validation,
    )
    try:
        cfg.validate()
        if not data.is_dir():
            raise ValueError(f"{data} is not a directory")
        if not out.parent.is_dir():
            raise ValueError(f"cannot write {out}: {out.parent} is not a directory")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=as_json,
            transient=True,
        ) as progress:
            tasks = {
                stage: progress.add_task(text, total=None, visible=False)
                for stage, text in (
                    (Stage.REPLAY, "replaying games"),
                    (Stage.LINEAR, "fitting the linear model"),
                    (Stage.TRAIN, "training epochs"),
                )
            }

            def on_progress(stage: Stage, done: int, total: int) -> None:
                progress.update(tasks[stage], completed=done, total=total, visible=True)

            weights = train_directory(data, seed=seed, cfg=cfg, on_progress=on_progress)
    except ValueError as error:
        fail(str(error))
        return
    weights.save(out)
    if as_json:
        typer.echo(json.dumps(weights.header(), indent=2))
        return
    r = weights.report
    table = Table(title=f"log-loss on {weights.board} {weights.players}p (lower is better)")
    for col in ("split", "examples", "network", "linear", "hand-written", "constant"):
        table.add_column(col, justify="right")
    table.add_row(
        "train",
        str(r["train_examples"]),
        f"{r['train_log_loss']:.4f}",
        f"{r['linear_train_log_loss']:.4f}",
        "",
        f"{r['constant_train_log_loss']:.4f}",
    )
    table.add_row(
        "validation",
        str(r["validation_examples"]),
        f"{r['validation_log_loss']:.4f}",
        f"{r['linear_validation_log_loss']:.4f}",
        f"{r['hand_validation_log_loss']:.4f}",
        f"{r['constant_validation_log_loss']:.4f}",
    )
    console = Console()
    console.print(table)
    size = out.stat().st_size
    console.print(
        f"{weights.hidden} hidden units, {weights.header()['parameters']} parameters: "
        f"{out} ({size / 1024:.0f} KB)"
    )


_TUNE = TuneConfig(board="square8", players=2, iterations=1)


@train_app.command("tune")
def train_tune(
    board: Annotated[str, typer.Option("--board", help="square8, square19, hex8 or hexagonal.")],
    players: Annotated[int, typer.Option("--players", help="Players per game (2-4).")],
    iterations: Annotated[int, typer.Option("--iterations", help="SPSA iterations in all.")],
    out: Annotated[Path, typer.Option("--out", help="Weights file to write (JSON).")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the perturbations.")] = 0,
    level: Annotated[
        int, typer.Option("--level", help="Ladder level (2-10) whose evaluation plays.")
    ] = _TUNE.level,
    nodes: Annotated[
        int, typer.Option("--nodes", help="Node limit per decision (keeps games deterministic).")
    ] = _TUNE.node_limit,
    pairs: Annotated[
        int, typer.Option("--pairs", help="Perturbations per iteration, two games each.")
    ] = _TUNE.pairs,
    c: Annotated[
        float, typer.Option("--c", help="Perturbation size at the first iteration.")
    ] = _TUNE.c,
    a: Annotated[float, typer.Option("--a", help="Step size at the first iteration.")] = _TUNE.a,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 2,
    move_cap: Annotated[
        int, typer.Option("--move-cap", help="Moves after which a game is a draw.")
    ] = DEFAULT_MOVE_CAP,
    as_json: JsonOpt = False,
) -> None:
    """Tune the evaluation by play (SPSA), starting from the hand-written evaluation: each
    iteration plays slightly changed weights against their mirror image and moves the
    weights towards the side that ranked better.

    Deterministic for a seed and resumable: OUT is rewritten after every iteration, and
    rerunning the same command (or with more --iterations) continues from it."""
    cfg = TuneConfig(board, players, iterations, seed, level, nodes, pairs, c, a, move_cap)
    try:
        cfg.validate()
        if not out.parent.is_dir():
            raise ValueError(f"cannot write {out}: {out.parent} is not a directory")
        _, done = load_progress(cfg, out)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[result]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=as_json,
            transient=True,
        ) as progress:
            task = progress.add_task(
                f"tuning L{level} {board} {players}p",
                total=iterations,
                completed=done,
                result="",
            )

            def on_iteration(it: Iteration) -> None:
                text = f"largest step {it.step:.4f}"
                progress.update(task, completed=it.index + 1, result=text)

            weights = run_tuning(cfg, out, workers=workers, on_iteration=on_iteration)
    except ValueError as error:
        fail(str(error))
        return
    if as_json:
        typer.echo(json.dumps(weights.to_json(), indent=2))
        return
    Console().print(
        f"{iterations} iterations ({iterations * 2 * pairs} games in all); "
        f"{iterations - done} run now"
    )
    start = hand_theta()
    table = Table(title=f"weights written to {out}")
    for col in ("feature", "hand-written", "tuned"):
        table.add_column(col, justify="right" if col != "feature" else "left")
    for name, w0, w in zip(weights.features, start, weights.weights, strict=True):
        table.add_row(name, f"{w0:+.3f}", f"{w:+.3f}")
    Console().print(table)
