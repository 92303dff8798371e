"""`morgan hosts list|capabilities`: nodes read like `cluster plan`, with Morgan's pods on each."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from morgan.cluster.cli import hosts_group

GOLDEN = Path(__file__).parent / "golden"
NODES = json.loads((GOLDEN / "seven-mixed.nodes.json").read_text())
TOKEN = "hosts-token"


def _pod(name: str, component: str, node: str | None, phase: str = "Running") -> dict:
    return {
        "metadata": {
            "name": name,
            "namespace": "morgan",
            "labels": {
                "app.kubernetes.io/part-of": "morgan",
                "app.kubernetes.io/component": component,
            },
        },
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase},
    }


PODS = {
    "kind": "PodList",
    "items": [
        _pod("morgan-core-1", "core", "cpu-1"),
        _pod("morgan-core-2", "core", "cpu-1"),
        _pod("morgan-ollama-main-0", "ollama-main", "gh-1"),
        _pod("morgan-reranker-0", "reranker", None, "Pending"),
    ],
}


class ApiServer(BaseHTTPRequestHandler):
    """Lists nodes and pods like kube-apiserver, for one bearer token."""

    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._reply(401, {"kind": "Status"})
        body = {
            "/api/v1/nodes": NODES,
            "/api/v1/namespaces/morgan/pods?labelSelector=app.kubernetes.io/part-of%3Dmorgan": PODS,
        }.get(self.path)
        self._reply(200 if body else 404, body or {"kind": "Status"})

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Iterator[tuple[Path, ThreadingHTTPServer]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ApiServer)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [
            {"name": "k", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}
        ],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    try:
        yield path, server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_list_from_the_api_shows_capabilities_and_pods(kubeconfig) -> None:
    path, server = kubeconfig
    result = CliRunner().invoke(
        hosts_group, ["list", "--kubeconfig", str(path), "-n", "morgan", "--json"]
    )
    assert result.exit_code == 0, result.output
    hosts = {h["name"]: h for h in json.loads(result.output.strip().splitlines()[-1])}
    assert len(hosts) == 7
    assert hosts["gh-1"] | {"pods": None} == {
        "name": "gh-1",
        "ready": True,
        "schedulable": True,
        "arch": "arm64",
        "cpu_cores": 72.0,
        "ram_gb": 479.7,
        "gpu_product": "NVIDIA-GH200-480GB",
        "gpu_count": 4,
        "vram_gb": 95.6,
        "pods": None,
    }
    assert [p["component"] for p in hosts["cpu-1"]["pods"]] == ["core", "core"]
    assert [p["name"] for p in hosts["gh-1"]["pods"]] == ["morgan-ollama-main-0"]
    assert all(not h["pods"] for n, h in hosts.items() if n not in ("cpu-1", "gh-1"))
    assert server.seen[-1].startswith("/api/v1/namespaces/morgan/pods?labelSelector=")


def test_capabilities_of_one_node_offline(tmp_path: Path) -> None:
    nodes = GOLDEN / "one-notready.nodes.json"
    (tmp_path / "pods.json").write_text(json.dumps(PODS))
    result = CliRunner().invoke(
        hosts_group, ["capabilities", "gpu-big", "--nodes-json", str(nodes), "--json"]
    )
    assert result.exit_code == 0, result.output
    host = json.loads(result.output)
    assert host["ready"] is False and host["vram_gb"] == 48.0 and host["pods"] == []
    text = CliRunner().invoke(
        hosts_group,
        ["list", "--nodes-json", str(nodes), "--pods-json", str(tmp_path / "pods.json")],
    )
    assert text.exit_code == 0 and "gpu-big" in text.output and "NotReady" in text.output
    missing = CliRunner().invoke(hosts_group, ["capabilities", "nope", "--nodes-json", str(nodes)])
    assert missing.exit_code == 1 and "no node named 'nope'" in missing.output
