"""Tiny random cross-encoders built once per session, offline, under a temporary folder."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from types import ModuleType

import pytest

from morgan.reranker import OnnxCrossEncoder

BUILDER = Path(__file__).parents[3] / "scripts" / "build_tiny_cross_encoder.py"


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_tiny_cross_encoder", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """single: [B,1] logits; two_class: [B,2] under onnx/; no_token_types: 2 graph inputs."""
    builder = load_builder()
    root = tmp_path_factory.mktemp("tiny-cross-encoders")
    return {
        "single": builder.build_tiny_cross_encoder(root / "single", num_labels=1, seed=0),
        "two_class": builder.build_tiny_cross_encoder(
            root / "two_class", num_labels=2, seed=1, onnx_subdir=True
        ),
        "no_token_types": builder.build_tiny_cross_encoder(
            root / "no_token_types", seed=2, with_token_type_ids=False
        ),
    }


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_models: dict[str, Path]) -> Path:
    return tiny_models["single"]


class GatedCrossEncoder(OnnxCrossEncoder):
    """A real encoder whose loading waits for `gate`, to observe the service while loading."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gate = threading.Event()

    def warm_up(self) -> None:
        if not self.gate.wait(timeout=30):
            raise RuntimeError("gate never opened")
        super().warm_up()


@pytest.fixture
def gated_encoder(tiny_model_dir: Path) -> GatedCrossEncoder:
    return GatedCrossEncoder(tiny_model_dir, batch_size=8)
