"""An OpenAI-compatible face for the full chat pipeline (`/v1/models`, `/v1/chat/completions`).

Existing clients (the `openai` package, Open WebUI, the `llm` CLI) talk to Morgan with the
Morgan API token as their API key. Everything a Morgan answer carries beyond OpenAI's schema
(conversation, sources, degraded parts, emotion) rides in an extra `morgan` field, which those
clients ignore. docs/openai-api.md is the user-facing description of this mapping.

This module is the controller only: the wire format is `morgan.api.openai_schemas`, the event
stream `morgan.api.openai_stream`, and the transcript-to-conversation mapping
`morgan.chat.transcripts`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Stream

from morgan.api import providers
from morgan.api.openai_schemas import (
    MODELS,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ModelCard,
    ModelList,
    error_body,
    rag_for,
)
from morgan.api.openai_stream import chain, completion_chunks, morgan_extra, usage_of
from morgan.auth import CurrentUser
from morgan.chat.pipeline import ChatPipeline
from morgan.chat.schemas import ChatRequest, ChatResponse, DoneEvent, ErrorEvent, StreamEvent
from morgan.chat.transcripts import Transcripts, split_messages
from morgan.errors import (
    RETRY_AFTER_S,
    BadRequest,
    DependencyUnavailable,
    MorganError,
    as_morgan_error,
)
from morgan.llm.base import LLM

log = structlog.get_logger(__name__)


def openai_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """OpenAI's `{"error": {...}}` instead of problem details, so clients raise the right class."""
    exc = as_morgan_error(exc) or exc  # an unreachable database is a 503, not a 500
    if isinstance(exc, MorganError):
        status, message = exc.status_code, exc.detail
        code = "invalid_api_key" if status == 401 else exc.code
        if status >= 500:
            log.warning("openai_request_failed", code=exc.code, detail=exc.detail)
    elif isinstance(exc, ValidationException):
        status, code = 400, "invalid_request"
        extra = exc.extra if isinstance(exc.extra, list) else []
        message = "; ".join(
            [str(exc.detail), *(str(e.get("message", e)) for e in extra if isinstance(e, dict))]
        )
    elif isinstance(exc, HTTPException):
        status, code, message = exc.status_code, None, str(exc.detail)
    else:
        log.exception("unhandled_error", exc_info=exc)
        request_id = request.scope.get("state", {}).get("request_id", "")
        status, code = 500, "internal_error"
        message = f"An unexpected error occurred (request id {request_id})."
    type_ = "server_error" if status >= 500 else "invalid_request_error"
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    if status in (429, 503):
        retry = exc.extra.get("retry_after") if isinstance(exc, MorganError) else None
        headers.setdefault("retry-after", str(retry or RETRY_AFTER_S))
    return Response(
        error_body(message, type_, code),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


class OpenAIController(Controller):
    path = "/v1"
    tags = ("openai",)
    # Litestar's own attribute; these errors must reach clients in OpenAI's shape.
    exception_handlers = {Exception: openai_error_handler}
    # Not `user` or another body field name: see `caller` in morgan.app.
    dependencies = {
        "chat": providers.chat,
        "transcripts": providers.transcripts,
        "llm": providers.llm,
    }

    @get("/models")
    async def list_models(self, caller: CurrentUser) -> ModelList:
        return ModelList(data=[ModelCard(id=m) for m in MODELS])

    @get("/models/{model_id:str}")
    async def get_model(self, model_id: str, caller: CurrentUser) -> ModelCard:
        rag_for(model_id)
        return ModelCard(id=model_id)

    @post("/chat/completions", status_code=200)
    async def chat_completions(
        self,
        data: ChatCompletionRequest,
        chat: ChatPipeline,
        transcripts: Transcripts,
        llm: LLM,
        caller: CurrentUser,
    ) -> Response[Any]:
        user = caller  # not `user`: the body has a `user` field (see morgan.app)
        rag = rag_for(data.model)
        if data.n != 1:
            raise BadRequest("Morgan returns one choice; `n` must be 1")
        question, prior = split_messages(data.messages)
        conversation_id = await transcripts.resolve(
            user.id, data.morgan.conversation_id if data.morgan else None, prior
        )
        try:
            chat_request = ChatRequest(
                message=question,
                conversation_id=conversation_id,
                rag=rag,
                top_k=data.morgan.top_k if data.morgan else 5,
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        events = chat.stream(user.id, chat_request)
        if data.stream:
            include_usage = bool(data.stream_options and data.stream_options.include_usage)
            # The first event comes after history, retrieval and emotion: failing there is a status.
            first = await anext(events)
            chunks = completion_chunks(
                transcripts,
                llm.count_tokens,
                user.id,
                data.model,
                completion_id,
                question,
                prior,
                chain(first, events),
                include_usage,
            )
            return Stream(
                chunks,
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        response = await _drain(events)
        await transcripts.remember(
            user.id,
            [*prior, ("user", question), ("assistant", response.text)],
            response.conversation_id,
        )
        return Response(
            ChatCompletion(
                id=completion_id,
                created=int(time.time()),
                model=data.model,
                choices=[Choice(message=AssistantMessage(content=response.text))],
                usage=await usage_of(transcripts, llm.count_tokens, user.id, question, response),
                morgan=morgan_extra(response),
            )
        )


async def _drain(events: AsyncIterator[StreamEvent]) -> ChatResponse:
    async with aclosing(events) as stream:  # type: ignore[type-var]
        async for event in stream:
            if isinstance(event, DoneEvent):
                return event.data.response
            if isinstance(event, ErrorEvent):
                raise DependencyUnavailable(event.data.detail)
    raise DependencyUnavailable("the chat pipeline ended without an answer")
