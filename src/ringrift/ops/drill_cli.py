"""``ringrift drill run|list``: operational drills against the local stack."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

drill_app = typer.Typer(
    help="Operational drills (fault injection + recovery checks).", no_args_is_help=True
)


@drill_app.command("list")
def list_(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the available drills."""
    from ringrift.ops.drills import load_builtin

    drills = {name: cls.objective for name, cls in load_builtin().items()}
    if json_out:
        typer.echo(json.dumps({"drills": drills}))
        return
    for name, objective in drills.items():
        Console().print(f"[bold]{name}[/]: {objective}")


@drill_app.command("run")
def run(
    names: Annotated[list[str], typer.Argument(help="Drill names, or all.")],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="'local' (the stack in --run-dir) or a deployment file (see docs/operations.md).",
        ),
    ] = "local",
    run_dir: Annotated[
        Path, typer.Option("--run-dir", help="The local stack's run directory.")
    ] = Path(".ringrift-stack"),
    start_stack: Annotated[
        bool,
        typer.Option("--start-stack", help="Start a stack in --run-dir first, stop it after."),
    ] = False,
    apps: Annotated[
        int,
        typer.Option("--apps", min=1, max=8, help="App instances of a --start-stack stack."),
    ] = 2,
    report_dir: Annotated[
        Path, typer.Option("--report-dir", help="Where the report and journal are written.")
    ] = Path("drill-reports"),
    recovery_timeout: Annotated[
        float, typer.Option("--recovery-timeout", min=1.0, help="Recovery bound in seconds.")
    ] = 30.0,
    monitoring: Annotated[
        bool,
        typer.Option(
            "--monitoring",
            help=(
                "With --start-stack: run Prometheus too (drill timing); each drill's required "
                "alert must fire during its fault and resolve after, other alerts are reported."
            ),
        ),
    ] = False,
    redis_sentinel: Annotated[
        bool,
        typer.Option(
            "--redis-sentinel",
            help="With --start-stack: Redis with a replica and three Sentinels.",
        ),
    ] = False,
    pg_replica: Annotated[
        bool,
        typer.Option(
            "--pg-replica",
            help="With --start-stack: a synchronous PostgreSQL streaming replica.",
        ),
    ] = False,
    lb: Annotated[
        bool,
        typer.Option("--lb", help="With --start-stack: an HAProxy in front of the apps."),
    ] = False,
    ha: Annotated[
        bool,
        typer.Option(
            "--ha",
            help="With --start-stack: --redis-sentinel, --pg-replica and --lb together.",
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the journal as JSON.")] = False,
) -> None:
    """Run drills; exit code 1 when any drill fails."""
    from ringrift.ops.deployment import Deployment, DeploymentError
    from ringrift.ops.drills.report import journal, write_reports
    from ringrift.ops.drills.runner import DrillError, resolve, run_drills
    from ringrift.ops.services import ServiceError
    from ringrift.ops.stack import Stack, StackError

    console = Console(stderr=True)

    def fail(message: str) -> typer.Exit:
        if json_out:
            typer.echo(json.dumps({"status": "ERROR", "error": message}))
        else:
            console.print(f"[red]error:[/] {message}", highlight=False)
        return typer.Exit(2)

    try:
        selected = resolve(names)
    except DrillError as error:
        raise fail(str(error)) from None
    try:
        if target != "local":
            if start_stack:
                raise StackError("--start-stack goes with --target local")
            stack: Stack | Deployment = Deployment.load(Path(target))
            down = [name for name in stack.services if not stack.healthy(name, timeout=2.0)]
            if down:
                raise StackError(f"deployment services not healthy: {', '.join(down)}")
        elif start_stack:
            with console.status("starting the stack"):
                stack = Stack.up(
                    run_dir,
                    apps=apps,
                    monitoring_on=monitoring,
                    redis_sentinel=redis_sentinel or ha,
                    pg_replica=pg_replica or ha,
                    balancer_on=lb or ha,
                )
        else:
            stack = Stack.load(run_dir)
            down = [row["name"] for row in stack.status() if not row["healthy"]]
            if down:
                raise StackError(f"stack services not healthy: {', '.join(down)}")
    except (StackError, ServiceError, DeploymentError) as error:
        raise fail(str(error)) from None
    try:
        with (
            tempfile.TemporaryDirectory(prefix="ringrift-drills-") as work,
            console.status("running drills") as spinner,
        ):

            def event(message: str) -> None:
                spinner.update(message)
                console.log(message, highlight=False)

            results, meta = run_drills(
                selected,
                stack,
                work_dir=Path(work),
                recovery_timeout=recovery_timeout,
                on_event=event,
                target=target,
            )
    finally:
        if start_stack and isinstance(stack, Stack):
            stack.down()
    markdown, journal_path = write_reports(results, meta, report_dir)
    document = journal(results, meta)
    document["report"] = str(markdown)
    document["journal"] = str(journal_path)
    if json_out:
        typer.echo(json.dumps(document))
    else:
        out = Console()
        for result in results:
            colour = {"PASS": "green", "SKIP": "yellow"}.get(result.status, "red")
            out.print(f"[{colour}]{result.status}[/] {result.name} ({result.seconds:.1f}s)")
        out.print(f"report: {markdown}\njournal: {journal_path}")
    if document["status"] != "PASS":
        raise typer.Exit(1)
