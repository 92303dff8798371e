"""Feedback on answers and the preferences Morgan has learned (view and forget)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from litestar import Controller, delete, get, post
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from morgan.api import providers
from morgan.auth import CurrentUser
from morgan.chat.conversations import ConversationRepository
from morgan.errors import BadRequest, DependencyUnavailable, NotFound
from morgan.learning import Feedback
from morgan.learning.feedback import cited_documents
from morgan.learning.repositories import PreferenceRepository
from morgan.learning.service import LearningService
from morgan.validation import MAX_COMMENT, MAX_FEEDBACK_ID, check_optional, check_text

T = TypeVar("T")


class FeedbackIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rating: int
    message_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    comment: str = ""
    id: str | None = None
    """Idempotency key: the same id twice is recorded once."""

    def __post_init__(self) -> None:
        if not 1 <= self.rating <= 5:
            raise ValueError("rating must be between 1 and 5")
        check_text("comment", self.comment, max_length=MAX_COMMENT)
        check_optional("id", self.id, max_length=MAX_FEEDBACK_ID)


class FeedbackOut(msgspec.Struct):
    id: str
    message_id: uuid.UUID
    rating: int
    recorded: bool
    boosts: dict[str, float]


class PreferenceOut(msgspec.Struct):
    key: str
    value: str
    confidence: float
    source_text: str
    updated_at: str


class LearningController(Controller):
    tags = ["learning"]
    dependencies = {
        "learning": providers.learning,
        "preferences": providers.preferences,
        "conversations": providers.conversations,
    }

    @post("/api/feedback", status_code=HTTP_201_CREATED)
    async def feedback(
        self,
        data: FeedbackIn,
        learning: LearningService | None,
        conversations: ConversationRepository,
        user: CurrentUser,
    ) -> FeedbackOut:
        service = _on(learning)
        convs = conversations
        if data.message_id is not None:
            message = await convs.get_message(user.id, data.message_id)
        elif data.conversation_id is not None:
            msgs = await convs.messages(user.id, data.conversation_id)
            answers = [m for m in msgs if m.role == "assistant"]
            if not answers:
                raise NotFound("that conversation has no answer to rate yet")
            message = answers[-1]
        else:
            message = await convs.last_assistant_message(user.id)  # type: ignore[assignment]
            if message is None:
                raise NotFound("there is no answer to rate yet; ask something first")
        if message.role != "assistant":
            raise BadRequest("feedback rates Morgan's answers; that message is the user's")
        documents = cited_documents(message.content, message.sources or [])
        feedback_id = data.id or uuid.uuid4().hex
        outcome = await service.record_feedback(
            str(user.id),
            Feedback(
                id=feedback_id,
                answer_id=str(message.id),
                at=datetime.now(UTC),
                rating=data.rating,  # type: ignore[arg-type]
                document_ids=documents,
                answer_length_words=len(message.content.split()),
                comment=data.comment,
            ),
        )
        return FeedbackOut(
            id=feedback_id,
            message_id=message.id,
            rating=data.rating,
            recorded=outcome.recorded,
            boosts={b.document_id: round(b.value, 4) for b in outcome.boosts},
        )

    @get("/api/preferences")
    async def preferences(
        self, learning: LearningService | None, user: CurrentUser
    ) -> list[PreferenceOut]:
        prefs = await _on(learning).preferences_for(str(user.id), include_inferred=False)
        return [
            PreferenceOut(
                p.key, p.value, round(p.confidence, 3), p.source_text, p.updated_at.isoformat()
            )
            for p in sorted(prefs.values(), key=lambda p: p.key)
        ]

    @delete("/api/preferences/{key:str}", status_code=HTTP_204_NO_CONTENT)
    async def forget_preference(
        self,
        key: str,
        learning: LearningService | None,
        preferences: PreferenceRepository | None,
        user: CurrentUser,
    ) -> None:
        prefs = await _on(learning).preferences_for(str(user.id), include_inferred=False)
        if key not in prefs:
            raise NotFound(f"no learned preference {key!r}")
        await _on(preferences).delete_preference(str(user.id), key)

    @delete("/api/preferences", status_code=HTTP_204_NO_CONTENT)
    async def forget_all(self, preferences: PreferenceRepository | None, user: CurrentUser) -> None:
        repo = _on(preferences)
        for key in await repo.get_preferences(str(user.id)):
            await repo.delete_preference(str(user.id), key)


def _on(part: T | None) -> T:
    """The learning part, or 503 where the server runs without learning."""
    if part is None:
        raise DependencyUnavailable("learning is off on this server")
    return part
