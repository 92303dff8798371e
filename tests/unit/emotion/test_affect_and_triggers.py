"""Intensity/valence/arousal mapping and trigger extraction, on hand-made score vectors."""

from __future__ import annotations

import numpy as np
import pytest

from morgan.emotion.affect import build_result, emphasis
from morgan.emotion.labels import GOEMOTIONS_LABELS
from morgan.emotion.triggers import extract_triggers, load_cues, occlusion_triggers

THRESHOLDS = np.full(len(GOEMOTIONS_LABELS), 0.5)


def probs(**values: float) -> np.ndarray:
    out = np.full(len(GOEMOTIONS_LABELS), 0.01)
    for label, value in values.items():
        out[GOEMOTIONS_LABELS.index(label)] = value
    return out


def test_labels_over_threshold_are_sorted_and_top_one_wins() -> None:
    result = build_result(probs(joy=0.6, excitement=0.9), THRESHOLDS, "yay")
    assert result.labels == ["excitement", "joy"]
    assert (result.label, result.ekman) == ("excitement", "joy")


def test_top_label_is_used_when_nothing_clears_its_threshold() -> None:
    result = build_result(probs(sadness=0.3, neutral=0.2), THRESHOLDS, "meh")
    assert result.labels == ["sadness"] and result.ekman == "sadness"


def test_valence_follows_the_lexicon_sign() -> None:
    happy = build_result(probs(joy=0.9), THRESHOLDS, "x")
    sad = build_result(probs(grief=0.9), THRESHOLDS, "x")
    neutral = build_result(probs(neutral=0.95), THRESHOLDS, "x")
    assert happy.valence > 0.5 and sad.valence < -0.5
    assert abs(neutral.valence) < 0.15 and neutral.arousal < happy.arousal


def test_intensity_grows_with_confidence_arousal_and_emphasis() -> None:
    calm = build_result(probs(anger=0.55), THRESHOLDS, "i am angry")
    strong = build_result(probs(anger=0.95), THRESHOLDS, "i am angry")
    shouted = build_result(probs(anger=0.95), THRESHOLDS, "I am SO ANGRY!!!")
    neutral = build_result(probs(neutral=0.95), THRESHOLDS, "the meeting is at 3")
    assert neutral.intensity < calm.intensity < strong.intensity < shouted.intensity <= 1.0


def test_emphasis_is_bounded() -> None:
    assert emphasis("ok") == 0.0
    assert 0.9 <= emphasis("SO REALLY VERY ANGRY!!!!!!") <= 1.0


def test_shipped_cue_lexicon_covers_every_emotion() -> None:
    cues = load_cues()
    assert set(cues) == set(GOEMOTIONS_LABELS) - {"neutral"}
    assert "thank" in cues["gratitude"] or "thanks" in cues["gratitude"]


def test_lexicon_triggers_point_at_the_cue_words() -> None:
    text = "Thanks so much, I really appreciate it"
    result = build_result(probs(gratitude=0.95), THRESHOLDS, text)
    triggers = extract_triggers(text, result)
    assert triggers and all(t.label == "gratitude" for t in triggers)
    assert {t.phrase.lower() for t in triggers} & {"thanks", "appreciate", "thanks so"}
    assert all(text[t.start : t.end] == t.phrase for t in triggers)


def test_neutral_messages_have_no_triggers() -> None:
    result = build_result(probs(neutral=0.9), THRESHOLDS, "thanks")
    assert extract_triggers("thanks", result) == []


async def test_occlusion_keeps_the_words_whose_removal_drops_the_score() -> None:
    text = "the build failed again, awful"
    result = build_result(probs(disappointment=0.8), THRESHOLDS, text)

    async def score(variants):  # a transparent scorer: "awful" and "failed" carry it
        rows = []
        for variant in variants:
            value = 0.8 - 0.5 * ("awful" not in variant) - 0.2 * ("failed" not in variant)
            rows.append(probs(disappointment=value))
        return np.array(rows)

    triggers = await occlusion_triggers(text, result, score)
    assert [t.phrase for t in triggers] == ["awful", "failed"]
    assert triggers[0].weight == pytest.approx(0.5) and triggers[0].source == "occlusion"
