"""Render the chart with the real helm, then run a rendered container as a local process.

What a kubelet would do, as far as a machine without Kubernetes can: the container's
command/args (or the image's ENTRYPOINT), its environment computed exactly as Kubernetes does
(`envFrom` ConfigMaps and Secrets first, then `env` in order with `valueFrom` and `$(VAR)`
expansion), run as the uid, gid and fsGroup its securityContext names (see `launch`; Morgan's
own programs from `pod_image`, a copy of this checkout's interpreter, venv and sources that
uid can read), with its volume mounts mapped to local folders owned by that uid. What stands
in for the cluster is explicit in `Stand-ins`: Service `host:port` pairs and bare host names
become loopback addresses of local processes, whole values that name a service with no local
twin (the Qdrant server) get a local equivalent, and container ports are moved to free local
ports (in env values and args that name them) so runs can sit side by side.

Not covered without an API server: scheduling and placement, `lookup` of existing Secrets
(test_chart_secrets.py runs it against a stand-in API), Service DNS and kube-proxy, PVC
binding, readOnlyRootFilesystem, probes' kubelet timing.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.integration.helm.pod_image import pod_image

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "helm"
VENV_BIN = Path(sys.executable).parent
RELEASE = "morgan"
NAMESPACE = "morgan"
KUBE_VERSION = "1.30.0"

# The Dockerfile's runtime ENV and ENTRYPOINT, with this checkout in place of the image's paths
# (tests/integration/helm/test_chart_runs.py checks that the keys match the Dockerfile).
IMAGE_ENTRYPOINT = [str(VENV_BIN / "morgan")]
IMAGE_ENV = {
    "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
    "MORGAN_ALEMBIC_DIR": str(REPO / "alembic"),
    "MORGAN_HOME": "/data",
    "HOME": "/data",
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def render(helm_bin: str, *args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            helm_bin,
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--kube-version",
            KUBE_VERSION,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm template failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    if len(matches) != 1:
        raise KeyError(f"{kind}/{name} rendered {len(matches)} times")
    return matches[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "Pod":
        return workload["spec"]
    return workload["spec"]["template"]["spec"]


def container(workload: dict[str, Any], name: str, *, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    for c in pod_spec(workload).get(key, []):
        if c["name"] == name:
            return c
    raise KeyError(f"{workload['metadata']['name']} has no {key[:-1]} {name}")


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) rule: defined names expand, unknown ones stay, `$$` is a `$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR.sub(one, value)


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return data | dict(secret.get("stringData") or {})


@dataclass
class Cluster:
    """The rendered objects plus the Secrets a user creates before installing (examples)."""

    objects: list[dict[str, Any]]
    user_secrets: dict[str, dict[str, str]] = field(default_factory=dict)

    def config_map(self, name: str) -> dict[str, str]:
        return dict(find(self.objects, "ConfigMap", name).get("data") or {})

    def secret(self, name: str) -> dict[str, str]:
        if name in self.user_secrets:
            return self.user_secrets[name]
        return _decoded(find(self.objects, "Secret", name))

    def env(self, spec: dict[str, Any]) -> dict[str, str]:
        """A container's environment as the kubelet computes it."""
        env: dict[str, str] = {}
        for source in spec.get("envFrom", []):
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                data = self.config_map(source["configMapRef"]["name"])
            else:
                data = self.secret(source["secretRef"]["name"])
            env.update({prefix + k: v for k, v in data.items()})
        for item in spec.get("env", []):
            if "value" in item:
                env[item["name"]] = expand(str(item["value"]), env)
            elif "valueFrom" in item:
                env[item["name"]] = self._value_from(item["valueFrom"])
            else:
                env[item["name"]] = ""
        return env

    def _value_from(self, ref: dict[str, Any]) -> str:
        if "secretKeyRef" in ref:
            return self.secret(ref["secretKeyRef"]["name"])[ref["secretKeyRef"]["key"]]
        if "configMapKeyRef" in ref:
            r = ref["configMapKeyRef"]
            return self.config_map(r["name"])[r["key"]]
        if "fieldRef" in ref:
            path = ref["fieldRef"]["fieldPath"]
            return {
                "metadata.namespace": NAMESPACE,
                "metadata.name": "local-pod",
                "status.podIP": "127.0.0.1",
            }.get(path, "")
        raise ValueError(f"unsupported valueFrom {ref}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StandIns:
    """How cluster names map to this machine."""

    endpoints: dict[str, str] = field(default_factory=dict)  # "svc:port" -> "127.0.0.1:port"
    hosts: dict[str, str] = field(default_factory=dict)  # whole value "svc" -> "127.0.0.1"
    values: dict[str, str] = field(default_factory=dict)  # whole value -> local equivalent

    def apply(self, text: str) -> str:
        if text in self.values:
            return self.values[text]
        if text in self.hosts:
            return self.hosts[text]
        for remote, local in self.endpoints.items():
            text = text.replace(remote, local)
        return text


@dataclass
class Workload:
    """One container, ready to run locally."""

    name: str
    argv: list[str]
    env: dict[str, str]
    uid: int | None
    ports: dict[str, int]  # port name (or number as text) -> local port
    probes: dict[str, dict[str, Any]]
    mounts: dict[str, Path]
    gid: int | None = None  # runAsGroup (else the uid, as Morgan's image's USER 10001:10001)
    groups: tuple[int, ...] = ()  # supplementary: the pod's fsGroup

    def probe(self, kind: str) -> tuple[int, str]:
        """(status, body) of an httpGet probe, or (0, "open") for a tcpSocket one."""
        spec = self.probes[kind]
        if "httpGet" in spec:
            port = self.ports[str(spec["httpGet"]["port"])]
            response = httpx.get(f"http://127.0.0.1:{port}{spec['httpGet']['path']}", timeout=10)
            return response.status_code, response.text
        if "tcpSocket" in spec:
            port = self.ports[str(spec["tcpSocket"]["port"])]
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                return 0, "open"
        raise ValueError(f"{self.name}: {kind} is not an httpGet/tcpSocket probe: {spec}")

    def local_url(self, port: str = "http") -> str:
        return f"http://127.0.0.1:{self.ports[port]}"


def prepare(
    cluster: Cluster,
    workload: dict[str, Any],
    container_name: str,
    stand_ins: StandIns,
    root: Path,
    *,
    init: bool = False,
    image_env: Mapping[str, str] | None = IMAGE_ENV,
    entrypoint: list[str] | None = None,
) -> Workload:
    """Everything needed to start `container_name` of `workload` on this machine.

    `image_env`/`entrypoint` describe the image (Morgan's by default); pass `None` and a
    command-line tool's path for third-party images whose command is run directly."""
    spec = container(workload, container_name, init=init)
    pod = pod_spec(workload)
    context = pod.get("securityContext", {}) | spec.get("securityContext", {})
    mounts: dict[str, Path] = {}
    for mount in spec.get("volumeMounts", []):
        local = root / "volumes" / mount["name"]
        local.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = local
    ports = {}
    moved: dict[str, str] = {}
    for port in spec.get("ports", []):
        local = free_port()
        ports[port.get("name", str(port["containerPort"]))] = local
        ports[str(port["containerPort"])] = local
        moved[str(port["containerPort"])] = str(local)

    def localize(text: str) -> str:
        if text in stand_ins.values:  # an explicit stand-in wins over mount mapping
            return stand_ins.values[text]
        if _is_image_file(text):  # the image's own programs, wherever this checkout lives
            return text
        text = stand_ins.apply(text)
        if text in moved:
            return moved[text]
        for path in sorted(mounts, key=len, reverse=True):
            if text == path or text.startswith(path.rstrip("/") + "/"):
                return str(mounts[path]) + text[len(path.rstrip("/")) :]
        return text

    env = dict(image_env or {}) | cluster.env(spec)
    env = {k: localize(v) for k, v in env.items()}
    command = spec.get("command") or (entrypoint if entrypoint is not None else IMAGE_ENTRYPOINT)
    argv = [localize(expand(a, env)) for a in [*command, *spec.get("args", [])]]
    probes = {k: spec[k] for k in ("startupProbe", "livenessProbe", "readinessProbe") if k in spec}
    fs_group = pod.get("securityContext", {}).get("fsGroup")
    return Workload(
        container_name,
        argv,
        env,
        context.get("runAsUser"),
        ports,
        probes,
        mounts,
        gid=context.get("runAsGroup"),
        groups=() if fs_group is None else (int(fs_group),),
    )


@dataclass
class Running:
    workload: Workload
    process: subprocess.Popen[bytes]
    log: Path
    ran_as: dict[str, tuple[int, ...]] = field(default_factory=dict)  # see `identity`

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _is_image_file(text: str) -> bool:
    """True for a path inside this checkout or its virtualenv: the "image" itself. A clone
    under /tmp must not have its interpreter remapped into a pod's /tmp emptyDir."""
    return any(
        text == str(base) or text.startswith(str(base) + "/") for base in (REPO, Path(sys.prefix))
    )


def runs_as_pod_uid(workload: Workload) -> bool:
    """True when the process will run as the pod's uid: the pod names one and we are root
    (who else could switch to it). Morgan's own programs then run from `pod_image`."""
    return workload.uid is not None and os.geteuid() == 0


def _runs_morgans_image(workload: Workload) -> bool:
    found = shutil.which(workload.argv[0], path=workload.env.get("PATH"))
    return Path(found or workload.argv[0]).is_relative_to(VENV_BIN)


def launch(
    workload: Workload, argv: list[str] | None = None
) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """(argv, env, Popen keywords) that run `workload` (or `argv` in its container, as
    `kubectl exec` would) as the kubelet would: as the pod's uid, gid and fsGroup, with its
    writable volumes owned by them, and Morgan's programs from the copy that uid can read."""
    argv = list(argv or workload.argv)
    env = dict(workload.env)
    if not runs_as_pod_uid(workload):
        return argv, env, {}
    assert workload.uid is not None
    if _runs_morgans_image(workload):
        image = pod_image()
        argv = [image.translate(a) for a in argv]
        env = image.env(env)
    gid = workload.uid if workload.gid is None else workload.gid
    for path in workload.mounts.values():
        for p in (path, *path.rglob("*")):
            os.chown(p, workload.uid, gid, follow_symlinks=False)
    kwargs = {"user": workload.uid, "group": gid, "extra_groups": list(workload.groups)}
    return argv, env, kwargs


def identity(pid: int) -> dict[str, tuple[int, ...]]:
    """Uid/Gid (real, effective, saved, fs) and supplementary Groups of a live or not yet
    reaped process, from /proc: what the process really ran as."""
    out: dict[str, tuple[int, ...]] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Uid", "Gid", "Groups"):
            out[key] = tuple(int(v) for v in value.split())
    return out


def start(workload: Workload, log_dir: Path) -> Running:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{workload.name}.log"
    argv, env, as_user = launch(workload)
    with log.open("ab") as out:
        out.write(f"$ {shlex.join(argv)}\n".encode())
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(next(iter(workload.mounts.values()), log_dir)),
            **as_user,
        )
    # Popen returns once the program is exec'd (after the uid switch), and a process that
    # already exited stays in /proc until it is waited for: this is what it ran as.
    return Running(workload, process, log, identity(process.pid))


def finish(workload: Workload, log_dir: Path, *, timeout_s: float = 120) -> Running:
    """An init container or Job: run and wait; raise if it fails."""
    running = start(workload, log_dir)
    try:
        code = running.process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        running.stop()
        raise RuntimeError(
            f"{workload.name} did not finish in {timeout_s}s:\n{running.log_tail()}"
        ) from None
    if code != 0:
        raise RuntimeError(f"{workload.name} exited {code}:\n{running.log_tail()}")
    return running


def run_to_completion(workload: Workload, log_dir: Path, *, timeout_s: float = 120) -> str:
    """An init container or Job: run, wait, return its output; raise if it fails."""
    return finish(workload, log_dir, timeout_s=timeout_s).output()


def wait_for_probe(
    running: Running, kind: str, *, expect: int = 200, timeout_s: float = 180
) -> str:
    """Poll a probe the way the kubelet does until it answers `expect`; fail on process exit."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(
                f"{running.workload.name} exited {running.process.returncode}:\n"
                f"{running.log_tail()}"
            )
        try:
            status, body = running.workload.probe(kind)
            if status == expect:
                return body
            last = f"{status} {body[:300]}"
        except (httpx.HTTPError, OSError) as exc:
            last = repr(exc)
        time.sleep(0.25)
    raise RuntimeError(
        f"{running.workload.name} {kind} never answered {expect} "
        f"(last: {last}):\n{running.log_tail()}"
    )


def workloads_running_image(
    objects: list[dict[str, Any]], image_repo: str
) -> Iterator[tuple[dict[str, Any], dict[str, Any], bool]]:
    """(workload, container, is_init) for every container of Morgan's image."""
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job", "DaemonSet", "Pod"):
            continue
        spec = pod_spec(obj)
        for key, is_init in (("initContainers", True), ("containers", False)):
            for c in spec.get(key, []):
                if c["image"].split(":")[0] == image_repo:
                    yield obj, c, is_init
