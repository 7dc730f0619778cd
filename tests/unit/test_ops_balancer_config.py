"""The HAProxy configuration of an ``--lb`` stack, checked by the real ``haproxy -c`` (Debian
``haproxy``, which scripts/test installs), and the reading of HAProxy's server states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ringrift.ops import balancer
from ringrift.ops.balancer import BalancerError, ServerState, Timings


def test_generated_config_is_valid_and_says_what_the_docs_promise(tmp_path: Path) -> None:
    path = balancer.write_config(tmp_path, 18080, {"app1": 18081, "app2": 18082}, 18090)
    assert path == tmp_path / "haproxy.cfg"
    balancer.check_config(path)
    text = path.read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert "bind 127.0.0.1:18080" in lines
    assert "option httpchk GET /ready" in lines
    assert "http-check expect status 200" in lines
    assert "option forwardfor" in lines
    assert "timeout tunnel 3600s" in lines
    # Only connection failures are retried: a request that reached an app is never resent.
    assert "retry-on conn-failure" in lines
    assert "option redispatch 1" in lines
    assert "server app1 127.0.0.1:18081 check inter 1000 fall 2 rise 2" in lines
    assert "server app2 127.0.0.1:18082 check inter 1000 fall 2 rise 2" in lines
    assert f"stats socket {tmp_path / 'haproxy.sock'} mode 600 level admin" in lines
    # Prometheus scrapes HAProxy's exporter on a frontend of its own, never the public one.
    assert _section(text, "frontend metrics") == [
        "bind 127.0.0.1:18090",
        "http-request set-log-level silent",
        "http-request use-service prometheus-exporter if { path /metrics }",
    ]
    assert not any("prometheus" in line for line in _section(text, "frontend ringrift"))


def test_timings_reach_the_config(tmp_path: Path) -> None:
    timings = Timings(check_interval_ms=250, fall=3, rise=4, tunnel_timeout_s=600)
    path = balancer.write_config(tmp_path, 18080, {"app1": 18081}, 18090, timings)
    balancer.check_config(path)
    text = path.read_text()
    assert "check inter 250 fall 3 rise 4" in text
    assert "timeout tunnel 600s" in text


def test_haproxy_rejects_a_broken_config(tmp_path: Path) -> None:
    path = balancer.write_config(tmp_path, 18080, {"app1": 18081}, 18090)
    path.write_text(path.read_text().replace("balance roundrobin", "balance sideways"))
    with pytest.raises(BalancerError, match="not a valid HAProxy configuration"):
        balancer.check_config(path)


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("UP", ServerState.UP),
        ("UP 1/2", ServerState.UP),  # going down: still in the rotation
        ("DOWN", ServerState.DOWN),
        ("DOWN 1/2", ServerState.DOWN),  # going up: not yet in the rotation
        ("MAINT", ServerState.MAINT),
        ("no check", ServerState.OTHER),
    ],
)
def test_server_state_parsing(text: str, state: ServerState) -> None:
    assert ServerState.parse(text) is state


def test_a_missing_socket_is_a_balancer_error(tmp_path: Path) -> None:
    with pytest.raises(BalancerError, match="does not answer"):
        balancer.server_states(tmp_path / "nothing.sock")


def _section(text: str, header: str) -> list[str]:
    """The non-comment lines of one section (``defaults``, ``backend apps``) of a config."""
    lines = text.splitlines()
    start = lines.index(header) + 1
    body = []
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break
        if line.strip() and not line.strip().startswith("#"):
            body.append(line.strip())
    return body


def test_deploy_config_is_valid_and_keeps_the_stack_settings(tmp_path: Path) -> None:
    """deploy/haproxy/haproxy.cfg (compose's balancer) must not drift from the settings the
    drills prove on the local stack: every default and backend rule of the generated config
    is in it too; only the servers' addresses differ."""
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "haproxy" / "haproxy.cfg"
    balancer.check_config(deploy)
    ours = balancer.write_config(tmp_path, 18080, {"app1": 18081, "app2": 18082}, 18090).read_text()
    theirs = deploy.read_text()
    for header in ("defaults", f"backend {balancer.BACKEND}"):
        missing = [
            line
            for line in _section(ours, header)
            if not line.startswith("server ") and line not in _section(theirs, header)
        ]
        assert not missing, f"{deploy} lacks in {header}: {missing}"
    servers = [line for line in _section(theirs, "backend apps") if line.startswith("server ")]
    assert servers == [
        "server app1 app1:8000 check inter 1000 fall 2 rise 2",
        "server app2 app2:8000 check inter 1000 fall 2 rise 2",
    ]
    frontend = _section(theirs, "frontend ringrift")
    assert "option forwardfor" in frontend and "monitor-uri /haproxy/alive" in frontend
    # The same exporter frontend, on the port deploy/prometheus/targets/haproxy.json names.
    metrics = _section(theirs, f"frontend {balancer.METRICS_FRONTEND}")
    assert metrics[0] == "bind :8404"
    assert metrics[1:] == _section(ours, f"frontend {balancer.METRICS_FRONTEND}")[1:]
    targets = json.loads((deploy.parents[1] / "prometheus/targets/haproxy.json").read_text())
    assert [t for group in targets for t in group["targets"]] == ["lb:8404"]


def test_the_exporter_service_is_checked_by_haproxy(tmp_path: Path) -> None:
    """haproxy -c knows the prometheus-exporter service (a build without it would reject the
    config): a misspelt service name is refused, so the check above means something."""
    path = balancer.write_config(tmp_path, 18080, {"app1": 18081}, 18090)
    path.write_text(path.read_text().replace("prometheus-exporter", "prometheus-exporterz"))
    with pytest.raises(BalancerError, match="not a valid HAProxy configuration"):
        balancer.check_config(path)
