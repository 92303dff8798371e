"""The chat path of docs/architecture.md, as one orchestrator composing the modules' interfaces.

`stream()` is the single implementation; `answer()` drains it. A generation that fails or is
cancelled stores the user message with the error and never half an answer.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog

from morgan.chat.conversations import ConversationRepository, TurnRecord
from morgan.chat.grounded import AnswerPlan, not_found_text, plan_answer, small_talk_reply
from morgan.chat.journal import ConversationWrites
from morgan.chat.ports import (
    EmotionPort,
    LearningPort,
    NeutralTonePolicy,
    NoEmotionDetector,
    NoLearning,
    Tone,
    TonePort,
)
from morgan.chat.schemas import (
    ChatRequest,
    ChatResponse,
    DoneData,
    DoneEvent,
    ErrorData,
    ErrorEvent,
    EvidenceOut,
    MetaData,
    MetaEvent,
    SourceOut,
    StreamEvent,
    TokenData,
    TokenEvent,
)
from morgan.emotion.crisis import CrisisSignal, detect_crisis
from morgan.errors import DependencyUnavailable
from morgan.learning.feedback import cited_documents
from morgan.llm.base import (
    LLM,
    ChatMessage,
    Embedder,
    FallbackReport,
    GenerationRequest,
    LLMUnavailable,
    SourcePassage,
    embed_reporting,
    stream_reporting,
)
from morgan.llm.budget import BudgetResult, fit_to_budget
from morgan.llm.extractive import NOT_FOUND, ExtractiveLLM
from morgan.llm.grounding import Grounder
from morgan.llm.priority import foreground_work
from morgan.rag.evidence import render_answer
from morgan.rag.retrieval import Passage, Retriever
from morgan.safety import (
    FixedSafetyResponder,
    SafetyResponder,
    continues_crisis,
    last_reply,
    takes_over,
)
from morgan.storage.models import Conversation
from morgan.storage.outbox import Outbox

log = structlog.get_logger(__name__)

HISTORY_TURNS = 8
WINDOW_TTL_S = 3600


class ChatPipeline:
    def __init__(
        self,
        *,
        conversations: ConversationRepository,
        retriever: Retriever,
        embedder: Embedder,
        llm: LLM,
        cache: Any = None,
        emotion: EmotionPort | None = None,
        tone: TonePort | None = None,
        learning: LearningPort | None = None,
        safety: SafetyResponder | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.conversations = conversations
        self.retriever = retriever
        self.embedder = embedder
        self.llm = llm
        self.cache = cache
        self.emotion = emotion or NoEmotionDetector()
        self.tone = tone or NeutralTonePolicy()
        self.learning = learning or NoLearning()
        # The crisis protocol by construction: always present, whatever else is wired.
        self.safety = safety or FixedSafetyResponder()
        # The turn's writes; while the database is down, through the durable outbox.
        self.writes = ConversationWrites(
            conversations, outbox=outbox, cache=cache, learning=self.learning
        )
        self.runtime_config: Any = None
        """morgan.runtime_config service: `morgan config set llm.*` read live per answer."""

    async def answer(self, user_id: uuid.UUID, request: ChatRequest) -> ChatResponse:
        final: ChatResponse | None = None
        async for event in self.stream(user_id, request):
            if isinstance(event, DoneEvent):
                final = event.data.response
            elif isinstance(event, ErrorEvent):
                raise DependencyUnavailable(event.data.detail)
        if final is None:  # an invariant of this class, kept under python -O
            raise RuntimeError("the answer stream ended without a done event")
        return final

    async def check_conversation(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        """404 before a stream starts when the conversation is not the user's (also while the
        database is down, from the owner the cache remembers)."""
        await self.writes.check_owner(user_id, conversation_id)

    async def stream(self, user_id: uuid.UUID, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The chat path, step by step: history, crisis check, query embedding, retrieval with
        emotion, tone and answer plan, generation through the Grounder, the stored turn.

        While it runs, ingestion's background embedding waits (morgan.llm.priority)."""
        with foreground_work():
            async with aclosing(self._steps(user_id, request)) as events:
                async for event in events:
                    yield event

    async def _steps(
        self, user_id: uuid.UUID, request: ChatRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        turn = _Turn(user_id=user_id, request=request)
        turn.conversation, turn.history = await self._open(user_id, request, turn.degraded)
        turn.timings["history_ms"] = _ms(turn.t_start)

        crisis = _crisis_signal(request.message, turn.history)
        if crisis is not None:  # the safety response instead of an answer (morgan.safety)
            async for event in self._safety_reply(
                user_id,
                request.message,
                turn.conversation.id,
                turn.history,
                crisis,
                turn.timings,
                turn.degraded,
                turn.t_start,
            ):
                yield event
            return

        await self._understand(turn)
        yield MetaEvent(
            data=MetaData(
                conversation_id=turn.conversation.id,
                sources=turn.sources,
                emotion=turn.emotion_out,
                tone=turn.tone.tone,
                evidence=turn.evidence,
            )
        )
        generation = await self._plan_generation(turn)
        # aclosing: a client that goes away closes the inner steps too (and so the backend).
        async with aclosing(self._generate_turn(turn, generation)) as tokens:
            async for event in tokens:
                yield event
        async with aclosing(self._conclude(turn, generation)) as rest:
            async for event in rest:
                yield event

    async def _understand(self, turn: _Turn) -> None:
        """Query embedding, retrieval beside emotion, tone, and the answer plan (grounded or
        silent, morgan.chat.grounded: evidence first, decided before generating)."""
        request = turn.request
        t = time.perf_counter()
        query_vector = await self._embed_query(request.message, turn.degraded)
        turn.timings["embed_ms"] = _ms(t)

        t = time.perf_counter()
        (
            passages,
            dense_scores,
            turn.emotion_out,
            turn.emotion_state,
        ) = await self._retrieve_and_feel(
            turn.user_id, turn.conversation.id, request, query_vector, turn.degraded, turn.timings
        )
        turn.timings["retrieve_emotion_ms"] = _ms(t)

        turn.tone = await self.tone.decide(
            turn.user_id, turn.emotion_state, turn.history, request.message
        )
        turn.plan = plan_answer(request.message, passages, rag=request.rag, dense=dense_scores)
        if not turn.plan.cites and turn.plan.mode != "open":
            passages = []  # small talk and chat are never presented with citations
        turn.passages = passages
        turn.sources = _sources_out(passages, turn.plan)
        turn.evidence = [EvidenceOut(**msgspec.structs.asdict(e)) for e in turn.plan.evidence]

    async def _plan_generation(self, turn: _Turn) -> _Generation:
        """The prompt within the model's budget, and whether the model is asked at all."""
        budget = fit_to_budget(
            await self._generation_request(
                turn.request, turn.tone, turn.history, turn.passages, turn.plan
            ),
            self.llm.count_tokens,
            self.llm.context_window,
        )
        if budget.trimmed:
            log.info(
                "prompt_trimmed",
                dropped_sources=budget.dropped_sources,
                dropped_history=budget.dropped_history,
                budget=budget.budget_tokens,
            )
        mode = turn.plan.mode
        return _Generation(
            budget=budget,
            # Only sentences the Grounder releases are shown (and streamed): no echoed
            # question, fake turns, system-prompt text or unsupported claims.
            grounder=Grounder(
                budget.request.sources,
                question=turn.request.message,
                system=budget.request.system,
            ),
            asked=mode in ("open", "small_talk", "chat")
            or (mode == "grounded" and not isinstance(self.llm, ExtractiveLLM)),
        )

    async def _generate_turn(
        self, turn: _Turn, generation: _Generation
    ) -> AsyncGenerator[StreamEvent, None]:
        """The model's released words; a client that goes away leaves a cancelled turn."""
        outcome = generation.outcome
        if generation.asked:
            try:
                async with aclosing(
                    self._generate(
                        generation.budget.request, generation.grounder, generation.report, outcome
                    )
                ) as tokens:
                    async for event in tokens:
                        yield event
            except (asyncio.CancelledError, GeneratorExit):
                await asyncio.shield(
                    self._record_failure(
                        turn.user_id,
                        turn.conversation.id,
                        turn.request.message,
                        "cancelled by client",
                    )
                )
                raise
        turn.timings["generate_ms"] = _ms(outcome.started)
        if outcome.first_token_ms is not None:
            turn.timings["first_token_ms"] = outcome.first_token_ms
        if generation.report.degraded and "llm" not in turn.degraded:
            turn.degraded.append("llm")

    async def _conclude(
        self, turn: _Turn, generation: _Generation
    ) -> AsyncGenerator[StreamEvent, None]:
        """The answer text (the evidence when the model said nothing supported), the stored
        turn and the done event; an error after part of an answer was shown ends the stream."""
        request, conversation_id = turn.request, turn.conversation.id
        grounder, outcome, error = generation.grounder, generation.outcome, generation.outcome.error
        if error is not None and grounder.text:
            # Part of an answer was shown; another backend's words cannot be spliced on.
            await self._record_failure(turn.user_id, conversation_id, request.message, error)
            yield ErrorEvent(data=ErrorData(detail=error, conversation_id=conversation_id))
            return
        text = grounder.text
        failed = error is not None or not outcome.generated_any
        if generation.asked and failed and "llm" not in turn.degraded:
            log.warning("llm_empty_or_failed", error=error)
            turn.degraded.append("llm")  # an empty or failed generation is never a success
        if not text:
            text = _silent_answer(turn.plan, turn.passages, request.message, turn.tone)
            for piece in _words([text]):
                yield TokenEvent(data=TokenData(text=piece))
        check = self.tone.check(text, turn.tone, turn.emotion_state)
        turn.timings["total_ms"] = _ms(turn.t_start)
        model_name = generation.report.answered_by or self.llm.name
        sources = msgspec.to_builtins(turn.sources)
        message_id = await self.writes.record_turn(
            turn.user_id,
            conversation_id,
            TurnRecord(
                user_text=request.message,
                assistant_text=text,
                model=model_name,
                prompt_tokens=generation.budget.prompt_tokens,
                completion_tokens=self.llm.count_tokens(text) if text else 0,
                timings=turn.timings,
                sources=sources,
                degraded=turn.degraded,
                response_check=check,
                emotion_ciphertext=self.emotion.encrypt_state(turn.emotion_state),
            ),
            turn.degraded,
            cited_documents=[uuid.UUID(d) for d in cited_documents(text, sources)],
        )
        await self._remember(conversation_id, turn.history, request.message, text)
        response = ChatResponse(
            conversation_id=conversation_id,
            message_id=message_id,
            text=text,
            emotion=turn.emotion_out,
            sources=turn.sources,
            degraded=turn.degraded,
            timings=turn.timings,
            model=model_name,
            removed_citations=grounder.removed_citations,
            tone=turn.tone.tone,
            evidence=turn.evidence,
            dropped_sentences=grounder.dropped,
        )
        yield DoneEvent(data=DoneData(response=response))

    async def _open(
        self, user_id: uuid.UUID, request: ChatRequest, degraded: list[str]
    ) -> tuple[Conversation, list[tuple[str, str]]]:
        """The conversation (new or the user's own) and its recent window."""
        conversation = await self.writes.open(
            user_id, request.conversation_id, request.message, degraded
        )
        history = await self._history(user_id, conversation.id, degraded)
        if getattr(self.cache, "degraded", False):
            degraded.append("cache")  # Redis is down: the window came from the database
        return conversation, history

    async def _embed_query(self, message: str, degraded: list[str]) -> list[float] | None:
        """The query vector, or None (retrieval goes keyword-only, `embeddings` degraded)."""
        try:
            vectors, fell_back = await embed_reporting(self.embedder, [message])
            if fell_back:
                degraded.append("embeddings")
            return vectors[0]
        except Exception as exc:  # noqa: BLE001
            log.warning("query_embedding_failed", error=str(exc)[:200])
            degraded.append("embeddings")
            return None

    async def _retrieve_and_feel(
        self,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        request: ChatRequest,
        query_vector: list[float] | None,
        degraded: list[str],
        timings: dict[str, float],
    ) -> tuple[list[Passage], dict[uuid.UUID, float], Any, Any]:
        """Retrieval and emotion analysis side by side: (passages, dense scores, emotion out,
        emotion state)."""
        emotion_task = asyncio.create_task(
            self.emotion.analyze(user_id, conversation_id, request.message, query_vector)
        )
        passages: list[Passage] = []
        dense_scores: dict[uuid.UUID, float] = {}
        if request.rag:
            retrieval = await self.retriever.retrieve(
                user_id,
                request.message,
                top_k=request.top_k,
                query_vector=query_vector,
                mode="hybrid" if query_vector is not None else "sparse",
            )
            passages = retrieval.passages
            dense_scores = retrieval.dense_scores
            degraded.extend(d for d in retrieval.degraded if d not in degraded)
            timings.update({f"retrieval_{k}": v for k, v in retrieval.timings.items()})
        emotion_out, emotion_state = await emotion_task
        return passages, dense_scores, emotion_out, emotion_state

    async def _generation_request(
        self,
        request: ChatRequest,
        tone: Tone,
        history: Sequence[tuple[str, str]],
        passages: Sequence[Passage],
        plan: AnswerPlan,
    ) -> GenerationRequest:
        """The prompt's parts; `morgan config set llm.*` overrides apply to this answer."""
        llm_cfg = await self.runtime_config.llm_overrides() if self.runtime_config else None
        return GenerationRequest(
            question=request.message,
            system=tone.system,
            history=tuple(ChatMessage(role=r, content=c) for r, c in history),  # type: ignore[arg-type]
            sources=tuple(
                SourcePassage(n=i, title=_source_title(p), text=p.text)
                for i, p in enumerate(passages, 1)
            )
            if plan.uses_sources
            else (),
            max_tokens=(llm_cfg and llm_cfg.max_tokens) or tone.max_tokens,
            temperature=tone.temperature
            if llm_cfg is None or llm_cfg.temperature is None
            else llm_cfg.temperature,
            top_p=tone.top_p if llm_cfg is None or llm_cfg.top_p is None else llm_cfg.top_p,
            model=request.model or (llm_cfg and llm_cfg.model) or None,
        )

    async def _generate(
        self,
        gen_request: GenerationRequest,
        grounder: Grounder,
        report: FallbackReport,
        outcome: _Outcome,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream what the Grounder releases, word by word; a failure is kept in `outcome`."""
        deltas = stream_reporting(self.llm, gen_request, report)
        try:
            async with aclosing(deltas):  # type: ignore[type-var]
                async for delta in deltas:
                    if report.answered_by == ExtractiveLLM.name:
                        break  # the chain fell back to quoting: the evidence says it better
                    outcome.generated_any = outcome.generated_any or bool(delta.strip())
                    for piece in _words(grounder.feed(delta)):
                        outcome.token()
                        yield TokenEvent(data=TokenData(text=piece))
                    if grounder.stopped:
                        break  # the model began another turn: stop decoding
            for piece in _words(grounder.finish()):
                outcome.token()
                yield TokenEvent(data=TokenData(text=piece))
        except LLMUnavailable as exc:
            outcome.error = f"generation failed: {exc}"

    async def _safety_reply(
        self,
        user_id: uuid.UUID,
        message: str,
        conversation_id: uuid.UUID,
        history: Sequence[tuple[str, str]],
        crisis: CrisisSignal,
        timings: dict[str, float],
        degraded: list[str],
        t_start: float,
    ) -> AsyncIterator[StreamEvent]:
        """Morgan's safety response: nothing retrieved, no document quotes, and only text that
        passed the safety check, stored (emotion encrypted) before anything is streamed."""
        t = time.perf_counter()
        emotion_out, emotion_state = await self.emotion.analyze(
            user_id, conversation_id, message, None
        )
        reply = await self.safety.respond(message, crisis)
        timings["safety_ms"] = _ms(t)
        timings["total_ms"] = _ms(t_start)
        message_id = await self.writes.record_turn(
            user_id,
            conversation_id,
            TurnRecord(
                user_text=message,
                assistant_text=reply.text,
                model=reply.model,
                prompt_tokens=0,
                completion_tokens=self.llm.count_tokens(reply.text),
                timings=timings,
                sources=[],
                degraded=degraded,
                response_check=reply.record(),
                emotion_ciphertext=self.emotion.encrypt_state(emotion_state),
            ),
            degraded,
            learn=False,  # crisis turns never feed learning
        )
        await self._remember(conversation_id, history, message, reply.text)
        log.info(
            "safety_response",
            kind=reply.kind,
            severity=reply.severity,
            personalised=reply.personalised,
            rejected=list(reply.rejected),
        )
        yield MetaEvent(
            data=MetaData(
                conversation_id=conversation_id, emotion=emotion_out, tone="safety", safety=True
            )
        )
        yield TokenEvent(data=TokenData(text=reply.text))
        yield DoneEvent(
            data=DoneData(
                response=ChatResponse(
                    conversation_id=conversation_id,
                    message_id=message_id,
                    text=reply.text,
                    emotion=emotion_out,
                    sources=[],
                    degraded=degraded,
                    timings=timings,
                    model=reply.model,
                    tone="safety",
                    safety=True,
                )
            )
        )

    async def _history(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, degraded: list[str]
    ) -> list[tuple[str, str]]:
        key = f"conv:{conversation_id}:window"
        if self.cache is not None:
            cached = await self.cache.get_json(key)
            if cached is not None:
                return [(r, c) for r, c in cached]
        return await self.writes.history(user_id, conversation_id, HISTORY_TURNS * 2, degraded)

    async def _remember(
        self,
        conversation_id: uuid.UUID,
        history: Sequence[tuple[str, str]],
        question: str,
        answer: str,
    ) -> None:
        if self.cache is None:
            return
        window = [*history, ("user", question), ("assistant", answer)][-HISTORY_TURNS * 2 :]
        await self.cache.set_json(
            f"conv:{conversation_id}:window", [list(p) for p in window], ttl_s=WINDOW_TTL_S
        )

    async def _record_failure(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, text: str, error: str
    ) -> None:
        await self.writes.record_turn(
            user_id,
            conversation_id,
            TurnRecord(user_text=text, assistant_text=None, error=error),
            [],
            learn=False,
        )
        if self.cache is not None:
            await self.cache.delete(f"conv:{conversation_id}:window")


@dataclass(slots=True)
class _Turn:
    """One chat turn's state, filled step by step by `ChatPipeline.stream`."""

    user_id: uuid.UUID
    request: ChatRequest
    t_start: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    degraded: list[str] = field(default_factory=list)
    conversation: Conversation = field(init=False)
    history: list[tuple[str, str]] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    emotion_out: Any = None
    emotion_state: Any = None
    tone: Tone = field(init=False)
    plan: AnswerPlan = field(init=False)
    sources: list[SourceOut] = field(default_factory=list)
    evidence: list[EvidenceOut] = field(default_factory=list)


@dataclass(slots=True)
class _Generation:
    budget: BudgetResult
    grounder: Grounder
    asked: bool
    """Whether the model is asked (else the evidence, small talk or not-found text answers)."""
    report: FallbackReport = field(default_factory=FallbackReport)
    outcome: _Outcome = field(default_factory=lambda: _Outcome(started=time.perf_counter()))


def _crisis_signal(message: str, history: list[tuple[str, str]]) -> CrisisSignal | None:
    """The signal when the safety response takes over ("no" to "Are you safe right now?" is
    still a crisis), else None."""
    crisis = detect_crisis(message)
    if not takes_over(crisis):
        crisis = continues_crisis(message, last_reply(history)) or crisis
    return crisis if takes_over(crisis) else None


@dataclass(slots=True)
class _Outcome:
    """What one generation did, filled while its tokens stream."""

    started: float
    first_token_ms: float | None = None
    error: str | None = None
    generated_any: bool = False

    def token(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = _ms(self.started)


def _sources_out(passages: Sequence[Passage], plan: AnswerPlan) -> list[SourceOut]:
    return [
        SourceOut(
            n=i,
            document_id=p.document_id,
            title=p.title,
            chunk_index=p.chunk_index,
            page=p.page,
            heading=p.heading,
            score=p.score,
            snippet=p.snippet,
            supports=plan.mode == "grounded",
        )
        for i, p in enumerate(passages, start=1)
    ]


def _silent_answer(plan: AnswerPlan, passages: Sequence[Passage], message: str, tone: Tone) -> str:
    """The answer when the model said nothing the sources support (or was not asked)."""
    if plan.mode == "grounded":
        return render_answer(plan.evidence)
    if plan.mode == "not_found":
        return not_found_text(passages)
    if plan.mode == "small_talk":
        return small_talk_reply(message)
    if plan.mode == "chat":
        return " ".join(filter(None, [tone.opener, NOT_FOUND]))
    return NOT_FOUND


def _source_title(p: Passage) -> str:
    parts = [p.title]
    if p.heading:
        parts.append(p.heading)
    if p.page:
        parts.append(f"page {p.page}")
    return " — ".join(parts)


def _words(pieces: Sequence[str]) -> list[str]:
    """Checked sentences go out word by word, so a reader sees the answer being written."""
    out: list[str] = []
    for piece in pieces:
        out.extend(m.group() for m in _WORD_DELTA.finditer(piece))
    return out


_WORD_DELTA = re.compile(r"\s*\S+|\s+$")


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
