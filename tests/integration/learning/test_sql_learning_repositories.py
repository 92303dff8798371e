"""What the SQL learning repositories add beyond the contract: real ids, ownership, races."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from morgan.errors import NotFound
from morgan.learning import Boost, Feedback, LearningService, MessageEvent, Pattern, Preference
from morgan.learning.sql import (
    SqlBoostRepository,
    SqlFeedbackRepository,
    SqlPatternRepository,
    SqlPreferenceRepository,
)
from morgan.storage.db import Database
from morgan.storage.models import BehavioralPattern, DocumentBoost, UserPreference
from morgan.storage.models import Feedback as FeedbackRow
from tests.integration.learning.conftest import RowIds

T0 = datetime(2025, 6, 1, 8, tzinfo=UTC)


async def _count(db: Database, model: type, **where: object) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    async with db.session() as session:
        return int(await session.scalar(query) or 0)


@pytest.mark.parametrize("answer", ["theirs", "nonexistent", "not-a-uuid"])
async def test_feedback_on_an_answer_the_user_does_not_own_is_not_found(
    db: Database, ids: RowIds, answer: str
) -> None:
    answer_id = {
        "theirs": ids.answer("u2", "a1"),
        "nonexistent": ids.unknown(),
        "not-a-uuid": "a1",
    }[answer]
    repo = SqlFeedbackRepository(db)
    with pytest.raises(NotFound, match="answer"):
        await repo.add_feedback(ids.user("u1"), Feedback("f1", answer_id, T0, rating=4))
    assert await _count(db, FeedbackRow) == 0


async def test_feedback_failing_a_check_is_an_error_not_a_duplicate(
    db: Database, ids: RowIds
) -> None:
    repo = SqlFeedbackRepository(db)
    no_signal = Feedback("f1", ids.answer("u1", "a1"), T0)  # neither rating nor implicit
    with pytest.raises(IntegrityError):
        await repo.add_feedback(ids.user("u1"), no_signal)
    assert await repo.list_feedback(ids.user("u1")) == []


async def test_writes_for_an_unknown_user_are_not_found(db: Database, ids: RowIds) -> None:
    stranger = ids.unknown()
    with pytest.raises(NotFound):
        await SqlPreferenceRepository(db).set_preference(
            stranger, Preference("language", "German", 0.9, "in German", T0)
        )
    with pytest.raises(NotFound):
        await SqlPatternRepository(db).upsert_patterns(
            stranger, [Pattern("topic", "helm", {}, 0.2, 1, T0)]
        )
    with pytest.raises(NotFound):
        await SqlFeedbackRepository(db).add_feedback(
            "not-a-uuid", Feedback("f1", ids.answer("u1", "a1"), T0, rating=3)
        )
    assert await _count(db, UserPreference) == 0
    assert await _count(db, BehavioralPattern) == 0


async def test_reads_for_ids_that_are_not_uuids_are_empty(db: Database, ids: RowIds) -> None:
    assert await SqlPreferenceRepository(db).get_preferences("u1") == {}
    assert await SqlPatternRepository(db).get_patterns("u1") == []
    assert await SqlBoostRepository(db).get_boosts("u1") == {}
    assert await SqlBoostRepository(db).get_boosts(ids.user("u1"), ["d1"]) == {}
    assert await SqlFeedbackRepository(db).list_feedback("u1") == []
    assert await SqlFeedbackRepository(db).list_feedback(ids.user("u1"), answer_id="a1") == []


async def test_boosts_for_documents_the_user_does_not_own_are_never_written(
    db: Database, ids: RowIds
) -> None:
    repo = SqlBoostRepository(db)
    u1 = ids.user("u1")
    mine, theirs, gone = ids.document("u1", "d1"), ids.document("u2", "d1"), ids.unknown()
    await repo.upsert_boosts(
        u1,
        [Boost(mine, 0.1, T0, 1), Boost(theirs, 0.5, T0, 1), Boost(gone, 0.5, T0, 1),
         Boost("not-a-uuid", 0.5, T0, 1)],
    )  # fmt: skip
    assert set(await repo.get_boosts(u1)) == {mine}
    assert await repo.get_boosts(ids.user("u2")) == {}
    assert await _count(db, DocumentBoost) == 1
    await repo.upsert_boosts(u1, [Boost(theirs, 0.5, T0, 1)])  # only foreign ones: a no-op
    assert await _count(db, DocumentBoost) == 1


async def test_concurrent_upserts_of_one_key_leave_one_row(db: Database, ids: RowIds) -> None:
    u1 = ids.user("u1")
    preferences, patterns, boosts = (
        SqlPreferenceRepository(db), SqlPatternRepository(db), SqlBoostRepository(db),
    )  # fmt: skip
    doc = ids.document("u1", "d1")
    writes = []
    for n in range(6):
        at = T0 + timedelta(minutes=n)
        writes += [
            preferences.set_preference(u1, Preference("answer_length", "short", 0.9, f"#{n}", at)),
            patterns.upsert_patterns(u1, [Pattern("topic", "helm", {"n": n}, 0.5, n, at)]),
            boosts.upsert_boosts(u1, [Boost(doc, n / 10, at, n)]),
        ]
    await asyncio.gather(*writes)
    assert await _count(db, UserPreference, user_id=uuid.UUID(u1)) == 1
    assert await _count(db, BehavioralPattern, user_id=uuid.UUID(u1)) == 1
    assert await _count(db, DocumentBoost, user_id=uuid.UUID(u1)) == 1


async def test_a_batch_naming_one_pattern_twice_keeps_the_last(db: Database, ids: RowIds) -> None:
    repo = SqlPatternRepository(db)
    u1 = ids.user("u1")
    await repo.upsert_patterns(
        u1, [Pattern("topic", "helm", {}, 0.1, 1, T0), Pattern("topic", "helm", {}, 0.2, 2, T0)]
    )
    assert [p.count for p in await repo.get_patterns(u1)] == [2]


async def test_learning_service_runs_on_the_sql_repositories(db: Database, ids: RowIds) -> None:
    """The wiring the server uses: feedback moves boosts once; a rephrase is implicit feedback."""
    feedback = SqlFeedbackRepository(db)
    service = LearningService(
        SqlPreferenceRepository(db), SqlPatternRepository(db), SqlBoostRepository(db), feedback
    )
    u1, a1, d1 = ids.user("u1"), ids.answer("u1", "a1"), ids.document("u1", "d1")
    rating = Feedback("f1", a1, T0, rating=5, document_ids=(d1,), answer_length_words=40)
    outcome = await service.record_feedback(u1, rating)
    assert outcome.recorded and [b.document_id for b in outcome.boosts] == [d1]
    assert (await service.record_feedback(u1, rating)).recorded is False
    assert (await service.boosts_for(u1))[d1].count == 1

    ask = MessageEvent(id="m1", at=T0, text="how do I roll back a helm release safely",
                       conversation_id="c1")  # fmt: skip
    again = MessageEvent(
        id="m2", at=T0 + timedelta(seconds=30), text="how to roll back a helm release safely",
        conversation_id="c1", previous_answer_id=a1, previous_answer_document_ids=(d1,),
    )  # fmt: skip
    await service.observe_message(u1, MessageEvent(id="m0", at=T0, text="keep it short"))
    await service.observe_message(u1, ask)
    outcome_again = await service.observe_message(u1, again)
    assert [f.answer_id for f in outcome_again.implicit_feedback] == [a1]
    assert [f.id for f in await feedback.list_feedback(u1, answer_id=a1)] == [
        "rephrase:m2", "f1",
    ]  # fmt: skip
    assert (await service.preferences_for(u1))["answer_length"].value == "short"
    assert {p.kind for p in await service.patterns_for(u1)} >= {"topic", "implicit_negative"}
