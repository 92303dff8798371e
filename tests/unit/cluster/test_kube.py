"""The node reader against a real local API-server stand-in (HTTP and mutual TLS)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from morgan.cluster.kube import (
    ClusterAccessError,
    fetch_nodes_from_kubeconfig,
    fetch_nodes_in_cluster,
)

TOKEN = "s3cr3t-token"
NODES = {"kind": "NodeList", "apiVersion": "v1", "items": [{"metadata": {"name": "n1"}}]}


class FakeApiServer(BaseHTTPRequestHandler):
    """Answers GET /api/v1/nodes like kube-apiserver: token or client certificate required."""

    def do_GET(self) -> None:
        seen = self.server.seen  # type: ignore[attr-defined]
        seen.append((self.path, self.headers.get("Authorization")))
        cert = getattr(self.connection, "getpeercert", lambda: None)()
        authorised = self.headers.get("Authorization") == f"Bearer {TOKEN}" or bool(cert)
        if self.path != "/api/v1/nodes":
            self._reply(404, {"kind": "Status"})
        elif not authorised:
            self._reply(401, {"kind": "Status", "reason": "Unauthorized"})
        else:
            self._reply(200, NODES)

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def serve(context: ssl.SSLContext | None) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    server.seen = []  # type: ignore[attr-defined]
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    yield from serve(None)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject: str, key, issuer_name, issuer_key, *, ca: bool = False, ip: str | None = None):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""
    root = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = _cert("test-ca", ca_key, ca_name, ca_key, ca=True)
    server_key, client_key = _key(), _key()
    files = {
        "ca.crt": _pem(ca),
        "server.crt": _pem(_cert("apiserver", server_key, ca_name, ca_key, ip="127.0.0.1")),
        "server.key": _pem(server_key),
        "client.crt": _pem(_cert("admin", client_key, ca_name, ca_key)),
        "client.key": _pem(client_key),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return {name.replace(".", "_"): root / name for name in files}


@pytest.fixture
def tls_server(pki) -> Iterator[ThreadingHTTPServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server_crt"], pki["server_key"])
    context.load_verify_locations(pki["ca_crt"])
    context.verify_mode = ssl.CERT_OPTIONAL
    yield from serve(context)


def kubeconfig(tmp_path: Path, server: str, cluster: dict, user: dict) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "main",
        "contexts": [
            {"name": "main", "context": {"cluster": "c", "user": "u"}},
            {"name": "other", "context": {"cluster": "c", "user": "nobody"}},
        ],
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
        "users": [{"name": "u", "user": user}, {"name": "nobody", "user": {}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    return path


def url(server: ThreadingHTTPServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"


def test_bearer_token(tmp_path, http_server):
    path = kubeconfig(tmp_path, url(http_server), {}, {"token": TOKEN})
    assert fetch_nodes_from_kubeconfig(path) == NODES
    assert http_server.seen == [("/api/v1/nodes", f"Bearer {TOKEN}")]


def test_token_file_relative_to_kubeconfig(tmp_path, http_server):
    (tmp_path / "token").write_text(TOKEN + "\n")
    path = kubeconfig(tmp_path, url(http_server), {}, {"tokenFile": "token"})
    assert fetch_nodes_from_kubeconfig(path)["items"][0]["metadata"]["name"] == "n1"


def test_refused_credentials_explain_rbac(tmp_path, http_server):
    path = kubeconfig(tmp_path, url(http_server), {}, {"token": TOKEN})
    with pytest.raises(ClusterAccessError, match="401.*list nodes"):
        fetch_nodes_from_kubeconfig(path, context="other")


def test_exec_plugins_point_to_nodes_json(tmp_path, http_server):
    path = kubeconfig(tmp_path, url(http_server), {}, {"exec": {"command": "aws"}})
    with pytest.raises(ClusterAccessError, match="--nodes-json"):
        fetch_nodes_from_kubeconfig(path)
    assert http_server.seen == []


def test_unreachable_server(tmp_path, http_server):
    port = http_server.server_address[1]
    http_server.shutdown()
    http_server.server_close()
    path = kubeconfig(tmp_path, f"http://127.0.0.1:{port}", {}, {"token": TOKEN})
    with pytest.raises(ClusterAccessError, match="cannot reach"):
        fetch_nodes_from_kubeconfig(path, timeout_s=2)


def test_unknown_context(tmp_path, http_server):
    path = kubeconfig(tmp_path, url(http_server), {}, {"token": TOKEN})
    with pytest.raises(ClusterAccessError, match="no context named 'nope'"):
        fetch_nodes_from_kubeconfig(path, context="nope")


def test_client_certificate_data_and_ca_data(tmp_path, tls_server, pki):
    b64 = lambda p: base64.b64encode(p.read_bytes()).decode()
    path = kubeconfig(
        tmp_path,
        url(tls_server, "https"),
        {"certificate-authority-data": b64(pki["ca_crt"])},
        {
            "client-certificate-data": b64(pki["client_crt"]),
            "client-key-data": b64(pki["client_key"]),
        },
    )
    assert fetch_nodes_from_kubeconfig(path) == NODES
    assert tls_server.seen == [("/api/v1/nodes", None)]  # authenticated by certificate alone


def test_client_certificate_files(tmp_path, tls_server, pki):
    path = kubeconfig(
        tmp_path,
        url(tls_server, "https"),
        {"certificate-authority": str(pki["ca_crt"])},
        {"client-certificate": str(pki["client_crt"]), "client-key": str(pki["client_key"])},
    )
    assert fetch_nodes_from_kubeconfig(path) == NODES


def test_untrusted_server_certificate_is_refused(tmp_path, tls_server):
    path = kubeconfig(tmp_path, url(tls_server, "https"), {}, {"token": TOKEN})
    with pytest.raises(ClusterAccessError, match="cannot reach"):
        fetch_nodes_from_kubeconfig(path)


def test_in_cluster_service_account(tmp_path, tls_server, pki):
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text(TOKEN)
    (account / "ca.crt").write_bytes(pki["ca_crt"].read_bytes())
    env = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(tls_server.server_address[1]),
    }
    assert fetch_nodes_in_cluster(account_dir=account, env=env) == NODES
    assert tls_server.seen == [("/api/v1/nodes", f"Bearer {TOKEN}")]


def test_in_cluster_outside_a_pod(tmp_path):
    with pytest.raises(ClusterAccessError, match="not running in a pod"):
        fetch_nodes_in_cluster(account_dir=tmp_path, env={})
