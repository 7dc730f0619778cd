"""``ringrift stack up --lb --pg-replica --monitoring``: Prometheus scrapes the real HAProxy's
built-in exporter and the real PostgreSQL exporter next to the apps. It sees both apps in the
rotation and the balancer take a stopped app out (RingRiftBalancerBackendDown pending for it
alone) and put it back, and RingRiftBalancerDown when the balancer itself stops; it sees the
standby streaming from the primary, every ``pg_*`` series the rules and dashboards read, and
RingRiftReplicaDown go pending when the standby stops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_deploy_metrics import queried_expressions, selectors
from test_ops_monitoring import _wait
from typer.testing import CliRunner

from ringrift.cli import app as cli
from ringrift.ops import monitoring, pgcluster
from ringrift.ops.pgcluster import REPLICA_SERVICE
from ringrift.ops.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEPENDENCIES_BOARD = (
    Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "dependencies.json"
)


def _panel_queries(prefix: str) -> dict[str, str]:
    """The dependencies dashboard's queries that read an exporter's series (``prefix``)."""
    board = json.loads(DEPENDENCIES_BOARD.read_text())
    return {
        f"{panel['title']} / {target['refId']}": target["expr"]
        for panel in board["panels"]
        for target in panel["targets"]
        if any(s.metric.startswith(prefix) for s in selectors(target["expr"]))
    }


def _series(url: str, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def _query(url: str, expr: str) -> dict[str, float]:
    """``{server label (or ''): value}`` of an instant query."""
    return {r["metric"].get("server", ""): float(r["value"][1]) for r in _series(url, expr)}


def _active(url: str, name: str) -> list[dict[str, Any]]:
    alerts = httpx.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == name]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("monitored-lb") / "stack"
    result = CliRunner().invoke(
        cli,
        [
            "stack",
            "up",
            "--run-dir",
            str(run_dir),
            "--apps",
            "2",
            "--lb",
            "--pg-replica",
            "--monitoring",
        ],
    )
    assert result.exit_code == 0, result.output
    loaded = Stack.load(run_dir)
    yield loaded
    loaded.down()


def test_prometheus_scrapes_the_balancer(stack: Stack) -> None:
    url = stack.url("prometheus")
    lb = stack.processes["lb"]
    assert lb.metrics_port and lb.metrics_port != lb.port
    state = json.loads(stack.state_file.read_text())
    assert {p["name"]: p.get("metricsPort") for p in state["processes"]}["lb"] == lb.metrics_port
    _wait(
        "the balancer's exporter scraped",
        lambda: _query(url, f'up{{job="{monitoring.BALANCER_JOB}"}}') == {"": 1.0},
        30,
    )
    _wait(
        "both apps in the rotation",
        lambda: (
            _query(url, 'haproxy_server_status{proxy="apps",state="UP"}')
            == {"app1": 1.0, "app2": 1.0}
        ),
        30,
    )
    assert _query(url, 'haproxy_backend_active_servers{proxy="apps"}') == {"": 2.0}
    # The dashboard's balancer panels show data (their queries name no Grafana variable).
    panels = _panel_queries("haproxy_")
    assert len(panels) >= 4
    for where, expr in panels.items():
        assert _series(url, expr), f"{where}: {expr} returns nothing"
    in_rotation = 'max by (server) (haproxy_server_status{proxy="apps",state="UP"})'
    assert in_rotation in panels.values()
    assert _query(url, in_rotation) == {"app1": 1.0, "app2": 1.0}
    # Nothing is wrong: no balancer alert is active.
    assert _active(url, "RingRiftBalancerBackendDown") == []
    assert _active(url, "RingRiftBalancerNoBackend") == []


def test_a_stopped_app_is_seen_out_of_the_rotation_and_back(stack: Stack) -> None:
    url = stack.url("prometheus")
    stack.stop("app2")
    try:
        _wait(
            "app2 DOWN and one active server",
            lambda: (
                _query(url, 'haproxy_server_status{proxy="apps",state="DOWN"} == 1')
                == {"app2": 1.0}
                and _query(url, 'haproxy_backend_active_servers{proxy="apps"}') == {"": 1.0}
            ),
            40,
        )
        pending = _wait(
            "RingRiftBalancerBackendDown pending",
            lambda: _active(url, "RingRiftBalancerBackendDown"),
            30,
        )
        assert [a["labels"]["server"] for a in pending] == ["app2"]
        assert _active(url, "RingRiftBalancerNoBackend") == []
    finally:
        stack.start("app2")
    _wait(
        "app2 back in the rotation and the alert cleared",
        lambda: (
            _query(url, 'haproxy_backend_active_servers{proxy="apps"}') == {"": 2.0}
            and not _active(url, "RingRiftBalancerBackendDown")
        ),
        40,
    )


def test_a_stopped_balancer_raises_balancer_down(stack: Stack) -> None:
    """With HAProxy gone its exporter is too: the scrape fails and RingRiftBalancerDown goes
    pending (the other balancer alerts are blind meanwhile), and clears once it is back."""
    url = stack.url("prometheus")
    _wait(
        "the balancer's exporter scraped",
        lambda: _query(url, f'up{{job="{monitoring.BALANCER_JOB}"}}') == {"": 1.0},
        30,
    )
    assert _active(url, "RingRiftBalancerDown") == []
    stack.stop("lb")
    try:
        pending = _wait(
            "RingRiftBalancerDown active", lambda: _active(url, "RingRiftBalancerDown"), 40
        )
        assert [a["labels"]["job"] for a in pending] == [monitoring.BALANCER_JOB]
        assert _active(url, "RingRiftAppInstanceDown") == []
    finally:
        stack.start("lb")
    _wait(
        "the balancer scraped again and the alert cleared",
        lambda: (
            _query(url, f'up{{job="{monitoring.BALANCER_JOB}"}}') == {"": 1.0}
            and not _active(url, "RingRiftBalancerDown")
        ),
        40,
    )


def test_prometheus_watches_the_standby_through_the_primary(stack: Stack) -> None:
    url = stack.url("prometheus")
    assert stack.replica is not None
    _wait(
        "the PostgreSQL exporter scraped",
        lambda: _query(url, f'up{{job="{monitoring.POSTGRES_JOB}"}}') == {"": 1.0},
        30,
    )
    rows = _wait(
        "the standby streaming from the primary",
        lambda: _series(url, 'pg_stat_replication_pg_current_wal_lsn_bytes{state="streaming"}'),
        30,
    )
    assert [(r["metric"]["server"], r["metric"]["application_name"]) for r in rows] == [
        (f"127.0.0.1:{stack.postgres.port}", pgcluster.node_name(stack.replica.run_dir))
    ]
    # Every pg_* series a rule or panel reads exists, with the labels it matches on.
    checked = 0
    for where, expr in queried_expressions().items():
        for selector in selectors(expr):
            if not selector.metric.startswith("pg_"):
                continue
            found = _series(url, selector.metric)
            assert found, f"{where}: {selector.metric} is not scraped"
            for label, _, _ in selector.matchers:
                assert all(label in r["metric"] for r in found), f"{where}: no label {label}"
            checked += 1
    assert checked >= 4  # two selectors in the rules, two in the dashboard
    # The replication panels show the one standby and its lag.
    panels = _panel_queries("pg_")
    assert len(panels) == 2
    standbys = next(e for e in panels.values() if e.startswith("count("))
    assert [float(r["value"][1]) for r in _series(url, standbys)] == [1.0]
    lag_panel = next(e for e in panels.values() if "lsn_diff" in e)
    assert [r["metric"]["application_name"] for r in _series(url, lag_panel)] == [
        pgcluster.node_name(stack.replica.run_dir)
    ]
    lag = _query(url, "pg_stat_replication_pg_wal_lsn_diff")
    assert set(lag) == {f"127.0.0.1:{stack.postgres.port}"} and min(lag.values()) >= 0
    assert _active(url, "RingRiftReplicaDown") == []
    assert _active(url, "RingRiftReplicationLagHigh") == []


def test_a_stopped_standby_raises_replica_down(stack: Stack) -> None:
    url = stack.url("prometheus")
    _wait(
        "the standby streaming",
        lambda: _series(url, 'pg_stat_replication_pg_current_wal_lsn_bytes{state="streaming"}'),
        30,
    )
    stack.stop(REPLICA_SERVICE)
    try:
        pending = _wait(
            "RingRiftReplicaDown pending", lambda: _active(url, "RingRiftReplicaDown"), 40
        )
        assert [a["labels"]["job"] for a in pending] == [monitoring.POSTGRES_JOB]
    finally:
        stack.start(REPLICA_SERVICE)
    _wait("RingRiftReplicaDown cleared", lambda: not _active(url, "RingRiftReplicaDown"), 40)
