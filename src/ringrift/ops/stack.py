"""``ringrift stack``: a local stack of real processes, the drills' default target.

One run directory holds everything: a PostgreSQL cluster (``initdb``/``pg_ctl``), a
``redis-server``, the AI service, 1..N app instances, their logs, the JWT keyring file and
``stack.json``, the state file through which every later command (and every test or drill)
finds the stack again::

    stack = Stack.up(Path("/tmp/rr"), apps=2)      # or Stack.load(Path("/tmp/rr"))
    stack.url("app1")                              # http://127.0.0.1:PORT
    stack.stop("redis"); stack.start("redis")      # graceful stop / start
    stack.kill("app1")                             # SIGKILL, for crash drills
    stack.down()

Services are named ``postgres``, ``redis``, ``ai`` and ``app1``..``appN``. The state file
records ports, pids, URLs, log files and the keyring path (never the secrets themselves).
Processes are started in their own session, so they outlive the ``stack up`` command and are
stopped by pid; a pid is only trusted while ``/proc/PID/cmdline`` still names the service.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ringrift.ops.services import (
    PostgresCluster,
    RedisServer,
    ServiceError,
    find_postgres_bindir,
    free_port,
    port_open,
)

STATE_FILE = "stack.json"
KEYRING_FILE = "jwt-keyring.json"
DEFAULT_RUN_DIR = Path(".ringrift-stack")
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 10.0
HEALTH_TIMEOUT_SECONDS = 60.0
STATE_VERSION = 1


class StackError(RuntimeError):
    """The stack (or one of its services) could not be started, found or stopped."""


Progress = Callable[[str], None]


def _no_progress(_message: str) -> None:
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _proc_state(pid: int) -> tuple[str, str] | None:
    """(state letter, cmdline) of a live process, None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state, cmdline


def pid_alive(pid: int | None, marker: str = "") -> bool:
    """True when ``pid`` runs (not a zombie) and its command line contains ``marker``."""
    if not pid:
        return False
    info = _proc_state(pid)
    if info is None or info[0] in ("Z", "X"):
        return False
    return marker in info[1]


def write_keyring(path: Path) -> str:
    """Write a fresh JWT keyring file (the format ``JWT_KEYRING_FILE`` reads); returns its kid."""
    kid = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
    document = {
        "activeKid": kid,
        "keys": [{"kid": kid, "secret": secrets.token_urlsafe(48)}],
        "refreshSecret": secrets.token_urlsafe(48),
    }
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(json.dumps(document, indent=2))
    os.replace(tmp, path)
    return kid


@dataclass
class ProcessSpec:
    """A stack service run as a plain child process (redis, AI service, apps)."""

    name: str
    kind: str
    port: int
    pid: int | None = None
    env_overrides: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "port": self.port,
            "pid": self.pid,
            "envOverrides": self.env_overrides,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessSpec:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            port=int(data["port"]),
            pid=int(data["pid"]) if data.get("pid") else None,
            env_overrides={str(k): str(v) for k, v in (data.get("envOverrides") or {}).items()},
        )


_MARKERS = {"redis": "redis-server", "ai": "ringrift.aiservice", "app": "ringrift.cli serve"}


class Stack:
    """A local stack living in ``run_dir`` (see the module docstring)."""

    def __init__(self, run_dir: Path, *, pg_port: int, processes: list[ProcessSpec]) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.postgres = PostgresCluster(self.run_dir / "postgres", port=pg_port)
        self.processes = {p.name: p for p in processes}
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self.created_at = _now()

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def up(
        cls,
        run_dir: Path = DEFAULT_RUN_DIR,
        *,
        apps: int = 1,
        pg_port: int | None = None,
        redis_port: int | None = None,
        ai_port: int | None = None,
        app_ports: list[int] | None = None,
        progress: Progress = _no_progress,
    ) -> Stack:
        """Start every service (reusing the data of a stopped stack in ``run_dir``)."""
        if apps < 1:
            raise StackError("--apps must be at least 1")
        app_ports = list(app_ports or [])
        if len(app_ports) > apps:
            raise StackError(f"{len(app_ports)} app ports given for {apps} app instance(s)")
        run_dir = Path(run_dir).resolve()
        previous: dict[str, int] = {}
        if (run_dir / STATE_FILE).exists():
            existing = cls.load(run_dir)
            previous = {name: spec.port for name, spec in existing.processes.items()}
            previous["postgres"] = existing.postgres.port
            running = [s["name"] for s in existing.status() if s["running"]]
            if running:
                raise StackError(
                    f"a stack is already running in {run_dir} ({', '.join(running)}); "
                    "use `ringrift stack status` or `ringrift stack down` first"
                )
        # Fail before starting anything when a server binary is missing (the error names
        # the Debian package to install).
        find_postgres_bindir()
        RedisServer.binary()
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "logs").mkdir(exist_ok=True)
        ports = [pg_port, redis_port, ai_port, *app_ports]
        given = [p for p in ports if p]
        if len(given) != len(set(given)):
            raise StackError(f"the same port was given twice: {given}")
        for port in given:
            if port_open(HOST, port):
                raise StackError(f"port {port} is already in use on {HOST}")
        taken = set(given)

        def pick(port: int | None, name: str) -> int:
            """The given port, else the port this service had before (restart at the same
            URLs) when it is still free, else a fresh free port."""
            if port:
                return port
            before = previous.get(name)
            if before and before not in taken and not port_open(HOST, before):
                taken.add(before)
                return before
            while True:
                candidate = free_port()
                if candidate not in taken:
                    taken.add(candidate)
                    return candidate

        processes = [
            ProcessSpec("redis", "redis", pick(redis_port, "redis")),
            ProcessSpec("ai", "ai", pick(ai_port, "ai")),
        ]
        for index in range(apps):
            app_port = app_ports[index] if index < len(app_ports) else None
            name = f"app{index + 1}"
            processes.append(ProcessSpec(name, "app", pick(app_port, name)))
        stack = cls(run_dir, pg_port=pick(pg_port, "postgres"), processes=processes)
        keyring = stack.keyring_file
        if not keyring.exists():
            write_keyring(keyring)
        stack.save()
        try:
            progress("starting PostgreSQL")
            stack.start("postgres")
            progress("applying migrations")
            stack.migrate()
            progress("starting Redis")
            stack.start("redis")
            progress("starting the AI service")
            stack.start("ai")
            progress(f"starting {', '.join(stack.app_names)}")
            launched = [(name, stack._launch(name)) for name in stack.app_names]
            for name, child in launched:
                stack._wait_healthy(name, child, HEALTH_TIMEOUT_SECONDS)
        except BaseException:
            progress("start-up failed; stopping what was started")
            with contextlib.suppress(Exception):
                stack.down()
            raise
        return stack

    @classmethod
    def load(cls, run_dir: Path = DEFAULT_RUN_DIR) -> Stack:
        """The stack whose state file is in ``run_dir`` (its processes may be stopped)."""
        path = Path(run_dir).resolve() / STATE_FILE
        if not path.exists():
            raise StackError(
                f"no stack in {path.parent} (missing {STATE_FILE}); "
                f"start one with `ringrift stack up --run-dir {run_dir}`"
            )
        try:
            data = json.loads(path.read_text())
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported state version {data.get('version')!r}")
            stack = cls(
                path.parent,
                pg_port=int(data["postgres"]["port"]),
                processes=[ProcessSpec.from_json(p) for p in data["processes"]],
            )
            stack.created_at = str(data.get("createdAt", stack.created_at))
        except (ValueError, KeyError, TypeError) as error:
            raise StackError(f"{path} is not a valid stack state file: {error}") from error
        return stack

    # -- state -----------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.run_dir / STATE_FILE

    @property
    def keyring_file(self) -> Path:
        return self.run_dir / KEYRING_FILE

    @property
    def app_names(self) -> list[str]:
        return [name for name, spec in self.processes.items() if spec.kind == "app"]

    @property
    def services(self) -> list[str]:
        return ["postgres", *self.processes]

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the stack's database (what the apps use)."""
        return self.postgres.url()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "runDir": str(self.run_dir),
            "createdAt": self.created_at,
            "host": HOST,
            "postgres": {
                "port": self.postgres.port,
                "dataDir": str(self.postgres.data_dir),
                "database": self.postgres.database,
                "user": self.postgres.user,
            },
            "processes": [p.to_json() for p in self.processes.values()],
            "urls": {name: self.url(name) for name in self.services},
            "databaseUrl": self.database_url,
            "keyringFile": str(self.keyring_file),
        }

    def save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2))
        os.replace(tmp, self.state_file)

    def _refresh(self) -> None:
        """Re-read pids and overrides from the state file: other processes (the CLI, another
        :class:`Stack` object) may have restarted services since this object was made."""
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        for entry in data.get("processes", []):
            spec = self.processes.get(str(entry.get("name")))
            if spec is not None:
                fresh = ProcessSpec.from_json(entry)
                spec.pid, spec.env_overrides = fresh.pid, fresh.env_overrides

    def _spec(self, name: str) -> ProcessSpec:
        if name not in self.processes:
            raise StackError(f"unknown service {name!r}; the stack has: {', '.join(self.services)}")
        return self.processes[name]

    def url(self, name: str) -> str:
        """``postgresql://`` DSN, ``redis://`` URL or ``http://`` base URL of a service."""
        if name == "postgres":
            return self.postgres.dsn
        spec = self._spec(name)
        if spec.kind == "redis":
            return f"redis://{HOST}:{spec.port}/0"
        return f"http://{HOST}:{spec.port}"

    def log_file(self, name: str) -> Path:
        if name == "postgres":
            return self.postgres.log_file
        self._spec(name)
        return self.run_dir / "logs" / f"{name}.log"

    def pid(self, name: str) -> int | None:
        if name == "postgres":
            try:
                first = (self.postgres.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
                pid = int(first)
            except (OSError, ValueError):
                return None
            return pid if pid_alive(pid, "postgres") else None
        self._refresh()
        spec = self._spec(name)
        for child in self._children.values():
            child.poll()  # reap our dead children, so none lingers as a zombie
        return spec.pid if pid_alive(spec.pid, _MARKERS[spec.kind]) else None

    def is_running(self, name: str) -> bool:
        return self.pid(name) is not None

    # -- lifecycle -------------------------------------------------------------------------

    def migrate(self) -> None:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ringrift.cli",
                "db",
                "upgrade",
                "--database-url",
                self.database_url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.run_dir,
            env=self._base_env(),
        )
        if result.returncode != 0:
            raise StackError(f"migrations failed:\n{result.stdout}\n{result.stderr}")

    def _base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("JWT_SECRET", "JWT_REFRESH_SECRET", "DATABASE_URL", "REDIS_URL")
        }
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def app_env(self, name: str) -> dict[str, str]:
        """The environment an app instance runs with (plus any per-app overrides)."""
        env = self._base_env()
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.url("redis"),
                "AI_SERVICE_URL": self.url("ai"),
                "JWT_KEYRING_FILE": str(self.keyring_file),
                "RINGRIFT_ENV": env.get("RINGRIFT_ENV", "development"),
            }
        )
        env.update(self._spec(name).env_overrides)
        return env

    def _argv(self, spec: ProcessSpec) -> list[str]:
        if spec.kind == "redis":
            return [
                RedisServer.binary(),
                "--port",
                str(spec.port),
                "--bind",
                HOST,
                "--dir",
                str(self.run_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ]
        if spec.kind == "ai":
            return [
                sys.executable,
                "-m",
                "ringrift.aiservice",
                "serve",
                "--host",
                HOST,
                "--port",
                str(spec.port),
                "--workers",
                "1",
                "--log-level",
                "warning",
            ]
        return [
            sys.executable,
            "-m",
            "ringrift.cli",
            "serve",
            "--host",
            HOST,
            "--port",
            str(spec.port),
        ]

    def start(
        self,
        name: str,
        *,
        env: dict[str, str] | None = None,
        timeout: float = HEALTH_TIMEOUT_SECONDS,
    ) -> None:
        """Start one service and wait until it is healthy. ``env`` (apps only) overrides
        variables of that instance and is remembered for later restarts."""
        if name == "postgres":
            self._start_postgres(timeout)
            return
        self._refresh()
        spec = self._spec(name)
        if env is not None:
            if spec.kind != "app":
                raise StackError("environment overrides apply to app instances only")
            spec.env_overrides = dict(env)
            self.save()
        if self.is_running(name):
            return
        self._wait_healthy(name, self._launch(name), timeout)

    def _launch(self, name: str) -> subprocess.Popen[bytes]:
        spec = self._spec(name)
        if port_open(HOST, spec.port):
            raise StackError(f"cannot start {name}: port {spec.port} is taken by another process")
        argv = self._argv(spec)
        process_env = self.app_env(name) if spec.kind == "app" else self._base_env()
        log_path = self.log_file(name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            log.write(f"\n--- {_now()} starting {name}: {' '.join(argv)}\n".encode())
            log.flush()
            child = subprocess.Popen(
                argv,
                env=process_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.run_dir,
                start_new_session=True,
            )
        self._children[name] = child
        spec.pid = child.pid
        self.save()
        return child

    def _start_postgres(self, timeout: float) -> None:
        if self.postgres.running and self.is_running("postgres"):
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.postgres.start(timeout=min(30.0, timeout))
                return
            except ServiceError:
                # After a SIGKILL the old backends need a moment to notice and release the
                # shared memory; retry until the deadline.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _wait_healthy(self, name: str, child: subprocess.Popen[bytes], timeout: float) -> None:
        spec = self._spec(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise StackError(
                    f"{name} exited with code {child.returncode} during start-up; "
                    f"last log lines:\n{self.tail(name, 15)}"
                )
            if self.healthy(name):
                return
            time.sleep(0.1)
        raise StackError(f"{name} (port {spec.port}) did not become healthy in {timeout:.0f}s")

    def healthy(self, name: str, timeout: float = 1.0) -> bool:
        """Is the service answering: pg_isready-style TCP, Redis PING, HTTP /health."""
        if name == "postgres":
            return self.is_running(name) and port_open(HOST, self.postgres.port, timeout)
        spec = self._spec(name)
        if spec.kind == "redis":
            return RedisServer(self.run_dir, port=spec.port).ping(timeout)
        try:
            return httpx.get(f"{self.url(name)}/health", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, name: str, timeout: float = STOP_GRACE_SECONDS) -> None:
        """Stop a service gracefully (SIGTERM, SIGKILL after ``timeout``)."""
        if name == "postgres":
            try:
                self.postgres.stop(mode="fast", timeout=timeout + 20)
            except ServiceError as error:
                raise StackError(str(error)) from error
            return
        pid = self.pid(name)
        if pid is None:
            return
        self._signal(name, pid, signal.SIGTERM)
        if not self._wait_dead(name, pid, timeout):
            self._signal(name, pid, signal.SIGKILL)
            self._wait_dead(name, pid, 5.0)

    def kill(self, name: str) -> None:
        """SIGKILL a service (crash drills). PostgreSQL: the postmaster is killed."""
        pid = self.pid(name)
        if pid is None:
            raise StackError(f"{name} is not running")
        self._signal(name, pid, signal.SIGKILL)
        self._wait_dead(name, pid, 10.0)

    def _signal(self, name: str, pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _wait_dead(self, name: str, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid(name) != pid:
                return True
            time.sleep(0.05)
        return self.pid(name) != pid

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def down(self) -> None:
        """Stop every service (apps first, PostgreSQL last). Data stays in the run dir."""
        errors: list[str] = []
        for name in [*reversed(list(self.processes)), "postgres"]:
            try:
                self.stop(name)
            except (StackError, ServiceError, OSError) as error:
                errors.append(f"{name}: {error}")
        self.save()
        if errors:
            raise StackError("some services did not stop cleanly:\n" + "\n".join(errors))

    # -- inspection ------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for name in self.services:
            pid = self.pid(name)
            port = self.postgres.port if name == "postgres" else self._spec(name).port
            kind = "postgres" if name == "postgres" else self._spec(name).kind
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "running": pid is not None,
                    "healthy": pid is not None and self.healthy(name, timeout=0.5),
                    "pid": pid,
                    "port": port,
                    "url": self.url(name),
                    "log": str(self.log_file(name)),
                }
            )
        return rows

    def tail(self, name: str, lines: int = 50) -> str:
        path = self.log_file(name)
        if not path.exists():
            return ""
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            text = handle.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])
