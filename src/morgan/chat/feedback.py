"""Feedback on an answer: which answer is rated, and the write, queued while the database is down.

The rated answer is the one named by `message_id`, else the last answer of `conversation_id`,
else the user's last answer. Learning records it once per feedback id, moving the boosts of the
documents that answer cited. While the database is down, feedback that names its answer goes
to the durable outbox with everything it needs, and is targeted and recorded when the database
is back (a rated answer that is gone by then is kept aside as refused, not dropped).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from morgan.chat.conversations import ConversationRepository
from morgan.errors import BadRequest, DatabaseUnavailable, NotFound, database_down
from morgan.learning import Feedback
from morgan.learning.feedback import cited_documents
from morgan.learning.service import LearningService
from morgan.storage.models import Message
from morgan.storage.outbox import Outbox


class FeedbackRequest(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    id: str
    rating: int
    message_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    comment: str = ""
    at: datetime = msgspec.field(default_factory=lambda: datetime.now(UTC))


class FeedbackResult(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    message_id: uuid.UUID
    recorded: bool
    boosts: dict[str, float]
    queued: bool = False


class AnswerFeedback:
    def __init__(
        self,
        conversations: ConversationRepository,
        learning: LearningService,
        *,
        outbox: Outbox | None = None,
    ) -> None:
        self.conversations = conversations
        self.learning = learning
        self.outbox = outbox
        if outbox is not None:
            outbox.register("feedback", FeedbackRequest, self._apply)

    async def rate(self, request: FeedbackRequest) -> FeedbackResult:
        try:
            return await self._record(request)
        except Exception as exc:
            if self.outbox is None or not database_down(exc):
                raise
            if request.message_id is None:
                raise DatabaseUnavailable(
                    "the database is unavailable: rate a specific answer (its message id) to "
                    "have the feedback queued, or try again shortly"
                ) from exc
            await self.outbox.append("feedback", request)
            return FeedbackResult(
                id=request.id, message_id=request.message_id, recorded=False, boosts={}, queued=True
            )

    async def _apply(self, request: FeedbackRequest) -> None:
        await self._record(request)

    async def _record(self, request: FeedbackRequest) -> FeedbackResult:
        message = await self._rated_answer(request)
        outcome = await self.learning.record_feedback(
            str(request.user_id),
            Feedback(
                id=request.id,
                answer_id=str(message.id),
                at=request.at,
                rating=request.rating,  # type: ignore[arg-type]
                document_ids=cited_documents(message.content, message.sources or []),
                answer_length_words=len(message.content.split()),
                comment=request.comment,
            ),
        )
        return FeedbackResult(
            id=request.id,
            message_id=message.id,
            recorded=outcome.recorded,
            boosts={b.document_id: round(b.value, 4) for b in outcome.boosts},
        )

    async def _rated_answer(self, request: FeedbackRequest) -> Message:
        user_id = request.user_id
        if request.message_id is not None:
            message = await self.conversations.get_message(user_id, request.message_id)
        elif request.conversation_id is not None:
            messages = await self.conversations.messages(user_id, request.conversation_id)
            answers = [m for m in messages if m.role == "assistant"]
            if not answers:
                raise NotFound("that conversation has no answer to rate yet")
            message = answers[-1]
        else:
            last = await self.conversations.last_assistant_message(user_id)
            if last is None:
                raise NotFound("there is no answer to rate yet; ask something first")
            message = last
        if message.role != "assistant":
            raise BadRequest("feedback rates Morgan's answers; that message is the user's")
        return message


def new_feedback_id() -> str:
    return uuid.uuid4().hex
