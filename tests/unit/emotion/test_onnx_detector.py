"""The ONNX detector reads labels and problem type from config.json and matches torch."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from morgan.emotion import EmotionModelError, OnnxEmotionDetector
from morgan.emotion.labels import GOEMOTIONS_LABELS


async def test_multilabel_probabilities_are_sigmoid_of_the_torch_logits(
    tiny_onnx_multilabel: Path,
) -> None:
    detector = OnnxEmotionDetector(tiny_onnx_multilabel)
    detector.warm_up()
    reference = json.loads((tiny_onnx_multilabel / "reference_logits.json").read_text())
    result = await detector.detect("i am so happy !")
    for label, logit in zip(GOEMOTIONS_LABELS, reference, strict=False):
        assert result.scores[label] == pytest.approx(1 / (1 + math.exp(-logit)), abs=1e-3)


async def test_softmax_model_maps_its_labels_and_keeps_only_the_top_one(
    tiny_onnx_softmax: Path,
) -> None:
    detector = OnnxEmotionDetector(tiny_onnx_softmax)
    detector.warm_up()
    result = await detector.detect("i hate the bug")
    mapped = {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}
    assert result.labels == [result.label] and result.label in mapped
    assert all(result.scores[l] == 0.0 for l in GOEMOTIONS_LABELS if l not in mapped)
    assert sum(result.scores.values()) < 1.0 + 1e-3  # LABEL_7's share is dropped


async def test_thresholds_file_is_honoured(tiny_onnx_multilabel: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "m"
    shutil.copytree(tiny_onnx_multilabel, model_dir)
    (model_dir / "thresholds.json").write_text(json.dumps({l: 0.99 for l in GOEMOTIONS_LABELS}))
    detector = OnnxEmotionDetector(model_dir)
    detector.warm_up()
    result = await detector.detect("wow")
    assert len(result.labels) == 1  # nothing clears 0.99: the top label alone


async def test_missing_model_fails_clearly_and_reports_down(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"id2label": {"0": "joy"}}))
    detector = OnnxEmotionDetector(tmp_path)
    with pytest.raises(EmotionModelError, match="onnx"):
        detector.warm_up()
    health = await detector.health()
    assert health.state == "down" and "onnx" in health.detail


def test_labels_that_map_to_nothing_are_rejected(
    tiny_onnx_multilabel: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "m"
    shutil.copytree(tiny_onnx_multilabel, model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    config["id2label"] = {str(i): f"LABEL_{i}" for i in range(len(GOEMOTIONS_LABELS))}
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(EmotionModelError, match="map to GoEmotions"):
        OnnxEmotionDetector(model_dir).warm_up()
