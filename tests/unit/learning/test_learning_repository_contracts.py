"""Contract every learning repository implementation must satisfy.

The suite speaks in logical ids ("u1", "a1", "d1") and asks the `ids` fixture for the real
ones: the memory repositories use the names as they are, the SQL repositories
(tests/integration/learning/) get UUIDs of real users, messages and documents. Answers and
documents belong to one user, so they are looked up per user. The integration suite imports
these test functions, so they run unchanged against every implementation.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol

import msgspec
import pytest

from morgan.learning import (
    Boost,
    BoostRepository,
    Feedback,
    FeedbackRepository,
    Pattern,
    PatternRepository,
    Preference,
    PreferenceRepository,
)

T0 = datetime(2025, 6, 1, 8, tzinfo=UTC)


class LogicalIds(Protocol):
    """Maps the suite's logical names to ids the repository under test accepts."""

    def user(self, name: str) -> str: ...

    def answer(self, user: str, name: str) -> str:
        """An answer (assistant message) owned by logical user `user`."""
        ...

    def document(self, user: str, name: str) -> str:
        """A document owned by logical user `user`."""
        ...

    def unknown(self) -> str:
        """An id of the right shape that names no row."""
        ...


class NamesAsIds:
    """For repositories that accept any string: the logical names are the ids."""

    def user(self, name: str) -> str:
        return name

    def answer(self, user: str, name: str) -> str:
        return name

    def document(self, user: str, name: str) -> str:
        return name

    def unknown(self) -> str:
        return "missing"


@pytest.fixture
def ids() -> LogicalIds:
    return NamesAsIds()


async def test_preferences_contract(
    preference_repository: PreferenceRepository, ids: LogicalIds
) -> None:
    repo = preference_repository
    u1, u2 = ids.user("u1"), ids.user("u2")
    assert isinstance(repo, PreferenceRepository)
    assert await repo.get_preferences(u1) == {}
    name = Preference("preferred_name", "Sam", 0.9, "call me Sam", T0)
    await repo.set_preference(u1, name)
    await repo.set_preference(u1, Preference("language", "German", 0.9, "in German", T0))
    await repo.set_preference(u2, Preference("language", "French", 0.9, "in French", T0))
    renamed = Preference("preferred_name", "Samuel", 0.9, "call me Samuel", T0 + timedelta(1))
    await repo.set_preference(u1, renamed)
    got = await repo.get_preferences(u1)
    assert got == {"preferred_name": renamed, "language": got["language"]}
    assert got["language"].value == "German"
    await repo.delete_preference(u1, "language")
    await repo.delete_preference(u1, "language")  # missing key: no error
    assert set(await repo.get_preferences(u1)) == {"preferred_name"}
    assert (await repo.get_preferences(u2))["language"].value == "French"


async def test_patterns_contract(pattern_repository: PatternRepository, ids: LogicalIds) -> None:
    repo = pattern_repository
    u1, u2 = ids.user("u1"), ids.user("u2")
    assert isinstance(repo, PatternRepository)
    topic = Pattern("topic", "helm", {"first_seen": T0.isoformat()}, 0.2, 1, T0)
    hours = Pattern("active_hours", "hour_of_day", {"histogram": [0] * 24}, 0.1, 1, T0)
    await repo.upsert_patterns(u1, [topic, hours])
    await repo.upsert_patterns(u2, [topic])
    bumped = Pattern("topic", "helm", {"first_seen": T0.isoformat()}, 0.3, 2, T0)
    await repo.upsert_patterns(u1, [bumped])
    rows = await repo.get_patterns(u1)
    assert sorted((p.kind, p.key, p.count) for p in rows) == [
        ("active_hours", "hour_of_day", 1),
        ("topic", "helm", 2),
    ]
    assert [p.kind for p in await repo.get_patterns(u1, ["topic"])] == ["topic"]
    assert [p.count for p in await repo.get_patterns(u2)] == [1]
    [row] = await repo.get_patterns(u1, ["active_hours"])
    assert row.value == {"histogram": [0] * 24}
    assert row.updated_at == T0


async def test_boosts_contract(boost_repository: BoostRepository, ids: LogicalIds) -> None:
    repo = boost_repository
    u1, u2 = ids.user("u1"), ids.user("u2")
    d1, d2 = ids.document("u1", "d1"), ids.document("u1", "d2")
    their_d1 = ids.document("u2", "d1")
    assert isinstance(repo, BoostRepository)
    await repo.upsert_boosts(u1, [Boost(d1, -0.1, T0, 1), Boost(d2, 0.2, T0, 1)])
    await repo.upsert_boosts(u2, [Boost(their_d1, 0.4, T0, 1)])
    await repo.upsert_boosts(u1, [Boost(d1, -0.2, T0 + timedelta(hours=1), 2)])
    assert set(await repo.get_boosts(u1)) == {d1, d2}
    only = await repo.get_boosts(u1, [d1, ids.unknown()])
    assert only == {d1: Boost(d1, -0.2, T0 + timedelta(hours=1), 2)}
    assert (await repo.get_boosts(u2))[their_d1].value == 0.4


async def test_feedback_contract(feedback_repository: FeedbackRepository, ids: LogicalIds) -> None:
    repo = feedback_repository
    u1, u2 = ids.user("u1"), ids.user("u2")
    a1, a2 = ids.answer("u1", "a1"), ids.answer("u1", "a2")
    assert isinstance(repo, FeedbackRepository)
    first = Feedback(
        id="f1", answer_id=a1, at=T0, rating=5, document_ids=(ids.document("u1", "d1"),)
    )
    assert await repo.add_feedback(u1, first) is True
    assert await repo.add_feedback(u1, first) is False
    theirs = msgspec.structs.replace(
        first, answer_id=ids.answer("u2", "a1"), document_ids=(ids.document("u2", "d1"),)
    )
    assert await repo.add_feedback(u2, theirs) is True  # ids are per user
    later = Feedback(id="f2", answer_id=a2, at=T0 + timedelta(minutes=5), rating=1)
    assert await repo.add_feedback(u1, later) is True
    assert [f.id for f in await repo.list_feedback(u1)] == ["f2", "f1"]
    assert [f.id for f in await repo.list_feedback(u1, answer_id=a1)] == ["f1"]
    assert [f.id for f in await repo.list_feedback(u1, limit=1)] == ["f2"]
    assert (await repo.list_feedback(u1, answer_id=a1)) == [first]
    assert [f.id for f in await repo.list_feedback(u2)] == ["f1"]


async def test_feedback_concurrent_duplicates_record_once(
    feedback_repository: FeedbackRepository, ids: LogicalIds
) -> None:
    item = Feedback(id="dup", answer_id=ids.answer("u1", "a1"), at=T0, rating=2)
    results = await asyncio.gather(
        *(feedback_repository.add_feedback(ids.user("u1"), item) for _ in range(5))
    )
    assert sorted(results) == [False, False, False, False, True]
