"""``ringrift stack``: real PostgreSQL, Redis, AI service and two app instances on free ports."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from server_support import ready_body
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops.services import port_open
from ringrift.ops.stack import Stack, StackError
from ringrift.server.security.keyring import parse_keyring_document

pytestmark = pytest.mark.integration


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def test_stack_lifecycle(tmp_path: Path) -> None:
    run_dir = tmp_path / "stack"
    stack = Stack.up(run_dir, apps=2)
    try:
        # State file: everything another process needs to find the stack.
        state = json.loads((run_dir / "stack.json").read_text())
        assert set(state["urls"]) == {"postgres", "redis", "ai", "app1", "app2"}
        keyring = Path(state["keyringFile"])
        document = json.loads(keyring.read_text())
        assert parse_keyring_document(document, str(keyring)).active_kid == document["activeKid"]
        assert keyring.stat().st_mode & 0o077 == 0
        assert "secret" not in json.dumps(state).lower()

        code, out = _cli("stack", "status", "--run-dir", str(run_dir), "--json")
        assert code == 0
        rows = {r["name"]: r for r in json.loads(out)["services"]}
        assert all(r["running"] and r["healthy"] and r["pid"] for r in rows.values()), rows
        assert len({r["port"] for r in rows.values()}) == 5

        # Both app instances share the database and the keyring.
        app1, app2 = stack.url("app1"), stack.url("app2")
        ready = ready_body(app1, lambda body: body.get("status") == "healthy")
        assert ready.get("status") == "healthy", ready
        reg = httpx.post(
            f"{app1}/api/auth/register",
            json={"email": "st@example.com", "username": "stacky", "password": "pass-word-123"},
            timeout=10,
        )
        assert reg.status_code == 202, reg.text
        login = httpx.post(
            f"{app1}/api/auth/login",
            json={"email": "st@example.com", "password": "pass-word-123"},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        token = login.json()["data"]["accessToken"]
        me = httpx.get(
            f"{app2}/api/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert me.status_code == 200 and me.json()["data"]["user"]["username"] == "stacky"

        # A second `up` on a running stack is refused.
        with pytest.raises(StackError, match="already running"):
            Stack.up(run_dir)

        # stop / start through the CLI (another process's view of the stack).
        code, out = _cli("stack", "stop", "redis", "--run-dir", str(run_dir), "--json")
        assert code == 0 and json.loads(out)["service"]["running"] is False
        assert not port_open("127.0.0.1", stack.processes["redis"].port)
        body = httpx.get(f"{app1}/ready", timeout=5).json()
        assert body["checks"]["redis"]["status"] == "degraded"
        code, out = _cli("stack", "start", "redis", "--run-dir", str(run_dir), "--json")
        assert code == 0 and json.loads(out)["service"]["healthy"] is True

        # kill -9 an app, then start it again: a new pid answers on the same port.
        old = stack.pid("app2")
        code, _ = _cli("stack", "kill", "app2", "--run-dir", str(run_dir))
        assert code == 0
        assert not Stack.load(run_dir).is_running("app2")
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{app2}/health", timeout=1)
        stack.start("app2")
        assert stack.pid("app2") not in (None, old)
        assert httpx.get(f"{app2}/health", timeout=5).status_code == 200

        # Postgres killed with SIGKILL comes back.
        stack.kill("postgres")
        assert not stack.is_running("postgres")
        stack.start("postgres")
        assert stack.healthy("postgres")

        code, out = _cli("stack", "logs", "app1", "--run-dir", str(run_dir), "-n", "5", "--json")
        assert code == 0 and 0 < len(json.loads(out)["lines"]) <= 5

        # Bad input: unknown service, missing stack.
        code, out = _cli("stack", "stop", "nosuch", "--run-dir", str(run_dir), "--json")
        assert code == 1 and "unknown service" in json.loads(out)["error"]
        code, out = _cli("stack", "status", "--run-dir", str(tmp_path / "none"), "--json")
        assert code == 1 and "no stack" in json.loads(out)["error"]
        with pytest.raises(StackError, match="--apps"):
            Stack.up(tmp_path / "other", apps=0)
        assert not (tmp_path / "other").exists()
    finally:
        code, _ = _cli("stack", "down", "--run-dir", str(run_dir))
    assert code == 0
    assert not any(row["running"] for row in Stack.load(run_dir).status())
    for name in ("redis", "ai", "app1", "app2"):
        assert not port_open("127.0.0.1", stack.processes[name].port)

    # `up` again on the stopped stack: same URLs, same data, same keyring (old token valid).
    again = Stack.up(run_dir, apps=2)
    try:
        assert [again.url(n) for n in again.services] == [stack.url(n) for n in stack.services]
        me = httpx.get(
            f"{again.url('app2')}/api/users/me",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert me.status_code == 200 and me.json()["data"]["user"]["username"] == "stacky"
    finally:
        again.down()
