"""Emotional data at rest on both databases: ciphertext only, per user, keys rotate."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from sqlalchemy import text

from morgan.emotion import (
    DecryptionError,
    EmotionCipher,
    EmotionPattern,
    EmotionResult,
    Trigger,
    UnknownKeyError,
)
from morgan.emotion.repository import EmotionRepository
from morgan.errors import NotFound
from morgan.storage.db import Database
from morgan.storage.models import Conversation, Message, User

T0 = datetime(2025, 6, 1, 8, tzinfo=UTC)
# Distinctive plaintext that must never reach a column in clear.
LABEL = "annoyance"
PHRASE = "wretched printer"
DESCRIPTION = "stress tends to show up in the evening"

RESULT = EmotionResult(
    label=LABEL, ekman="anger", scores={LABEL: 0.91, "neutral": 0.05}, labels=[LABEL],
    intensity=0.8, valence=-0.6, arousal=0.7,
)  # fmt: skip
TRIGGER = Trigger(PHRASE, LABEL, 0.72, 10, 26)
STRESS = EmotionPattern(
    kind="time_of_day_stress", description=DESCRIPTION, confidence=0.6, count=4,
    detail={"time_of_day": "evening", "rate": 0.8, "other_rate": 0.1, "days": 3},
)  # fmt: skip
DOMINANT = EmotionPattern(
    kind="dominant_emotion", description=f"{LABEL} has been the main emotion", confidence=0.4,
    count=3, detail={"label": LABEL, "share": 0.5, "emotional_messages": 6},
)  # fmt: skip


class Owner(msgspec.Struct):
    user: uuid.UUID
    conversation: uuid.UUID
    message: uuid.UUID


async def _owner(db: Database, name: str) -> Owner:
    user, conversation, message = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with db.transaction() as s:
        s.add(User(id=user, name=name))
        await s.flush()
        s.add(Conversation(id=conversation, user_id=user))
        await s.flush()
        s.add(Message(id=message, conversation_id=conversation, user_id=user, role="user",
                      content="the wretched printer ate my thesis again"))  # fmt: skip
    return Owner(user, conversation, message)


@pytest.fixture
async def ann(db: Database) -> Owner:
    return await _owner(db, "ann")


@pytest.fixture
async def bob(db: Database) -> Owner:
    return await _owner(db, "bob")


def _cipher(key: bytes | None = None, old: tuple[bytes, ...] = ()) -> EmotionCipher:
    return EmotionCipher.from_keys(key or os.urandom(32), list(old))


async def _fill(repo: EmotionRepository, who: Owner) -> None:
    await repo.add_state(who.user, who.message, who.conversation, {"result": RESULT}, T0)
    await repo.add_triggers(who.user, who.message, [TRIGGER], T0)
    await repo.upsert_patterns(who.user, [STRESS, DOMINANT], T0)


async def test_states_round_trip_newest_last_with_since_and_limit(db: Database, ann: Owner) -> None:
    repo = EmotionRepository(db, _cipher())
    for n in range(5):
        state = msgspec.structs.replace(RESULT, intensity=n / 10)
        await repo.add_state(str(ann.user), ann.message, None, state, T0 + timedelta(hours=n))
    history = await repo.history(ann.user)
    assert [at for at, _ in history] == [T0 + timedelta(hours=n) for n in range(5)]
    assert history[0][1] == msgspec.to_builtins(msgspec.structs.replace(RESULT, intensity=0.0))
    assert [p["intensity"] for _, p in await repo.history(ann.user, limit=2)] == [0.3, 0.4]
    since = await repo.history(ann.user, since=T0 + timedelta(hours=3))
    assert [p["intensity"] for _, p in since] == [0.3, 0.4]


async def test_patterns_upsert_by_identity_and_triggers_round_trip(
    db: Database, ann: Owner
) -> None:
    repo = EmotionRepository(db, _cipher())
    await repo.upsert_patterns(ann.user, [STRESS, DOMINANT], T0)
    stronger = msgspec.structs.replace(STRESS, confidence=0.9, count=7)
    night = msgspec.structs.replace(STRESS, detail={**STRESS.detail, "time_of_day": "night"})
    await repo.upsert_patterns(ann.user, [stronger, night], T0 + timedelta(days=1))
    assert await repo.get_patterns(ann.user) == [stronger, night, DOMINANT]
    assert await repo.get_patterns(ann.user, since=T0 + timedelta(hours=1)) == [stronger, night]
    async with db.session() as s:
        assert await s.scalar(text("SELECT count(*) FROM emotion_patterns")) == 3

    other = Trigger("ate my thesis", "anger", 0.4, 27, 40, "occlusion")
    assert await repo.add_triggers(ann.user, ann.message, [TRIGGER], T0) == 1
    assert await repo.add_triggers(ann.user, None, [other], T0 + timedelta(minutes=1)) == 1
    assert await repo.triggers(ann.user) == [(T0, TRIGGER), (T0 + timedelta(minutes=1), other)]
    assert await repo.triggers(ann.user, limit=1) == [(T0 + timedelta(minutes=1), other)]


async def test_no_plaintext_reaches_any_column(db: Database, ann: Owner) -> None:
    repo = EmotionRepository(db, _cipher())
    await _fill(repo, ann)
    secrets = [LABEL, PHRASE, DESCRIPTION, "evening", "time_of_day_stress", "dominant_emotion"]
    async with db.session() as s:
        for table in ("emotional_states", "emotion_patterns", "emotion_triggers"):
            rows = (await s.execute(text(f"SELECT * FROM {table}"))).all()
            assert rows, table
            for row in rows:
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    for secret in secrets:
                        assert secret.encode() not in raw, (table, secret)
                        assert secret.encode("utf-16-le") not in raw, (table, secret)


async def test_other_users_rows_are_never_returned(db: Database, ann: Owner, bob: Owner) -> None:
    repo = EmotionRepository(db, _cipher())
    await _fill(repo, ann)
    assert await repo.history(bob.user) == []
    assert await repo.get_patterns(bob.user) == []
    assert await repo.triggers(bob.user) == []
    assert await repo.history("not-a-uuid") == []
    await repo.upsert_patterns(bob.user, [STRESS], T0)  # same identity, another user
    assert len(await repo.get_patterns(ann.user)) == 2
    assert await repo.get_patterns(bob.user) == [STRESS]


async def test_ids_of_other_users_rows_are_refused(db: Database, ann: Owner, bob: Owner) -> None:
    repo = EmotionRepository(db, _cipher())
    with pytest.raises(NotFound, match="message"):
        await repo.add_state(bob.user, ann.message, None, RESULT, T0)
    with pytest.raises(NotFound, match="conversation"):
        await repo.add_state(bob.user, None, ann.conversation, RESULT, T0)
    with pytest.raises(NotFound, match="message"):
        await repo.add_triggers(bob.user, uuid.uuid4(), [TRIGGER], T0)
    with pytest.raises(NotFound, match="user"):
        await repo.add_state("not-a-uuid", None, None, RESULT, T0)
    assert await repo.history(bob.user) == [] and await repo.triggers(bob.user) == []


async def test_a_wrong_key_fails_clearly(db: Database, ann: Owner) -> None:
    key = os.urandom(32)
    await _fill(EmotionRepository(db, _cipher(key)), ann)

    stranger = EmotionRepository(db, _cipher())
    with pytest.raises(UnknownKeyError, match="emotional_states row .*not configured"):
        await stranger.history(ann.user)
    with pytest.raises(UnknownKeyError, match="emotion_patterns row"):
        await stranger.get_patterns(ann.user)
    with pytest.raises(UnknownKeyError, match="emotion_triggers row"):
        await stranger.triggers(ann.user)

    # Same key id, other material: authentication fails instead of returning garbage.
    impostor = EmotionRepository(db, EmotionCipher(os.urandom(32), _cipher(key).key_id))
    with pytest.raises(DecryptionError, match="emotional_states row .*failed authentication"):
        await impostor.history(ann.user)


async def test_key_rotation_reads_old_rows_and_writes_with_the_new_key(
    db: Database, ann: Owner
) -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    old, new = _cipher(old_key), _cipher(new_key, old=(old_key,))
    await _fill(EmotionRepository(db, old), ann)

    rotated = EmotionRepository(db, new)
    assert [p["result"]["label"] for _, p in await rotated.history(ann.user)] == [LABEL]
    assert await rotated.get_patterns(ann.user) == [STRESS, DOMINANT]
    assert await rotated.triggers(ann.user) == [(T0, TRIGGER)]

    await rotated.add_state(ann.user, None, None, {"result": RESULT}, T0 + timedelta(hours=1))
    stronger = msgspec.structs.replace(STRESS, confidence=0.9)
    await rotated.upsert_patterns(ann.user, [stronger], T0 + timedelta(hours=1))
    assert await rotated.get_patterns(ann.user) == [stronger, DOMINANT]

    async with db.session() as s:
        states = (await s.execute(text(
            "SELECT state_encrypted FROM emotional_states ORDER BY created_at"
        ))).scalars().all()  # fmt: skip
        patterns = dict((await s.execute(text(
            "SELECT pattern_key, pattern_encrypted FROM emotion_patterns"
        ))).all())  # fmt: skip
    assert [new.key_id_of(bytes(b)) for b in states] == [old.key_id, new.key_id]
    # The rewritten pattern moved to the new key's row key; the untouched one stays put.
    assert {rotated.pattern_key("time_of_day_stress", "evening"): new.key_id,
            rotated.pattern_key("dominant_emotion", "", key_id=old.key_id): old.key_id} == {
        k: new.key_id_of(bytes(v)) for k, v in patterns.items()
    }  # fmt: skip
    # Without the old key, its rows fail clearly; the new ones still read.
    only_new = EmotionRepository(db, _cipher(new_key))
    with pytest.raises(UnknownKeyError):
        await only_new.history(ann.user)
    assert len(await only_new.history(ann.user, since=T0 + timedelta(minutes=30))) == 1


async def test_row_keys_depend_on_the_key_and_reveal_nothing(db: Database) -> None:
    a, b = EmotionRepository(db, _cipher()), EmotionRepository(db, _cipher())
    key = a.pattern_key("dominant_emotion", "")
    assert len(key) == 64 and key == a.pattern_key("dominant_emotion", "")
    assert key != b.pattern_key("dominant_emotion", "")
    assert key != a.pattern_key("time_of_day_stress", "evening")
