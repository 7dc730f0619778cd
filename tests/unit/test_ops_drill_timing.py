"""Drill timing (``ringrift.ops.drill_timing``): the local stack's Prometheus loads a copy of
deploy/prometheus/rules with every ``for:`` and range window capped and nothing else changed,
the copy passes ``promtool check rules``, and the alerts drills may require are exactly the
alerts of the rule files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ringrift.ops import monitoring
from ringrift.ops.drill_timing import (
    DRILL_TIMING,
    DrillTiming,
    DurationError,
    cap_ranges,
    format_duration,
    parse_duration,
    rewrite_rules,
)
from ringrift.ops.drills import load_builtin
from ringrift.ops.drills.alertgate import Alert

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
RANGE = re.compile(r"\[(\d+[a-z]+)\]")


def _rules(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in document["groups"] for rule in group["rules"]]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("1m", 60.0), ("1h30m", 5400.0), ("250ms", 0.25), ("2d", 172800.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "1.5m", "m", "5 s", "-1m"])
def test_parse_duration_refuses_what_prometheus_refuses(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for seconds in (1.0, 5.0, 30.0, 0.5):
        assert parse_duration(format_duration(seconds)) == seconds


def test_cap_ranges_shortens_longer_windows_outside_strings_and_subqueries() -> None:
    expr = 'sum(rate(a_total[2m])) > 0 or rate(b_total{x="[5m]"}[10s]) or max_over_time(c[5m:1m])'
    capped = cap_ranges(expr, 30.0)
    assert capped == (
        'sum(rate(a_total[30s])) > 0 or rate(b_total{x="[5m]"}[10s]) or max_over_time(c[5m:1m])'
    )


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rewritten_rules_cap_every_duration_and_keep_the_rest(path: Path) -> None:
    original = yaml.safe_load(path.read_text())
    rewritten = rewrite_rules(path.read_text(), DRILL_TIMING)
    assert [g["name"] for g in rewritten["groups"]] == [g["name"] for g in original["groups"]]
    before, after = _rules(original), _rules(rewritten)
    assert len(before) == len(after)
    changed_for = changed_expr = 0
    for old, new in zip(before, after, strict=True):
        # Names, labels and annotations are untouched; no key appears or disappears.
        assert set(new) == set(old)
        assert {k: v for k, v in new.items() if k not in ("for", "expr")} == {
            k: v for k, v in old.items() if k not in ("for", "expr")
        }
        if "for" in old:
            assert parse_duration(new["for"]) == min(
                parse_duration(str(old["for"])), DRILL_TIMING.for_cap
            )
            changed_for += new["for"] != old["for"]
        # The expression is the same once its range windows are read as capped.
        windows = [parse_duration(w) for w in RANGE.findall(old["expr"])]
        assert RANGE.sub("[]", new["expr"]) == RANGE.sub("[]", old["expr"])
        assert [parse_duration(w) for w in RANGE.findall(new["expr"])] == [
            min(w, DRILL_TIMING.range_cap) for w in windows
        ]
        changed_expr += new["expr"] != old["expr"]
    # The production rules do wait longer than drill timing: there is something to rewrite.
    assert changed_for or changed_expr


def test_rewriting_uses_the_timing_it_is_given() -> None:
    text = (
        "groups:\n- name: g\n  interval: 1m\n  rules:\n"
        "  - alert: A\n    expr: rate(x_total[10m]) > 0\n    for: 15m\n"
        "    labels: {severity: page}\n"
        "  - alert: B\n    expr: y == 0\n    for: 2s\n"
    )
    timing = DrillTiming(for_cap=3.0, range_cap=20.0, evaluation_seconds=0.5)
    group = rewrite_rules(text, timing)["groups"][0]
    assert group["interval"] == "500ms"
    assert group["rules"][0] == {
        "alert": "A",
        "expr": "rate(x_total[20s]) > 0",
        "for": "3s",
        "labels": {"severity": "page"},
    }
    assert group["rules"][1]["for"] == "2s"  # already shorter: kept


def test_rewriting_refuses_a_file_without_groups() -> None:
    with pytest.raises(ValueError, match="no groups"):
        rewrite_rules("rules: []\n")


def test_stack_config_loads_the_rewritten_copy_and_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./scripts/test installs it (Debian prometheus)"
    config = monitoring.write_config(tmp_path, {"app1": 18001, "app2": 18002}, 18003, 18004)
    loaded = json.loads(config.read_text())
    assert loaded["global"]["evaluation_interval"] == DRILL_TIMING.evaluation_interval
    copies = [tmp_path / name for name in loaded["rule_files"]]
    assert sorted(c.name for c in copies) == [p.name for p in RULE_FILES]
    for copy in copies:
        for rule in _rules(yaml.safe_load(copy.read_text())):
            assert parse_duration(rule.get("for", "0s")) <= DRILL_TIMING.for_cap
            assert all(
                parse_duration(w) <= DRILL_TIMING.range_cap for w in RANGE.findall(rule["expr"])
            )
    result = subprocess.run(
        [promtool, "check", "rules", *map(str, copies)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).count("SUCCESS") == len(copies)
    # promtool also accepts the whole configuration with those rule files.
    check = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_alert_names_match_the_rule_files_and_every_drill_declares_known_ones() -> None:
    defined = {
        rule["alert"]
        for path in RULE_FILES
        for rule in _rules(yaml.safe_load(path.read_text()))
        if "alert" in rule
    }
    assert {a.value for a in Alert} == defined
    declared = {name: drill.alerts for name, drill in load_builtin().items()}
    assert declared["db-outage"] == (Alert.DATABASE_UNAVAILABLE,)
    assert declared["redis-outage"] == (Alert.REDIS_DOWN,)
    assert declared["app-crash"] == (Alert.APP_INSTANCE_DOWN,)
    # Drills that inject no fault require no alert.
    assert declared["backup-restore"] == declared["secrets-rotation"] == ()
