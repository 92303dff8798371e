from decimal import Decimal

import pytest

from morgan.cluster import NodeParseError, Taint, parse_node, parse_nodes
from morgan.cluster.nodes import parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16", Decimal(16)),
        ("3500m", Decimal("3.5")),
        ("65843512Ki", Decimal(65843512 * 1024)),
        ("64Gi", Decimal(64 * 2**30)),
        ("128G", Decimal(128 * 10**9)),
        ("1e9", Decimal(10**9)),
        (8, Decimal(8)),
    ],
)
def test_parse_quantity(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "12XB", "abc", "1.2.3Gi"])
def test_parse_quantity_rejects_garbage(text):
    with pytest.raises(NodeParseError):
        parse_quantity(text)


def test_gpu_feature_discovery_labels(make_node):
    node = parse_node(
        make_node(
            "gpu-1",
            gpu_mib=24564,
            product="NVIDIA-GeForce-RTX-4090",
            cpu="32",
            memory="131072Mi",
            taints=[{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
        )
    )
    assert node.name == "gpu-1"
    assert node.gpu_product == "NVIDIA-GeForce-RTX-4090"
    assert node.gpu_count == 1
    assert node.vram_gb == 24.0
    assert node.cpu_cores == 32
    assert node.ram_gb == 128.0
    assert node.arch == "amd64"
    assert node.taints == (Taint(key="nvidia.com/gpu", effect="NoSchedule"),)
    assert node.has_gpu


def test_vram_of_12_gb_cards_rounds_to_12(make_node):
    # An RTX 4070 reports 12282 MiB: it must still count as a 12 GB card.
    assert parse_node(make_node("g", gpu_mib=12282)).vram_gb == 12.0


def test_cpu_node_has_no_gpu(make_node):
    node = parse_node(make_node("cpu-1", cpu="7500m", memory="16Gi", arch="arm64"))
    assert (node.gpu_count, node.gpu_product, node.vram_gb) == (0, None, 0.0)
    assert node.cpu_cores == 7.5
    assert node.ram_gb == 16.0
    assert node.arch == "arm64"
    assert not node.has_gpu


def test_gpu_count_prefers_physical_label_over_time_sliced_capacity(make_node):
    raw = make_node("g", gpu_mib=16384, gpus=1)
    raw["status"]["capacity"]["nvidia.com/gpu"] = "4"  # time-slicing: 4 replicas of 1 GPU
    assert parse_node(raw).gpu_count == 1


def test_gpu_count_falls_back_to_device_plugin_capacity(make_node):
    raw = make_node("g", gpu_mib=16384, gpus=2)
    del raw["metadata"]["labels"]["nvidia.com/gpu.count"]
    assert parse_node(raw).gpu_count == 2


def test_gpu_without_memory_label_has_unknown_vram(make_node):
    raw = make_node("g", gpu_mib=16384)
    del raw["metadata"]["labels"]["nvidia.com/gpu.memory"]
    node = parse_node(raw)
    assert node.gpu_count == 1 and node.vram_gb == 0.0


def test_hostname_label_and_cordon_are_read(make_node):
    node = parse_node(
        make_node("ip-10-0-0-1.ec2.internal", hostname="ip-10-0-0-1", unschedulable=True)
    )
    assert node.selector_hostname == "ip-10-0-0-1"
    assert node.unschedulable


def test_bad_label_names_the_node(make_node):
    raw = make_node("gpu-x", gpu_mib=16384)
    raw["metadata"]["labels"]["nvidia.com/gpu.memory"] = "lots"
    with pytest.raises(NodeParseError, match="gpu-x"):
        parse_node(raw)


def test_node_without_name_is_rejected():
    with pytest.raises(NodeParseError):
        parse_node({"metadata": {}})


def test_parse_nodes_accepts_list_single_node_and_sequence(make_node, make_node_list):
    a, b = make_node("a"), make_node("b", gpu_mib=8192)
    assert [n.name for n in parse_nodes(make_node_list(a, b))] == ["a", "b"]
    assert [n.name for n in parse_nodes(a)] == ["a"]
    assert [n.name for n in parse_nodes([a, b])] == ["a", "b"]
    with pytest.raises(NodeParseError):
        parse_nodes({"kind": "Pod"})
