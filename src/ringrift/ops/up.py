"""``ringrift up``: the whole platform on its embedded defaults, in one command.

SQLite in a data directory, no Redis, the AI service as a child process and the app as
another; migrations are applied before the app starts. Ctrl-C (or SIGTERM) stops both
children and waits for them, so nothing is left running.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console

from ringrift.server.security.files import open_private_append

STOP_GRACE_SECONDS = 10.0


class UpError(RuntimeError):
    """The platform could not be started; the message says which part and why."""


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        log = os.fdopen(open_private_append(self.log_path), "ab")  # logs: owner-only
        try:
            # A new session, so Ctrl-C in the terminal reaches only the supervisor, which
            # then stops the children in order.
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """JWT secrets kept in the data directory, so logins survive a restart of ``up``."""
    path = data_dir / "secrets.json"
    if path.exists():
        data = json.loads(path.read_text())
    else:
        data = {
            "JWT_SECRET": secrets.token_urlsafe(48),
            "JWT_REFRESH_SECRET": secrets.token_urlsafe(48),
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(data, indent=2))
    return {k: str(data[k]) for k in ("JWT_SECRET", "JWT_REFRESH_SECRET")}


def wait_healthy(child: Child, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise UpError(f"{child.name} exited during start-up; see {child.log_path}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise UpError(f"{child.name} did not become healthy at {url} in {timeout:.0f}s")


def run_up(
    *,
    host: str,
    port: int,
    ai_port: int,
    data_dir: Path,
    console: Console,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Start migrations, the AI service and the app; block until a signal or a crash."""
    from ringrift.server.db import migrate

    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("DATABASE_URL") or (
        f"sqlite+aiosqlite:///{(data_dir / 'ringrift.db').resolve()}"
    )
    ai_url = f"http://{host}:{ai_port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "AI_SERVICE_URL": ai_url,
        **dev_secrets(data_dir),
    }
    env.setdefault("RINGRIFT_ENV", "development")
    env.setdefault("MAIL_OUTBOX_DIR", str((data_dir / "mail").resolve()))  # no SMTP in `up`
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")  # mail links open this app

    console.print(f"[bold]database[/] {database_url}")
    import asyncio

    try:
        asyncio.run(migrate.upgrade(database_url))
    except Exception as error:  # surfaced to the operator, not swallowed
        raise UpError(f"migrations failed: {type(error).__name__}: {error}") from error
    console.print("[green]migrations applied[/]")

    cli = [sys.executable, "-m", "ringrift.cli"]
    ai = Child(
        "AI service",
        [*cli, "ai", "serve", "--host", host, "--port", str(ai_port), "--log-level", "warning"],
        env,
        data_dir / "aiservice.log",
    )
    app = Child(
        "app",
        [*cli, "serve", "--host", host, "--port", str(port)],
        env,
        data_dir / "app.log",
    )
    children = [ai, app]
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with console.status("starting the AI service"):
            ai.start()
            wait_healthy(ai, f"{ai_url}/health", 60)
        console.print(f"[green]AI service[/] {ai_url}")
        with console.status("starting the app"):
            app.start()
            wait_healthy(app, f"http://{host}:{port}/health", 60)
        url = f"http://{host}:{port}/"
        console.print(f"[bold green]RingRift is up:[/] {url}  (logs in {data_dir}; Ctrl-C stops)")
        if on_ready is not None:
            on_ready(url)
        while not stopping:
            for child in children:
                if not child.alive():
                    raise UpError(f"{child.name} stopped unexpectedly; see {child.log_path}")
            time.sleep(0.2)
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        console.print("stopped")
