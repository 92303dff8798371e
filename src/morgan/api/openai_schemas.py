"""The OpenAI wire format Morgan speaks on `/v1`: request and response structs, error bodies.

Only the shapes live here; `morgan.api.openai` is the controller, `morgan.api.openai_stream`
formats the event stream and `morgan.chat.transcripts` maps a client's transcript to a
conversation. docs/openai-api.md is the user-facing description of the mapping.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

import msgspec

from morgan.chat.schemas import EmotionOut, SourceOut
from morgan.errors import BadRequest, NotFound
from morgan.validation import MAX_MESSAGE, MAX_TRANSCRIPT_MESSAGES, check_optional, check_text

# Model id -> whether it searches the user's documents.
MODELS: dict[str, bool] = {"morgan": True, "morgan-no-rag": False}
MODELS_CREATED = int(time.time())


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

    def text(self) -> str:
        """The text; non-text parts (images, audio, files) are skipped: Morgan reads text."""
        if self.content is None or isinstance(self.content, str):
            return (self.content or "").strip()
        texts: list[str] = []
        for part in self.content:
            if part.type == "text":
                if part.text is None:
                    raise BadRequest("a content part of type `text` needs a `text` field")
                texts.append(part.text)
        return "\n".join(texts).strip()


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


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    """OpenAI's `{"error": {...}}`, so clients raise the right exception class."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def rag_for(model: str) -> bool:
    """Whether `model` searches the user's documents; `ModelNotFound` for an unknown id."""
    if model not in MODELS:
        raise ModelNotFound(f"The model `{model}` does not exist; use one of: {', '.join(MODELS)}")
    return MODELS[model]
