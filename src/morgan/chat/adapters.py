"""The real emotion, empathy and learning modules behind the chat pipeline's ports.

Hot path: detect emotion (reusing the query embedding), look for crisis signals, pick the
tone from emotion + trend + preferences (stated preferences in *this* message apply at once).
Everything else — triggers, patterns over time, behavioural patterns, preference storage —
is queued on the `LearningQueue` and runs after the answer, idempotently.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict, deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog

from morgan.chat.ports import Tone
from morgan.chat.schemas import EmotionOut
from morgan.emotion import (
    CrisisSignal,
    EmotionCipher,
    EmotionDetector,
    EmotionRecord,
    EmotionResult,
    detect_crisis,
    detect_patterns,
    extract_triggers,
    rising_frustration,
    safety_protocol_instructions,
)
from morgan.empathy import EmotionSignal, Preferences, TonePolicy, check_response, opening_line
from morgan.learning import (
    BoostPolicy,
    Job,
    LearningQueue,
    LearningService,
    MessageEvent,
    apply_preference_updates,
    extract_preferences,
)

log = structlog.get_logger(__name__)

RECENT_PER_CONVERSATION = 20
CONVERSATIONS_TRACKED = 2048


class EmotionState(msgspec.Struct, kw_only=True):
    """What the pipeline carries between emotion, tone and persistence for one message."""

    result: EmotionResult
    crisis: CrisisSignal | None = None
    trend: str | None = None
    at: datetime


class EmotionAdapter:
    def __init__(
        self,
        detector: EmotionDetector,
        cipher: EmotionCipher,
        *,
        repository: Any = None,
        queue: LearningQueue | None = None,
        reuse_query_embedding: bool = True,
    ) -> None:
        self.detector = detector
        self.reuse_query_embedding = reuse_query_embedding
        self.cipher = cipher
        self.repository = repository
        self.queue = queue
        self.name = detector.name
        # Recent emotions per conversation for the in-conversation trend (bounded LRU).
        self._recent: OrderedDict[uuid.UUID, deque[EmotionRecord]] = OrderedDict()

    async def analyze(
        self,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID | None,
        text: str,
        embedding: Sequence[float] | None,
    ) -> tuple[EmotionOut | None, EmotionState | None]:
        try:
            vector = (
                list(embedding) if embedding is not None and self.reuse_query_embedding else None
            )
            result = await self.detector.detect(text, vector)
        except Exception as exc:  # noqa: BLE001 - emotion must never break an answer
            log.warning("emotion_detection_failed", error=str(exc)[:200])
            return None, None
        now = datetime.now(UTC)
        crisis = detect_crisis(text)
        trend = None
        if conversation_id is not None:
            recent = self._remember(
                conversation_id,
                EmotionRecord(
                    timestamp=now,
                    label=result.label,
                    ekman=result.ekman,
                    intensity=result.intensity,
                    conversation_id=str(conversation_id),
                ),
            )
            rising = rising_frustration(list(recent), str(conversation_id))
            if rising is not None:
                trend = rising.kind
        state = EmotionState(result=result, crisis=crisis, trend=trend, at=now)
        out = EmotionOut(
            label=result.label,
            ekman=result.ekman,
            intensity=round(result.intensity, 4),
            valence=round(result.valence, 4),
            arousal=round(result.arousal, 4),
            scores={k: round(v, 4) for k, v in result.scores.items()},
        )
        if self.queue is not None and self.repository is not None:
            self.queue.submit(
                Job(
                    key=f"emotion:{user_id}:{uuid.uuid4().hex}",
                    run=lambda: self._update_patterns_and_triggers(user_id, text, result, now),
                    name="emotion_patterns",
                )
            )
        return out, state

    def encrypt_state(self, state: EmotionState | None) -> bytes | None:
        if state is None:
            return None
        return self.cipher.encrypt(msgspec.to_builtins(state))

    def _remember(self, conversation_id: uuid.UUID, record: EmotionRecord) -> deque[EmotionRecord]:
        recent = self._recent.get(conversation_id)
        if recent is None:
            recent = self._recent[conversation_id] = deque(maxlen=RECENT_PER_CONVERSATION)
        self._recent.move_to_end(conversation_id)
        while len(self._recent) > CONVERSATIONS_TRACKED:
            self._recent.popitem(last=False)
        recent.append(record)
        return recent

    async def _update_patterns_and_triggers(
        self, user_id: uuid.UUID, text: str, result: EmotionResult, now: datetime
    ) -> None:
        triggers = extract_triggers(text, result)
        if triggers:
            await self.repository.add_triggers(user_id, None, triggers)
        history = await self.repository.history(user_id, limit=500)
        records = [
            EmotionRecord(
                timestamp=at,
                label=p["result"]["label"],
                ekman=p["result"]["ekman"],
                intensity=p["result"]["intensity"],
                conversation_id="",
            )
            for at, p in history
            if isinstance(p, dict) and "result" in p
        ]
        patterns = detect_patterns(records, now)
        if patterns:
            await self.repository.upsert_patterns(user_id, patterns)

    async def health(self) -> Any:
        return await self.detector.health()


class EmpathyAdapter:
    """Tone from emotion, trend and preferences; the response check after generation."""

    name = "tone-policy"

    def __init__(self, policy: TonePolicy, learning: LearningService | None) -> None:
        self.policy = policy
        self.learning = learning

    async def decide(
        self,
        user_id: uuid.UUID,
        emotion_state: EmotionState | None,
        history: Sequence[tuple[str, str]],
        message: str = "",
    ) -> Tone:
        stored: dict[str, Any] = {}
        if self.learning is not None:
            try:
                stored = await self.learning.preferences_for(str(user_id))
            except Exception as exc:  # noqa: BLE001 - preferences are a nicety, not a dependency
                log.warning("preferences_unavailable", error=str(exc)[:200])
        # "keep it short" said in this very message applies to this very answer.
        current = apply_preference_updates(stored, extract_preferences(message), datetime.now(UTC))
        preferences = Preferences.from_mapping(current)
        signal = _signal(emotion_state)
        openers = [opening_line(text) for role, text in history if role == "assistant"][-5:]
        crisis = emotion_state.crisis if emotion_state else None
        decision = self.policy.decide(
            signal,
            preferences,
            openers,
            safety_instructions=safety_protocol_instructions(crisis) if crisis else None,
        )
        return Tone(
            tone=decision.tone,
            system=decision.system_instructions,
            max_tokens=decision.max_tokens,
            temperature=decision.temperature,
            top_p=decision.top_p,
            opener=decision.opener_hint,
            acknowledge=decision.acknowledge,
            crisis=crisis is not None,
            decision=decision,
        )

    def check(self, text: str, tone: Tone, emotion_state: EmotionState | None) -> dict[str, Any]:
        if tone.decision is None:
            return {}
        result = check_response(text, tone.decision, _signal(emotion_state))
        return msgspec.to_builtins(result)


def _signal(state: EmotionState | None) -> EmotionSignal:
    if state is None:
        return EmotionSignal.neutral()
    r = state.result
    return EmotionSignal(
        label=r.label,
        ekman=r.ekman,
        intensity=r.intensity,
        valence=r.valence,
        trend=state.trend,
        crisis=state.crisis is not None,
        crisis_kind=state.crisis.kind if state.crisis else None,
    )


class LearningAdapter:
    """Implicit signals go to the background queue; boosts feed retrieval fusion."""

    name = "learning"

    def __init__(
        self, service: LearningService, queue: LearningQueue, policy: BoostPolicy | None = None
    ) -> None:
        self.service = service
        self.queue = queue
        self.policy = policy or BoostPolicy()
        self._last_answer: dict[uuid.UUID, tuple[str, tuple[str, ...]]] = {}

    def observe_turn(
        self,
        user_id: uuid.UUID,
        message_id: uuid.UUID,
        question: str,
        cited_documents: Sequence[uuid.UUID],
        conversation_id: uuid.UUID | None = None,
    ) -> None:
        previous = self._last_answer.get(user_id)
        event = MessageEvent(
            id=str(message_id),
            at=datetime.now(UTC),
            text=question,
            conversation_id=str(conversation_id) if conversation_id else None,
            previous_answer_id=previous[0] if previous else None,
            previous_answer_document_ids=previous[1] if previous else (),
        )
        self._last_answer[user_id] = (str(message_id), tuple(str(d) for d in cited_documents))
        self.queue.submit(self.service.observe_job(str(user_id), event))

    async def boosts(self, user_id: uuid.UUID) -> dict[uuid.UUID, float]:
        now = datetime.now(UTC)
        boosts = await self.service.boosts_for(str(user_id))
        out: dict[uuid.UUID, float] = {}
        for doc_id, boost in boosts.items():
            value = self.policy.current(boost, now)
            if value:
                out[uuid.UUID(doc_id)] = value
        return out
