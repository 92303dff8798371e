"""A client's whole transcript mapped back to a Morgan conversation (the OpenAI face).

Stateless clients (the `openai` package, Open WebUI, the `llm` CLI) resend every earlier
message with each question; Morgan keeps conversations itself. `split_messages` takes the
question (the last user message) and the user/assistant transcript before it; `Transcripts`
finds the conversation that transcript belongs to: by content, not by row — a sha256 of
the user and the messages' text, remembered in the cache for `THREAD_TTL_S` — so the same
transcript again (a retry, a regenerate, the next question) continues one conversation,
and an unknown one is imported once as history. How many messages one request may carry
is capped at the edge (`morgan.validation.MAX_TRANSCRIPT_MESSAGES`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec
import structlog

from morgan.chat.conversations import ConversationRepository, TurnRecord
from morgan.chat.schemas import ChatResponse
from morgan.errors import BadRequest, NotFound
from morgan.storage.cache.base import Cache

log = structlog.get_logger(__name__)

THREAD_TTL_S = 7 * 24 * 3600
IMPORTED_MODEL = "client-history"
"""The `model` of the turns an imported transcript becomes (no Morgan model wrote them)."""
KNOWN_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
HISTORY_ROLES = frozenset({"user", "assistant"})

_encoder = msgspec.json.Encoder()


class TranscriptMessage(Protocol):
    """One message of a client's transcript; `text()` may raise `BadRequest` (bad parts)."""

    @property
    def role(self) -> str: ...

    def text(self) -> str: ...


def split_messages(messages: Sequence[TranscriptMessage]) -> tuple[str, list[tuple[str, str]]]:
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
    question = messages[last_user].text()
    if not question:
        raise BadRequest("the last user message has no text")
    prior = [
        (m.role, text)
        for m in messages[:last_user]
        if m.role in HISTORY_ROLES
        if (text := m.text())
    ]
    return question, prior


def thread_key(user_id: uuid.UUID, transcript: Sequence[tuple[str, str]]) -> str:
    """The cache key of a transcript: its content (roles, stripped texts) and its user."""
    digest = hashlib.sha256(
        _encoder.encode([str(user_id), [[r, t.strip()] for r, t in transcript]])
    ).hexdigest()
    return f"openai:thread:{digest}"


def pair_turns(prior: Sequence[tuple[str, str]]) -> list[tuple[str, str | None]]:
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


class Transcripts:
    """Which conversation a transcript continues, and remembering the answer's transcript."""

    def __init__(self, conversations: ConversationRepository, cache: Cache) -> None:
        self.conversations = conversations
        self.cache = cache

    async def resolve(
        self,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID | None,
        prior: Sequence[tuple[str, str]],
    ) -> uuid.UUID | None:
        """Which conversation this turn continues; None starts a new one in the pipeline.

        An explicit `conversation_id` wins (404 if it is not the caller's). Otherwise a
        transcript Morgan answered before maps back to its conversation; an unknown transcript
        is imported into a new conversation so the pipeline sees it as history.
        """
        if conversation_id is not None:
            await self.conversations.get(user_id, conversation_id)
            return conversation_id
        if not prior:
            return None
        known = await self._cached(thread_key(user_id, prior))
        if isinstance(known, str):
            try:
                conversation = await self.conversations.get(user_id, uuid.UUID(known))
                return conversation.id
            except (ValueError, NotFound):
                pass
        first_user = next((t for r, t in prior if r == "user"), prior[0][1])
        conversation = await self.conversations.create(user_id, first_user)
        for user_text, assistant_text in pair_turns(prior):
            await self.conversations.record_turn(
                user_id,
                conversation.id,
                TurnRecord(
                    user_text=user_text, assistant_text=assistant_text, model=IMPORTED_MODEL
                ),
            )
        log.info(
            "openai_history_imported", conversation_id=str(conversation.id), messages=len(prior)
        )
        # The same transcript again (a retry, a regenerate) maps here instead of importing twice.
        await self.remember(user_id, prior, conversation.id)
        return conversation.id

    async def remember(
        self,
        user_id: uuid.UUID,
        transcript: Sequence[tuple[str, str]],
        conversation_id: uuid.UUID,
    ) -> None:
        try:
            await self.cache.set_json(
                thread_key(user_id, transcript), str(conversation_id), ttl_s=THREAD_TTL_S
            )
        except Exception as exc:  # noqa: BLE001 - losing the mapping only means a re-import later
            log.warning("openai_thread_cache_failed", error=str(exc)[:200])

    async def usage(
        self,
        user_id: uuid.UUID,
        question: str,
        response: ChatResponse,
        count_tokens: Callable[[str], int],
    ) -> tuple[int, int]:
        """(prompt, completion) tokens: the pipeline's own counts stored with the answer,
        else estimates with `count_tokens`."""
        prompt: int | None = None
        completion: int | None = None
        try:
            for m in await self.conversations.messages(user_id, response.conversation_id, last=2):
                if m.id == response.message_id:
                    prompt, completion = m.prompt_tokens, m.completion_tokens
        except Exception as exc:  # noqa: BLE001 - usage is informational; estimate instead
            log.warning("openai_usage_lookup_failed", error=str(exc)[:200])
        if completion is None:
            completion = count_tokens(response.text) if response.text else 0
        if prompt is None:
            prompt = count_tokens(question) + sum(count_tokens(s.snippet) for s in response.sources)
        return prompt, completion

    async def _cached(self, key: str) -> object:
        try:
            return await self.cache.get_json(key)
        except Exception as exc:  # noqa: BLE001 - the cache holds copies; a failure is a miss
            log.warning("openai_thread_cache_failed", error=str(exc)[:200])
            return None
