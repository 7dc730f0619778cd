"""deploy/grafana/: the four dashboards are the ones build.py writes, are well-formed Grafana
JSON, and every panel query is valid PromQL for Prometheus' own parser (promtool, fed the
expressions as recording rules). That each queried metric is exported by a running app is
tests/integration/test_deploy_metrics.py's job."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"


def _build_module() -> Any:
    spec = importlib.util.spec_from_file_location("grafana_build", GRAFANA / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _boards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(GRAFANA.glob("dashboards/*.json"))}


def test_committed_json_is_what_build_writes() -> None:
    build = _build_module()
    for name, board in build.DASHBOARDS.items():
        committed = (GRAFANA / "dashboards" / name).read_text()
        assert committed == build.render(board), f"run python3 deploy/grafana/build.py ({name})"
    assert set(build.DASHBOARDS) == set(_boards())


def test_four_dashboards_with_unique_ids_and_sane_panels() -> None:
    boards = _boards()
    assert set(boards) == {"overview.json", "gameplay.json", "dependencies.json", "ai.json"}
    assert len({b["uid"] for b in boards.values()}) == 4
    for name, board in boards.items():
        assert board["title"].startswith("RingRift / "), name
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)) and len(ids) >= 6, name
        for panel in board["panels"]:
            assert panel["targets"], f"{name}: {panel['title']} has no query"
            assert panel["datasource"]["uid"] == "${datasource}"
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, f"{name}: {panel['title']}"


def test_every_panel_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./scripts/test installs it (Debian package)"
    rules = []
    for board in _boards().values():
        for panel in board["panels"]:
            for target in panel["targets"]:
                # Grafana's $variables sit inside label matchers, where any string is valid.
                rules.append({"record": f"dashboard:query:{len(rules)}", "expr": target["expr"]})
    assert len(rules) > 30
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # And the check is real: a broken query is refused.
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum(("}]}]})
    )
    broken = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True)
    assert broken.returncode != 0


def test_provisioning_points_at_the_dashboards() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/ringrift.yml").read_text())
    assert provider["providers"][0]["type"] == "file"
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/ringrift.yml").read_text())
    assert source["datasources"][0]["type"] == "prometheus"
