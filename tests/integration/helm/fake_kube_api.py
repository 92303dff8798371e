"""A stand-in Kubernetes API server, just enough for Helm's `lookup` of Secrets.

`helm template --dry-run=server` asks the API server for discovery (`/api/v1`) and then GETs
each looked-up object. This serves that discovery and the Secrets it is given (404 for the
rest), and records the paths asked, so a test can render the chart as `helm upgrade` would
against a cluster that already holds the release's Secret. It is not a Kubernetes: no
authentication, no other kinds, no writes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_DISCOVERY: dict[str, Any] = {
    "/version": {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {
                "name": "secrets",
                "singularName": "secret",
                "namespaced": True,
                "kind": "Secret",
                "verbs": ["get", "list"],
            }
        ],
    },
}


class FakeKubeAPI:
    def __init__(self, secrets: dict[tuple[str, str], dict[str, str]]) -> None:
        """`secrets`: (namespace, name) -> base64 `data`, as the cluster stores them."""
        self.secrets = secrets
        self.asked: list[str] = []

    def _answer(self, path: str) -> tuple[int, dict[str, Any]]:
        self.asked.append(path)
        if path in _DISCOVERY:
            return 200, _DISCOVERY[path]
        parts = path.strip("/").split("/")
        if len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "secrets":
            data = self.secrets.get((parts[3], parts[5]))
            if data is not None:
                meta = {"name": parts[5], "namespace": parts[3]}
                return 200, {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data}
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}

    @contextmanager
    def serving(self, folder: Path) -> Iterator[Path]:
        """Serve on a free loopback port; yields a kubeconfig file pointing at it."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body = api._answer(self.path.split("?", 1)[0])
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        kubeconfig = folder / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "fake",
                            "cluster": {"server": f"http://127.0.0.1:{server.server_port}"},
                        }
                    ],
                    "users": [{"name": "fake", "user": {"token": "unused"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            )
        )
        try:
            yield kubeconfig
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
