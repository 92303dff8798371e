"""Cluster placement: node labels -> capabilities -> placement -> Helm values.

The chart never inspects the cluster; `morgan cluster plan` does, once, and writes values.
"""

from morgan.cluster.nodes import NodeCapabilities, NodeParseError, Taint, parse_node, parse_nodes
from morgan.cluster.planner import (
    ComponentPlacement,
    GpuSlot,
    Placement,
    PlacementError,
    Toleration,
    plan_placement,
)
from morgan.cluster.values import placement_to_values

__all__ = [
    "ComponentPlacement",
    "GpuSlot",
    "NodeCapabilities",
    "NodeParseError",
    "Placement",
    "PlacementError",
    "Taint",
    "Toleration",
    "parse_node",
    "parse_nodes",
    "placement_to_values",
    "plan_placement",
]
