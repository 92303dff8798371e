"""The planner's values must be accepted by the chart's schema once merged like Helm merges."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from morgan.cluster import parse_node, placement_to_values, plan_placement

CHART = Path(__file__).resolve().parents[3] / "helm"


def helm_merge(base, override):
    """Helm's coalescing: maps merge key by key, everything else (lists too) is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = helm_merge(base.get(key), value) if key in base else value
        return merged
    return override


@pytest.fixture(scope="module")
def chart_defaults():
    return yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="module")
def validator():
    schema = json.loads((CHART / "values.schema.json").read_text())
    return jsonschema.Draft7Validator(schema)


def test_two_gpu_values(make_node):
    nodes = [
        parse_node(
            make_node(
                "gpu-a", gpu_mib=24576, taints=[{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
            )
        ),
        parse_node(make_node("gpu-b", gpu_mib=16384)),
        parse_node(make_node("cpu-1", memory="64Gi")),
    ]
    values = placement_to_values(plan_placement(nodes))
    assert values["ollama"] == {
        "main": {"enabled": True},
        "embed": {"enabled": True},
        "fast": {"enabled": False},
    }
    assert values["postgres"] == {"standby": {"enabled": False}}
    main = values["placement"]["ollamaMain"]
    assert main == {
        "nodeSelector": {"kubernetes.io/hostname": "gpu-a"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "resources": {"limits": {"nvidia.com/gpu": 1}},
    }
    assert values["placement"]["ollamaEmbed"]["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert "resources" not in values["placement"]["core"]  # chart defaults apply
    assert values["placement"]["core"]["nodeSelector"] == {"kubernetes.io/hostname": "cpu-1"}
    assert "externalLLM" not in values


def test_external_llm_values(make_node):
    plan = plan_placement(
        [parse_node(make_node("cpu-1"))],
        external_llm_url="openai+https://llm.example/v1",
        external_llm_model="qwen2.5-7b",
    )
    values = placement_to_values(plan)
    assert values["ollama"]["main"] == {"enabled": False}
    assert values["externalLLM"] == {"url": "openai+https://llm.example/v1", "model": "qwen2.5-7b"}
    assert "ollamaMain" not in values["placement"]


@pytest.mark.parametrize(
    "layout",
    [
        [("gpu", 24576, 1), ("cpu", None, 0)],
        [("gpu-a", 24576, 1), ("gpu-b", 16384, 1), ("cpu-a", None, 0), ("cpu-b", None, 0)],
        [("gpu", 49152, 4), ("cpu", None, 0)],
    ],
)
def test_values_pass_the_chart_schema_after_merging(make_node, chart_defaults, validator, layout):
    nodes = [
        parse_node(make_node(name, gpu_mib=mib, gpus=count) if mib else make_node(name))
        for name, mib, count in layout
    ]
    merged = helm_merge(chart_defaults, placement_to_values(plan_placement(nodes)))
    errors = [e.message for e in validator.iter_errors(merged)]
    assert errors == []
    assert merged["placement"]["ollamaMain"]["resources"]["limits"] == {
        "memory": "32Gi",
        "nvidia.com/gpu": 1,
    }


def test_schema_rejects_an_unknown_placement_component(chart_defaults, validator):
    broken = helm_merge(chart_defaults, {"placement": {"olamaMain": {"nodeSelector": {}}}})
    assert not validator.is_valid(broken)
