"""Monitoring for the local stack: a real Prometheus (Debian ``prometheus``) scraping every
service, evaluating the rules of ``deploy/prometheus/rules/``, and the blackbox exporter
(Debian ``prometheus-blackbox-exporter``) probing each app's ``/ready`` once per dependency.
A stack with a PostgreSQL standby also gets the PostgreSQL exporter (Debian
``prometheus-postgres-exporter``, service ``postgres-exporter``) watching both nodes, the
only source of replication state and lag (``pg_stat_replication`` of the primary).

``ringrift stack up --monitoring`` adds them as more stack services, ``blackbox``,
``prometheus`` (and ``postgres-exporter``); this module writes their configuration into
``RUN_DIR/monitoring/`` (the stack's ports are only known at start-up) and builds their
command lines. Prometheus answers
on ``stack.url("prometheus")`` (``/api/v1/query``, ``/api/v1/alerts``).

The stack's Prometheus runs on *drill timing* (:data:`DRILL_TIMING`): it loads a rewritten copy
of the rules in which every ``for:`` and every range window of an expression is capped to a few
seconds, and evaluates them every second. A drill holds its fault until the alert it must raise
fires and then waits for it to resolve; with production timing (``for: 1m``, ``rate(...[2m])``)
that would cost minutes per drill. The rules in ``deploy/prometheus/rules`` stay as written:
only the stack's copy is rewritten (see :mod:`ringrift.ops.drill_timing`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from ringrift.ops.drill_timing import DRILL_TIMING, rewrite_rules
from ringrift.ops.services import ServiceError

HOST = "127.0.0.1"
# Faster than production (15 s) so that drills see a fault within seconds.
SCRAPE_INTERVAL = "5s"
POSTGRES_EXPORTER = "postgres-exporter"
BINARIES = {
    "prometheus": ("prometheus", "prometheus"),
    "blackbox": ("prometheus-blackbox-exporter", "prometheus-blackbox-exporter"),
    POSTGRES_EXPORTER: ("prometheus-postgres-exporter", "prometheus-postgres-exporter"),
}
# What a live process of each kind has on its command line (pid checks).
MARKERS = {
    "prometheus": "--storage.tsdb.path",
    "blackbox": "prometheus-blackbox-exporter",
    POSTGRES_EXPORTER: "prometheus-postgres-exporter",
}
HEALTH_PATHS = {"prometheus": "/-/ready", "blackbox": "/-/healthy", POSTGRES_EXPORTER: "/"}
# The job of the PostgreSQL exporter (stacks with a standby), as in prometheus.yml.
POSTGRES_JOB = "postgres"
DEPENDENCIES = ("database", "redis", "ai")
# The job of the balancer's built-in exporter (stacks with --lb), as in prometheus.yml.
BALANCER_JOB = "haproxy"


class MonitoringError(ServiceError):
    """Prometheus or the blackbox exporter cannot be set up."""


def binary(kind: str) -> str:
    command, package = BINARIES[kind]
    path = shutil.which(command)
    if path is None:
        raise MonitoringError(
            f"{command} is not installed: apt-get install {package} (Debian), "
            "or start the stack without --monitoring"
        )
    return path


def source_dir() -> Path:
    """``deploy/prometheus`` of the source tree (or ``$RINGRIFT_PROMETHEUS_DIR``)."""
    override = os.environ.get("RINGRIFT_PROMETHEUS_DIR")
    checkout = Path(__file__).resolve().parents[3]
    path = Path(override) if override else checkout / "deploy" / "prometheus"
    if not (path / "rules").is_dir() or not (path / "blackbox.yml").is_file():
        raise MonitoringError(
            f"no Prometheus rules in {path}: --monitoring needs the deploy/prometheus folder "
            "of a source checkout (or RINGRIFT_PROMETHEUS_DIR pointing at one)"
        )
    return path


def config(
    apps: Mapping[str, int],
    ai_port: int,
    blackbox_port: int,
    rule_files: list[str],
    balancer_metrics_port: int | None = None,
    postgres_exporter_port: int | None = None,
) -> dict[str, Any]:
    """The Prometheus configuration for a stack (the jobs of deploy/prometheus/prometheus.yml,
    with the stack's ports as static targets); the balancer's job only when the stack has
    one, so that a stack without it does not report a target down."""
    app_targets = [
        {"targets": [f"{HOST}:{port}"], "labels": {"service": name}} for name, port in apps.items()
    ]
    document: dict[str, Any] = {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "evaluation_interval": DRILL_TIMING.evaluation_interval,
            "external_labels": {"service": "ringrift-stack"},
        },
        "rule_files": rule_files,
        "scrape_configs": [
            {"job_name": "ringrift-app", "static_configs": app_targets},
            {
                "job_name": "ringrift-ai",
                "static_configs": [{"targets": [f"{HOST}:{ai_port}"], "labels": {"service": "ai"}}],
            },
            {
                "job_name": "ringrift-ready",
                "metrics_path": "/probe",
                "static_configs": [
                    {
                        "targets": [f"{HOST}:{port}" for port in apps.values()],
                        "labels": {"dependency": dependency},
                    }
                    for dependency in DEPENDENCIES
                ],
                "relabel_configs": [
                    {
                        "source_labels": ["__address__"],
                        "target_label": "__param_target",
                        "replacement": "http://$1/ready",
                    },
                    {"source_labels": ["__address__"], "target_label": "instance"},
                    {
                        "source_labels": ["dependency"],
                        "target_label": "__param_module",
                        "replacement": "ready_$1",
                    },
                    {"target_label": "__address__", "replacement": f"{HOST}:{blackbox_port}"},
                ],
            },
        ],
    }
    if balancer_metrics_port is not None:
        document["scrape_configs"].append(
            {
                "job_name": BALANCER_JOB,
                "static_configs": [
                    {"targets": [f"{HOST}:{balancer_metrics_port}"], "labels": {"service": "lb"}}
                ],
            }
        )
    if postgres_exporter_port is not None:
        document["scrape_configs"].append(
            {
                "job_name": POSTGRES_JOB,
                "static_configs": [
                    {
                        "targets": [f"{HOST}:{postgres_exporter_port}"],
                        "labels": {"service": POSTGRES_EXPORTER},
                    }
                ],
            }
        )
    return document


def write_config(
    directory: Path,
    apps: Mapping[str, int],
    ai_port: int,
    blackbox_port: int,
    balancer_metrics_port: int | None = None,
    postgres_exporter_port: int | None = None,
) -> Path:
    """Write the drill-timing copy of the rules and the blackbox modules into ``directory``,
    and prometheus.yml there (JSON, which is YAML too); returns the configuration file."""
    source = source_dir()
    rules = directory / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    names = []
    for path in sorted((source / "rules").glob("*.yml")):
        _write_json(rules / path.name, rewrite_rules(path.read_text(), DRILL_TIMING))
        names.append(f"rules/{path.name}")
    shutil.copyfile(source / "blackbox.yml", directory / "blackbox.yml")
    target = directory / "prometheus.yml"
    _write_json(
        target,
        config(apps, ai_port, blackbox_port, names, balancer_metrics_port, postgres_exporter_port),
    )
    return target


def _write_json(target: Path, content: Mapping[str, Any]) -> None:
    """Replace ``target`` atomically: Prometheus may be reading it (a restart of the service)."""
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(content, indent=2))
    os.replace(tmp, target)


def argv(kind: str, directory: Path, port: int) -> list[str]:
    if kind == "prometheus":
        return [
            binary("prometheus"),
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            "--storage.tsdb.retention.time=2d",
            f"--web.listen-address={HOST}:{port}",
        ]
    if kind == POSTGRES_EXPORTER:
        return [
            binary(POSTGRES_EXPORTER),
            # ~300 pg_settings series per node that no rule reads.
            "--disable-settings-metrics",
            # Exporter 0.11's newer collectors report their own scrape series once per server
            # without a server label: with two nodes every scrape failed (HTTP 500, "collected
            # before with the same name"). Nothing here reads their database-size and
            # bgwriter series; pg_stat_replication comes from the classic queries.
            "--no-collector.database",
            "--no-collector.bgwriter",
            f"--web.listen-address={HOST}:{port}",
        ]
    return [
        binary("blackbox"),
        f"--config.file={directory / 'blackbox.yml'}",
        f"--web.listen-address={HOST}:{port}",
    ]


def postgres_exporter_env(dsns: list[str]) -> dict[str, str]:
    """The exporter reads its servers from the environment (never the command line, where
    a password would show in ``ps``): one comma-separated list, every node of the pair, so
    that it follows a failover without a restart; each series carries a ``server`` label.
    The exporter's driver (lib/pq) wants TLS unless told otherwise; the stack has none."""
    return {"DATA_SOURCE_NAME": ",".join(f"{dsn}?sslmode=disable" for dsn in dsns)}


def wait_until_watching(url: str, targets: int, timeout: float = 60.0) -> None:
    """Block until Prometheus at ``url`` has scraped ``targets`` targets successfully and has
    evaluated every rule group since, so that alerts seen afterwards come from real data and
    not from the moment before the first scrape (absent() alerts, say)."""
    deadline = time.monotonic() + timeout
    all_up_at: float | None = None
    while time.monotonic() < deadline:
        try:
            if all_up_at is None:
                response = httpx.get(
                    f"{url}/api/v1/query", params={"query": "count(up == 1)"}, timeout=2
                )
                result = response.json()["data"]["result"]
                if result and int(float(result[0]["value"][1])) >= targets:
                    all_up_at = time.time()
            else:
                groups = httpx.get(f"{url}/api/v1/rules", timeout=2).json()["data"]["groups"]
                evaluated = [rfc3339_to_unix(g.get("lastEvaluation", "")) for g in groups]
                if groups and all(t is not None and t > all_up_at for t in evaluated):
                    return
        except (httpx.HTTPError, ValueError, KeyError, IndexError):
            pass
        time.sleep(0.25)
    raise MonitoringError(f"Prometheus at {url} did not scrape {targets} targets in {timeout:.0f}s")


def rfc3339_to_unix(text: str) -> float | None:
    """Unix time of an RFC 3339 stamp as Prometheus writes it (nanoseconds; the zero time of
    a group never evaluated gives None)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None or text.startswith("0001-"):
        return None
    whole, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(f"{whole}{zone.replace('Z', '+00:00')}").timestamp()
    return stamp + (float(f"0.{fraction}") if fraction else 0.0)
