"""Patterns over emotion history: each fires on its shape and stays quiet on noise."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from morgan.emotion.patterns import (
    MAX_WINDOW,
    EmotionRecord,
    PatternWindow,
    detect_patterns,
    dominant_emotion,
    rising_frustration,
    time_of_day,
    time_of_day_stress,
)

NOW = datetime(2025, 3, 14, 23, 0, tzinfo=UTC)


def rec(
    days_ago: float, hour: int, label: str, ekman: str, intensity: float = 0.6, conv: str = "c"
):
    day = (NOW - timedelta(days=days_ago)).replace(hour=hour, minute=0)
    return EmotionRecord(day, label, ekman, intensity, conv)


def test_time_of_day_buckets() -> None:
    assert [time_of_day(NOW.replace(hour=h)) for h in (3, 8, 13, 19)] == [
        "night",
        "morning",
        "afternoon",
        "evening",
    ]


def test_evening_stress_recurring_over_days_is_found() -> None:
    history = [rec(d, 20, "nervousness", "fear") for d in range(1, 6)]
    history += [rec(d, 9, "joy", "joy") for d in range(1, 6)]
    history += [rec(d, 14, "neutral", "neutral") for d in range(1, 6)]
    patterns = time_of_day_stress(history)
    assert [p.detail["time_of_day"] for p in patterns] == ["evening"]
    assert patterns[0].count == 5 and 0.4 < patterns[0].confidence <= 1.0


def test_stress_spread_evenly_is_not_a_time_pattern() -> None:
    history = [rec(d, h, "anger", "anger") for d in range(1, 4) for h in (8, 13, 19)]
    assert time_of_day_stress(history) == []


def test_stress_on_a_single_evening_is_not_recurring() -> None:
    history = [rec(1, 20, "fear", "fear") for _ in range(5)] + [rec(2, 9, "joy", "joy")]
    assert time_of_day_stress(history) == []


def test_rising_frustration_within_one_conversation() -> None:
    turns = [("neutral", 0.1), ("annoyance", 0.3), ("annoyance", 0.5), ("anger", 0.8)]
    history = [rec(0, 22, label, "anger", i, conv="x") for label, i in turns]
    pattern = rising_frustration(history, "x")
    assert pattern is not None and pattern.count == 3 and pattern.confidence > 0.5
    assert rising_frustration(history, "other") is None


def test_calming_conversation_is_not_rising() -> None:
    turns = [("anger", 0.8), ("annoyance", 0.5), ("annoyance", 0.3), ("neutral", 0.1)]
    history = [rec(0, 22, label, "anger", i, conv="x") for label, i in turns]
    assert rising_frustration(history, "x") is None


def test_dominant_emotion_over_the_week_ignores_older_records() -> None:
    history = [rec(d, 12, "sadness", "sadness") for d in (1, 2, 3, 4)]
    history += [rec(1, 12, "joy", "joy"), rec(3, 12, "neutral", "neutral")]
    history += [rec(d, 12, "joy", "joy") for d in (10, 11, 12, 13, 14)]
    pattern = dominant_emotion(history, NOW)
    assert pattern is not None and pattern.detail["label"] == "sadness" and pattern.count == 4


def test_detect_patterns_accepts_tuples_and_sorts_by_confidence() -> None:
    history = [tuple(msgspec_fields(rec(d, 20, "fear", "fear"))) for d in range(1, 6)]
    history += [tuple(msgspec_fields(rec(d, 9, "joy", "joy"))) for d in range(1, 6)]
    patterns = detect_patterns(history, NOW, conversation_id="c")
    kinds = {p.kind for p in patterns}
    assert {"time_of_day_stress", "dominant_emotion"} <= kinds
    assert [p.confidence for p in patterns] == sorted(
        (p.confidence for p in patterns), reverse=True
    )


def msgspec_fields(record: EmotionRecord):
    return (record.timestamp, record.label, record.ekman, record.intensity, record.conversation_id)


def test_pattern_window_is_bounded_and_cheap_per_message() -> None:
    window = PatternWindow()
    start = NOW - timedelta(days=3)
    began = time.perf_counter()
    for i in range(800):
        window.add(EmotionRecord(start + timedelta(minutes=2 * i), "annoyance", "anger", 0.5, "c"))
    per_message_ms = (time.perf_counter() - began) * 1000 / 800
    assert len(window) == MAX_WINDOW
    assert per_message_ms < 5, per_message_ms


def test_pattern_window_drops_records_older_than_the_window() -> None:
    window = PatternWindow(window=timedelta(days=1))
    window.add(rec(5, 9, "joy", "joy"))
    window.add(rec(0, 9, "joy", "joy"))
    assert len(window) == 1
