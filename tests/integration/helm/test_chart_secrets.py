"""Generated secrets survive re-renders: `lookup` reuses what the cluster holds.

What runs here: the real helm, rendering as `helm upgrade` does (`--dry-run=server`) against
fake_kube_api.FakeKubeAPI, a stand-in API server that answers discovery and the Secrets it is
given, so the chart's `lookup` path itself is exercised. What cannot be without a real API
server: Helm storing the release, a Secret created by the first install (the stand-in holds
one from the start), RBAC on `get secrets`, and Argo CD / Flux themselves; for those renders,
which never see the cluster, the test shows why docs/deploy.md asks for `existingSecret`.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.helm import run_workload as rw
from tests.integration.helm.fake_kube_api import FakeKubeAPI

pytestmark = pytest.mark.helm

SECRET = f"{rw.RELEASE}-secrets"
STORED = {
    "emotion-key": base64.b64encode(b"k" * 32).decode(),
    "postgres-password": base64.b64encode(b"stored-db-password").decode(),
    "qdrant-api-key": base64.b64encode(b"stored-qdrant-key").decode(),
}


def _generated(objects: list[dict[str, Any]]) -> dict[str, str]:
    return dict(rw.find(objects, "Secret", SECRET)["data"])


def _render_against(helm_bin: str, kubeconfig: Path, *args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            helm_bin,
            "template",
            rw.RELEASE,
            str(rw.CHART),
            "--namespace",
            rw.NAMESPACE,
            "--dry-run=server",
            "--kubeconfig",
            str(kubeconfig),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_upgrade_render_reuses_the_stored_values_and_fills_only_new_keys(
    helm_bin: str, tmp_path: Path
) -> None:
    api = FakeKubeAPI({(rw.NAMESPACE, SECRET): STORED})
    with api.serving(tmp_path) as kubeconfig:
        first = _generated(_render_against(helm_bin, kubeconfig))
        second = _generated(_render_against(helm_bin, kubeconfig))
    assert f"/api/v1/namespaces/{rw.NAMESPACE}/secrets/{SECRET}" in api.asked
    for key, value in STORED.items():
        assert first[key] == value, key  # the emotion key and DB password are not regenerated
    # Keys the stored Secret lacks (a component enabled later) are generated, once per render
    # until the upgrade stores them; from then on they are reused like the others.
    assert {"redis-password", "replication-password", "minio-root-password"} <= set(first)
    assert first.keys() == second.keys()
    assert all(first[k] == second[k] for k in STORED)


def test_renders_without_cluster_access_regenerate_so_gitops_brings_its_own_secrets(
    helm_bin: str,
) -> None:
    """`helm template`, Argo CD and Flux render without `lookup`: every render draws new
    values (the emotion key would change). With every `existingSecret` set (docs/deploy.md)
    nothing is generated, so no render can change a credential."""
    a, b = (_generated(rw.render(helm_bin)) for _ in range(2))
    assert a["emotion-key"] != b["emotion-key"]
    assert a["postgres-password"] != b["postgres-password"]

    own = [
        "core.emotionKey.existingSecret=morgan-emotion",
        "qdrant.apiKey.existingSecret=morgan-qdrant",
        "postgres.auth.existingSecret=morgan-postgres",
        "redis.auth.existingSecret=morgan-redis",
        "minio.auth.existingSecret=morgan-minio",
    ]
    objects = rw.render(helm_bin, *(arg for v in own for arg in ("--set", v)))
    assert not [o for o in objects if o["kind"] == "Secret"]
    referenced = {ref["name"] for ref in _secret_refs([o for o in objects if o["kind"] != "Pod"])}
    assert referenced == {v.split("=", 1)[1] for v in own}


def _secret_refs(node: Any) -> list[dict[str, str]]:
    if isinstance(node, dict):
        found = [node["secretKeyRef"]] if "secretKeyRef" in node else []
        return found + [r for v in node.values() for r in _secret_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _secret_refs(v)]
    return []
