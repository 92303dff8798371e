"""The GPU reranker's onnxruntime: pyproject's `gpu` extra is what the Dockerfile installs.

onnxruntime-gpu without its `[cuda,cudnn]` extras has no CUDA runtime or cuDNN unless the base
image brings them, and then silently runs on the CPU; the extras exist from 1.21 (checked on
the index: 1.20.x has none). No GPU image is built here; this keeps the two files agreeing.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]


def test_gpu_extra_is_onnxruntime_gpu_with_cuda_and_cudnn() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (spec,) = project["optional-dependencies"]["gpu"]
    req = Requirement(spec)
    assert req.name == "onnxruntime-gpu" and req.extras == {"cuda", "cudnn"}
    assert not req.specifier.contains(Version("1.20.2")) and req.specifier.contains("1.21.0")


def test_dockerfile_gpu_build_installs_the_gpu_extra_and_checks_cuda() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert 'project["optional-dependencies"]["gpu"]' in text
    gpu_branch = text[text.index('if [ "$GPU" = "true" ]') :]
    gpu_branch = gpu_branch[: gpu_branch.index("fi\n")]
    assert "pip uninstall -y onnxruntime" in gpu_branch
    assert "pip install -r /tmp/requirements-gpu.txt" in gpu_branch
    assert "CUDAExecutionProvider" in gpu_branch
    assert not re.search(r"onnxruntime-gpu\S*>=", gpu_branch)  # no second, drifting spec
