"""LearningService over in-memory repositories: the wiring the chat pipeline relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from morgan.learning import (
    Feedback,
    LearningQueue,
    LearningService,
    MessageEvent,
    apply_boosts,
)

T0 = datetime(2025, 7, 1, 14, tzinfo=UTC)
CANDIDATES = [("doc-a", 0.033), ("doc-b", 0.032), ("doc-c", 0.031)]


def msg(event_id: str, text: str, at: datetime = T0, **extra: object) -> MessageEvent:
    return MessageEvent(id=event_id, at=at, text=text, conversation_id="c1", **extra)  # type: ignore[arg-type]


async def test_stated_preferences_are_stored_and_removed(service: LearningService) -> None:
    outcome = await service.observe_message("u1", msg("m1", "Call me Sam and keep it short."))
    assert {u.key for u in outcome.preference_updates} == {"preferred_name", "answer_length"}
    prefs = await service.preferences_for("u1")
    assert prefs["preferred_name"].value == "Sam"
    assert prefs["answer_length"].value == "short"
    assert await service.preferences_for("u2") == {}

    await service.observe_message("u1", msg("m2", "stop calling me Sam", T0 + timedelta(minutes=1)))
    assert "preferred_name" not in await service.preferences_for("u1")


async def test_low_confidence_statement_is_not_stored(service: LearningService) -> None:
    await service.observe_message("u1", msg("m1", "that was too long"))
    assert await service.preferences_for("u1") == {}


async def test_rating_feedback_moves_boosts(service: LearningService) -> None:
    bad = Feedback(id="f1", answer_id="a1", at=T0, rating=1, document_ids=("doc-a",))
    good = Feedback(id="f2", answer_id="a2", at=T0, rating=5, document_ids=("doc-c",))
    assert (await service.record_feedback("u1", bad)).recorded
    assert (await service.record_feedback("u1", good)).recorded
    boosts = await service.boosts_for("u1")
    ranked = [d for d, _ in apply_boosts(CANDIDATES, boosts, T0, service.boost_policy)]
    assert ranked == ["doc-c", "doc-b", "doc-a"]
    assert await service.boosts_for("u2") == {}


async def test_feedback_is_idempotent(service: LearningService) -> None:
    bad = Feedback(id="f1", answer_id="a1", at=T0, rating=1, document_ids=("doc-a",))
    await service.record_feedback("u1", bad)
    once = (await service.boosts_for("u1"))["doc-a"]
    again = await service.record_feedback("u1", bad)
    assert not again.recorded
    assert (await service.boosts_for("u1"))["doc-a"] == once


async def test_rephrase_becomes_implicit_negative_on_cited_documents(
    service: LearningService,
) -> None:
    await service.observe_message("u1", msg("m1", "How do I renew the passport for my kid?"))
    outcome = await service.observe_message(
        "u1",
        msg(
            "m2",
            "how can my kid renew a passport",
            T0 + timedelta(seconds=45),
            previous_answer_id="a1",
            previous_answer_document_ids=("doc-a",),
        ),
    )
    [signal] = outcome.implicit_feedback
    assert signal.implicit == "rephrase" and signal.answer_id == "a1"
    boost = (await service.boosts_for("u1"))["doc-a"]
    assert -0.1 < boost.value < 0

    # Re-observing the same message (a retried job) changes nothing.
    before = await service.boosts_for("u1")
    repeat = await service.observe_message(
        "u1",
        msg("m2", "how can my kid renew a passport", T0 + timedelta(seconds=45),
            previous_answer_id="a1", previous_answer_document_ids=("doc-a",)),
    )  # fmt: skip
    assert repeat.patterns == () and repeat.implicit_feedback == ()
    assert await service.boosts_for("u1") == before


async def test_patterns_are_persisted_and_public_ones_listed(service: LearningService) -> None:
    await service.observe_message("u1", msg("m1", "kubernetes ingress timeouts again"))
    await service.observe_message("u1", msg("m2", "kubernetes node pools", T0 + timedelta(hours=2)))
    topics = {p.key: p.count for p in await service.patterns_for("u1", "topic")}
    assert topics["kubernetes"] == 2
    assert all(not p.internal for p in await service.patterns_for("u1"))


async def test_ratings_infer_answer_length_unless_stated(service: LearningService) -> None:
    for i in range(10):  # five short answers rated 5, five long ones rated 1
        short = i % 2 == 0
        await service.record_feedback(
            "u1",
            Feedback(
                id=f"f{i}", answer_id=f"a{i}", at=T0 + timedelta(minutes=i),
                rating=5 if short else 1, answer_length_words=40 if short else 400,
            ),
        )  # fmt: skip
    inferred = await service.preferences_for("u1")
    assert inferred["answer_length"].value == "short"
    assert "inferred" in inferred["answer_length"].source_text
    assert "answer_length" not in await service.preferences_for("u1", include_inferred=False)

    await service.observe_message("u1", msg("m1", "More detail please.", T0 + timedelta(hours=1)))
    assert (await service.preferences_for("u1"))["answer_length"].value == "detailed"


async def test_jobs_run_through_the_queue_once(service: LearningService) -> None:
    queue = LearningQueue(retry_delay=0)
    await queue.start()
    message = msg("m1", "answer in German please")
    assert queue.submit(service.observe_job("u1", message))
    assert not queue.submit(service.observe_job("u1", message))
    feedback = Feedback(id="f1", answer_id="a1", at=T0, rating=5, document_ids=("doc-b",))
    assert queue.submit(service.feedback_job("u1", feedback))
    await queue.stop()
    assert queue.stats.completed == 2 and queue.stats.failed == 0
    assert (await service.preferences_for("u1"))["language"].value == "German"
    assert (await service.boosts_for("u1"))["doc-b"].value > 0
