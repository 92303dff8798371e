"""The chat pipeline's events as OpenAI `chat.completion.chunk` Server-Sent Events.

A role chunk (with the sources, early, in the `morgan` extra), content deltas whose
concatenation is the stored answer, a finish chunk with the full extra, usage when asked,
then `data: [DONE]`. A failure mid-stream becomes an `{"error": ...}` event, as OpenAI's
own streams do, since the status line has already been sent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from typing import Any

import msgspec
import structlog

from morgan.api.openai_schemas import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    MorganExtra,
    Usage,
    error_body,
)
from morgan.chat.schemas import (
    ChatResponse,
    DoneEvent,
    ErrorEvent,
    MetaEvent,
    StreamEvent,
    TokenEvent,
)
from morgan.chat.transcripts import Transcripts
from morgan.errors import MorganError

log = structlog.get_logger(__name__)

_encoder = msgspec.json.Encoder()


def sse(payload: object) -> bytes:
    return b"data: " + _encoder.encode(payload) + b"\n\n"


def morgan_extra(response: ChatResponse) -> MorganExtra:
    return MorganExtra(
        conversation_id=response.conversation_id,
        message_id=response.message_id,
        sources=response.sources,
        degraded=response.degraded,
        emotion=response.emotion,
        safety=response.safety,
    )


async def usage_of(
    transcripts: Transcripts,
    count_tokens: Callable[[str], int],
    user_id: uuid.UUID,
    question: str,
    response: ChatResponse,
) -> Usage:
    prompt, completion = await transcripts.usage(user_id, question, response, count_tokens)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


class WhitespaceTrimmer:
    """Streams deltas so that their concatenation equals the stripped answer the pipeline stores."""

    def __init__(self) -> None:
        self.started = False
        self.held = ""
        self.sent: list[str] = []

    def feed(self, delta: str) -> str:
        if not self.started:
            delta = delta.lstrip()
            if not delta:
                return ""
            self.started = True
        body = delta.rstrip()
        if not body:
            self.held += delta
            return ""
        out = self.held + body
        self.held = delta[len(body) :]
        self.sent.append(out)
        return out

    @property
    def text(self) -> str:
        return "".join(self.sent)


async def chain(first: StreamEvent, rest: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
    try:
        yield first
        async for event in rest:
            yield event
    finally:
        await rest.aclose()  # type: ignore[attr-defined]  # the pipeline records a cancelled turn


async def completion_chunks(
    transcripts: Transcripts,
    count_tokens: Callable[[str], int],
    user_id: uuid.UUID,
    model: str,
    completion_id: str,
    question: str,
    prior: Sequence[tuple[str, str]],
    events: AsyncIterator[StreamEvent],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """`chat.completion.chunk`s: role (+ early sources), content deltas, finish (+ full extra)."""
    created = int(time.time())

    def chunk(**fields: Any) -> bytes:
        return sse(
            ChatCompletionChunk(
                id=completion_id,
                object="chat.completion.chunk",
                created=created,
                model=model,
                **fields,
            )
        )

    trimmer = WhitespaceTrimmer()
    try:
        async with aclosing(events) as stream:  # type: ignore[type-var]
            async for event in stream:
                if isinstance(event, MetaEvent):
                    early = MorganExtra(
                        conversation_id=event.data.conversation_id,
                        message_id=None,
                        degraded=[],
                        sources=event.data.sources,
                        emotion=event.data.emotion,
                        safety=event.data.safety,
                    )
                    yield chunk(
                        choices=[ChunkChoice(delta=Delta(role="assistant", content=""))],
                        morgan=early,
                    )
                elif isinstance(event, TokenEvent):
                    if piece := trimmer.feed(event.data.text):
                        yield chunk(choices=[ChunkChoice(delta=Delta(content=piece))])
                elif isinstance(event, ErrorEvent):
                    yield sse(
                        error_body(
                            event.data.detail,
                            "server_error",
                            "dependency_unavailable",
                        )
                    )
                    break
                elif isinstance(event, DoneEvent):
                    response = event.data.response
                    extra = morgan_extra(response)
                    streamed = trimmer.text
                    if response.text != streamed:
                        if response.text.startswith(streamed):
                            yield chunk(
                                choices=[
                                    ChunkChoice(delta=Delta(content=response.text[len(streamed) :]))
                                ]
                            )
                        else:
                            extra.text = response.text
                            await transcripts.remember(
                                user_id,
                                [*prior, ("user", question), ("assistant", streamed)],
                                response.conversation_id,
                            )
                    await transcripts.remember(
                        user_id,
                        [*prior, ("user", question), ("assistant", response.text)],
                        response.conversation_id,
                    )
                    yield chunk(
                        choices=[ChunkChoice(delta=Delta(), finish_reason="stop")], morgan=extra
                    )
                    if include_usage:
                        usage = await usage_of(
                            transcripts, count_tokens, user_id, question, response
                        )
                        yield chunk(choices=[], usage=usage)
    except MorganError as exc:
        yield sse(
            error_body(
                exc.detail,
                "server_error" if exc.status_code >= 500 else "invalid_request_error",
                exc.code,
            )
        )
    except Exception as exc:
        log.exception("openai_stream_failed", exc_info=exc)
        yield sse(
            error_body(
                "An unexpected error occurred while streaming.", "server_error", "internal_error"
            )
        )
    yield b"data: [DONE]\n\n"
