"""A deployment as a drill target: the services of a real installation, driven by commands.

``ringrift drill run ... --target deploy.json`` reads a JSON file that names the services,
their URLs and the shell commands that stop, start and kill them (for example
``docker compose -f deploy/compose.yaml stop redis``), and optionally a command that prints a
service's process id (used to prove that an app was, or was not, restarted)::

    {
      "name": "staging",
      "databaseUrl": "postgresql+asyncpg://ringrift:...@db:5432/ringrift",
      "keyringFile": "deploy/secrets/jwt-keyring.json",
      "services": {
        "postgres": {"url": "postgresql://db:5432", "stop": "...", "start": "..."},
        "redis": {"url": "redis://cache:6379/0", "stop": "...", "start": "..."},
        "ai": {"url": "http://ai:8001", "stop": "...", "start": "..."},
        "app1": {"url": "http://app1:8000", "kind": "app", "stop": "...", "start": "...",
                 "kill": "...", "pid": "..."}
      }
    }

It offers the part of :class:`ringrift.ops.stack.Stack` that drills use, so every drill runs
unchanged against either.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

COMMAND_TIMEOUT = 120.0
WAIT_HEALTHY_SECONDS = 60.0


class DeploymentError(RuntimeError):
    """The target file is malformed, or one of its commands failed."""


@dataclass
class Service:
    name: str
    url: str
    kind: str
    commands: dict[str, str] = field(default_factory=dict)


class Deployment:
    """A target described by a JSON file (see the module docstring)."""

    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.path = path
        self.run_dir = path.parent
        self.name = str(document.get("name") or path.stem)
        self._database_url = _string(document, "databaseUrl", path)
        self._keyring = document.get("keyringFile")
        raw = document.get("services")
        if not isinstance(raw, dict) or not raw:
            raise DeploymentError(f"{path}: 'services' must be a non-empty object")
        self._services: dict[str, Service] = {}
        for name, spec in raw.items():
            if not isinstance(spec, dict):
                raise DeploymentError(f"{path}: services.{name} must be an object")
            url = _string(spec, "url", path, prefix=f"services.{name}.")
            kind = spec.get("kind") or ("app" if name.startswith("app") else name)
            commands = {
                verb: spec[verb]
                for verb in ("stop", "start", "kill", "pid")
                if isinstance(spec.get(verb), str) and spec[verb].strip()
            }
            self._services[name] = Service(name, url, str(kind), commands)
        if not self.app_names:
            raise DeploymentError(f"{path}: no app service (name it app1.. or set kind 'app')")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise DeploymentError(f"no deployment file at {path}") from None
        except (OSError, json.JSONDecodeError) as error:
            raise DeploymentError(f"{path}: cannot read the deployment file: {error}") from None
        if not isinstance(document, dict):
            raise DeploymentError(f"{path}: the deployment file must hold a JSON object")
        return cls(path, document)

    # -- what drills use ----------------------------------------------------------------------

    @property
    def services(self) -> list[str]:
        return list(self._services)

    @property
    def app_names(self) -> list[str]:
        return [s.name for s in self._services.values() if s.kind == "app"]

    @property
    def database_url(self) -> str:
        return self._database_url

    @property
    def keyring_file(self) -> Path:
        if not isinstance(self._keyring, str) or not self._keyring:
            raise DeploymentError(f"{self.path}: 'keyringFile' is needed for secrets rotation")
        return (self.run_dir / self._keyring).resolve()

    def url(self, name: str) -> str:
        return self._service(name).url

    def describe(self) -> str:
        return f"deployment {self.name} ({self.path})"

    def pid(self, name: str) -> int | None:
        command = self._service(name).commands.get("pid")
        if command is None:
            return None
        output = self._run(name, "pid", check=False)
        try:
            return int(output.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None

    def healthy(self, name: str, timeout: float = 1.0) -> bool:
        service = self._service(name)
        if service.url.startswith("http"):
            try:
                return httpx.get(f"{service.url}/health", timeout=timeout).status_code == 200
            except httpx.HTTPError:
                return False
        parts = urlsplit(service.url)
        if parts.scheme.startswith("redis"):
            return _redis_ping(parts.hostname or "127.0.0.1", parts.port or 6379, timeout)
        try:
            with socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or 5432), timeout
            ):
                return True
        except OSError:
            return False

    def is_running(self, name: str) -> bool:
        return self.healthy(name)

    def stop(self, name: str) -> None:
        self._run(name, "stop")

    def kill(self, name: str) -> None:
        self._run(name, "kill" if "kill" in self._service(name).commands else "stop")

    def start(self, name: str) -> None:
        self._run(name, "start")
        deadline = time.monotonic() + WAIT_HEALTHY_SECONDS
        while not self.healthy(name):
            if time.monotonic() > deadline:
                raise DeploymentError(f"{name} did not become healthy after start")
            time.sleep(0.2)

    # -- internals ----------------------------------------------------------------------------

    def _service(self, name: str) -> Service:
        try:
            return self._services[name]
        except KeyError:
            raise DeploymentError(
                f"{self.path}: no service {name!r} (have {', '.join(self._services)})"
            ) from None

    def _run(self, name: str, verb: str, *, check: bool = True) -> str:
        command = self._service(name).commands.get(verb)
        if command is None:
            raise DeploymentError(f"{self.path}: services.{name} has no '{verb}' command")
        try:
            done = subprocess.run(
                command,
                shell=True,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                cwd=self.run_dir,
            )
        except subprocess.TimeoutExpired:
            raise DeploymentError(f"{verb} {name}: `{command}` timed out") from None
        if check and done.returncode != 0:
            raise DeploymentError(
                f"{verb} {name}: `{command}` exited {done.returncode}: {done.stderr.strip()[:300]}"
            )
        return done.stdout


def _string(document: dict[str, Any], key: str, path: Path, prefix: str = "") -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise DeploymentError(f"{path}: '{prefix}{key}' must be a non-empty string")
    return value


def _redis_ping(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
