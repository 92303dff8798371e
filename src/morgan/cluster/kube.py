"""Read Node objects from the API server with plain httpx, via a kubeconfig or a service account.

Only what `GET /api/v1/nodes` needs is supported: bearer tokens (inline or file), client
certificates (inline or file), basic auth, and the cluster CA. Exec and auth-provider plugins
(cloud CLIs) are refused with a hint to pass `--nodes-json` from `kubectl get nodes -o json`.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import structlog
import yaml

from morgan.http_failures import HttpFailure, classify

log = structlog.get_logger(__name__)

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
NODES_PATH = "/api/v1/nodes"


class ClusterAccessError(RuntimeError):
    """The API server could not be reached or refused us; the message says how to fix it."""


def default_kubeconfig() -> Path:
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"


def fetch_nodes_from_kubeconfig(
    path: Path,
    *,
    context: str | None = None,
    timeout_s: float = 15.0,
    resource: str = NODES_PATH,
) -> dict[str, Any]:
    """The NodeList (or another list at `resource`) of the kubeconfig's current context."""
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ClusterAccessError(f"cannot read kubeconfig {path}: {exc}") from exc
    base_dir = path.parent
    context_name = context or config.get("current-context")
    ctx = _named(config, "contexts", "context", context_name, path)
    cluster = _named(config, "clusters", "cluster", ctx.get("cluster"), path)
    user = _named(config, "users", "user", ctx.get("user"), path) if ctx.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise ClusterAccessError(
            f"context {context_name!r} authenticates through a plugin (exec/auth-provider), "
            "which this command does not run; use: kubectl get nodes -o json > nodes.json && "
            "morgan cluster plan --nodes-json nodes.json"
        )
    server = cluster.get("server")
    if not server:
        raise ClusterAccessError(f"cluster of context {context_name!r} has no server in {path}")

    with tempfile.TemporaryDirectory(prefix="morgan-kube-") as scratch:
        verify = _verify(cluster, base_dir)
        headers: dict[str, str] = {}
        auth: tuple[str, str] | None = None
        token = user.get("token") or _read_optional(user.get("tokenFile"), base_dir)
        if token:
            headers["Authorization"] = f"Bearer {token.strip()}"
        elif user.get("username"):
            auth = (user["username"], user.get("password", ""))
        cert = _client_cert(user, base_dir, Path(scratch))
        if cert is not None and isinstance(verify, ssl.SSLContext):
            verify.load_cert_chain(*cert)
        elif cert is not None:
            context_ssl = ssl.create_default_context()
            if verify is False:
                context_ssl.check_hostname = False
                context_ssl.verify_mode = ssl.CERT_NONE
            context_ssl.load_cert_chain(*cert)
            verify = context_ssl
        return _get_nodes(
            server,
            headers=headers,
            auth=auth,
            verify=verify,
            timeout_s=timeout_s,
            resource=resource,
        )


def fetch_nodes_in_cluster(
    *,
    account_dir: Path = SERVICE_ACCOUNT_DIR,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 15.0,
    resource: str = NODES_PATH,
) -> dict[str, Any]:
    """The NodeList (or `resource`) as this pod's service account sees it (`list` RBAC)."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ClusterAccessError("not running in a pod (KUBERNETES_SERVICE_HOST is unset)")
    try:
        token = (account_dir / "token").read_text().strip()
    except OSError as exc:
        raise ClusterAccessError(f"no service account token in {account_dir}: {exc}") from exc
    host = f"[{host}]" if ":" in host else host
    verify = ssl.create_default_context(cafile=str(account_dir / "ca.crt"))
    return _get_nodes(
        f"https://{host}:{port}",
        headers={"Authorization": f"Bearer {token}"},
        auth=None,
        verify=verify,
        timeout_s=timeout_s,
        resource=resource,
    )


def _get_nodes(
    server: str,
    *,
    headers: dict[str, str],
    auth: tuple[str, str] | None,
    verify: ssl.SSLContext | bool,
    timeout_s: float,
    resource: str = NODES_PATH,
) -> dict[str, Any]:
    url = server.rstrip("/") + resource
    what = resource.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    log.info("cluster.nodes.fetch", url=url)
    try:
        with httpx.Client(verify=verify, timeout=timeout_s, auth=auth) as client:
            response = client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise ClusterAccessError(f"cannot reach the API server at {server}: {exc}") from exc
    if classify(response.status_code) in (HttpFailure.AUTH, HttpFailure.FORBIDDEN):
        raise ClusterAccessError(
            f"the API server refused to list {what} ({response.status_code}); the account "
            f"needs RBAC permission to list {what}"
        )
    if response.status_code != 200:
        raise ClusterAccessError(
            f"listing {what} failed: HTTP {response.status_code}: {response.text[:200]}"
        )
    try:
        return response.json()
    except ValueError as exc:
        raise ClusterAccessError(f"the API server answered with invalid JSON: {exc}") from exc


def _named(
    config: Mapping[str, Any], section: str, key: str, name: Any, path: Path
) -> dict[str, Any]:
    for entry in config.get(section) or ():
        if entry.get("name") == name:
            return entry.get(key) or {}
    raise ClusterAccessError(f"kubeconfig {path} has no {key} named {name!r}")


def _resolve(value: str, base_dir: Path) -> Path:
    """Relative paths in a kubeconfig are relative to the kubeconfig file."""
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else base_dir / candidate


def _read_optional(value: str | None, base_dir: Path) -> str:
    if not value:
        return ""
    try:
        return _resolve(value, base_dir).read_text()
    except OSError as exc:
        raise ClusterAccessError(f"cannot read {value}: {exc}") from exc


def _verify(cluster: Mapping[str, Any], base_dir: Path) -> ssl.SSLContext | bool:
    if cluster.get("insecure-skip-tls-verify"):
        return False
    if cluster.get("certificate-authority-data"):
        pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        return ssl.create_default_context(cadata=pem)
    if cluster.get("certificate-authority"):
        return ssl.create_default_context(
            cafile=str(_resolve(cluster["certificate-authority"], base_dir))
        )
    return ssl.create_default_context()


def _client_cert(user: Mapping[str, Any], base_dir: Path, scratch: Path) -> tuple[str, str] | None:
    """(certfile, keyfile); inline data goes to private scratch files since ssl wants paths."""
    cert = _pem_file(user, "client-certificate", base_dir, scratch)
    key = _pem_file(user, "client-key", base_dir, scratch)
    if cert and key:
        return cert, key
    if cert or key:
        raise ClusterAccessError(
            "kubeconfig user has a client certificate without its key (or the reverse)"
        )
    return None


def _pem_file(user: Mapping[str, Any], field: str, base_dir: Path, scratch: Path) -> str:
    if user.get(f"{field}-data"):
        target = scratch / field
        target.touch(mode=0o600)
        target.write_bytes(base64.b64decode(user[f"{field}-data"]))
        return str(target)
    if user.get(field):
        return str(_resolve(user[field], base_dir))
    return ""
