"""BehaviorTracker: topics, active hours, preferred length, rephrasing, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from morgan.learning import BehaviorTracker, MessageEvent, Pattern, RatingEvent, TrackerSettings

T0 = datetime(2025, 3, 3, 9, 15, tzinfo=UTC)


def message(
    event_id: str,
    text: str,
    at: datetime = T0,
    *,
    conversation: str = "c1",
    previous_answer: str | None = "a0",
    documents: tuple[str, ...] = ("doc-1",),
    topics: tuple[str, ...] = (),
) -> MessageEvent:
    return MessageEvent(
        id=event_id,
        at=at,
        text=text,
        conversation_id=conversation,
        topics=topics,
        previous_answer_id=previous_answer,
        previous_answer_document_ids=documents,
    )


def rows_of(patterns: list[Pattern], kind: str) -> list[Pattern]:
    return [p for p in patterns if p.kind == kind]


def test_topics_are_counted_from_given_keywords_or_the_text() -> None:
    tracker = BehaviorTracker()
    tracker.observe(message("m1", "irrelevant", topics=("Kubernetes", "helm")))
    tracker.observe(
        message("m2", "How do I upgrade my kubernetes cluster?", T0 + timedelta(hours=1))
    )
    topics = {p.key: p for p in tracker.patterns("topic")}
    assert topics["kubernetes"].count == 2
    assert topics["helm"].count == 1
    assert topics["kubernetes"].confidence > topics["helm"].confidence
    assert "upgrade" in topics and "cluster" in topics
    assert "how" not in topics and "my" not in topics


def test_active_hours_histogram() -> None:
    tracker = BehaviorTracker()
    for i, hour in enumerate([9, 9, 9, 21, 21, 3]):
        at = T0.replace(hour=hour) + timedelta(days=i)
        tracker.observe(message(f"m{i}", f"question number {i} about taxes", at))
    [row] = tracker.patterns("active_hours")
    assert row.value["histogram"][9] == 3
    assert row.value["histogram"][21] == 2
    assert row.value["peak_hours"] == [3, 9, 21]
    assert row.count == 6


def test_preferred_answer_length_from_ratings() -> None:
    tracker = BehaviorTracker()
    ratings = [(40, 5), (50, 5), (60, 4), (300, 2), (400, 1), (350, 2), (150, 3), (120, 3)]
    for i, (words, stars) in enumerate(ratings):
        tracker.observe(RatingEvent(f"r{i}", T0, f"a{i}", stars, words))
    [row] = tracker.patterns("answer_length")
    assert row.value["preferred"] == "short"
    assert row.value["buckets"]["long"]["n"] == 3
    assert row.count == len(ratings)
    assert 0.4 < row.confidence <= 1.0


def test_no_length_preference_from_too_few_ratings() -> None:
    tracker = BehaviorTracker()
    tracker.observe(RatingEvent("r1", T0, "a1", 5, 40))
    [row] = tracker.patterns("answer_length")
    assert row.value["preferred"] is None and row.confidence == 0.0


def test_rephrased_question_soon_after_is_implicit_negative() -> None:
    tracker = BehaviorTracker()
    tracker.observe(message("m1", "How do I reset my router password?", previous_answer=None))
    updates = tracker.observe(
        message(
            "m2",
            "how can I reset the password on my router",
            T0 + timedelta(seconds=40),
            previous_answer="a1",
            documents=("doc-router", "doc-wifi"),
        )
    )
    [signal] = rows_of(updates, "implicit_negative")
    assert signal.key == "a1"
    assert signal.value["document_ids"] == ["doc-router", "doc-wifi"]
    assert signal.value["previous_message_id"] == "m1"
    assert signal.value["similarity"] >= 0.5


@pytest.mark.parametrize(
    ("second", "delay", "conversation"),
    [
        ("What is the capital of France?", timedelta(seconds=30), "c1"),  # different question
        ("How do I reset my router password?", timedelta(minutes=30), "c1"),  # too late
        ("How do I reset my router password?", timedelta(seconds=30), "c2"),  # other chat
        ("thanks", timedelta(seconds=10), "c1"),  # too short to judge
    ],
    ids=["unrelated", "too-late", "other-conversation", "too-short"],
)
def test_not_a_rephrase(second: str, delay: timedelta, conversation: str) -> None:
    tracker = BehaviorTracker()
    tracker.observe(message("m1", "How do I reset my router password?", previous_answer=None))
    updates = tracker.observe(message("m2", second, T0 + delay, conversation=conversation))
    assert rows_of(updates, "implicit_negative") == []


def test_rephrase_window_and_threshold_are_settings() -> None:
    strict = TrackerSettings(rephrase_window=timedelta(seconds=10), rephrase_similarity=0.95)
    tracker = BehaviorTracker(settings=strict)
    tracker.observe(message("m1", "How do I reset my router password quickly?"))
    late = tracker.observe(
        message("m2", "How do I reset my router password?", T0 + timedelta(seconds=30))
    )
    assert rows_of(late, "implicit_negative") == []


def test_reobserving_an_event_changes_nothing() -> None:
    tracker = BehaviorTracker()
    first = message("m1", "kubernetes ingress question")
    assert tracker.observe(first)
    snapshot = tracker.all_rows()
    assert tracker.observe(first) == []
    assert tracker.observe(RatingEvent("r1", T0, "a1", 5, 40))
    assert tracker.observe(RatingEvent("r1", T0, "a1", 5, 40)) == []
    assert [
        p for p in tracker.all_rows() if p.kind != "answer_length" and p.kind != "_seen_events"
    ] == [p for p in snapshot if p.kind != "_seen_events"]


def test_state_survives_a_round_trip_through_storage() -> None:
    tracker = BehaviorTracker()
    tracker.observe(message("m1", "How do I reset my router password?", previous_answer=None))
    stored = msgspec.json.decode(msgspec.json.encode(tracker.all_rows()), type=list[Pattern])

    restored = BehaviorTracker(stored)
    assert restored.observe(message("m1", "How do I reset my router password?")) == []  # seen
    updates = restored.observe(
        message(
            "m2", "reset router password how?", T0 + timedelta(seconds=20), previous_answer="a1"
        )
    )
    assert rows_of(updates, "implicit_negative")
    assert {p.key: p.count for p in restored.patterns("topic")}["router"] == 2


def test_public_patterns_hide_bookkeeping_rows() -> None:
    tracker = BehaviorTracker()
    updates = tracker.observe(message("m1", "router password reset"))
    assert any(p.internal for p in updates)  # persisted, so they are returned
    assert not any(p.internal for p in tracker.patterns())


def test_seen_ids_are_bounded() -> None:
    tracker = BehaviorTracker(settings=TrackerSettings(seen_capacity=3))
    for i in range(10):
        tracker.observe(message(f"m{i}", f"topic{i} words here", T0 + timedelta(hours=i)))
    [seen] = [p for p in tracker.all_rows() if p.kind == "_seen_events"]
    assert seen.value == ["m7", "m8", "m9"]
