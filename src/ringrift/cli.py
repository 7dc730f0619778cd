"""The `ringrift` console script: one entry point for players, developers and operators.

Each concern registers its own sub-command group here; the implementations live in their
packages so that importing the CLI stays cheap.
"""

from __future__ import annotations

import typer

from ringrift.ai.cli import arena_app
from ringrift.ai.training_cli import selfplay, train_app
from ringrift.aiservice.cli import ai_app
from ringrift.cli_help import reflow_app
from ringrift.ops.backup_cli import backup_app
from ringrift.ops.bench_cli import register as register_bench
from ringrift.ops.drill_cli import drill_app
from ringrift.ops.secrets_cli import secrets_app
from ringrift.ops.stack_cli import stack_app
from ringrift.ops.up_cli import up
from ringrift.rules.bench_cli import bench_app
from ringrift.server.cli import register as register_server

app = typer.Typer(
    name="ringrift",
    help="RingRift platform: play, serve, benchmark and operate.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(bench_app, name="bench")
register_bench(bench_app)
app.command("up")(up)
app.add_typer(secrets_app, name="secrets")
app.add_typer(stack_app, name="stack")
app.add_typer(backup_app, name="backup")
app.add_typer(drill_app, name="drill")
register_server(app)
app.add_typer(arena_app, name="arena")
app.add_typer(ai_app, name="ai")
app.command("selfplay")(selfplay)
app.add_typer(train_app, name="train")
reflow_app(app)


if __name__ == "__main__":  # pragma: no cover
    app()
