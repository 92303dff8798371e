"""Turn a `Placement` into Helm values; the chart reads `placement.<component>` and nothing else."""

from __future__ import annotations

from typing import Any

import msgspec

from morgan.cluster.nodes import GPU_RESOURCE, HOSTNAME_LABEL
from morgan.cluster.planner import (
    REDIS_REPLICA_COMPONENT,
    STANDBY_COMPONENT,
    ComponentPlacement,
    Placement,
)


def placement_to_values(placement: Placement) -> dict[str, Any]:
    """Values to pass with `helm install -f`; they override only what placement decides."""
    components = placement.components
    values: dict[str, Any] = {
        "placement": {name: _component_values(item) for name, item in components.items()},
        "ollama": {
            "main": {"enabled": "ollamaMain" in components},
            "embed": {"enabled": "ollamaEmbed" in components},
            "fast": {"enabled": "ollamaFast" in components},
        },
        "reranker": {"enabled": "reranker" in components},
        "postgres": {"standby": {"enabled": STANDBY_COMPONENT in components}},
        "redis": {"replica": {"enabled": REDIS_REPLICA_COMPONENT in components}},
    }
    if placement.gpu_reranker:
        import morgan

        values["reranker"]["image"] = {"tag": f"{morgan.__version__}-gpu"}
    if placement.external_llm_url:
        values["externalLLM"] = {"url": placement.external_llm_url}
        if placement.external_llm_model:
            values["externalLLM"]["model"] = placement.external_llm_model
    return values


def _component_values(item: ComponentPlacement) -> dict[str, Any]:
    values: dict[str, Any] = {
        "nodeSelector": {HOSTNAME_LABEL: item.hostname},
        "tolerations": [msgspec.to_builtins(t) for t in item.tolerations],
    }
    if item.gpu is not None:
        # Merged by Helm with the chart's CPU/memory defaults for this component.
        values["resources"] = {"limits": {GPU_RESOURCE: 1}}
    return values
