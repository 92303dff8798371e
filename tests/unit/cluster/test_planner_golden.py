"""Golden plans for recorded node lists (`kubectl get nodes -o json` shape, conditions included).

Each `golden/NAME.nodes.json` is planned with the flags in CASES and must give exactly
`golden/NAME.values.yaml`. After an intended planner change, regenerate with
`MORGAN_UPDATE_GOLDEN=1 pytest tests/unit/cluster/test_planner_golden.py` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from morgan.cluster.cli import cluster_group

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    # One GPU node and nothing else: only with services allowed beside the GPU.
    "one-node": ["--allow-services-on-gpu-nodes"],
    # GPU + two CPU nodes: standby and Redis replica on the smaller CPU node.
    "three-nodes": [],
    # arm64 GH200 (4 GPUs), amd64 A100/L4/T4, an arm64 CPU node with the most RAM and two
    # amd64 CPU nodes; an amd64-only image and the GPU reranker (amd64 only).
    "seven-mixed": ["--image-arch", "amd64", "--gpu-reranker"],
    # The biggest GPU node and the biggest CPU node are NotReady: both skipped.
    "one-notready": [],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_plan_matches_the_golden_values(name: str, tmp_path: Path) -> None:
    out = tmp_path / "values.yaml"
    result = CliRunner().invoke(
        cluster_group,
        [
            "plan",
            "--nodes-json",
            str(GOLDEN / f"{name}.nodes.json"),
            "--out",
            str(out),
            *CASES[name],
        ],
    )
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"{name}.values.yaml"
    if os.environ.get("MORGAN_UPDATE_GOLDEN") == "1":
        golden.write_text(out.read_text())
    assert out.read_text() == golden.read_text()


def test_golden_plans_honour_arch_readiness_and_the_cpu_reranker() -> None:
    """The facts the golden files pin, said once in words."""
    seven = yaml.safe_load((GOLDEN / "seven-mixed.values.yaml").read_text())["placement"]
    host = {c: p["nodeSelector"]["kubernetes.io/hostname"] for c, p in seven.items()}
    assert host["core"] == "cpu-1"  # not arm-big, although it has the most RAM
    assert host["reranker"] == "a100"  # gh-1's free arm64 GPU cannot run onnxruntime-gpu
    assert host["redisReplica"] == host["postgresStandby"] == "cpu-2"
    three = yaml.safe_load((GOLDEN / "three-nodes.values.yaml").read_text())
    assert "resources" not in three["placement"]["reranker"]  # CPU image: no GPU reserved
    notready = yaml.safe_load((GOLDEN / "one-notready.values.yaml").read_text())["placement"]
    used = {p["nodeSelector"]["kubernetes.io/hostname"] for p in notready.values()}
    assert used == {"gpu-1", "cpu-a"}
    assert "skipped (NotReady)" in (GOLDEN / "one-notready.values.yaml").read_text()
