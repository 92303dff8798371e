"""Node objects shaped exactly like `kubectl get nodes -o json` items, with GFD labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

NodeFactory = Callable[..., dict[str, Any]]


def build_node(
    name: str,
    *,
    gpu_mib: int | None = None,
    gpus: int = 1,
    product: str = "NVIDIA-GeForce-RTX-4090",
    cpu: str = "16",
    memory: str = "65843512Ki",
    arch: str = "amd64",
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    hostname: str | None = None,
) -> dict[str, Any]:
    labels = {
        "beta.kubernetes.io/arch": arch,
        "kubernetes.io/arch": arch,
        "kubernetes.io/hostname": hostname or name,
        "kubernetes.io/os": "linux",
    }
    capacity = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "489620Mi"}
    if gpu_mib is not None:
        labels |= {
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": product,
            "nvidia.com/gpu.memory": str(gpu_mib),
            "nvidia.com/gpu.count": str(gpus),
            "nvidia.com/cuda.driver.major": "550",
        }
        capacity["nvidia.com/gpu"] = str(gpus)
    spec: dict[str, Any] = {"podCIDR": "10.42.0.0/24"}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": {}},
        "spec": spec,
        "status": {"capacity": capacity, "allocatable": dict(capacity)},
    }


def node_list(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": list(nodes),
        "metadata": {"resourceVersion": ""},
    }


@pytest.fixture
def make_node() -> NodeFactory:
    return build_node


@pytest.fixture
def make_node_list() -> Callable[..., dict[str, Any]]:
    return node_list
