"""``ringrift stack up|down|status|stop|start|kill|logs``: the CLI of :mod:`ringrift.ops.stack`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

stack_app = typer.Typer(
    help="A local stack of real processes: PostgreSQL, Redis, AI service, app instances.",
    no_args_is_help=True,
)

RunDir = Annotated[
    Path,
    typer.Option("--run-dir", help="Directory holding the stack's data, logs and stack.json."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Service = Annotated[
    str,
    typer.Argument(
        help="postgres, postgres-replica, redis, ai, app1..appN, lb (--lb) or "
        "prometheus/blackbox/postgres-exporter (--monitoring)."
    ),
]
PgReplica = Annotated[
    bool,
    typer.Option(
        "--pg-replica",
        help="Add a synchronous PostgreSQL streaming replica (service postgres-replica); "
        "the apps get a multi-host URL that finds the writable node.",
    ),
]
Balancer = Annotated[
    bool,
    typer.Option(
        "--lb",
        help="Also run a load balancer (HAProxy, health checks on /ready) in front of the "
        "apps; its URL becomes the stack's entry point.",
    ),
]

DEFAULT_RUN_DIR = Path(".ringrift-stack")


def _fail(message: str, json_out: bool, code: int = 1) -> typer.Exit:
    if json_out:
        typer.echo(json.dumps({"ok": False, "error": message}))
    else:
        Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _load(run_dir: Path, json_out: bool) -> Any:
    from ringrift.ops.stack import Stack, StackError

    try:
        return Stack.load(run_dir)
    except StackError as error:
        raise _fail(str(error), json_out) from None


def _status_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="RingRift stack")
    for column in ("service", "state", "pid", "port", "url"):
        table.add_column(column)
    for row in rows:
        if row["healthy"]:
            state = "[green]healthy[/]"
        elif row["running"]:
            state = "[yellow]running (not answering)[/]"
        else:
            state = "[red]stopped[/]"
        table.add_row(row["name"], state, str(row["pid"] or "-"), str(row["port"]), row["url"])
    return table


@stack_app.command("up")
def up(
    run_dir: RunDir = DEFAULT_RUN_DIR,
    apps: Annotated[int, typer.Option("--apps", help="App instances.", min=1, max=16)] = 1,
    pg_port: Annotated[int | None, typer.Option("--pg-port", min=1, max=65535)] = None,
    redis_port: Annotated[int | None, typer.Option("--redis-port", min=1, max=65535)] = None,
    ai_port: Annotated[int | None, typer.Option("--ai-port", min=1, max=65535)] = None,
    app_port: Annotated[
        list[int] | None,
        typer.Option("--app-port", help="Port of app1, app2, ... (repeat).", min=1, max=65535),
    ] = None,
    monitoring: Annotated[
        bool,
        typer.Option(
            "--monitoring",
            help="Also run Prometheus (rules of deploy/prometheus) and the blackbox exporter.",
        ),
    ] = False,
    redis_sentinel: Annotated[
        bool,
        typer.Option(
            "--redis-sentinel",
            help="Redis with a replica and three Sentinels; the apps connect through Sentinel.",
        ),
    ] = False,
    pg_replica: PgReplica = False,
    lb: Balancer = False,
    ha: Annotated[
        bool,
        typer.Option("--ha", help="High availability: --redis-sentinel, --pg-replica and --lb."),
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Start PostgreSQL (migrated), Redis, the AI service and the app instances."""
    from ringrift.ops.services import ServiceError
    from ringrift.ops.stack import Stack, StackError

    console = Console(stderr=json_out)
    try:
        with console.status("starting the stack") as spinner:

            def progress(message: str) -> None:
                spinner.update(message)
                console.log(message)

            stack = Stack.up(
                run_dir,
                apps=apps,
                pg_port=pg_port,
                redis_port=redis_port,
                ai_port=ai_port,
                app_ports=app_port,
                monitoring_on=monitoring,
                redis_sentinel=redis_sentinel or ha,
                pg_replica=pg_replica or ha,
                balancer_on=lb or ha,
                progress=progress,
            )
    except (StackError, ServiceError, OSError) as error:
        raise _fail(str(error), json_out) from None
    if json_out:
        typer.echo(json.dumps({"ok": True, **stack.to_json(), "services": stack.status()}))
        return
    console.print(_status_table(stack.status()))
    console.print(f"entry point: {stack.entry_url}")
    console.print(f"state file: {stack.state_file}")


@stack_app.command("down")
def down(run_dir: RunDir = DEFAULT_RUN_DIR, json_out: JsonOut = False) -> None:
    """Stop every service (data and logs stay in the run directory)."""
    from ringrift.ops.stack import StackError

    stack = _load(run_dir, json_out)
    try:
        with Console(stderr=True).status("stopping the stack"):
            stack.down()
    except StackError as error:
        raise _fail(str(error), json_out) from None
    if json_out:
        typer.echo(json.dumps({"ok": True, "services": stack.status()}))
    else:
        Console().print("[green]stack stopped[/]")


@stack_app.command("status")
def status(run_dir: RunDir = DEFAULT_RUN_DIR, json_out: JsonOut = False) -> None:
    """Show every service: running, healthy, pid, port, URL."""
    stack = _load(run_dir, json_out)
    rows = stack.status()
    if json_out:
        document = {"ok": True, "runDir": str(stack.run_dir), "entryPoint": stack.entry_url}
        typer.echo(json.dumps({**document, "services": rows}))
    else:
        Console().print(_status_table(rows))
        Console().print(f"entry point: {stack.entry_url}")


def _act(action: str, service: str, run_dir: Path, json_out: bool) -> None:
    from ringrift.ops.services import ServiceError
    from ringrift.ops.stack import StackError

    stack = _load(run_dir, json_out)
    if service not in stack.services:
        raise _fail(
            f"unknown service {service!r}; the stack has: {', '.join(stack.services)}", json_out
        )
    try:
        with Console(stderr=True).status(f"{action} {service}"):
            getattr(stack, action)(service)
    except (StackError, ServiceError) as error:
        raise _fail(str(error), json_out) from None
    row = next(r for r in stack.status() if r["name"] == service)
    if json_out:
        typer.echo(json.dumps({"ok": True, "action": action, "service": row}))
    else:
        Console().print(f"{action} {service}: {'running' if row['running'] else 'stopped'}")


@stack_app.command("stop")
def stop(service: Service, run_dir: RunDir = DEFAULT_RUN_DIR, json_out: JsonOut = False) -> None:
    """Stop one service gracefully."""
    _act("stop", service, run_dir, json_out)


@stack_app.command("start")
def start(service: Service, run_dir: RunDir = DEFAULT_RUN_DIR, json_out: JsonOut = False) -> None:
    """Start one service and wait until it is healthy."""
    _act("start", service, run_dir, json_out)


@stack_app.command("kill")
def kill(service: Service, run_dir: RunDir = DEFAULT_RUN_DIR, json_out: JsonOut = False) -> None:
    """SIGKILL one service (for crash drills)."""
    _act("kill", service, run_dir, json_out)


@stack_app.command("reattach-replica")
def reattach_replica(run_dir: RunDir = DEFAULT_RUN_DIR, json_out: JsonOut = False) -> None:
    """Rebuild postgres-replica from a fresh base backup of the primary and start it as the
    synchronous standby (after a failover left the old primary behind, or a standby fell
    too far behind to catch up)."""
    from ringrift.ops.services import ServiceError
    from ringrift.ops.stack import StackError

    stack = _load(run_dir, json_out)
    try:
        with Console(stderr=True).status("re-attaching postgres-replica"):
            stack.reattach_replica()
    except (StackError, ServiceError) as error:
        raise _fail(str(error), json_out) from None
    row = next(r for r in stack.status() if r["name"] == "postgres-replica")
    if json_out:
        typer.echo(json.dumps({"ok": True, "action": "reattach-replica", "service": row}))
    else:
        Console().print("postgres-replica: streaming from postgres (synchronous)")


@stack_app.command("logs")
def logs(
    service: Service,
    run_dir: RunDir = DEFAULT_RUN_DIR,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="Lines to show.")] = 50,
    json_out: JsonOut = False,
) -> None:
    """Print the tail of a service's log."""
    stack = _load(run_dir, json_out)
    if service not in stack.services:
        raise _fail(
            f"unknown service {service!r}; the stack has: {', '.join(stack.services)}", json_out
        )
    text = stack.tail(service, lines)
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "ok": True,
                    "service": service,
                    "log": str(stack.log_file(service)),
                    "lines": text.splitlines(),
                }
            )
        )
    else:
        typer.echo(text)
