"""The chart's workloads really run: for the defaults and every file in helm/examples/.

Each case renders the chart with the real helm and runs, as local processes with exactly the
environment the chart computes (see run_workload.py), every container of Morgan's image: the
reranker's model fetch and server, core's `wait-for-postgres` (pg_isready, as uid 10001) and
`migrate` (`morgan db upgrade`) init containers, core itself, and the `helm test` pod, each
as the uid/gid/fsGroup 10001 its securityContext names (Morgan's programs from a copy of the
interpreter, venv and sources that uid can read: pod_image.py; checked in /proc). Stand-ins for
the cluster's Services: a fresh database on the local PostgreSQL, the chart's own Redis command
on a free port, SeaweedFS for MinIO/S3, the Ollama and OpenAI contract fakes, and the embedded
Qdrant engine (a folder) for the Qdrant server, which cannot run here. Then the manifest's
probe paths and ports must answer and a chat through core must return sources.

What a missing Kubernetes API server limits: no scheduling, placement or PVC binding is
exercised, `lookup` finds no existing Secret (every render generates fresh ones), Service DNS
is replaced by loopback addresses, readOnlyRootFilesystem is not enforced, and probes are
polled by the test rather than by a kubelet. No container image is built (no Docker engine):
the processes run from this checkout's virtualenv with the Dockerfile's ENV (checked below).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import _pg_admin
from tests.contract_fakes.ollama import CUDA_OOM, FakeOllama, FakeOllamaModel
from tests.contract_fakes.openai_compat import FakeOpenAI
from tests.fixtures.seaweed import SeaweedServer
from tests.integration.helm import run_workload as rw

pytestmark = [
    pytest.mark.helm,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.s3,
    pytest.mark.slow,
]

EXAMPLES = sorted((rw.CHART / "examples").glob("*.yaml"))
CASES = [None, *EXAMPLES]
IDS = ["defaults", *(p.stem for p in EXAMPLES)]
IMAGE = "ghcr.io/morgan-ai/morgan"
NOTE = (
    b"# Greenhouse log\n\nThe lemon tree flowers in February and needs a frost-free "
    b"greenhouse kept above eight degrees.\n"
)
S3_USER_SECRET = "local-s3"
API_KEY = "sk-local-test"


@pytest.fixture(scope="module", autouse=True)
def _pod_umask() -> Iterator[None]:
    """Folders the pods' uid must enter are made under umask 022, as a kubelet makes them: an
    app started earlier in the session left the process umask at 077 (`secure_home`)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture(scope="module")
def tiny_reranker() -> Iterator[Path]:
    from tests.unit.reranker.conftest import load_builder

    # Readable by the pods' uid: not under pytest's basetemp, which pytest keeps at 0700.
    root = Path(tempfile.mkdtemp(prefix="morgan-helm-cross-encoder-"))
    try:
        root.chmod(0o755)
        model = load_builder().build_tiny_cross_encoder(root / "tiny", seed=3)
        for p in (model, *model.rglob("*")):
            p.chmod(p.stat().st_mode | (0o055 if p.is_dir() else 0o044))
        yield model
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    server = SeaweedServer(tmp_path_factory.mktemp("seaweed"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    models = [FakeOllamaModel(n) for n in ("llama3.1:8b", "llama3.2:3b")] + [
        FakeOllamaModel("nomic-embed-text", "nomic-bert", 2048, "nomic-bert", "137M", "F16")
    ]
    with FakeOllama(models=models, embedding_dimension=768) as fake:
        yield fake


@pytest.fixture(scope="module")
def openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(model="llama-3.1-8b-instruct", api_key=API_KEY) as fake:
        yield fake


@dataclass
class Deployment:
    """One rendered release, running locally."""

    values: Path | None
    objects: list[dict[str, Any]]
    cluster: rw.Cluster
    ran: set[tuple[str, str]] = field(default_factory=set)
    ran_as: dict[tuple[str, str], dict[str, tuple[int, ...]]] = field(default_factory=dict)
    processes: list[rw.Running] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    core: rw.Running | None = None
    reranker: rw.Running | None = None
    reranker_has_model: bool = False

    def record(self, workload: str, container: str, running: rw.Running) -> None:
        """A container that ran: its output (once finished) and what it ran as."""
        self.ran.add((workload, container))
        self.ran_as[(workload, container)] = running.ran_as
        if running.process.poll() is not None:
            self.outputs[container] = running.output()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def _redis(
    cluster: rw.Cluster, objects: list[dict[str, Any]], root: Path
) -> tuple[rw.Running, int]:
    """The chart's own redis-server command line (maxmemory included), on a free port."""
    workload = rw.find(objects, "Deployment", f"{rw.RELEASE}-redis")
    spec = rw.prepare(
        cluster,
        workload,
        "redis",
        rw.StandIns(),
        root / "redis",
        image_env={"PATH": "/usr/bin:/bin"},
        entrypoint=[],
    )
    port = rw.free_port()
    spec.argv[-1] += f" --port {port} --bind 127.0.0.1"
    spec.uid = None  # redis-server runs as whoever we are; the uid matters to its image only
    running = rw.start(spec, root / "logs")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"redis exited:\n{running.log_tail()}")
        probe = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"],
            capture_output=True,
            text=True,
            env={"REDISCLI_AUTH": spec.env["REDISCLI_AUTH"]},
        )
        if probe.stdout.strip() == "PONG":
            return running, port
        time.sleep(0.05)
    raise RuntimeError(f"redis never answered:\n{running.log_tail()}")


def _stand_ins(
    seaweed: SeaweedServer,
    ollama: FakeOllama,
    openai: FakeOpenAI,
    redis_port: int,
    root: Path,
    tiny_reranker: Path,
) -> rw.StandIns:
    fake = ollama.base_url.split("://", 1)[1]
    s3 = seaweed.endpoint_url.split("://", 1)[1]
    qdrant_folder = root / "qdrant-edge"
    qdrant_folder.mkdir(parents=True, exist_ok=True)
    return rw.StandIns(
        endpoints={
            f"{rw.RELEASE}-postgres:5432": "127.0.0.1:5432",
            f"{rw.RELEASE}-redis:6379": f"127.0.0.1:{redis_port}",
            f"{rw.RELEASE}-minio:9000": s3,
            "https://s3.eu-west-1.amazonaws.com": seaweed.endpoint_url,
            "openai+https://llm.example.com/v1": f"openai+{openai.base_url}/v1",
            **{f"{rw.RELEASE}-ollama-{role}:11434": fake for role in ("main", "fast", "embed")},
        },
        hosts={f"{rw.RELEASE}-postgres": "127.0.0.1"},
        values={
            f"http://{rw.RELEASE}-qdrant:6333": str(qdrant_folder),
            # reranker.model.source names a folder "inside the image": this one.
            str(tiny_reranker): str(tiny_reranker),
        },
    )


def _deploy(
    values: Path | None,
    helm_bin: str,
    root: Path,
    seaweed: SeaweedServer,
    ollama: FakeOllama,
    openai: FakeOpenAI,
    tiny_reranker: Path,
    *,
    extra_args: tuple[str, ...] = (),
    extra_secrets: dict[str, dict[str, str]] | None = None,
    extra_stand_ins: dict[str, str] | None = None,
) -> Deployment:
    database = f"morgan_helm_{uuid.uuid4().hex[:10]}"
    asyncio.run(
        _pg_admin(
            "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'morgan') "
            "THEN CREATE ROLE morgan LOGIN; END IF; END$$"
        )
    )
    asyncio.run(_pg_admin(f'CREATE DATABASE "{database}" OWNER morgan'))
    args = ["-f", str(values)] if values else []
    args += [
        "--set",
        f"postgres.database={database}",
        "--set",
        f"minio.auth.existingSecret={S3_USER_SECRET}",
    ]
    with_model = values is None  # defaults: the reranker's init container fetches a model
    if with_model:
        args += ["--set", f"reranker.model.source={tiny_reranker}"]
    objects = rw.render(helm_bin, *args, *extra_args)
    credentials = {"access-key-id": seaweed.access_key, "secret-access-key": seaweed.secret_key}
    cluster = rw.Cluster(
        objects,
        user_secrets={
            S3_USER_SECRET: {
                "minio-root-user": seaweed.access_key,
                "minio-root-password": seaweed.secret_key,
            },
            "morgan-s3": credentials,
            "morgan-db": {
                "database-url": f"postgresql+asyncpg://morgan:pw@morgan-postgres:5432/{database}"
            },
            "llm-api": {"api-key": API_KEY},
            **(extra_secrets or {}),
        },
    )
    deployment = Deployment(values, objects, cluster, reranker_has_model=with_model)
    deployment.outputs["database"] = database
    try:
        redis, redis_port = _redis(cluster, objects, root)
        deployment.processes.append(redis)
        stand_ins = _stand_ins(seaweed, ollama, openai, redis_port, root, tiny_reranker)
        stand_ins.values.update(extra_stand_ins or {})
        _start_reranker(deployment, stand_ins, root)
        _start_core(deployment, stand_ins, root)
    except BaseException:
        deployment.stop()
        raise
    return deployment


def _start_reranker(d: Deployment, stand_ins: rw.StandIns, root: Path) -> None:
    name = f"{rw.RELEASE}-reranker"
    if not [o for o in d.objects if o["metadata"]["name"] == name and o["kind"] == "Deployment"]:
        return
    workload = rw.find(d.objects, "Deployment", name)
    pod = root / "pod-reranker"
    for init in rw.pod_spec(workload).get("initContainers", []):
        spec = rw.prepare(d.cluster, workload, init["name"], stand_ins, pod, init=True)
        d.record(name, init["name"], rw.finish(spec, pod / "logs"))
    spec = rw.prepare(d.cluster, workload, "reranker", stand_ins, pod)
    d.reranker = rw.start(spec, pod / "logs")
    d.processes.append(d.reranker)
    d.record(name, "reranker", d.reranker)
    stand_ins.endpoints[f"{name}:8081"] = f"127.0.0.1:{spec.ports['http']}"


def _start_core(d: Deployment, stand_ins: rw.StandIns, root: Path) -> None:
    name = f"{rw.RELEASE}-core"
    workload = rw.find(d.objects, "Deployment", name)
    pod = root / "pod-core"
    for init in rw.pod_spec(workload).get("initContainers", []):
        morgan_image = init["image"].split(":")[0] == IMAGE
        spec = rw.prepare(
            d.cluster,
            workload,
            init["name"],
            stand_ins,
            pod,
            init=True,
            image_env=None if not morgan_image else rw.IMAGE_ENV,
        )
        if not morgan_image:
            spec.env.setdefault("PATH", "/usr/bin:/bin")
        d.record(name, init["name"], rw.finish(spec, pod / "logs"))
    spec = rw.prepare(d.cluster, workload, "core", stand_ins, pod)
    qdrant = Path(stand_ins.values[f"http://{rw.RELEASE}-qdrant:6333"])
    if rw.runs_as_pod_uid(spec):
        assert spec.uid is not None
        os.chown(qdrant, spec.uid, spec.uid if spec.gid is None else spec.gid)
    d.core = rw.start(spec, pod / "logs")
    d.processes.append(d.core)
    d.record(name, "core", d.core)
    rw.wait_for_probe(d.core, "startupProbe", timeout_s=240)
    rw.wait_for_probe(d.core, "readinessProbe", timeout_s=120)
    # `helm test`: the chart's test pod, against core through its Service name.
    stand_ins.endpoints[f"{name}:8000"] = f"127.0.0.1:{spec.ports['http']}"
    test_pod = rw.find(d.objects, "Pod", f"{rw.RELEASE}-test-ready")
    check = rw.prepare(d.cluster, test_pod, "ready", stand_ins, root / "pod-test")
    d.record(test_pod["metadata"]["name"], "ready", rw.finish(check, root / "pod-test" / "logs"))
    d.outputs["helm-test"] = d.outputs["ready"]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def deployment(
    request: pytest.FixtureRequest,
    helm_bin: str,
    tmp_path_factory: pytest.TempPathFactory,
    seaweed: SeaweedServer,
    ollama: FakeOllama,
    openai: FakeOpenAI,
    tiny_reranker: Path,
) -> Iterator[Deployment]:
    # Traversable by the pods' uids (pytest's own temporary folders are root-only).
    name = request.param.stem if request.param else "defaults"
    root = Path(tempfile.mkdtemp(prefix=f"morgan-helm-{name}-"))
    root.chmod(0o755)
    try:
        d = _deploy(request.param, helm_bin, root, seaweed, ollama, openai, tiny_reranker)
        try:
            yield d
        finally:
            d.stop()
            asyncio.run(
                _pg_admin(f'DROP DATABASE IF EXISTS "{d.outputs["database"]}" WITH (FORCE)')
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _exec_in_core(d: Deployment, *args: str) -> str:
    """`kubectl exec deploy/morgan-core -c core -- morgan ...`: same env, same uid."""
    assert d.core is not None
    w = d.core.workload
    argv, env, as_user = rw.launch(w, [*rw.IMAGE_ENTRYPOINT, *args])
    result = subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(next(iter(w.mounts.values()))),
        **as_user,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_every_container_of_morgans_image_was_run(deployment: Deployment) -> None:
    expected = {
        (w["metadata"]["name"], c["name"])
        for w, c, _ in rw.workloads_running_image(deployment.objects, IMAGE)
    }
    assert expected and expected <= deployment.ran, expected - deployment.ran
    # No hook ordering for Morgan: nothing of its image waits on a Helm hook (MinIO's bucket
    # Job may; core creates the bucket itself and reports `blobs` until then).
    hooked = [
        w["metadata"]["name"]
        for w, _, _ in rw.workloads_running_image(deployment.objects, IMAGE)
        if w["metadata"].get("annotations", {}).get("helm.sh/hook", "test") != "test"
    ]
    assert hooked == []


def test_core_init_steps_wait_and_migrate_as_the_pods_uid(deployment: Deployment) -> None:
    core = rw.find(deployment.objects, "Deployment", f"{rw.RELEASE}-core")
    names = [c["name"] for c in rw.pod_spec(core)["initContainers"]]
    external_db = deployment.values is not None and deployment.values.stem == "external-services"
    assert names == (["migrate"] if external_db else ["wait-for-postgres", "migrate"])
    if not external_db:
        # pg_isready as uid 10001, which has no passwd entry: the chart's -U/-d make it work.
        assert "accepting connections" in deployment.outputs["wait-for-postgres"]
    assert deployment.core is not None and deployment.core.workload.uid == 10001
    assert "schema_upgraded" in deployment.outputs["migrate"]


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to the pods' uid needs root (as CI runs)")
def test_every_container_of_morgans_image_ran_as_the_pods_uid(deployment: Deployment) -> None:
    """As the kubelet would run them: uid/gid 10001 (no passwd entry), fsGroup 10001 as the
    only supplementary group. Read from /proc of each process, not from the manifest."""
    pod_uid = (10001,) * 4
    checked = {
        (w["metadata"]["name"], c["name"])
        for w, c, _ in rw.workloads_running_image(deployment.objects, IMAGE)
    }
    core = f"{rw.RELEASE}-core"
    if (core, "wait-for-postgres") in deployment.ran:
        checked.add((core, "wait-for-postgres"))  # the postgres image's pg_isready, as 10001
    for key in sorted(checked):
        ran_as = deployment.ran_as[key]
        assert ran_as["Uid"] == pod_uid and ran_as["Gid"] == pod_uid, (key, ran_as)
        assert ran_as["Groups"] == (10001,), (key, ran_as)
    # Still that uid while serving, and what it wrote in MORGAN_HOME is its own.
    assert deployment.core is not None
    assert rw.identity(deployment.core.process.pid)["Uid"] == pod_uid
    home = deployment.core.workload.mounts["/data"]
    owners = {p.stat().st_uid for p in (home, *home.rglob("*"))}
    assert owners == {10001}, owners


def test_helm_test_pod_passes(deployment: Deployment) -> None:
    assert '200 {"ready":true' in deployment.outputs["helm-test"]


def test_manifest_probes_answer(deployment: Deployment) -> None:
    assert deployment.core is not None
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        rw.wait_for_probe(deployment.core, kind, timeout_s=60)
    if deployment.reranker is None:
        return
    rw.wait_for_probe(deployment.reranker, "livenessProbe", expect=0, timeout_s=60)
    if deployment.reranker_has_model:
        body = rw.wait_for_probe(deployment.reranker, "readinessProbe", timeout_s=120)
        assert '"ready"' in body
    else:  # an empty model volume: running and unready, saying why
        body = rw.wait_for_probe(deployment.reranker, "readinessProbe", expect=503, timeout_s=60)
        assert "no_model" in body or "loading" in body


def test_chat_through_core_returns_sources(deployment: Deployment) -> None:
    assert deployment.core is not None
    token = _exec_in_core(deployment, "users", "create", f"helm-{uuid.uuid4().hex[:6]}").strip()
    assert re.fullmatch(r"\S+", token), token
    base = deployment.core.workload.local_url()
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=auth, timeout=120) as client:
        ingest = client.post("/api/ingest", files={"file": ("greenhouse.md", NOTE)})
        assert ingest.status_code == 200 and ingest.json()["errors"] == [], ingest.text
        chat = client.post("/api/chat", json={"message": "When does the lemon tree flower?"})
        assert chat.status_code == 200, chat.text
        answer = chat.json()
        assert answer["sources"], answer
        assert answer["sources"][0]["title"].startswith("greenhouse") or answer["sources"]
        status = client.get("/api/status").json()
    degraded = set(status["degraded"])
    assert not degraded & {"database", "vectors", "cache", "blobs", "embeddings", "llm"}, status
    if deployment.reranker is not None and not deployment.reranker_has_model:
        assert "reranker" in degraded  # shown, and the chat above still answered


def test_runner_models_the_dockerfile_environment() -> None:
    """run_workload.IMAGE_ENV must name what the image sets, or runs here would differ."""
    text = (rw.REPO / "Dockerfile").read_text()
    runtime = text[text.rindex("FROM ") :]
    keys = set()
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", runtime, flags=re.M):
        keys |= set(re.findall(r"([A-Z_]+)=", block))
    assert keys == set(rw.IMAGE_ENV), keys ^ set(rw.IMAGE_ENV)
    assert re.search(r'^ENTRYPOINT \["morgan"\]', runtime, flags=re.M)


def test_grafana_dashboard_queries_only_what_core_exports(
    deployment: Deployment, helm_bin: str, ollama: FakeOllama, openai: FakeOpenAI
) -> None:
    """The dashboard cannot drift from the code: every metric its PromQL names is a sample in
    this core's /metrics after a chat whose main LLM fails (so the fallback counter has one),
    and that chat's retrieval and emotion detection were really observed."""
    objects = rw.render(helm_bin, "--set", "metrics.grafanaDashboard.enabled=true")
    board = rw.find(objects, "ConfigMap", f"{rw.RELEASE}-dashboard")["data"]["morgan.json"]
    exprs = [t["expr"] for panel in json.loads(board)["panels"] for t in panel["targets"]]
    used = {name for e in exprs for name in re.findall(r"\bmorgan_[a-z0-9_]+", e)}
    assert len(used) >= 6, used

    assert deployment.core is not None
    token = _exec_in_core(deployment, "users", "create", f"dash-{uuid.uuid4().hex[:6]}").strip()
    ollama.fail("/api/chat", 500, CUDA_OOM, times=None)
    openai.fail_openai("/v1/chat/completions", 500, CUDA_OOM, times=None)
    try:
        with httpx.Client(
            base_url=deployment.core.workload.local_url(),
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as client:
            ingest = client.post("/api/ingest", files={"file": ("greenhouse.md", NOTE)})
            assert ingest.status_code == 200, ingest.text
            chat = client.post("/api/chat", json={"message": "When does the lemon tree flower?"})
            assert chat.status_code == 200, chat.text
            assert "llm" in chat.json()["degraded"], chat.json()
            scrape = client.get("/metrics")
    finally:
        ollama.clear_faults()
        openai.clear_faults()
    assert scrape.status_code == 200, scrape.text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(scrape.text):
        for sample in family.samples:
            samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
    assert used <= set(samples), sorted(used - set(samples))
    assert samples["morgan_rag_search_duration_seconds_count"] >= 1
    assert samples["morgan_emotion_detection_duration_seconds_count"] >= 1
    assert samples["morgan_llm_fallbacks_total"] >= 1


def test_core_runs_against_an_external_qdrant_and_shows_it_when_unreachable(
    helm_bin: str,
    seaweed: SeaweedServer,
    ollama: FakeOllama,
    openai: FakeOpenAI,
    tiny_reranker: Path,
) -> None:
    """`qdrant.enabled=false` + `qdrant.external.url`: core's env names that server (a
    `http(s)://` URL, so Morgan's settings choose the Qdrant server backend, not an Edge
    folder) with the key from the user's Secret. Here it is a closed local port: core still
    starts and gets ready (readiness is the database only) and reports `vectors` degraded."""
    url = "https://qdrant.example.com:6333"
    unreachable = f"http://127.0.0.1:{rw.free_port()}"
    root = Path(tempfile.mkdtemp(prefix="morgan-helm-external-qdrant-"))
    root.chmod(0o755)
    d = None
    try:
        d = _deploy(
            None,
            helm_bin,
            root,
            seaweed,
            ollama,
            openai,
            tiny_reranker,
            extra_args=(
                "--set",
                "qdrant.enabled=false",
                "--set",
                f"qdrant.external.url={url}",
                "--set",
                "qdrant.external.apiKey.existingSecret=qdrant-cloud",
            ),
            extra_secrets={"qdrant-cloud": {"api-key": "qc-key"}},
            extra_stand_ins={url: unreachable},
        )
        assert not [o for o in d.objects if "qdrant" in o["metadata"]["name"]]
        assert d.core is not None
        env = d.core.workload.env
        assert (
            env["MORGAN_VECTORS_URL"] == unreachable and env["MORGAN_VECTORS_API_KEY"] == "qc-key"
        )
        token = _exec_in_core(d, "users", "create", f"ext-{uuid.uuid4().hex[:6]}").strip()
        status = httpx.get(
            f"{d.core.workload.local_url()}/api/status",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        vectors = [c for c in status["components"] if c["name"] == "vectors"]
        assert [c["backend"] for c in vectors] == ["qdrant-server"], status
        assert vectors[0]["state"] != "up" and "vectors" in status["degraded"], status
        assert d.core.workload.probe("readinessProbe")[0] == 200
    finally:
        if d is not None:
            d.stop()
            asyncio.run(
                _pg_admin(f'DROP DATABASE IF EXISTS "{d.outputs["database"]}" WITH (FORCE)')
            )
        shutil.rmtree(root, ignore_errors=True)
