"""Lint and render the chart for every example, validate each object against Kubernetes 1.30."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from morgan.cluster.cli import cluster_group

pytestmark = pytest.mark.helm

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "helm"
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))
KUBE_VERSION = "1.30.0"
RELEASE = "morgan"
GPU = "nvidia.com/gpu"


def helm(helm_bin: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_bin, *args], capture_output=True, text=True, timeout=120, check=check
    )


def render(helm_bin: str, *args: str) -> list[dict[str, Any]]:
    result = helm(
        helm_bin,
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        "morgan",
        "--kube-version",
        KUBE_VERSION,
        *args,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind_name(objects: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    name = f"{RELEASE}-{component}"
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name} rendered {len(matches)} times"
    return matches[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def gpu_limit(obj: dict[str, Any]) -> int | None:
    limits = pod_spec(obj)["containers"][0].get("resources", {}).get("limits", {})
    return limits.get(GPU)


def example_args(path: Path | None) -> list[str]:
    return ["-f", str(path)] if path else []


CASES = [None, *EXAMPLES]
IDS = ["defaults", *(p.stem for p in EXAMPLES)]


def test_every_documented_example_exists():
    assert {p.stem for p in EXAMPLES} >= {"single-gpu", "two-gpus", "cpu-only", "external-services"}


@pytest.mark.parametrize("values", CASES, ids=IDS)
def test_lint_strict(helm_bin, values):
    result = helm(helm_bin, "lint", "--strict", str(CHART), *example_args(values), check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", CASES, ids=IDS)
def test_rendered_objects_are_valid_kubernetes(helm_bin, values):
    objects = render(helm_bin, *example_args(values))
    assert len(objects) > 10
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(
                f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}"
            )


@pytest.mark.parametrize("values", CASES, ids=IDS)
def test_services_select_pods_and_name_their_ports(helm_bin, values):
    objects = render(helm_bin, *example_args(values))
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        targets = [
            w
            for w in workloads
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, service["metadata"]["name"]
        ports = {p["name"] for c in pod_spec(targets[0])["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (service["metadata"]["name"], port)


@pytest.mark.parametrize("values", CASES, ids=IDS)
def test_generated_secret_holds_every_referenced_key(helm_bin, values):
    objects = render(helm_bin, *example_args(values))
    generated = [o for o in objects if o["kind"] == "Secret"]
    keys = {k for s in generated for k in s["data"]}
    names = {s["metadata"]["name"] for s in generated}
    text = json.dumps([o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")])
    refs = [(ref["name"], ref["key"]) for ref in _walk_secret_refs(json.loads(text))]
    assert refs
    for name, key in refs:
        if name in names:
            assert key in keys, (name, key)
        else:  # a user-provided secret, named in the example values
            assert values is not None and name in values.read_text(), name


def _walk_secret_refs(node: Any):
    if isinstance(node, dict):
        if "secretKeyRef" in node:
            yield node["secretKeyRef"]
        for value in node.values():
            yield from _walk_secret_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_secret_refs(value)


@pytest.mark.parametrize("values", CASES, ids=IDS)
def test_pods_run_as_non_root(helm_bin, values):
    for obj in render(helm_bin, *example_args(values)):
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]


def test_two_gpu_placement_lands_in_the_right_pods(helm_bin):
    objects = render(helm_bin, "-f", str(CHART / "examples" / "two-gpus.yaml"))
    main = by_kind_name(objects, "Deployment", "ollama-main")
    embed = by_kind_name(objects, "Deployment", "ollama-embed")
    assert pod_spec(main)["nodeSelector"] == {"kubernetes.io/hostname": "gpu-a"}
    assert pod_spec(embed)["nodeSelector"] == {"kubernetes.io/hostname": "gpu-b"}
    assert gpu_limit(main) == 1 and gpu_limit(embed) == 1
    assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in pod_spec(main)[
        "tolerations"
    ]
    for component in ("core", "reranker", "redis"):
        deployment = by_kind_name(objects, "Deployment", component)
        assert pod_spec(deployment)["nodeSelector"] == {"kubernetes.io/hostname": "cpu-big"}
        assert gpu_limit(deployment) is None
    standby = by_kind_name(objects, "StatefulSet", "postgres-standby")
    assert pod_spec(standby)["nodeSelector"] == {"kubernetes.io/hostname": "cpu-small"}
    config = by_kind_name(objects, "ConfigMap", "core")["data"]
    assert config["MORGAN_EMBEDDINGS_URL"] == f"ollama://{RELEASE}-ollama-embed:11434"
    assert config["MORGAN_LLM_URL"] == f"ollama://{RELEASE}-ollama-main:11434"


def test_fast_llm_is_absent_unless_enabled(helm_bin):
    objects = render(helm_bin)
    assert not [o for o in objects if "ollama-fast" in o["metadata"]["name"]]
    assert "MORGAN_FAST_LLM_URL" not in by_kind_name(objects, "ConfigMap", "core")["data"]

    objects = render(helm_bin, "--set", "ollama.fast.enabled=true")
    fast = by_kind_name(objects, "Deployment", "ollama-fast")
    assert by_kind_name(objects, "ConfigMap", "core")["data"]["MORGAN_FAST_LLM_URL"] == (
        f"ollama://{RELEASE}-ollama-fast:11434"
    )
    assert by_kind_name(objects, "Service", "ollama-fast")
    assert gpu_limit(fast) is None  # a GPU only where placement asks for one


def test_single_gpu_main_ollama_also_serves_embeddings(helm_bin):
    objects = render(helm_bin, "-f", str(CHART / "examples" / "single-gpu.yaml"))
    main = by_kind_name(objects, "Deployment", "ollama-main")
    env = {e["name"]: e.get("value") for e in pod_spec(main)["containers"][0]["env"]}
    assert env["MORGAN_OLLAMA_MODELS"] == "llama3.1:8b nomic-embed-text"
    config = by_kind_name(objects, "ConfigMap", "core")["data"]
    assert config["MORGAN_EMBEDDINGS_URL"] == f"ollama://{RELEASE}-ollama-main:11434"
    assert not [o for o in objects if "ollama-embed" in o["metadata"]["name"]]


def test_cpu_only_uses_the_external_llm_and_no_gpu(helm_bin):
    objects = render(helm_bin, "-f", str(CHART / "examples" / "cpu-only.yaml"))
    assert not [o for o in objects if "ollama-main" in o["metadata"]["name"]]
    assert all(gpu_limit(o) is None for o in objects if o["kind"] in ("Deployment", "StatefulSet"))
    config = by_kind_name(objects, "ConfigMap", "core")["data"]
    assert config["MORGAN_LLM_URL"] == "openai+https://llm.example.com/v1"
    core_env = {
        e["name"]: e
        for e in pod_spec(by_kind_name(objects, "Deployment", "core"))["containers"][0]["env"]
    }
    assert core_env["MORGAN_LLM_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "llm-api",
        "key": "api-key",
    }


def test_core_migrates_in_init_containers_without_hooks(helm_bin):
    """Migrate before serving with no hook ordering (helm --wait, Flux, Argo CD)."""
    objects = render(helm_bin)
    assert not [o for o in objects if o["kind"] == "Job" and "migrat" in o["metadata"]["name"]]
    core = pod_spec(by_kind_name(objects, "Deployment", "core"))
    wait, migrate = core["initContainers"]
    assert wait["name"] == "wait-for-postgres" and migrate["name"] == "migrate"
    # uid 10001 has no passwd entry: without -U libpq names no user and pg_isready says
    # "no attempt" forever.
    assert '-U "$PGUSER"' in wait["command"][-1] and '-d "$PGDATABASE"' in wait["command"][-1]
    env = {e["name"]: e.get("value") for e in wait["env"]}
    assert env["PGUSER"] == "morgan" and env["PGDATABASE"] == "morgan"
    assert migrate["args"] == ["db", "upgrade"]

    external = pod_spec(
        by_kind_name(
            render(helm_bin, "-f", str(CHART / "examples" / "external-services.yaml")),
            "Deployment",
            "core",
        )
    )
    assert [c["name"] for c in external["initContainers"]] == ["migrate"]
    env = {e["name"]: e for e in external["initContainers"][0]["env"]}
    assert env["MORGAN_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "morgan-db",
        "key": "database-url",
    }


def test_also_wrong_items_of_issue_9(helm_bin):
    objects = render(
        helm_bin,
        "-f",
        str(CHART / "examples" / "external-services.yaml"),
        "--set",
        "ollama.main.persistence.accessModes={ReadWriteMany}",
    )
    redis_args = pod_spec(by_kind_name(objects, "Deployment", "redis"))["containers"][0]["args"]
    assert "--maxmemory 768mb --maxmemory-policy allkeys-lru" in redis_args[0]
    claim = by_kind_name(objects, "PersistentVolumeClaim", "ollama-main-models")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    ingress = by_kind_name(objects, "Ingress", "core")
    assert (
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "100m"
    )
    postgres = render(helm_bin, "-f", str(CHART / "examples" / "two-gpus.yaml"))
    primary = pod_spec(by_kind_name(postgres, "StatefulSet", "postgres"))["containers"][0]
    assert (
        primary["startupProbe"]["failureThreshold"] * primary["startupProbe"]["periodSeconds"]
        >= 300
    )
    standby = pod_spec(by_kind_name(postgres, "StatefulSet", "postgres-standby"))
    assert '-C -S "$SLOT"' in standby["initContainers"][0]["args"][0]
    assert (
        standby["containers"][0]["readinessProbe"]["exec"]["command"][-1]
        == "/scripts/standby-ready.sh"
    )
    ollama = pod_spec(by_kind_name(postgres, "Deployment", "ollama-main"))["containers"][0]
    assert "until pull_all" in ollama["args"][0]


def test_core_settings_and_probes(helm_bin):
    objects = render(helm_bin)
    core = by_kind_name(objects, "Deployment", "core")
    container = pod_spec(core)["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    env = {e["name"]: e for e in container["env"]}
    assert env["MORGAN_DATABASE_URL"]["value"] == (
        f"postgresql+asyncpg://morgan:$(MORGAN_POSTGRES_PASSWORD)@{RELEASE}-postgres:5432/morgan"
    )
    names = [e["name"] for e in container["env"]]
    assert names.index("MORGAN_POSTGRES_PASSWORD") < names.index("MORGAN_DATABASE_URL")
    assert "secretKeyRef" in env["MORGAN_EMOTION_KEY"]["valueFrom"]
    config = by_kind_name(objects, "ConfigMap", "core")["data"]
    assert config["MORGAN_MODE"] == "cluster"
    assert config["MORGAN_VECTORS_URL"] == f"http://{RELEASE}-qdrant:6333"
    assert config["MORGAN_RERANKER_URL"] == f"http://{RELEASE}-reranker:8081"
    assert config["MORGAN_BLOBS_URL"].startswith("s3://morgan?endpoint=http://")
    pdb = by_kind_name(objects, "PodDisruptionBudget", "core")
    assert pdb["spec"]["minAvailable"] == 1


def test_schema_rejects_bad_values(helm_bin):
    for bad in ("placement.core.nodeSelectr.x=y", "ollama.main.enabled=false", "core.replicas=0"):
        result = helm(helm_bin, "lint", "--strict", str(CHART), "--set", bad, check=False)
        assert result.returncode != 0, bad


def test_runtime_class_only_on_gpu_pods(helm_bin):
    objects = render(
        helm_bin,
        "-f",
        str(CHART / "examples" / "two-gpus.yaml"),
        "--set",
        "gpu.runtimeClassName=nvidia",
    )
    for obj in (o for o in objects if o["kind"] in ("Deployment", "StatefulSet")):
        expected = "nvidia" if gpu_limit(obj) else None
        assert pod_spec(obj).get("runtimeClassName") == expected, obj["metadata"]["name"]


def _node(name: str, gpu_mib: int | None = None, memory: str = "64Gi") -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/arch": "amd64"}
    capacity = {"cpu": "16", "memory": memory}
    if gpu_mib:
        labels |= {
            "nvidia.com/gpu.product": "NVIDIA-L4",
            "nvidia.com/gpu.memory": str(gpu_mib),
            "nvidia.com/gpu.count": "1",
        }
        capacity[GPU] = "1"
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": [{"key": GPU, "value": "present", "effect": "NoSchedule"}]}
        if gpu_mib
        else {},
        "status": {"capacity": capacity},
    }


def test_planner_output_file_renders(helm_bin, tmp_path):
    nodes = {
        "kind": "List",
        "items": [
            _node("l4-1", 23034),
            _node("l4-2", 23034),
            _node("t4", 15360),
            _node("db-1", memory="128Gi"),
            _node("db-2", memory="32Gi"),
        ],
    }
    (tmp_path / "nodes.json").write_text(json.dumps(nodes))
    out = tmp_path / "placement.yaml"
    result = CliRunner().invoke(
        cluster_group, ["plan", "--nodes-json", str(tmp_path / "nodes.json"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output

    lint = helm(helm_bin, "lint", "--strict", str(CHART), "-f", str(out), check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    objects = render(helm_bin, "-f", str(out))
    for obj in objects:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)

    expected = {"ollama-main": "l4-1", "ollama-embed": "l4-2", "ollama-fast": "t4"}
    for component, host in expected.items():
        deployment = by_kind_name(objects, "Deployment", component)
        assert pod_spec(deployment)["nodeSelector"] == {"kubernetes.io/hostname": host}
        assert gpu_limit(deployment) == 1
        assert pod_spec(deployment)["tolerations"] == [
            {"key": GPU, "operator": "Equal", "value": "present", "effect": "NoSchedule"}
        ]
        # The plan adds the GPU; the chart's memory defaults survive the merge.
        assert "memory" in pod_spec(deployment)["containers"][0]["resources"]["limits"]
    assert gpu_limit(by_kind_name(objects, "Deployment", "reranker")) is None
    assert pod_spec(by_kind_name(objects, "StatefulSet", "postgres"))["nodeSelector"] == {
        "kubernetes.io/hostname": "db-1"
    }
    assert pod_spec(by_kind_name(objects, "StatefulSet", "postgres-standby"))["nodeSelector"] == {
        "kubernetes.io/hostname": "db-2"
    }


def test_a_chart_bump_does_not_restart_the_data_services(helm_bin, tmp_path):
    """Pod templates carry no chart/app version: `helm upgrade` to a new chart version with
    the same images leaves PostgreSQL, Qdrant, Redis and Ollama running."""
    import shutil

    bumped = tmp_path / "helm"
    shutil.copytree(CHART, bumped)
    chart_yaml = bumped / "Chart.yaml"
    chart_yaml.write_text(
        chart_yaml.read_text()
        .replace("version: 0.1.0", "version: 0.1.1")
        .replace('appVersion: "0.1.0"', 'appVersion: "0.1.1"')
    )
    pinned = ["--set", "image.tag=0.1.0"]
    before = render(helm_bin, *pinned)
    after = [
        doc
        for doc in yaml.safe_load_all(
            helm(
                helm_bin,
                "template",
                RELEASE,
                str(bumped),
                "--namespace",
                "morgan",
                "--kube-version",
                KUBE_VERSION,
                *pinned,
            ).stdout
        )
        if doc
    ]
    for kind, component in (
        ("StatefulSet", "postgres"),
        ("StatefulSet", "qdrant"),
        ("Deployment", "redis"),
        ("Deployment", "ollama-main"),
    ):
        old = by_kind_name(before, kind, component)["spec"]["template"]
        new = by_kind_name(after, kind, component)["spec"]["template"]
        assert old == new, component
    assert (
        by_kind_name(before, "StatefulSet", "postgres")["metadata"]["labels"]
        != (by_kind_name(after, "StatefulSet", "postgres")["metadata"]["labels"])
    )


def test_opt_in_hpa_network_policy_service_monitor_and_helm_test(helm_bin):
    plain = render(helm_bin)
    core = by_kind_name(plain, "Deployment", "core")
    assert core["spec"]["replicas"] == 2
    spread = pod_spec(core)["topologySpreadConstraints"][0]
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert not [
        o
        for o in plain
        if o["kind"] in ("HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor")
    ]
    test_pod = next(o for o in plain if o["kind"] == "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert test_pod["spec"]["containers"][0]["args"] == [f"http://{RELEASE}-core:8000/health/ready"]

    objects = render(
        helm_bin, "--set", "core.autoscaling.enabled=true", "--set", "networkPolicy.enabled=true"
    )
    assert "replicas" not in by_kind_name(objects, "Deployment", "core")["spec"]
    hpa = by_kind_name(objects, "HorizontalPodAutoscaler", "core")
    assert (
        hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["scaleTargetRef"]["name"] == "morgan-core"
    )
    policy = by_kind_name(objects, "NetworkPolicy", "postgres")
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][1]
    assert allowed["values"] == ["core", "postgres-standby"]
    for obj in objects:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    monitor = render(helm_bin, "--set", "metrics.serviceMonitor.enabled=true")
    assert (
        by_kind_name(monitor, "ServiceMonitor", "core")["spec"]["endpoints"][0]["path"]
        == "/metrics"
    )


def test_grafana_dashboard_configmap_is_opt_in_and_valid(helm_bin):
    """The sidecar's label, valid Kubernetes, and a dashboard with the panels the design asks
    for; that its metric names exist is checked against a running core (test_chart_runs)."""
    assert not [o for o in render(helm_bin) if o["metadata"]["name"] == f"{RELEASE}-dashboard"]
    objects = render(
        helm_bin,
        "--set",
        "metrics.grafanaDashboard.enabled=true",
        "--set",
        "metrics.grafanaDashboard.namespace=monitoring",
        "--set",
        "metrics.grafanaDashboard.annotations.grafana_folder=Morgan",
    )
    board = by_kind_name(objects, "ConfigMap", "dashboard")
    kubernetes_validate.validate(board, KUBE_VERSION, strict=True)
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert board["metadata"]["namespace"] == "monitoring"
    assert board["metadata"]["annotations"] == {"grafana_folder": "Morgan"}
    dashboard = json.loads(board["data"]["morgan.json"])
    assert dashboard["uid"] == "morgan-core"
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in dashboard["panels"]}
    wanted = {
        "Requests per second by route": "morgan_http_requests_total",
        "Request latency p95 by route": "morgan_http_request_duration_seconds_bucket",
        "RAG search p95": "morgan_rag_search_duration_seconds_bucket",
        "Emotion detection p95": "morgan_emotion_detection_duration_seconds_bucket",
        "LLM fallbacks by failed backend": "morgan_llm_fallbacks_total",
        "Dependency up": "morgan_dependency_up",
    }
    for title, metric in wanted.items():
        assert metric in exprs[title], (title, exprs.get(title))
    assert "by (le, route)" in exprs["Request latency p95 by route"]
    lint = helm(
        helm_bin,
        "lint",
        "--strict",
        str(CHART),
        "--set",
        "metrics.grafanaDashboard.enabled=true",
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_external_qdrant_replaces_the_in_chart_one(helm_bin):
    objects = render(
        helm_bin,
        "--set",
        "qdrant.enabled=false",
        "--set",
        "qdrant.external.url=https://qdrant.example.com:6333",
        "--set",
        "qdrant.external.apiKey.existingSecret=qdrant-cloud",
        "--set",
        "networkPolicy.enabled=true",
    )
    assert not [o for o in objects if "qdrant" in o["metadata"]["name"]]
    config = by_kind_name(objects, "ConfigMap", "core")["data"]
    assert config["MORGAN_VECTORS_URL"] == "https://qdrant.example.com:6333"
    env = {
        e["name"]: e
        for e in pod_spec(by_kind_name(objects, "Deployment", "core"))["containers"][0]["env"]
    }
    assert env["MORGAN_VECTORS_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "qdrant-cloud",
        "key": "api-key",
    }
    generated = by_kind_name(objects, "Secret", "secrets")
    assert "qdrant-api-key" not in generated["data"]
    for obj in objects:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    # Without an API key Secret core sends none (a Qdrant without auth).
    keyless = render(
        helm_bin, "--set", "qdrant.enabled=false", "--set", "qdrant.external.url=http://q:6333"
    )
    core = pod_spec(by_kind_name(keyless, "Deployment", "core"))["containers"][0]
    assert "MORGAN_VECTORS_API_KEY" not in {e["name"] for e in core["env"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "qdrant.enabled=false"], "no vector store: enable qdrant or set"),
        (
            ["--set", "qdrant.enabled=false", "--set", "qdrant.external.url=qdrant:6333"],
            "qdrant.external.url",
        ),
    ],
)
def test_external_qdrant_without_a_server_url_fails_clearly(helm_bin, args, message):
    result = helm(helm_bin, "template", RELEASE, str(CHART), *args, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr
