import pytest

from morgan.cluster import PlacementError, Toleration, parse_node, plan_placement

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
SERVICES = ("core", "postgres", "qdrant", "redis", "minio")


@pytest.fixture
def cpu_big(make_node):
    return parse_node(make_node("cpu-big", cpu="16", memory="128Gi"))


@pytest.fixture
def cpu_small(make_node):
    return parse_node(make_node("cpu-small", cpu="32", memory="32Gi"))


def test_one_24gb_gpu(make_node, cpu_big):
    gpu = parse_node(make_node("gpu-1", gpu_mib=24564, taints=[GPU_TAINT]))
    plan = plan_placement([gpu, cpu_big])

    main = plan.components["ollamaMain"]
    assert (main.node, main.gpu.index, main.gpu.vram_gb) == ("gpu-1", 0, 24.0)
    assert main.tolerations == (
        Toleration(key="nvidia.com/gpu", operator="Equal", value="present", effect="NoSchedule"),
    )
    # No second GPU: the main Ollama also serves embeddings, no fast model, reranker on CPU.
    assert plan.embeddings_served_by == "ollamaMain"
    assert "ollamaEmbed" not in plan.components
    assert not plan.fast_llm
    assert plan.components["reranker"].node == "cpu-big"
    assert plan.components["reranker"].gpu is None
    for name in SERVICES:
        assert plan.components[name].node == "cpu-big"
        assert plan.components[name].gpu is None
        assert plan.components[name].tolerations == ()
    assert not plan.standby


def test_two_gpus_24_and_16(make_node, cpu_big, cpu_small):
    big = parse_node(make_node("gpu-b", gpu_mib=24576))
    small = parse_node(make_node("gpu-a", gpu_mib=16384, product="Tesla-T4"))
    plan = plan_placement([small, cpu_small, big, cpu_big])

    assert plan.components["ollamaMain"].node == "gpu-b"
    assert plan.components["ollamaEmbed"].node == "gpu-a"
    assert plan.components["ollamaEmbed"].gpu.product == "Tesla-T4"
    assert plan.embeddings_served_by == "ollamaEmbed"
    assert not plan.fast_llm
    assert plan.components["reranker"].gpu is None
    assert plan.components["core"].node == "cpu-big"  # most RAM beats most cores
    assert plan.components["postgresStandby"].node == "cpu-small"
    assert plan.standby


def test_fast_llm_and_gpu_reranker_when_more_gpus_are_free(make_node, cpu_big):
    nodes = [
        parse_node(make_node("gpu-x", gpu_mib=24576, gpus=2)),  # two GPUs in one node
        parse_node(make_node("gpu-y", gpu_mib=16384)),
        parse_node(make_node("gpu-z", gpu_mib=6144, product="RTX-2060")),
        cpu_big,
    ]
    plan = plan_placement(nodes, gpu_reranker=True)
    got = {c: (p.node, p.gpu.index) for c, p in plan.components.items() if p.gpu}
    assert got == {
        "ollamaMain": ("gpu-x", 0),
        "ollamaEmbed": ("gpu-x", 1),
        "ollamaFast": ("gpu-y", 0),
        "reranker": ("gpu-z", 0),
    }
    assert plan.fast_llm and plan.gpu_reranker
    # The default image runs onnxruntime on CPU: no GPU is reserved for it.
    default = plan_placement(nodes)
    assert default.components["reranker"].gpu is None
    assert default.components["reranker"].node == cpu_big.name


def test_8gb_gpu_only_refuses_main_llm_and_offers_an_external_one(make_node, cpu_big):
    gpu = parse_node(make_node("gpu-8", gpu_mib=8192, product="RTX-3070"))
    with pytest.raises(PlacementError) as err:
        plan_placement([gpu, cpu_big])
    message = str(err.value)
    assert ">= 12 GB" in message and "8 GB" in message and "gpu-8" in message
    assert "--external-llm-url" in message

    plan = plan_placement([gpu, cpu_big], external_llm_url="openai+https://llm.example/v1")
    assert "ollamaMain" not in plan.components
    assert plan.components["ollamaEmbed"].node == "gpu-8"
    assert plan.components["reranker"].gpu is None
    assert plan.external_llm_url == "openai+https://llm.example/v1"


def test_no_gpu_at_all(make_node, cpu_big):
    with pytest.raises(PlacementError, match="no GPU found"):
        plan_placement([cpu_big])
    plan = plan_placement([cpu_big], external_llm_url="openai+http://llm:8000/v1")
    assert plan.components["ollamaEmbed"].node == "cpu-big"
    assert plan.components["ollamaEmbed"].gpu is None
    assert any("embeddings run on CPU" in note for note in plan.notes)


def test_no_cpu_node_is_an_error(make_node):
    gpu = parse_node(make_node("gpu-1", gpu_mib=24576))
    with pytest.raises(PlacementError, match="no CPU node"):
        plan_placement([gpu])
    plan = plan_placement([gpu], services_on_gpu_nodes=True)
    assert plan.components["core"].node == "gpu-1"
    assert plan.components["core"].gpu is None


def test_no_nodes_is_an_error():
    with pytest.raises(PlacementError, match="no nodes"):
        plan_placement([])


def test_gpu_ties_go_to_node_name(make_node, cpu_big):
    nodes = [parse_node(make_node(n, gpu_mib=24576)) for n in ("gpu-c", "gpu-a", "gpu-b")]
    plan = plan_placement([*nodes, cpu_big])
    assert plan.components["ollamaMain"].node == "gpu-a"
    assert plan.components["ollamaEmbed"].node == "gpu-b"
    assert plan.components["ollamaFast"].node == "gpu-c"
    assert plan == plan_placement([cpu_big, *reversed(nodes)])  # order of input is irrelevant


def test_cpu_ties_go_to_cores_then_name(make_node):
    gpu = parse_node(make_node("gpu", gpu_mib=24576))
    a = parse_node(make_node("cpu-a", cpu="8", memory="64Gi"))
    b = parse_node(make_node("cpu-b", cpu="16", memory="64Gi"))
    c = parse_node(make_node("cpu-c", cpu="16", memory="64Gi"))
    plan = plan_placement([gpu, a, c, b])
    assert plan.components["core"].node == "cpu-b"
    assert plan.components["postgresStandby"].node == "cpu-c"


def test_cordoned_and_control_plane_nodes_are_skipped(make_node):
    gpu = parse_node(make_node("gpu", gpu_mib=24576))
    control = parse_node(
        make_node(
            "control",
            memory="256Gi",
            taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
        )
    )
    cordoned = parse_node(make_node("cordoned", memory="512Gi", unschedulable=True))
    worker = parse_node(make_node("worker", memory="32Gi"))
    plan = plan_placement([gpu, control, cordoned, worker])
    assert plan.components["core"].node == "worker"
    assert sum("skipped" in note for note in plan.notes) == 2


def test_transient_taints_are_not_tolerated(make_node, cpu_big):
    gpu = parse_node(
        make_node(
            "gpu",
            gpu_mib=24576,
            taints=[
                {"key": "nvidia.com/gpu", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
            ],
        )
    )
    plan = plan_placement([gpu, cpu_big])
    assert plan.components["ollamaMain"].tolerations == (
        Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),
    )


def test_gpu_without_vram_label_is_ignored_with_a_note(make_node, cpu_big):
    raw = make_node("gpu-nolabel", gpu_mib=24576)
    del raw["metadata"]["labels"]["nvidia.com/gpu.memory"]
    with pytest.raises(PlacementError, match="no GPU found"):
        plan_placement([parse_node(raw), cpu_big])
    plan = plan_placement([parse_node(raw), cpu_big], external_llm_url="openai+http://x/v1")
    assert any("gpu-nolabel" in n and "feature discovery" in n for n in plan.notes)


def test_selector_uses_the_hostname_label(make_node):
    gpu = parse_node(make_node("ip-10-0-1-5.ec2.internal", hostname="ip-10-0-1-5", gpu_mib=23028))
    cpu = parse_node(make_node("cpu"))
    plan = plan_placement([gpu, cpu])
    assert plan.components["ollamaMain"].hostname == "ip-10-0-1-5"
    assert plan.components["ollamaMain"].gpu.vram_gb == 22.5


def test_describe_mentions_every_component(make_node, cpu_big):
    plan = plan_placement([parse_node(make_node("gpu", gpu_mib=24576)), cpu_big])
    text = "\n".join(plan.describe())
    for name in plan.components:
        assert name in text
    assert "served by ollama-main" in text
