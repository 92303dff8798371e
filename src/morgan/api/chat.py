"""Chat (whole answer or a stream of NDJSON / Server-Sent Events) and conversations."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_204_NO_CONTENT

from morgan.api import providers
from morgan.auth import CurrentUser
from morgan.chat.conversations import ConversationRepository
from morgan.chat.pipeline import ChatPipeline
from morgan.chat.schemas import ChatRequest, ChatResponse, StreamEvent
from morgan.validation import MAX_OFFSET, MAX_TITLE, check_text

_encoder = msgspec.json.Encoder()


class ConversationOut(msgspec.Struct):
    id: uuid.UUID
    title: str
    created_at: str
    updated_at: str
    messages: int = 0


class MessageOut(msgspec.Struct):
    id: uuid.UUID
    role: str
    content: str
    status: str
    error: str | None
    model: str | None
    sources: list[Any]
    degraded: list[Any]
    timings: dict[str, Any]
    created_at: str


class RenameIn(msgspec.Struct, forbid_unknown_fields=True):
    title: str

    def __post_init__(self) -> None:
        check_text("title", self.title, max_length=MAX_TITLE, multiline=False, required=True)


def _conv_out(c: Any, n: int = 0) -> ConversationOut:
    return ConversationOut(c.id, c.title, c.created_at.isoformat(), c.updated_at.isoformat(), n)


def _ndjson(events: AsyncIterator[StreamEvent]) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        async for event in events:
            yield _encoder.encode(event) + b"\n"

    return gen()


def _sse(events: AsyncIterator[StreamEvent]) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        async for event in events:
            yield (
                b"event: "
                + event.kind.encode()
                + b"\ndata: "
                + _encoder.encode(event.data)
                + b"\n\n"
            )

    return gen()


class ChatController(Controller):
    tags = ["chat"]
    dependencies = {"chat": providers.chat, "conversations": providers.conversations}

    @post("/api/chat", status_code=200)
    async def chat(self, data: ChatRequest, chat: ChatPipeline, user: CurrentUser) -> ChatResponse:
        return await chat.answer(user.id, data)

    @post("/api/chat/stream", status_code=200)
    async def chat_stream(
        self,
        data: ChatRequest,
        request: Request[Any, Any, Any],
        chat: ChatPipeline,
        user: CurrentUser,
    ) -> Stream:
        events = chat.stream(user.id, data)
        # Validate ownership of the conversation before streaming starts, so 404 is a status.
        if data.conversation_id is not None:
            await chat.check_conversation(user.id, data.conversation_id)
        if "text/event-stream" in request.headers.get("accept", ""):
            return Stream(_sse(events), media_type="text/event-stream")
        return Stream(_ndjson(events), media_type="application/x-ndjson")

    @get("/api/conversations")
    async def list_conversations(
        self,
        conversations: ConversationRepository,
        user: CurrentUser,
        limit: int = Parameter(default=50, ge=1, le=500),
        offset: int = Parameter(default=0, ge=0, le=MAX_OFFSET),
        q: str | None = Parameter(
            default=None, max_length=MAX_TITLE, description="Title or message text contains this."
        ),
    ) -> list[ConversationOut]:
        rows = await conversations.list(user.id, limit=limit, offset=offset, search=q)
        return [_conv_out(c, n) for c, n in rows]

    @get("/api/conversations/{conversation_id:uuid}")
    async def get_conversation(
        self, conversation_id: uuid.UUID, conversations: ConversationRepository, user: CurrentUser
    ) -> ConversationOut:
        return _conv_out(await conversations.get(user.id, conversation_id))

    @get("/api/conversations/{conversation_id:uuid}/messages")
    async def messages(
        self, conversation_id: uuid.UUID, conversations: ConversationRepository, user: CurrentUser
    ) -> list[MessageOut]:
        rows = await conversations.messages(user.id, conversation_id)
        return [
            MessageOut(
                m.id,
                m.role,
                m.content,
                m.status,
                m.error,
                m.model,
                m.sources,
                m.degraded,
                m.timings,
                m.created_at.isoformat(),
            )
            for m in rows
        ]

    @patch("/api/conversations/{conversation_id:uuid}")
    async def rename(
        self,
        conversation_id: uuid.UUID,
        data: RenameIn,
        conversations: ConversationRepository,
        user: CurrentUser,
    ) -> ConversationOut:
        return _conv_out(await conversations.rename(user.id, conversation_id, data.title))

    @delete("/api/conversations/{conversation_id:uuid}", status_code=HTTP_204_NO_CONTENT)
    async def delete_conversation(
        self, conversation_id: uuid.UUID, conversations: ConversationRepository, user: CurrentUser
    ) -> None:
        await conversations.soft_delete(user.id, conversation_id)
