"""Drills against a deployment target: the services and their stop/start/kill commands come
from a file. Here the "deployment" is a local stack driven only through `ringrift stack`
commands, which proves the command path end to end."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops.deployment import Deployment, DeploymentError
from ringrift.ops.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployment_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    stack = Stack.up(tmp_path_factory.mktemp("deploy-stack"), apps=2)
    cmd = f"{sys.executable} -m ringrift.cli stack"
    run = f"--run-dir {stack.run_dir}"

    def verbs(name: str) -> dict[str, str]:
        pid = (
            f'{cmd} status --json {run} | {sys.executable} -c "import json,sys; '
            f"print([s['pid'] for s in json.load(sys.stdin)['services'] "
            f"if s['name']=='{name}'][0])\""
        )
        return {
            "stop": f"{cmd} stop {name} {run}",
            "start": f"{cmd} start {name} {run}",
            "kill": f"{cmd} kill {name} {run}",
            "pid": pid,
        }

    services: dict[str, Any] = {
        name: {"url": stack.url(name), **verbs(name)} for name in stack.services
    }
    services["postgres"]["url"] = stack.url("postgres")
    path = stack.run_dir / "deploy.json"
    path.write_text(
        json.dumps(
            {
                "name": "stack-by-commands",
                "databaseUrl": stack.database_url,
                "keyringFile": str(stack.keyring_file),
                "services": services,
            }
        )
    )
    yield path
    # The commands restarted services in other processes: re-read their pids before stopping.
    Stack.load(stack.run_dir).down()


def test_drills_run_against_a_deployment_file(deployment_file: Path, tmp_path: Path) -> None:
    names = ["redis-outage", "app-crash", "secrets-rotation", "instance-failover"]
    result = CliRunner().invoke(
        cli,
        [
            "drill",
            "run",
            *names,
            "--target",
            str(deployment_file),
            "--report-dir",
            str(tmp_path),
            "--json",
        ],
    )
    journal = json.loads(result.stdout)
    failed = {
        d["name"]: [c for c in d["checks"] if not c["passed"]] for d in journal.get("drills", [])
    }
    assert result.exit_code == 0 and journal["status"] == "PASS", failed
    assert [d["name"] for d in journal["drills"]] == names
    report = Path(journal["report"]).read_text()
    assert "stack-by-commands" in report


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read"),
        ("[]", "JSON object"),
        ('{"databaseUrl": "x", "services": {}}', "services"),
        ('{"databaseUrl": "x", "services": {"redis": {"url": "redis://h"}}}', "no app"),
        ('{"services": {"app1": {"url": "http://h"}}}', "databaseUrl"),
    ],
)
def test_malformed_deployment_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "deploy.json"
    path.write_text(content)
    with pytest.raises(DeploymentError, match=message):
        Deployment.load(path)
    result = CliRunner().invoke(cli, ["drill", "run", "all", "--target", str(path), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["status"] == "ERROR"


def test_missing_deployment_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["drill", "run", "all", "--target", str(tmp_path / "nope.json"), "--json"]
    )
    assert result.exit_code == 2 and "no deployment file" in result.stdout
