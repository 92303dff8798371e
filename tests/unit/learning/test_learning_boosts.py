"""DocumentBoosts: feedback moves a document's rank, boundedly, and the effect decays."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from morgan.learning import (
    Boost,
    BoostPolicy,
    DocumentBoosts,
    Feedback,
    apply_boosts,
    rerank_with_boosts,
)

T0 = datetime(2025, 5, 1, tzinfo=UTC)
# Fused RRF scores (k=60) for five documents, close together as RRF scores usually are.
CANDIDATES = [("a", 0.0328), ("b", 0.0323), ("c", 0.0318), ("d", 0.0312), ("e", 0.0307)]


def rating(feedback_id: str, stars: int, *docs: str, at: datetime = T0) -> Feedback:
    return Feedback(id=feedback_id, answer_id="ans", at=at, rating=stars, document_ids=docs)


def rank_of(doc: str, ranked: list[tuple[str, float]]) -> int:
    return [d for d, _ in ranked].index(doc)


def test_without_boosts_order_is_unchanged() -> None:
    assert apply_boosts(CANDIDATES, {}, T0) == CANDIDATES


def test_negative_feedback_ranks_the_document_lower() -> None:
    boosts = DocumentBoosts()
    boosts.record(rating("f1", 1, "a"))
    ranked = boosts.apply(CANDIDATES, T0)
    assert rank_of("a", ranked) > rank_of("a", CANDIDATES)


def test_positive_feedback_ranks_the_document_higher() -> None:
    boosts = DocumentBoosts()
    boosts.record(rating("f1", 5, "d"))
    ranked = boosts.apply(CANDIDATES, T0)
    assert rank_of("d", ranked) < rank_of("d", CANDIDATES)


def test_neutral_rating_changes_nothing() -> None:
    boosts = DocumentBoosts()
    assert boosts.record(rating("f1", 3, "a")) == []
    assert boosts.apply(CANDIDATES, T0) == CANDIDATES


def test_rephrase_is_a_small_negative() -> None:
    boosts = DocumentBoosts()
    boosts.record(Feedback(id="r1", answer_id="x", at=T0, implicit="rephrase", document_ids=("a",)))
    boosts.record(rating("f1", 1, "b"))
    assert -0.1 < boosts.value("a", T0) < 0
    assert boosts.value("b", T0) < boosts.value("a", T0)


def test_same_feedback_id_applies_once() -> None:
    boosts = DocumentBoosts()
    assert boosts.record(rating("f1", 1, "a"))
    once = boosts.value("a", T0)
    assert boosts.record(rating("f1", 1, "a")) == []
    assert boosts.value("a", T0) == once


@pytest.mark.parametrize("stars", [1, 5])
def test_stays_bounded_after_1000_repeated_feedbacks(stars: int) -> None:
    policy = BoostPolicy(bound=0.5)
    boosts = DocumentBoosts(policy=policy)
    for i in range(1000):
        boosts.record(rating(f"f{i}", stars, "c", at=T0 + timedelta(seconds=i)))
    now = T0 + timedelta(seconds=1000)
    value = boosts.value("c", now)
    assert 0.45 < abs(value) < 0.5  # saturates toward the bound, never reaches it
    [(_, original)] = [(d, s) for d, s in CANDIDATES if d == "c"]
    [(_, adjusted)] = [(d, s) for d, s in boosts.apply(CANDIDATES, now) if d == "c"]
    assert 0.5 * original - 1e-12 <= adjusted <= 1.5 * original + 1e-12


def test_misconfigured_huge_steps_are_still_bounded() -> None:
    policy = BoostPolicy(bound=0.5, rating_steps={1: -3.0, 5: 3.0})
    boosts = DocumentBoosts(policy=policy)
    boosts.record(rating("f1", 5, "a"))
    boosts.record(rating("f2", 1, "b"))
    assert boosts.value("a", T0) == 0.5
    assert boosts.value("b", T0) == -0.5


def test_each_further_feedback_moves_the_boost_less() -> None:
    boosts = DocumentBoosts()
    values = [0.0]
    for i in range(4):
        boosts.record(rating(f"f{i}", 5, "a"))
        values.append(boosts.value("a", T0))
    steps = [later - earlier for earlier, later in itertools.pairwise(values)]
    assert steps[0] == pytest.approx(0.2)
    assert all(later < earlier for earlier, later in itertools.pairwise(steps))


def test_effect_decays_with_half_life() -> None:
    policy = BoostPolicy(half_life=timedelta(days=10))
    boosts = DocumentBoosts(policy=policy)
    boosts.record(rating("f1", 1, "a"))
    start = boosts.value("a", T0)
    assert boosts.value("a", T0 + timedelta(days=10)) == pytest.approx(start / 2)
    assert boosts.value("a", T0 + timedelta(days=20)) == pytest.approx(start / 4)
    assert boosts.value("a", T0 + timedelta(days=365)) == 0.0  # negligible -> exactly zero
    assert boosts.apply(CANDIDATES, T0 + timedelta(days=365)) == CANDIDATES
    assert rank_of("a", boosts.apply(CANDIDATES, T0)) > 0


def test_time_never_runs_backwards() -> None:
    boosts = DocumentBoosts()
    boosts.record(rating("f1", 1, "a"))
    assert boosts.value("a", T0 - timedelta(days=5)) == boosts.value("a", T0)


def test_positive_after_negative_recovers() -> None:
    boosts = DocumentBoosts()
    for i in range(5):
        boosts.record(rating(f"n{i}", 1, "a"))
    low = boosts.value("a", T0)
    boosts.record(rating("p1", 5, "a"))
    assert boosts.value("a", T0) > low


def test_feedback_touches_every_cited_document_once() -> None:
    boosts = DocumentBoosts()
    changed = boosts.record(rating("f1", 5, "a", "b", "a"))
    assert [b.document_id for b in changed] == ["a", "b"]
    assert changed[0].count == 1


def test_boosts_from_storage_are_used() -> None:
    stored = {"e": Boost(document_id="e", value=0.5, updated_at=T0)}
    ranked = apply_boosts(CANDIDATES, stored, T0)
    assert ranked[0][0] == "e"
    assert ranked[0][1] == pytest.approx(0.0307 * 1.5)


def test_rerank_with_boosts_keeps_arbitrary_items() -> None:
    chunks = [{"chunk": 1, "doc": "a", "score": 0.03}, {"chunk": 2, "doc": "b", "score": 0.029}]
    stored = {"a": Boost(document_id="a", value=-0.5, updated_at=T0)}
    ranked = rerank_with_boosts(chunks, lambda c: c["doc"], lambda c: c["score"], stored, T0)
    assert [item["chunk"] for item, _ in ranked] == [2, 1]
