"""Every metric that deploy/prometheus/ rules and deploy/grafana/ dashboards query is really
exported: a real app process (PostgreSQL, Redis, the real AI service) is played against over
HTTP and WebSocket, then its /metrics and the AI service's /metrics are scraped. Metrics that
do not come from an app are produced here by their real sources too: the blackbox exporter
(Debian) probing the app's /ready, deploy/prometheus/textfile-metrics.py reading a real
backup and keyring, and a real HAProxy (the stack's generated configuration, in front of the
app) for the ``haproxy_*`` series. Only ``up`` is taken on trust: Prometheus itself
synthesises it per target. The PostgreSQL exporter's replication series (``pg_*``) need a
primary with a streaming standby; tests/integration/test_ops_monitoring_ha.py checks them in a
replicated stack's Prometheus.

The label values the rules match exactly (route templates, AI endpoints, error codes) are
checked against the running app too, so a renamed route cannot silently blind an alert."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from realtime_support import WS, Process, ai_service_process, app_process, bearer, register
from server_support import dead_url

from ringrift.aiservice.app import ServiceMetrics
from ringrift.ops import balancer
from ringrift.ops.services import RedisServer, free_port
from ringrift.server.errors import ErrorCode
from ringrift.server.metrics import Metrics, PublishOutcome
from ringrift.server.ratelimit import Bucket

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
# Synthesised by Prometheus for every scrape target, not exported by anything.
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# The PostgreSQL exporter's replication series exist only on a primary with a standby
# streaming from it, which this module does not run: test_ops_monitoring_ha.py checks each of
# them (and its labels) in the Prometheus of a real replicated stack instead.
CHECKED_ON_A_REPLICATED_STACK = ("pg_",)

# -- PromQL: the selectors of an expression ------------------------------------------------

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_OPERATORS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
_AGGREGATIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
}
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


@dataclass
class Selector:
    metric: str
    matchers: list[tuple[str, str, str]] = field(default_factory=list)


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _closing(text: str, i: int, opening: str, closing: str) -> int:
    depth = 0
    while True:
        char = text[i]
        if char in "\"'`":
            i = _skip_string(text, i)
            continue
        depth += char == opening
        depth -= char == closing
        i += 1
        if depth == 0:
            return i


def selectors(expr: str) -> list[Selector]:
    """The metric selectors of a PromQL expression (function names, keywords, grouping
    label lists, durations and numbers left out)."""
    found: list[Selector] = []
    i = 0
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            i = _skip_string(expr, i)
        elif char == "[":
            i = _closing(expr, i, "[", "]")
        elif char == "{":  # a selector with no metric name
            i = _closing(expr, i, "{", "}")
        elif char.isdigit() or (char == "." and expr[i + 1 : i + 2].isdigit()):
            i += 1
            while i < len(expr) and (
                expr[i].isalnum() or (expr[i] in "._+-" and expr[i - 1] in "eE")
            ):
                i += 1
        elif match := _IDENT.match(expr, i):
            name, i = match.group(), match.end()
            rest = expr[i:].lstrip()
            if name in _KEYWORDS:
                if rest.startswith("("):
                    i = _closing(expr, expr.index("(", i), "(", ")")
            elif name.lower() in _OPERATORS or name in _AGGREGATIONS or rest.startswith("("):
                pass  # an operator or a function / aggregation name
            else:
                selector = Selector(name)
                if rest.startswith("{"):
                    start = expr.index("{", i)
                    end = _closing(expr, start, "{", "}")
                    body = expr[start + 1 : end - 1]
                    pos = 0
                    while pos < len(body.strip()):
                        m = _MATCHER.match(body, pos)
                        assert m, f"cannot read label matchers {body!r} in {expr!r}"
                        selector.matchers.append((m.group(1), m.group(2), m.group(3)))
                        pos = m.end()
                    i = end
                found.append(selector)
        else:
            i += 1
    return found


def test_selector_parser_reads_names_labels_and_skips_the_rest() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{route="/x/{id}",m!~"G.*"}[5m])))'
        " / on (instance) group_left b:rec > 1e-3 and time() - c offset 5m or absent(d{})"
    )
    got = [(s.metric, s.matchers) for s in selectors(expr)]
    assert got == [
        ("a_bucket", [("route", "=", "/x/{id}"), ("m", "!~", "G.*")]),
        ("b:rec", []),
        ("c", []),
        ("d", []),
    ]


# -- what the deploy files query ----------------------------------------------------------


def _rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in sorted((PROM / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def queried_expressions() -> dict[str, str]:
    """Every PromQL expression of the rules and dashboards, keyed by where it is."""
    exprs = {f"rule {r.get('alert') or r['record']}": r["expr"] for r in _rules()}
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                exprs[f"{path.name} / {panel['title']} / {target['refId']}"] = target["expr"]
        for variable in board.get("templating", {}).get("list", []):
            query = variable.get("query")
            text = query.get("query", "") if isinstance(query, dict) else ""
            if m := re.fullmatch(r"label_values\((.*),\s*[A-Za-z_]+\)", text):
                exprs[f"{path.name} / variable {variable['name']}"] = m.group(1)
    return exprs


# -- the real sources ---------------------------------------------------------------------


class Blackbox:
    def __init__(self, config: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkdtemp(prefix="ringrift-blackbox-")) / "blackbox.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [
                    "prometheus-blackbox-exporter",
                    f"--config.file={config}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.url}/-/healthy", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "blackbox exporter did not start"
            time.sleep(0.05)

    def probe(self, app_url: str, dependency: str) -> str:
        response = httpx.get(
            f"{self.url}/probe",
            params={"target": f"{app_url}/ready", "module": f"ready_{dependency}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.text

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)


class Balancer:
    """A real HAProxy with the stack's configuration in front of one app: its built-in
    exporter is the only source of the ``haproxy_*`` series the balancer alerts read."""

    def __init__(self, app: Process) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ringrift-haproxy-"))
        metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{metrics_port}{balancer.METRICS_PATH}"
        config = balancer.write_config(self.dir, free_port(), {"app1": app.port}, metrics_port)
        with open(self.dir / "haproxy.log", "wb") as out:
            self.process = subprocess.Popen(
                balancer.argv(config), stdout=out, stderr=subprocess.STDOUT
            )

    def scrape_when_up(self, timeout: float = 20.0) -> str:
        """The exporter's text once HAProxy's health check has put the app in the rotation
        (so the server and backend series carry their real, settled values)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, (self.dir / "haproxy.log").read_text()
            try:
                text = httpx.get(self.metrics_url, timeout=2).text
                if _sample_value_or_none(text, "haproxy_backend_active_servers") == 1:
                    return text
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "HAProxy did not put the app in the rotation"
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)


def _sample_value_or_none(text: str, name: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return None


def _sample_value(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not in:\n{text}")


@pytest.fixture(scope="module")
def ai_service() -> Iterator[Process]:
    process = ai_service_process().start(timeout=60)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def app(pg_database: str, redis_server: RedisServer, ai_service: Process) -> Iterator[Process]:
    process = app_process(pg_database, redis_server.url, ai_service.url).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def blackbox() -> Iterator[Blackbox]:
    exporter = Blackbox(PROM / "blackbox.yml")
    yield exporter
    exporter.stop()


async def _play(app_url: str) -> None:
    """A little of everything the metrics count: an AI game with one HTTP move (the AI
    service answers), a WebSocket session with a valid and an invalid frame, an error."""
    user = await register(app_url)
    headers = bearer(user["token"])
    async with httpx.AsyncClient(base_url=app_url, timeout=30) as http:
        created = await http.post(
            "/api/games",
            json={
                "boardType": "square8",
                "maxPlayers": 2,
                "aiOpponents": {"count": 1, "difficulty": [1]},
                "seed": 3,
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        game_id = created.json()["data"]["game"]["id"]
        legal = (await http.get(f"/api/games/{game_id}/legal-moves", headers=headers)).json()
        moved = await http.post(
            f"/api/games/{game_id}/moves",
            json={"move": legal["data"]["moves"][0], "version": legal["data"]["version"]},
            headers=headers,
        )
        assert moved.status_code == 200, moved.text
        assert (await http.get("/api/games/not-a-game", headers=headers)).status_code >= 400
        await http.get("/ready")
    ws = await WS.open(app_url, user["token"])
    try:
        await ws.send("join", {"gameId": game_id, "ack": "j"})
        await ws.send_raw("{not json")
        await ws.drain()
    finally:
        await ws.close()


def _exported(text: str) -> dict[str, set[str]]:
    """Sample names a scrape can contain, each with the label names seen on its samples."""
    names: dict[str, set[str]] = {}
    suffixes = {
        "counter": ["_total", "_created"],
        "histogram": ["_bucket", "_sum", "_count", "_created"],
        "summary": ["", "_sum", "_count", "_created"],
        "gauge": [""],
        "untyped": [""],
        "unknown": [""],
    }
    for family in text_string_to_metric_families(text):
        for suffix in suffixes.get(family.type, [""]):
            names.setdefault(family.name + suffix, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _textfile(work: Path) -> str:
    """Backup and keyring freshness: a real backup of a real (SQLite) database and a keyring
    made by `ringrift secrets rotate`, read by the textfile-collector script."""
    cli = [sys.executable, "-m", "ringrift.cli"]
    database = f"sqlite+aiosqlite:///{work / 'game.db'}"
    subprocess.run([*cli, "db", "upgrade"], env=_env(DATABASE_URL=database), check=True)
    subprocess.run(
        [*cli, "backup", "create", "--database-url", database, "--backup-dir", str(work / "b")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*cli, "secrets", "rotate", "--immediate", "--keyring-file", str(work / "keyring.json")],
        check=True,
        capture_output=True,
    )
    out = work / "node" / "ringrift.prom"
    subprocess.run(
        [
            sys.executable,
            str(PROM / "textfile-metrics.py"),
            "--backup-dir",
            str(work / "b"),
            "--keyring-file",
            str(work / "keyring.json"),
            "--out",
            str(out),
        ],
        check=True,
    )
    return out.read_text()


@pytest.fixture(scope="module")
def exported(
    app: Process, ai_service: Process, blackbox: Blackbox, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, set[str]]]:
    import asyncio

    asyncio.run(_play(app.url))
    sources = {
        "app": httpx.get(f"{app.url}/metrics", timeout=10).text,
        "ai service": httpx.get(f"{ai_service.url}/metrics", timeout=10).text,
        "blackbox": blackbox.probe(app.url, "database"),
    }
    sources["textfile collector"] = _textfile(tmp_path_factory.mktemp("textfile"))
    lb = Balancer(app)
    try:
        sources["haproxy"] = lb.scrape_when_up()
    finally:
        lb.stop()
    result = {source: _exported(text) for source, text in sources.items()}
    # A labelled family with no sample yet (no fallback happened) shows no label names in a
    # scrape; take them from the metric definitions the app and the AI service register.
    for source, definitions in (("app", Metrics()), ("ai service", ServiceMetrics())):
        for attribute in vars(definitions).values():
            base = getattr(attribute, "_name", None)
            if base is None:
                continue
            for suffix in ("", "_total", "_created", "_bucket", "_sum", "_count"):
                if base + suffix in result[source]:
                    result[source][base + suffix] |= set(attribute._labelnames)
    return result


def _env(**extra: str) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


# -- the checks ---------------------------------------------------------------------------


def test_every_queried_metric_is_exported(exported: dict[str, dict[str, set[str]]]) -> None:
    recorded = {r["record"] for r in _rules() if "record" in r}
    available: dict[str, set[str]] = {}
    for names in exported.values():
        for name, labels in names.items():
            available.setdefault(name, set()).update(labels)
    # The app really exports its families with samples after the play above.
    assert "ringrift_http_requests_total" in exported["app"]
    assert "ringrift_ai_requests_total" in exported["ai service"]

    missing: list[str] = []
    unknown_labels: list[str] = []
    checked = 0
    for where, expr in queried_expressions().items():
        for selector in selectors(expr):
            checked += 1
            if ":" in selector.metric:
                if selector.metric not in recorded:
                    missing.append(f"{where}: recording rule {selector.metric} is not defined")
                continue
            if selector.metric in PROMETHEUS_SYNTHETIC:
                continue
            if selector.metric.startswith(CHECKED_ON_A_REPLICATED_STACK):
                continue
            if selector.metric not in available:
                missing.append(f"{where}: {selector.metric}")
                continue
            seen = available[selector.metric]
            for label, _, _ in selector.matchers:
                # job/instance are attached by Prometheus; dependency by the scrape config.
                if label in {"job", "instance", "dependency"}:
                    continue
                if label not in seen:
                    unknown_labels.append(f"{where}: {selector.metric} has no label {label!r}")
    assert checked > 60, f"only {checked} selectors found: the parser is broken"
    assert missing == [], "queried but not exported:\n" + "\n".join(missing)
    assert unknown_labels == [], "\n".join(unknown_labels)


def test_exact_label_values_exist_in_the_app(app: Process) -> None:
    """Route templates, AI endpoints and error codes matched in the rules and dashboards are
    ones the running app (and AI service) really use."""
    routes = set(httpx.get(f"{app.url}/openapi.json", timeout=10).json()["paths"])
    routes |= {"/metrics", "/ready", "/health"}
    codes = {code.value for code in ErrorCode}
    ai_endpoints = {"/ai/move", "/health", "/ready", "/metrics", "other"}
    wrong: list[str] = []
    for where, expr in queried_expressions().items():
        for selector in selectors(expr):
            for label, op, value in selector.matchers:
                if label == "route":
                    known = routes
                elif label == "endpoint":
                    known = ai_endpoints
                elif label == "code" and selector.metric.startswith("ringrift_ws_errors"):
                    known = codes
                else:
                    continue
                if op in {"=", "!="}:
                    ok = value in known
                else:
                    ok = all(any(re.fullmatch(alt, k) for k in known) for alt in value.split("|"))
                if not ok:
                    wrong.append(f"{where}: {label}{op}{value!r}")
    assert wrong == []


def test_outage_counters_are_exported_at_zero_before_any_outage(
    pg_database: str, redis_server: RedisServer
) -> None:
    """The counters the Redis and database alerts take rate() of exist at 0 on a fresh app,
    for every rate-limit bucket and publish outcome: the first increment after a scrape is
    then an increase, so an outage shorter than a scrape still raises its alert."""
    fresh = app_process(pg_database, redis_server.url, dead_url()).start()
    try:
        text = httpx.get(f"{fresh.url}/metrics", timeout=10).text
    finally:
        fresh.stop()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    expected = {("ringrift_db_unavailable_total", ()): 0.0}
    for bucket in Bucket:
        for name in ("ringrift_ratelimit_local_total", "ringrift_ratelimit_rejected_total"):
            expected[(name, (("bucket", bucket.value),))] = 0.0
    for outcome in PublishOutcome:
        expected[("ringrift_bus_published_total", (("outcome", outcome.value),))] = 0.0
    assert {key: samples.get(key) for key in expected} == expected


def test_ready_probe_tells_the_failing_dependency_apart(
    app: Process, blackbox: Blackbox, pg_database: str
) -> None:
    """The blackbox modules read /ready's body: all pass on the healthy app; on an app whose
    AI service is unreachable only ready_ai fails (Redis unset counts as disabled = pass)."""
    for dependency in ("database", "redis", "ai"):
        assert _sample_value(blackbox.probe(app.url, dependency), "probe_success") == 1
    lonely = app_process(pg_database, "", dead_url(), ready_ai_timeout_seconds=0.3).start()
    try:
        results = {
            dependency: _sample_value(blackbox.probe(lonely.url, dependency), "probe_success")
            for dependency in ("database", "redis", "ai")
        }
    finally:
        lonely.stop()
    assert results == {"database": 1, "redis": 1, "ai": 0}


def test_textfile_script_reports_a_fresh_backup_and_key(tmp_path: Path) -> None:
    text = _textfile(tmp_path)
    now = time.time()
    assert 0 <= now - _sample_value(text, "ringrift_backup_last_success_timestamp_seconds") < 600
    assert _sample_value(text, "ringrift_backup_count") == 1
    created = _sample_value(text, "ringrift_keyring_active_key_created_timestamp_seconds")
    assert 0 <= now - created < 600
    assert _sample_value(text, "ringrift_keyring_keys") == 1
    # An empty backup directory reports no backup at all (timestamp 0): the alert fires.
    (tmp_path / "empty").mkdir()
    subprocess.run(
        [
            sys.executable,
            str(PROM / "textfile-metrics.py"),
            "--backup-dir",
            str(tmp_path / "empty"),
            "--out",
            str(tmp_path / "empty.prom"),
        ],
        check=True,
    )
    empty = (tmp_path / "empty.prom").read_text()
    assert _sample_value(empty, "ringrift_backup_last_success_timestamp_seconds") == 0
    assert _sample_value(empty, "ringrift_backup_count") == 0
