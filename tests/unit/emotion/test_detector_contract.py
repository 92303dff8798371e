"""One contract every EmotionDetector implementation must meet.

The shipped MiniLM head runs the real MiniLM model (slow); the ONNX detector runs a tiny
random BERT that conftest builds and exports on the spot.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from morgan.emotion import (
    EmbeddingHeadDetector,
    EmotionDetector,
    EmotionResult,
    OnnxEmotionDetector,
    build_detector,
)
from morgan.emotion.labels import EKMAN_OF, GOEMOTIONS_LABELS


@pytest.fixture(
    params=[
        pytest.param("head", marks=pytest.mark.slow),
        "onnx-multilabel",
        "onnx-softmax",
    ]
)
def detector_factory(request, tiny_onnx_multilabel: Path, tiny_onnx_softmax: Path):
    def make() -> EmotionDetector:
        if request.param == "head":
            return EmbeddingHeadDetector()
        if request.param == "onnx-multilabel":
            return OnnxEmotionDetector(tiny_onnx_multilabel)
        return OnnxEmotionDetector(tiny_onnx_softmax)

    return make


@pytest.fixture
def detector(detector_factory) -> EmotionDetector:
    made = detector_factory()
    made.warm_up()
    return made


def assert_valid(result: EmotionResult) -> None:
    assert result.label in GOEMOTIONS_LABELS
    assert result.ekman == EKMAN_OF[result.label]
    assert list(result.scores) == list(GOEMOTIONS_LABELS)
    assert all(0.0 <= p <= 1.0 for p in result.scores.values())
    assert result.labels and result.labels[0] == result.label
    assert set(result.labels) <= set(GOEMOTIONS_LABELS)
    assert [result.scores[l] for l in result.labels] == sorted(
        (result.scores[l] for l in result.labels), reverse=True
    )
    assert 0.0 <= result.intensity <= 1.0
    assert -1.0 <= result.valence <= 1.0
    assert 0.0 <= result.arousal <= 1.0


def test_implements_the_protocol(detector: EmotionDetector) -> None:
    assert isinstance(detector, EmotionDetector)
    assert detector.name


async def test_health_is_degraded_before_warm_up_and_up_after(detector_factory) -> None:
    fresh = detector_factory()
    assert (await fresh.health()).state == "degraded"
    await asyncio.to_thread(fresh.warm_up)
    health = await fresh.health()
    assert (health.name, health.state) == ("emotion", "up")


@pytest.mark.parametrize(
    "text",
    ["I am so happy!", "", "?!", "this is terrible " * 400, "emoji \U0001f62d and [NAME]"],
)
async def test_results_are_well_formed_for_any_text(detector: EmotionDetector, text: str) -> None:
    assert_valid(await detector.detect(text))


async def test_concurrent_calls_match_sequential_ones(detector: EmotionDetector) -> None:
    texts = ["thank you so much", "I hate this bug", "what is going on?", "wow!"]
    sequential = [await detector.detect(t) for t in texts]
    concurrent = await asyncio.gather(*(detector.detect(t) for t in texts))
    assert [r.labels for r in concurrent] == [r.labels for r in sequential]


async def test_result_survives_a_json_round_trip(detector: EmotionDetector) -> None:
    result = await detector.detect("I love it")
    assert msgspec.json.decode(msgspec.json.encode(result), type=EmotionResult) == result


def test_factory_picks_onnx_from_the_environment(monkeypatch, tiny_onnx_multilabel: Path) -> None:
    monkeypatch.setenv("MORGAN_EMOTION_MODEL", str(tiny_onnx_multilabel))
    assert isinstance(build_detector(), OnnxEmotionDetector)
    monkeypatch.delenv("MORGAN_EMOTION_MODEL")
    assert isinstance(build_detector(), EmbeddingHeadDetector)
