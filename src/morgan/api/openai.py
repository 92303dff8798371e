"""An OpenAI-compatible face for the full chat pipeline (`/v1/models`, `/v1/chat/completions`).

Existing clients (the `openai` package, Open WebUI, the `llm` CLI) talk to Morgan with the
Morgan API token as their API key. Everything a Morgan answer carries beyond OpenAI's schema
(conversation, sources, degraded parts, emotion) rides in an extra `morgan` field, which those
clients ignore. docs/openai-api.md is the user-facing description of this mapping.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Annotated, Any, Literal

import msgspec
import structlog
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Stream

from morgan.auth import CurrentUser
from morgan.chat.conversations import TurnRecord
from morgan.chat.schemas import (
    ChatRequest,
    ChatResponse,
    DoneEvent,
    EmotionOut,
    ErrorEvent,
    MetaEvent,
    SourceOut,
    StreamEvent,
    TokenEvent,
)
from morgan.errors import (
    RETRY_AFTER_S,
    BadRequest,
    DependencyUnavailable,
    MorganError,
    NotFound,
    as_morgan_error,
)
from morgan.services import Services
from morgan.validation import MAX_MESSAGE, MAX_TRANSCRIPT_MESSAGES, check_optional, check_text

log = structlog.get_logger(__name__)

# Model id -> whether it searches the user's documents.
MODELS: dict[str, bool] = {"morgan": True, "morgan-no-rag": False}
MODELS_CREATED = int(time.time())
# Stateless clients resend the whole transcript; this maps it back to a Morgan conversation.
THREAD_TTL_S = 7 * 24 * 3600
IMPORTED_MODEL = "client-history"
KNOWN_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
HISTORY_ROLES = frozenset({"user", "assistant"})

_encoder = msgspec.json.Encoder()


# ---- request ---------------------------------------------------------------------------
# Unknown fields are ignored (msgspec's default): clients send many OpenAI options Morgan has
# no use for, and rejecting them would break those clients.


class ContentPart(msgspec.Struct, kw_only=True):
    type: str
    text: str | None = None

    def __post_init__(self) -> None:
        check_optional("text", self.text, max_length=MAX_MESSAGE, multiline=True)


class MessageIn(msgspec.Struct, kw_only=True):
    role: str
    content: str | list[ContentPart] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.content, str):
            check_text("content", self.content, max_length=MAX_MESSAGE)


class StreamOptions(msgspec.Struct, kw_only=True):
    include_usage: bool = False


class MorganOptions(msgspec.Struct, kw_only=True):
    """The documented extra body field: `extra_body={"morgan": {...}}` in the openai package."""

    conversation_id: uuid.UUID | None = None
    top_k: int = 5


class ChatCompletionRequest(msgspec.Struct, kw_only=True):
    model: str
    messages: Annotated[list[MessageIn], msgspec.Meta(max_length=MAX_TRANSCRIPT_MESSAGES)]
    stream: bool = False
    n: int = 1
    # Accepted for compatibility; Morgan's tone policy sets sampling and length.
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    # OpenAI's end-user tag; the Morgan user comes only from the bearer token.
    user: str | None = None
    stream_options: StreamOptions | None = None
    morgan: MorganOptions | None = None


# ---- responses -------------------------------------------------------------------------


class ModelCard(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["model"] = "model"
    created: int = MODELS_CREATED
    owned_by: str = "morgan"


class ModelList(msgspec.Struct, kw_only=True):
    data: list[ModelCard]
    object: Literal["list"] = "list"


class Usage(msgspec.Struct, kw_only=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MorganExtra(msgspec.Struct, kw_only=True):
    conversation_id: uuid.UUID
    message_id: uuid.UUID | None
    sources: list[SourceOut]
    degraded: list[str]
    emotion: EmotionOut | None
    # Stream only: the stored answer, when post-processing changed what was streamed.
    text: str | None = None
    # True when the content is Morgan's safety response to a crisis message (morgan.safety).
    safety: bool = False


class AssistantMessage(msgspec.Struct, kw_only=True):
    content: str
    role: Literal["assistant"] = "assistant"
    refusal: None = None


class Choice(msgspec.Struct, kw_only=True):
    message: AssistantMessage
    index: int = 0
    finish_reason: str = "stop"
    logprobs: None = None


class ChatCompletion(msgspec.Struct, kw_only=True):
    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    morgan: MorganExtra
    object: Literal["chat.completion"] = "chat.completion"


class Delta(msgspec.Struct, kw_only=True, omit_defaults=True):
    role: str | None = None
    content: str | None = None


class ChunkChoice(msgspec.Struct, kw_only=True):
    delta: Delta
    index: int = 0
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`usage` and `morgan` appear only on the chunks that carry them (hence omit_defaults)."""

    id: str
    object: Literal["chat.completion.chunk"]  # no default, or omit_defaults would drop it
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    morgan: MorganExtra | None = None


# ---- errors in OpenAI's shape ----------------------------------------------------------


class ModelNotFound(NotFound):
    code, title = "model_not_found", "Model not found"


def _error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


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
        _error_body(message, type_, code),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


# ---- mapping messages to a Morgan turn -------------------------------------------------


def _text_of(message: MessageIn) -> str:
    """Text of a message; non-text parts (images, audio, files) are skipped: Morgan reads text."""
    if message.content is None or isinstance(message.content, str):
        return (message.content or "").strip()
    texts: list[str] = []
    for part in message.content:
        if part.type == "text":
            if part.text is None:
                raise BadRequest("a content part of type `text` needs a `text` field")
            texts.append(part.text)
    return "\n".join(texts).strip()


def split_messages(messages: Sequence[MessageIn]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last user message) and the user/assistant transcript before it."""
    for m in messages:
        if m.role not in KNOWN_ROLES:
            raise BadRequest(
                f"unknown message role {m.role!r}; use one of {', '.join(sorted(KNOWN_ROLES))}"
            )
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise BadRequest("messages must contain a message with role `user`")
    if any(m.role in HISTORY_ROLES for m in messages[last_user + 1 :]):
        raise BadRequest("the last user or assistant message must come from the user")
    question = _text_of(messages[last_user])
    if not question:
        raise BadRequest("the last user message has no text")
    prior = [
        (m.role, text)
        for m in messages[:last_user]
        if m.role in HISTORY_ROLES
        if (text := _text_of(m))
    ]
    return question, prior


def _thread_key(user_id: uuid.UUID, transcript: Sequence[tuple[str, str]]) -> str:
    digest = hashlib.sha256(
        _encoder.encode([str(user_id), [[r, t.strip()] for r, t in transcript]])
    ).hexdigest()
    return f"openai:thread:{digest}"


async def _cache_get(services: Services, key: str) -> Any:
    try:
        return await services.cache.get_json(key)
    except Exception as exc:  # noqa: BLE001 - the cache holds copies; a failure is a miss
        log.warning("openai_thread_cache_failed", error=str(exc)[:200])
        return None


async def _remember_thread(
    services: Services,
    user_id: uuid.UUID,
    transcript: Sequence[tuple[str, str]],
    conversation_id: uuid.UUID,
) -> None:
    try:
        await services.cache.set_json(
            _thread_key(user_id, transcript), str(conversation_id), ttl_s=THREAD_TTL_S
        )
    except Exception as exc:  # noqa: BLE001 - losing the mapping only means a re-import later
        log.warning("openai_thread_cache_failed", error=str(exc)[:200])


async def resolve_conversation(
    services: Services,
    user_id: uuid.UUID,
    options: MorganOptions | None,
    prior: Sequence[tuple[str, str]],
) -> uuid.UUID | None:
    """Which conversation this turn continues; None starts a new one in the pipeline.

    An explicit `morgan.conversation_id` wins (404 if it is not the caller's). Otherwise a
    transcript Morgan answered before maps back to its conversation; an unknown transcript
    is imported into a new conversation so the pipeline sees it as history.
    """
    if options is not None and options.conversation_id is not None:
        await services.conversations.get(user_id, options.conversation_id)
        return options.conversation_id
    if not prior:
        return None
    known = await _cache_get(services, _thread_key(user_id, prior))
    if isinstance(known, str):
        try:
            conversation = await services.conversations.get(user_id, uuid.UUID(known))
            return conversation.id
        except (ValueError, NotFound):
            pass
    first_user = next((t for r, t in prior if r == "user"), prior[0][1])
    conversation = await services.conversations.create(user_id, first_user)
    for user_text, assistant_text in _turns(prior):
        await services.conversations.record_turn(
            user_id,
            conversation.id,
            TurnRecord(user_text=user_text, assistant_text=assistant_text, model=IMPORTED_MODEL),
        )
    log.info("openai_history_imported", conversation_id=str(conversation.id), messages=len(prior))
    # The same transcript again (a retry, a regenerate) maps here instead of importing twice.
    await _remember_thread(services, user_id, prior, conversation.id)
    return conversation.id


def _turns(prior: Sequence[tuple[str, str]]) -> list[tuple[str, str | None]]:
    """Pair each user message with the assistant reply after it (if any)."""
    turns: list[tuple[str, str | None]] = []
    for role, text in prior:
        if role == "user":
            turns.append((text, None))
        elif turns and turns[-1][1] is None:
            turns[-1] = (turns[-1][0], text)
        elif turns:  # consecutive assistant messages: one reply
            turns[-1] = (turns[-1][0], f"{turns[-1][1]}\n\n{text}")
        # an assistant message before any user message has no turn to belong to
    return turns


async def _usage(
    services: Services, user_id: uuid.UUID, question: str, response: ChatResponse
) -> Usage:
    """The pipeline's own token counts (stored with the answer), else estimates."""
    prompt: int | None = None
    completion: int | None = None
    try:
        for m in await services.conversations.messages(user_id, response.conversation_id, last=2):
            if m.id == response.message_id:
                prompt, completion = m.prompt_tokens, m.completion_tokens
    except Exception as exc:  # noqa: BLE001 - usage is informational; estimate instead
        log.warning("openai_usage_lookup_failed", error=str(exc)[:200])
    count = services.llm.count_tokens
    if completion is None:
        completion = count(response.text) if response.text else 0
    if prompt is None:
        prompt = count(question) + sum(count(s.snippet) for s in response.sources)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def _extra(response: ChatResponse) -> MorganExtra:
    return MorganExtra(
        conversation_id=response.conversation_id,
        message_id=response.message_id,
        sources=response.sources,
        degraded=response.degraded,
        emotion=response.emotion,
        safety=response.safety,
    )


def _sse(payload: object) -> bytes:
    return b"data: " + _encoder.encode(payload) + b"\n\n"


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


# ---- the controller --------------------------------------------------------------------


class OpenAIController(Controller):
    path = "/v1"
    tags = ("openai",)
    # Litestar's own attribute; these errors must reach clients in OpenAI's shape.
    exception_handlers = {Exception: openai_error_handler}

    @get("/models")
    async def list_models(self, caller: CurrentUser) -> ModelList:
        return ModelList(data=[ModelCard(id=m) for m in MODELS])

    @get("/models/{model_id:str}")
    async def get_model(self, model_id: str, caller: CurrentUser) -> ModelCard:
        _rag_for(model_id)
        return ModelCard(id=model_id)

    @post("/chat/completions", status_code=200)
    async def chat_completions(
        self, data: ChatCompletionRequest, services: Services, caller: CurrentUser
    ) -> Response[Any]:
        user = caller  # not `user`: the body has a `user` field (see morgan.app)
        rag = _rag_for(data.model)
        if data.n != 1:
            raise BadRequest("Morgan returns one choice; `n` must be 1")
        question, prior = split_messages(data.messages)
        conversation_id = await resolve_conversation(services, user.id, data.morgan, prior)
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
        events = services.chat.stream(user.id, chat_request)
        if data.stream:
            include_usage = bool(data.stream_options and data.stream_options.include_usage)
            # The first event comes after history, retrieval and emotion: failing there is a status.
            first = await anext(events)
            chunks = _chunks(
                services,
                user.id,
                data.model,
                completion_id,
                question,
                prior,
                _chain(first, events),
                include_usage,
            )
            return Stream(
                chunks,
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        response = await _drain(events)
        await _remember_thread(
            services,
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
                usage=await _usage(services, user.id, question, response),
                morgan=_extra(response),
            )
        )


def _rag_for(model: str) -> bool:
    if model not in MODELS:
        raise ModelNotFound(f"The model `{model}` does not exist; use one of: {', '.join(MODELS)}")
    return MODELS[model]


async def _drain(events: AsyncIterator[StreamEvent]) -> ChatResponse:
    async with aclosing(events) as stream:  # type: ignore[type-var]
        async for event in stream:
            if isinstance(event, DoneEvent):
                return event.data.response
            if isinstance(event, ErrorEvent):
                raise DependencyUnavailable(event.data.detail)
    raise DependencyUnavailable("the chat pipeline ended without an answer")


async def _chain(
    first: StreamEvent, rest: AsyncIterator[StreamEvent]
) -> AsyncIterator[StreamEvent]:
    try:
        yield first
        async for event in rest:
            yield event
    finally:
        await rest.aclose()  # type: ignore[attr-defined]  # the pipeline records a cancelled turn


async def _chunks(
    services: Services,
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
        return _sse(
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
                    yield _sse(
                        _error_body(
                            event.data.detail,
                            "server_error",
                            "dependency_unavailable",
                        )
                    )
                    break
                elif isinstance(event, DoneEvent):
                    response = event.data.response
                    extra = _extra(response)
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
                            await _remember_thread(
                                services,
                                user_id,
                                [*prior, ("user", question), ("assistant", streamed)],
                                response.conversation_id,
                            )
                    await _remember_thread(
                        services,
                        user_id,
                        [*prior, ("user", question), ("assistant", response.text)],
                        response.conversation_id,
                    )
                    yield chunk(
                        choices=[ChunkChoice(delta=Delta(), finish_reason="stop")], morgan=extra
                    )
                    if include_usage:
                        yield chunk(
                            choices=[], usage=await _usage(services, user_id, question, response)
                        )
    except MorganError as exc:
        yield _sse(
            _error_body(
                exc.detail,
                "server_error" if exc.status_code >= 500 else "invalid_request_error",
                exc.code,
            )
        )
    except Exception as exc:
        log.exception("openai_stream_failed", exc_info=exc)
        yield _sse(
            _error_body(
                "An unexpected error occurred while streaming.", "server_error", "internal_error"
            )
        )
    yield b"data: [DONE]\n\n"
