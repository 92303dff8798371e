"""Decide which node runs each pod, from node capabilities alone.

Rules (from the design), applied to whole GPUs sorted by VRAM, largest first; ties go to the
node name and then the GPU index, so a plan is reproducible:

1. main LLM (ollama-main): the GPU with the most VRAM, which must have >= 12 GB, unless the
   LLM runs outside the cluster (an OpenAI-compatible URL), which is then the way out when no
   GPU is big enough;
2. embeddings (ollama-embed): the next free GPU with >= 8 GB; without one, the main Ollama
   serves the embedding model too (it holds several models), or, with an external LLM,
   ollama-embed runs on the CPU node;
3. fast LLM (ollama-fast): only when another free GPU with >= 8 GB exists; otherwise off;
4. reranker: onnxruntime on the CPU node, since Morgan's default image is CPU-only; with
   `gpu_reranker` (the `-gpu` image, onnxruntime-gpu with CUDA + cuDNN, amd64 only) the next
   free amd64 GPU with >= 6 GB;
5. core, PostgreSQL, Qdrant, Redis and MinIO: the CPU node (no GPU) with the most RAM whose
   architecture Morgan's image is built for (`image_arches`); a PostgreSQL standby and a Redis
   replica go on the second such CPU node when there is one.

At least one CPU node is required, so GPU memory never competes with the database's page
cache. Cordoned, NotReady and control-plane nodes (tainted NoSchedule) are never used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

from morgan.cluster.nodes import NodeCapabilities, Taint

MAIN_LLM_MIN_VRAM_GB = 12.0
EMBEDDINGS_MIN_VRAM_GB = 8.0
FAST_LLM_MIN_VRAM_GB = 8.0
RERANKER_MIN_VRAM_GB = 6.0

GPU_COMPONENTS = ("ollamaMain", "ollamaEmbed", "ollamaFast", "reranker")
SERVICE_COMPONENTS = ("core", "postgres", "qdrant", "redis", "minio")
STANDBY_COMPONENT = "postgresStandby"
REDIS_REPLICA_COMPONENT = "redisReplica"
IMAGE_ARCHES = ("amd64", "arm64")
"""What .github/workflows/image.yml builds Morgan's image for."""
GPU_IMAGE_ARCHES = ("amd64",)
"""onnxruntime-gpu ships CUDA wheels for x86-64 only."""

_CONTROL_PLANE_TAINTS = frozenset(
    {"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"}
)
# Set by the node lifecycle controller for a sick node; tolerating them would pin pods to it.
_TRANSIENT_TAINT_PREFIX = "node.kubernetes.io/"


class PlacementError(ValueError):
    """The cluster cannot run Morgan as asked; the message says what to add or change."""


class Toleration(msgspec.Struct, frozen=True, omit_defaults=True):
    key: str
    operator: Literal["Equal", "Exists"]
    effect: str = ""
    value: str = ""


class GpuSlot(msgspec.Struct, frozen=True):
    """One physical GPU: pods ask for `nvidia.com/gpu: 1`, so a GPU is never shared by pods."""

    node: str
    index: int
    product: str
    vram_gb: float


class ComponentPlacement(msgspec.Struct, frozen=True):
    component: str
    node: str
    hostname: str
    gpu: GpuSlot | None
    tolerations: tuple[Toleration, ...]
    reason: str


class Placement(msgspec.Struct, frozen=True):
    """A complete plan. Components absent from `components` are disabled or external."""

    components: dict[str, ComponentPlacement]
    external_llm_url: str = ""
    external_llm_model: str = ""
    embeddings_served_by: Literal["ollamaEmbed", "ollamaMain"] = "ollamaEmbed"
    notes: tuple[str, ...] = ()

    @property
    def fast_llm(self) -> bool:
        return "ollamaFast" in self.components

    @property
    def standby(self) -> bool:
        return STANDBY_COMPONENT in self.components

    @property
    def gpu_reranker(self) -> bool:
        item = self.components.get("reranker")
        return item is not None and item.gpu is not None

    def describe(self) -> list[str]:
        """One human line per component, used as the header of the values file."""
        lines = []
        for name, item in self.components.items():
            where = (
                f"{item.node} GPU {item.gpu.index} ({item.gpu.product}, {item.gpu.vram_gb:g} GB)"
                if item.gpu
                else item.node
            )
            lines.append(f"{name}: {where} - {item.reason}")
        if self.external_llm_url:
            lines.append(f"main LLM: external {self.external_llm_url}")
        if self.embeddings_served_by == "ollamaMain":
            lines.append("embeddings: served by ollama-main (no free GPU with >= 8 GB)")
        return lines + list(self.notes)


def plan_placement(
    nodes: Iterable[NodeCapabilities],
    *,
    external_llm_url: str = "",
    external_llm_model: str = "",
    services_on_gpu_nodes: bool = False,
    gpu_reranker: bool = False,
    image_arches: Sequence[str] = IMAGE_ARCHES,
) -> Placement:
    """Place every component or raise `PlacementError` saying what the cluster lacks."""
    all_nodes = list(nodes)
    if not all_nodes:
        raise PlacementError("no nodes found: is the kubeconfig pointing at the right cluster?")
    usable = [n for n in all_nodes if _usable(n)]
    notes: list[str] = [
        f"node {n.name} skipped ({_unusable_reason(n)})" for n in all_nodes if not _usable(n)
    ]
    notes += [
        f"node {n.name} has {n.gpu_count} GPU(s) but no {'nvidia.com/gpu.memory'} label; "
        "ignored (install NVIDIA GPU feature discovery)"
        for n in usable
        if n.has_gpu and n.vram_gb <= 0
    ]
    by_name = {n.name: n for n in usable}
    cpu_nodes = _service_nodes(usable, services_on_gpu_nodes, image_arches)
    free = _gpu_slots(usable)
    components: dict[str, ComponentPlacement] = {}

    def place_gpu(component: str, slot: GpuSlot, reason: str) -> None:
        free.remove(slot)
        components[component] = _at(component, by_name[slot.node], slot, reason)

    if not external_llm_url:
        main = _first(free, MAIN_LLM_MIN_VRAM_GB)
        if main is None:
            raise PlacementError(_no_main_gpu_message(free))
        place_gpu("ollamaMain", main, f"largest GPU, >= {MAIN_LLM_MIN_VRAM_GB:g} GB")

    embeddings_served_by: Literal["ollamaEmbed", "ollamaMain"] = "ollamaEmbed"
    embed = _first(free, EMBEDDINGS_MIN_VRAM_GB)
    if embed is not None:
        place_gpu("ollamaEmbed", embed, f"free GPU >= {EMBEDDINGS_MIN_VRAM_GB:g} GB")
    elif not external_llm_url:
        embeddings_served_by = "ollamaMain"
    else:
        components["ollamaEmbed"] = _at(
            "ollamaEmbed", cpu_nodes[0], None, "no GPU >= 8 GB; embeddings on CPU"
        )
        notes.append("embeddings run on CPU: expect slower ingestion")

    fast = _first(free, FAST_LLM_MIN_VRAM_GB)
    if fast is not None:
        place_gpu("ollamaFast", fast, f"second free GPU >= {FAST_LLM_MIN_VRAM_GB:g} GB")
    else:
        notes.append("fast LLM off: no second free GPU with >= 8 GB")

    reranker = None
    if gpu_reranker:
        amd64 = [s for s in free if by_name[s.node].arch in GPU_IMAGE_ARCHES]
        reranker = _first(amd64, RERANKER_MIN_VRAM_GB)
    if reranker is not None:
        place_gpu(
            "reranker", reranker, f"free amd64 GPU >= {RERANKER_MIN_VRAM_GB:g} GB, -gpu image"
        )
    else:
        why = (
            "no free amd64 GPU >= 6 GB"
            if gpu_reranker
            else "CPU image (--gpu-reranker for the onnxruntime-gpu one)"
        )
        components["reranker"] = _at("reranker", cpu_nodes[0], None, f"{why}; onnxruntime on CPU")

    for component in SERVICE_COMPONENTS:
        components[component] = _at(component, cpu_nodes[0], None, "CPU node with the most RAM")
    if len(cpu_nodes) > 1:
        components[STANDBY_COMPONENT] = _at(
            STANDBY_COMPONENT, cpu_nodes[1], None, "second CPU node: streaming standby"
        )
        components[REDIS_REPLICA_COMPONENT] = _at(
            REDIS_REPLICA_COMPONENT, cpu_nodes[1], None, "second CPU node: warm cache replica"
        )
    else:
        notes.append("PostgreSQL standby and Redis replica off: only one CPU node")

    return Placement(
        components=components,
        external_llm_url=external_llm_url,
        external_llm_model=external_llm_model,
        embeddings_served_by=embeddings_served_by,
        notes=tuple(notes),
    )


def _usable(node: NodeCapabilities) -> bool:
    if node.unschedulable or not node.ready:
        return False
    return not any(
        t.key in _CONTROL_PLANE_TAINTS and t.effect in ("NoSchedule", "NoExecute")
        for t in node.taints
    )


def _unusable_reason(node: NodeCapabilities) -> str:
    if not node.ready:
        return "NotReady"
    return "cordoned" if node.unschedulable else "control plane"


def _service_nodes(
    usable: Sequence[NodeCapabilities], services_on_gpu_nodes: bool, image_arches: Sequence[str]
) -> list[NodeCapabilities]:
    """CPU nodes Morgan's image runs on, by RAM, then cores, then name (largest first)."""
    fitting = [n for n in usable if n.arch in image_arches]
    candidates = [n for n in fitting if not n.has_gpu]
    if not candidates:
        other = sorted({n.arch for n in usable if not n.has_gpu} - set(image_arches))
        if other:
            raise PlacementError(
                f"no CPU node of an architecture Morgan's image is built for "
                f"({', '.join(image_arches)}); CPU nodes here are {', '.join(other)}: build the "
                "image for it (docker buildx --platform) and pass --image-arch"
            )
        if not services_on_gpu_nodes:
            raise PlacementError(
                "no CPU node (a schedulable node without GPUs) for core, PostgreSQL and Qdrant; "
                "add one, or allow them on GPU nodes (--allow-services-on-gpu-nodes)"
            )
        candidates = fitting
    return sorted(candidates, key=lambda n: (-n.ram_gb, -n.cpu_cores, n.name))


def _gpu_slots(usable: Sequence[NodeCapabilities]) -> list[GpuSlot]:
    slots = [
        GpuSlot(node=n.name, index=i, product=n.gpu_product or "unknown GPU", vram_gb=n.vram_gb)
        for n in usable
        if n.vram_gb > 0
        for i in range(n.gpu_count)
    ]
    return sorted(slots, key=lambda s: (-s.vram_gb, s.node, s.index))


def _first(free: Sequence[GpuSlot], min_vram_gb: float) -> GpuSlot | None:
    """The largest free GPU, if it is big enough (`free` is sorted largest first)."""
    if free and free[0].vram_gb >= min_vram_gb:
        return free[0]
    return None


def _at(
    component: str, node: NodeCapabilities, gpu: GpuSlot | None, reason: str
) -> ComponentPlacement:
    return ComponentPlacement(
        component=component,
        node=node.name,
        hostname=node.selector_hostname,
        gpu=gpu,
        tolerations=tolerations_for(node.taints),
        reason=reason,
    )


def tolerations_for(taints: Iterable[Taint]) -> tuple[Toleration, ...]:
    """Tolerate the node's own taints (e.g. `nvidia.com/gpu:NoSchedule`) so the pod fits there."""
    result = []
    for taint in taints:
        if taint.key.startswith(_TRANSIENT_TAINT_PREFIX):
            continue
        if taint.value:
            result.append(
                Toleration(key=taint.key, operator="Equal", value=taint.value, effect=taint.effect)
            )
        else:
            result.append(Toleration(key=taint.key, operator="Exists", effect=taint.effect))
    return tuple(result)


def _no_main_gpu_message(free: Sequence[GpuSlot]) -> str:
    outside = (
        "; or run the LLM outside the cluster on any OpenAI-compatible server: "
        "--external-llm-url openai+https://HOST/v1 --external-llm-model MODEL"
    )
    if not free:
        return (
            "no GPU found for the main LLM (need NVIDIA GPU feature discovery labels "
            f"nvidia.com/gpu.count and nvidia.com/gpu.memory){outside}"
        )
    largest = free[0]
    return (
        f"no GPU with >= {MAIN_LLM_MIN_VRAM_GB:g} GB VRAM for the main LLM (largest: "
        f"{largest.vram_gb:g} GB {largest.product} on {largest.node}){outside}"
    )
