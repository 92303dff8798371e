"""Node capabilities read from Kubernetes Node objects.

GPU facts come from NVIDIA GPU feature discovery labels (`nvidia.com/gpu.product`,
`nvidia.com/gpu.memory` in MiB per GPU, `nvidia.com/gpu.count`); CPU and RAM come from the
node's `status.capacity`. Input is the plain dict the API returns (`kubectl get nodes -o json`),
so planning needs no cluster and no Kubernetes client library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"
GPU_COUNT_LABEL = "nvidia.com/gpu.count"
GPU_RESOURCE = "nvidia.com/gpu"
ARCH_LABEL = "kubernetes.io/arch"
HOSTNAME_LABEL = "kubernetes.io/hostname"

_MIB_PER_GB = 1024
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([A-Za-z]*)$")
_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


class NodeParseError(ValueError):
    """A Node object lacks a field the planner cannot do without."""


class Taint(msgspec.Struct, frozen=True):
    key: str
    effect: str
    value: str = ""


class NodeCapabilities(msgspec.Struct, frozen=True):
    """What one node offers. `vram_gb` is per GPU (GiB, rounded to 0.1), 0 when unknown."""

    name: str
    gpu_product: str | None = None
    gpu_count: int = 0
    vram_gb: float = 0.0
    cpu_cores: float = 0.0
    ram_gb: float = 0.0
    arch: str = "amd64"
    taints: tuple[Taint, ...] = ()
    hostname: str = ""
    unschedulable: bool = False
    ready: bool = True
    """The `Ready` condition; a node without conditions (a hand-written list) counts as ready."""

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count > 0

    @property
    def selector_hostname(self) -> str:
        """`kubernetes.io/hostname` can differ from the node name (cloud providers)."""
        return self.hostname or self.name


def parse_quantity(text: str | float) -> Decimal:
    """Parse a Kubernetes resource quantity ("16", "3500m", "65843512Ki", "64Gi", "1e9")."""
    if isinstance(text, int | float):
        return Decimal(str(text))
    match = _QUANTITY.match(text.strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise NodeParseError(f"not a Kubernetes quantity: {text!r}")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:
        raise NodeParseError(f"not a Kubernetes quantity: {text!r}") from exc
    return number * _SUFFIXES[match.group(2)]


def parse_node(node: Mapping[str, Any]) -> NodeCapabilities:
    """Build capabilities from one Node object as returned by the Kubernetes API."""
    metadata = node.get("metadata") or {}
    name = metadata.get("name")
    if not name:
        raise NodeParseError("node without metadata.name")
    labels: Mapping[str, str] = metadata.get("labels") or {}
    spec = node.get("spec") or {}
    capacity: Mapping[str, Any] = (node.get("status") or {}).get("capacity") or {}

    gpu_count = _gpu_count(labels, capacity)
    vram_mib = _int_label(labels, GPU_MEMORY_LABEL, node_name=name) if gpu_count else 0
    ram_bytes = parse_quantity(capacity["memory"]) if "memory" in capacity else Decimal(0)
    return NodeCapabilities(
        name=name,
        gpu_product=labels.get(GPU_PRODUCT_LABEL) if gpu_count else None,
        gpu_count=gpu_count,
        vram_gb=round(vram_mib / _MIB_PER_GB, 1),
        cpu_cores=float(parse_quantity(capacity["cpu"])) if "cpu" in capacity else 0.0,
        ram_gb=round(float(ram_bytes / Decimal(2) ** 30), 1),
        arch=labels.get(ARCH_LABEL, "amd64"),
        taints=tuple(
            Taint(key=t["key"], effect=t.get("effect", ""), value=t.get("value", "") or "")
            for t in spec.get("taints") or ()
        ),
        hostname=labels.get(HOSTNAME_LABEL, ""),
        unschedulable=bool(spec.get("unschedulable", False)),
        ready=_ready(node),
    )


def _ready(node: Mapping[str, Any]) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return True


def parse_nodes(
    document: Mapping[str, Any] | Iterable[Mapping[str, Any]],
) -> list[NodeCapabilities]:
    """Accept a NodeList (`kubectl get nodes -o json`), a single Node, or a list of Nodes."""
    if isinstance(document, Mapping):
        if document.get("kind") == "Node" or ("metadata" in document and "items" not in document):
            return [parse_node(document)]
        items = document.get("items")
        if items is None:
            raise NodeParseError("expected a NodeList with 'items' or a Node object")
        return [parse_node(item) for item in items]
    return [parse_node(item) for item in document]


def _gpu_count(labels: Mapping[str, str], capacity: Mapping[str, Any]) -> int:
    """Physical GPUs: the discovery label first (capacity is inflated by time-slicing replicas)."""
    if GPU_COUNT_LABEL in labels:
        return _int_label(labels, GPU_COUNT_LABEL, node_name="")
    if GPU_RESOURCE in capacity:
        return int(parse_quantity(capacity[GPU_RESOURCE]))
    return 0


def _int_label(labels: Mapping[str, str], key: str, *, node_name: str) -> int:
    raw = labels.get(key)
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError as exc:
        where = f" on node {node_name}" if node_name else ""
        raise NodeParseError(f"label {key}={raw!r}{where} is not an integer") from exc
