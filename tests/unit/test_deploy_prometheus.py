"""deploy/prometheus/ checked by the real tools: promtool validates the server configuration and
the rule files and runs the alert unit tests (deploy/prometheus/tests/), and the blackbox
exporter validates its modules. Both binaries come from Debian (scripts/test installs them).
The alert catalogue is also checked for completeness: every alert is exercised by a unit test
that expects it to fire, and links a runbook that exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
TEST_FILES = sorted((PROM / "tests").glob("*.yml"))


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: ./scripts/test installs it (Debian package)"
    return path


def _run(args: list[str], cwd: Path = ROOT) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def _alerts() -> dict[str, dict[str, Any]]:
    alerts: dict[str, dict[str, Any]] = {}
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["alert"] not in alerts, f"alert {rule['alert']} defined twice"
                    alerts[rule["alert"]] = rule
    return alerts


def test_rule_files_exist() -> None:
    assert {p.name for p in RULE_FILES} >= {"alerts.yml", "recording.yml"}
    assert TEST_FILES


def test_promtool_check_rules() -> None:
    output = _run([_tool("promtool"), "check", "rules", *map(str, RULE_FILES)])
    assert output.count("SUCCESS") == len(RULE_FILES)


def test_promtool_check_config() -> None:
    # Relative rule and target paths resolve from the configuration's own folder.
    output = _run([_tool("promtool"), "check", "config", "prometheus.yml"], cwd=PROM)
    assert "is valid prometheus config file syntax" in output


def test_promtool_alert_unit_tests() -> None:
    output = _run([_tool("promtool"), "test", "rules", *map(str, TEST_FILES)])
    assert "SUCCESS" in output and "FAILED" not in output


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """The harness notices a wrong expectation (so a green run above means something)."""
    source = (PROM / "tests" / "alerts_test.yml").read_text()
    broken = source.replace('summary: "App instance app1:8000', 'summary: "App instance app9:8000')
    assert broken != source
    (tmp_path / "rules").symlink_to(PROM / "rules")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "broken_test.yml").write_text(broken)
    result = subprocess.run(
        [_tool("promtool"), "test", "rules", str(tmp_path / "tests" / "broken_test.yml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "RingRiftAppInstanceDown" in result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(_alerts())
    assert alerts - fired == set(), "alerts with no test that expects them to fire"
    assert alerts - quiet == set(), "alerts with no test that expects them to stay quiet"
    assert (fired | quiet) - alerts == set(), "tests name alerts that do not exist"


@pytest.mark.parametrize("name", sorted(_alerts()))
def test_alert_has_severity_summary_and_existing_runbook(name: str) -> None:
    rule = _alerts()[name]
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert rule["annotations"]["summary"]
    runbook = ROOT / rule["annotations"]["runbook_url"]
    assert runbook.is_file(), f"{name}: runbook {runbook} is missing"
    text = runbook.read_text()
    assert name in text, f"{runbook.name} does not name the alert {name}"
    for heading in ("## What it means", "## First checks", "## Fix"):
        assert heading in text, f"{runbook.name} lacks the section {heading!r}"


def test_blackbox_exporter_config_check() -> None:
    output = _run(
        [
            _tool("prometheus-blackbox-exporter"),
            "--config.check",
            "--config.file",
            str(PROM / "blackbox.yml"),
        ]
    )
    assert "Config file is ok" in output
