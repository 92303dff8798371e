"""`morgan hosts`: each node's capabilities as `cluster plan` reads them, and Morgan's pods on it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from morgan.cluster.nodes import NodeCapabilities

MORGAN_PODS_SELECTOR = "app.kubernetes.io/part-of=morgan"


class HostPod(msgspec.Struct, frozen=True):
    name: str
    namespace: str
    component: str
    phase: str


class Host(msgspec.Struct, frozen=True):
    """One node: what the planner sees (GPU product, VRAM per GPU, CPU, RAM, arch, ready)."""

    name: str
    ready: bool
    schedulable: bool
    arch: str
    cpu_cores: float
    ram_gb: float
    gpu_product: str | None
    gpu_count: int
    vram_gb: float
    pods: list[HostPod]


def pods_path(namespace: str | None) -> str:
    """The API path listing Morgan's pods (all namespaces unless one is given)."""
    base = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
    return f"{base}?labelSelector={MORGAN_PODS_SELECTOR.replace('=', '%3D')}"


def build_hosts(nodes: Iterable[NodeCapabilities], pods: Mapping[str, Any] | None) -> list[Host]:
    by_node: dict[str, list[HostPod]] = {}
    for pod in (pods or {}).get("items", []):
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            continue  # Pending, not scheduled yet
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        by_node.setdefault(node, []).append(
            HostPod(
                name=meta.get("name", ""),
                namespace=meta.get("namespace", ""),
                component=labels.get("app.kubernetes.io/component", ""),
                phase=(pod.get("status") or {}).get("phase", ""),
            )
        )
    return [
        Host(
            name=n.name,
            ready=n.ready,
            schedulable=not n.unschedulable,
            arch=n.arch,
            cpu_cores=n.cpu_cores,
            ram_gb=n.ram_gb,
            gpu_product=n.gpu_product,
            gpu_count=n.gpu_count,
            vram_gb=n.vram_gb,
            pods=sorted(by_node.get(n.name, []), key=lambda p: (p.component, p.name)),
        )
        for n in sorted(nodes, key=lambda n: n.name)
    ]


def describe(host: Host) -> str:
    gpu = (
        f"{host.gpu_count}x {host.gpu_product} {host.vram_gb:g} GB" if host.gpu_count else "no GPU"
    )
    state = "Ready" if host.ready else "NotReady"
    if not host.schedulable:
        state += ",cordoned"
    pods = ", ".join(p.component or p.name for p in host.pods) or "-"
    return (
        f"{host.name:<20} {state:<17} {host.arch:<6} {host.cpu_cores:>5g} CPU "
        f"{host.ram_gb:>7g} GB  {gpu:<40} {pods}"
    )
