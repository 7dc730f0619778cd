"""``ringrift ai``: run the AI service."""

from __future__ import annotations

from typing import Annotated

import typer

ai_app = typer.Typer(help="The AI move service.", no_args_is_help=True)


@ai_app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8001,
    workers: Annotated[int, typer.Option("--workers", help="Concurrent searches (processes).")] = 2,
    scale: Annotated[
        float | None,
        typer.Option("--budget-scale", help="Multiply every level's think time (default env/1)."),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    deadline_grace: Annotated[
        float,
        typer.Option(
            "--deadline-grace",
            min=0.0,
            help="Seconds past a level's budget before a search is answered 503.",
        ),
    ] = 1.0,
) -> None:
    """Serve POST /ai/move, GET /health, /ready and /metrics."""
    import os

    import uvicorn

    from ringrift.aiservice.app import create_app, service_tokens_from_env

    if not 1 <= port <= 65535:
        raise typer.BadParameter("port must be 1-65535", param_hint="--port")
    env = os.environ.get("RINGRIFT_ENV", "").strip().lower()
    if env in {"production", "prod"}:
        problem = _token_problem(service_tokens_from_env())
        if problem:
            typer.secho(f"refusing to start: {problem}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
    try:
        app = create_app(workers=workers, budget_scale=scale, deadline_grace_seconds=deadline_grace)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    # Slow or idle clients do not hold connections (slowloris): uvicorn closes keep-alive
    # connections idle for 5 s; the body limit and queue bound the rest.
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=5)


def _token_problem(tokens: tuple[str, ...]) -> str | None:
    """Why production may not serve with these AI_SERVICE_TOKEN values, or None."""
    from ringrift.server.security.keyring import secret_weakness

    if not tokens:
        return (
            "set AI_SERVICE_TOKEN (the app sends it as a bearer token); production does not "
            "serve /ai/move without one"
        )
    for index, token in enumerate(tokens, start=1):
        weakness = secret_weakness(token)
        if weakness:
            return f"AI_SERVICE_TOKEN (token {index}) is too weak for production: {weakness}"
    return None


@ai_app.callback()
def _group() -> None:
    """The AI move service."""
