"""Feedback on answers and the preferences Morgan has learned (view and forget)."""

from __future__ import annotations

import uuid
from typing import TypeVar

import msgspec
from litestar import Controller, delete, get, post
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from morgan.api import providers
from morgan.auth import CurrentUser
from morgan.chat.feedback import AnswerFeedback, FeedbackRequest, new_feedback_id
from morgan.errors import DependencyUnavailable, NotFound
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
    queued: bool = False
    """The database is down: the feedback waits in the local queue and is recorded when it
    returns (`recorded` is false until then)."""


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
        "feedback": providers.feedback,
    }

    @post("/api/feedback", status_code=HTTP_201_CREATED)
    async def feedback(
        self, data: FeedbackIn, feedback: AnswerFeedback | None, user: CurrentUser
    ) -> FeedbackOut:
        result = await _on(feedback).rate(
            FeedbackRequest(
                user_id=user.id,
                id=data.id or new_feedback_id(),
                rating=data.rating,
                message_id=data.message_id,
                conversation_id=data.conversation_id,
                comment=data.comment,
            )
        )
        return FeedbackOut(
            id=result.id,
            message_id=result.message_id,
            rating=data.rating,
            recorded=result.recorded,
            boosts=result.boosts,
            queued=result.queued,
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
