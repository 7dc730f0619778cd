#!/usr/bin/env python3
"""Writes the Grafana dashboards in dashboards/*.json from the panel lists below.

The JSON files are what Grafana imports (or provisions, see provisioning/); this script keeps
their boilerplate (datasource and instance variables, grid layout, ids) consistent. Edit the
panels here and run ``python3 deploy/grafana/build.py``; the test suite checks the committed
JSON is what this script writes, and that every metric a panel queries is exported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
INST = '{instance=~"$instance"}'


def panel(
    title: str,
    targets: list[tuple[str, str]],
    unit: str = "short",
    kind: str = "timeseries",
    width: int = 12,
    description: str = "",
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"]}},
        "_width": width,
    }


def dashboard(uid: str, title: str, description: str, panels: list[dict[str, Any]]) -> dict:
    x = y = 0
    row_height = 8
    laid_out = []
    for number, item in enumerate(panels, start=1):
        width = item.pop("_width")
        height = 4 if item["type"] == "stat" else row_height
        if x + width > 24:
            x, y = 0, y + row_height
        item = {"id": number, "gridPos": {"h": height, "w": width, "x": x, "y": y}, **item}
        laid_out.append(item)
        x += width
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["ringrift"],
        "timezone": "utc",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                },
                {
                    "name": "instance",
                    "label": "App instance",
                    "type": "query",
                    "datasource": DS,
                    "query": {
                        "query": 'label_values(up{job="ringrift-app"}, instance)',
                        "refId": "instance",
                    },
                    "definition": 'label_values(up{job="ringrift-app"}, instance)',
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                    "refresh": 2,
                },
            ]
        },
        "annotations": {"list": []},
        "links": [
            {"title": "Runbooks (docs/runbooks/)", "type": "link", "url": "docs/runbooks/README.md"}
        ],
        "panels": laid_out,
    }


OVERVIEW = dashboard(
    "ringrift-overview",
    "RingRift / Overview",
    "Is the game up, and is it fast? The figures the paging alerts use.",
    [
        panel("App instances up", [("ringrift:app_instances_up:sum", "up")], kind="stat", width=6),
        panel("AI service up", [('sum(up{job="ringrift-ai"})', "up")], kind="stat", width=6),
        panel(
            "Open WebSockets",
            [("sum(ringrift_ws_connections)", "connections")],
            kind="stat",
            width=6,
        ),
        panel(
            "Games completed (1h)",
            [("sum(increase(ringrift_games_completed_total[1h]))", "games")],
            kind="stat",
            width=6,
        ),
        panel(
            "HTTP requests/s (without probes and scrapes)",
            [("ringrift:http_requests:rate5m", "requests/s")],
            unit="reqps",
        ),
        panel(
            "HTTP 5xx ratio (alert above 5 %)",
            [("ringrift:http_5xx:ratio5m", "5xx")],
            unit="percentunit",
        ),
        panel(
            "Move p95, HTTP and WebSocket (SLO 250 ms)",
            [
                ("ringrift:move_http_latency_seconds:p95_5m", "HTTP p95"),
                ("ringrift:move_ws_latency_seconds:p95_5m", "WebSocket p95"),
            ],
            unit="s",
        ),
        panel(
            "/ready checks failing, by dependency",
            [("max by (dependency) (ringrift:ready_check_failing)", "{{dependency}}")],
            description="1 when an answering app instance finds the dependency unhealthy.",
        ),
        panel(
            "Error responses by code",
            [("sum by (code) (rate(ringrift_http_errors_total" + INST + "[5m]))", "{{code}}")],
            unit="reqps",
            width=24,
        ),
    ],
)

GAMEPLAY = dashboard(
    "ringrift-gameplay",
    "RingRift / Game play",
    "Moves, games and the WebSocket channel, per app instance.",
    [
        panel(
            "Move submission latency (HTTP)",
            [
                (
                    "histogram_quantile(0.95, sum by (le, instance) (rate("
                    'ringrift_http_request_duration_seconds_bucket{method="POST",'
                    'route="/api/games/{game_id}/moves",instance=~"$instance"}[5m])))',
                    "p95 {{instance}}",
                ),
                (
                    "histogram_quantile(0.5, sum by (le, instance) (rate("
                    'ringrift_http_request_duration_seconds_bucket{method="POST",'
                    'route="/api/games/{game_id}/moves",instance=~"$instance"}[5m])))',
                    "p50 {{instance}}",
                ),
            ],
            unit="s",
        ),
        panel(
            "Move latency (WebSocket, frame to ack)",
            [
                (
                    "histogram_quantile(0.95, sum by (le, instance) (rate("
                    'ringrift_ws_move_duration_seconds_bucket{outcome="ok",'
                    'instance=~"$instance"}[5m])))',
                    "p95 {{instance}}",
                ),
                (
                    "histogram_quantile(0.5, sum by (le, instance) (rate("
                    'ringrift_ws_move_duration_seconds_bucket{outcome="ok",'
                    'instance=~"$instance"}[5m])))',
                    "p50 {{instance}}",
                ),
            ],
            unit="s",
        ),
        panel(
            "Moves over the WebSocket /s by outcome",
            [
                (
                    "sum by (outcome) (rate(ringrift_ws_move_duration_seconds_count"
                    + INST
                    + "[5m]))",
                    "{{outcome}}",
                )
            ],
            unit="ops",
        ),
        panel(
            "Moves submitted over HTTP /s",
            [
                (
                    'sum by (status) (rate(ringrift_http_requests_total{method="POST",'
                    'route="/api/games/{game_id}/moves",instance=~"$instance"}[5m]))',
                    "{{status}}",
                )
            ],
            unit="reqps",
        ),
        panel(
            "Games completed by reason /min",
            [
                (
                    "sum by (reason) (rate(ringrift_games_completed_total" + INST + "[5m])) * 60",
                    "{{reason}}",
                )
            ],
        ),
        panel(
            "Open WebSockets per instance",
            [("ringrift_ws_connections" + INST, "{{instance}}")],
        ),
        panel(
            "WebSocket frames /s",
            [
                (
                    "sum by (direction, type) (rate(ringrift_ws_frames_total" + INST + "[5m]))",
                    "{{direction}} {{type}}",
                )
            ],
            unit="ops",
        ),
        panel(
            "WebSocket error frames /s by code",
            [("sum by (code) (rate(ringrift_ws_errors_total" + INST + "[5m]))", "{{code}}")],
            unit="ops",
        ),
        panel(
            "WebSocket server-error ratio (alert above 2 %)",
            [("ringrift:ws_server_errors:ratio5m", "server errors / inbound frames")],
            unit="percentunit",
        ),
        panel(
            "Rate-limit rejections /s by bucket",
            [
                (
                    "sum by (bucket) (rate(ringrift_ratelimit_rejected_total" + INST + "[5m]))",
                    "{{bucket}}",
                )
            ],
            unit="reqps",
        ),
        panel(
            "HTTP requests in flight",
            [("ringrift_http_requests_in_flight" + INST, "{{instance}}")],
            width=24,
        ),
    ],
)

DEPENDENCIES = dashboard(
    "ringrift-dependencies",
    "RingRift / Dependencies",
    "PostgreSQL, Redis, backups and the signing keyring as the apps see them; the load "
    "balancer's view of the apps and the PostgreSQL standby.",
    [
        panel(
            "/ready probe per instance and dependency",
            [
                (
                    'probe_success{job="ringrift-ready",instance=~"$instance"}',
                    "{{instance}} {{dependency}}",
                )
            ],
            width=24,
        ),
        panel(
            "Requests refused: database unavailable /s",
            [
                (
                    "sum by (instance) (rate(ringrift_db_unavailable_total" + INST + "[5m]))",
                    "{{instance}}",
                )
            ],
            unit="reqps",
        ),
        panel(
            "/ready probe duration",
            [
                (
                    'probe_duration_seconds{job="ringrift-ready",instance=~"$instance"}',
                    "{{instance}} {{dependency}}",
                )
            ],
            unit="s",
        ),
        panel(
            "Rate-limit hits counted locally (Redis unavailable) /s",
            [
                (
                    "sum by (instance) (rate(ringrift_ratelimit_local_total" + INST + "[5m]))",
                    "{{instance}}",
                )
            ],
            unit="reqps",
        ),
        panel(
            "Events published on Redis /s by outcome",
            [
                (
                    "sum by (outcome) (rate(ringrift_bus_published_total" + INST + "[5m]))",
                    "{{outcome}}",
                )
            ],
            unit="ops",
        ),
        panel(
            "Pub/sub messages received /s by kind",
            [
                (
                    "sum by (kind) (rate(ringrift_bus_received_total" + INST + "[5m]))",
                    "{{kind}}",
                )
            ],
            unit="ops",
        ),
        panel(
            "Pub/sub resubscriptions (1h)",
            [
                (
                    "sum by (instance) (increase(ringrift_bus_resubscribes_total" + INST + "[1h]))",
                    "{{instance}}",
                )
            ],
        ),
        panel(
            "Age of the newest backup (alert above 26 h)",
            [("time() - max(ringrift_backup_last_success_timestamp_seconds)", "age")],
            unit="s",
            kind="stat",
            width=6,
        ),
        panel(
            "Age of the active signing key (alert above 37 d)",
            [("time() - max(ringrift_keyring_active_key_created_timestamp_seconds)", "age")],
            unit="s",
            kind="stat",
            width=6,
        ),
        # From HAProxy's exporter (job haproxy) and the PostgreSQL exporter (job postgres);
        # empty where the deployment runs no balancer or no standby.
        panel(
            "Balancer exporter up (alert at 0)",
            [('sum(up{job="haproxy"})', "up")],
            kind="stat",
            width=6,
        ),
        panel(
            "PostgreSQL standbys streaming (alert at 0)",
            [
                (
                    'count(pg_stat_replication_pg_current_wal_lsn_bytes{state="streaming"})'
                    " or vector(0)",
                    "standbys",
                )
            ],
            kind="stat",
            width=6,
            description="Standbys the primary streams WAL to; 0 with synchronous replication "
            "means every commit waits.",
        ),
        panel(
            "Balancer: app instances in the rotation (alert at 0)",
            [('haproxy_backend_active_servers{proxy="apps"}', "{{instance}}")],
        ),
        panel(
            "Balancer: app instance in the rotation (1) or out (0)",
            [('max by (server) (haproxy_server_status{proxy="apps",state="UP"})', "{{server}}")],
            description="0 when HAProxy's /ready checks took the instance out, or an operator "
            "put it in maintenance.",
        ),
        panel(
            "Balancer: current sessions per app instance",
            [
                ('haproxy_server_current_sessions{proxy="apps"}', "{{server}}"),
                ('sum(haproxy_backend_current_sessions{proxy="apps"})', "all"),
            ],
            description="Open connections, WebSockets included, the balancer holds to each "
            "instance.",
        ),
        panel(
            "PostgreSQL replication lag (alert above 16 MiB)",
            [
                (
                    "max by (application_name) (pg_stat_replication_pg_wal_lsn_diff)",
                    "{{application_name}}",
                )
            ],
            unit="bytes",
            description="Bytes of WAL between the primary's position and each standby's replay.",
        ),
    ],
)

AI = dashboard(
    "ringrift-ai",
    "RingRift / AI",
    "AI seats as the apps play them (service, local fallback) and the AI service itself.",
    [
        panel(
            "Breaker open, per instance",
            [("ringrift_ai_breaker_open" + INST, "{{instance}}")],
        ),
        panel(
            "AI moves /s by source",
            [("sum by (source) (rate(ringrift_ai_moves_total" + INST + "[5m]))", "{{source}}")],
            unit="ops",
        ),
        panel(
            "Fallbacks /s by reason",
            [
                (
                    "sum by (reason) (rate(ringrift_ai_fallback_total" + INST + "[5m]))",
                    "{{reason}}",
                )
            ],
            unit="ops",
        ),
        panel(
            "Fallback ratio (alert above 20 %)",
            [("ringrift:ai_fallback:ratio5m", "fallback / all AI moves")],
            unit="percentunit",
        ),
        panel(
            "AI service requests /s",
            [
                (
                    "sum by (endpoint, status) ("
                    'rate(ringrift_ai_requests_total{job="ringrift-ai"}[5m]))',
                    "{{endpoint}} {{status}}",
                )
            ],
            unit="reqps",
        ),
        panel(
            "AI service POST /ai/move p95",
            [("ringrift:ai_move_latency_seconds:p95_5m", "p95")],
            unit="s",
        ),
        panel(
            "Search time p95 by difficulty",
            [
                (
                    "histogram_quantile(0.95, sum by (le, difficulty) ("
                    'rate(ringrift_ai_thinking_seconds_bucket{job="ringrift-ai"}[5m])))',
                    "level {{difficulty}}",
                )
            ],
            unit="s",
        ),
        panel(
            "AI service errors /s by code",
            [
                (
                    'sum by (code) (rate(ringrift_ai_errors_total{job="ringrift-ai"}[5m]))',
                    "{{code}}",
                )
            ],
            unit="ops",
        ),
    ],
)

DASHBOARDS = {
    "overview.json": OVERVIEW,
    "gameplay.json": GAMEPLAY,
    "dependencies.json": DEPENDENCIES,
    "ai.json": AI,
}


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2) + "\n"


if __name__ == "__main__":
    out = HERE / "dashboards"
    out.mkdir(exist_ok=True)
    for name, board in DASHBOARDS.items():
        (out / name).write_text(render(board))
        print(f"wrote {out / name} ({len(board['panels'])} panels)")
