"""Learning as one service over its repositories: what the chat pipeline and API call.

Every method is safe to repeat with the same input (ids make them idempotent), so they can
run from `LearningQueue` jobs that may be retried.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import structlog

from morgan.learning.boosts import DEFAULT_BOOST_POLICY, Boost, BoostPolicy, DocumentBoosts
from morgan.learning.feedback import Feedback
from morgan.learning.patterns import (
    ANSWER_LENGTH,
    IMPLICIT_NEGATIVE,
    BehaviorTracker,
    MessageEvent,
    Pattern,
    RatingEvent,
    TrackerSettings,
)
from morgan.learning.preferences import (
    DEFAULT_MIN_CONFIDENCE,
    Preference,
    PreferenceUpdate,
    apply_preference_updates,
    extract_preferences,
)
from morgan.learning.queue import Job
from morgan.learning.repositories import (
    BoostRepository,
    FeedbackRepository,
    PatternRepository,
    PreferenceRepository,
)

log = structlog.get_logger(__name__)

INFERRED_SOURCE = "inferred from ratings of answers by length"
_INFERRED_LENGTH = {"short": "short", "long": "detailed"}


class FeedbackOutcome(msgspec.Struct, frozen=True):
    recorded: bool
    boosts: tuple[Boost, ...] = ()
    patterns: tuple[Pattern, ...] = ()


class MessageOutcome(msgspec.Struct, frozen=True):
    preference_updates: tuple[PreferenceUpdate, ...] = ()
    patterns: tuple[Pattern, ...] = ()
    implicit_feedback: tuple[Feedback, ...] = ()


class LearningService:
    def __init__(
        self,
        preferences: PreferenceRepository,
        patterns: PatternRepository,
        boosts: BoostRepository,
        feedback: FeedbackRepository,
        *,
        boost_policy: BoostPolicy = DEFAULT_BOOST_POLICY,
        tracker_settings: TrackerSettings | None = None,
        min_preference_confidence: float = DEFAULT_MIN_CONFIDENCE,
        min_inferred_confidence: float = 0.6,
    ) -> None:
        self._preferences = preferences
        self._patterns = patterns
        self._boosts = boosts
        self._feedback = feedback
        self._boost_policy = boost_policy
        self._tracker_settings = tracker_settings or TrackerSettings()
        self._min_preference_confidence = min_preference_confidence
        self._min_inferred_confidence = min_inferred_confidence

    @property
    def boost_policy(self) -> BoostPolicy:
        return self._boost_policy

    async def record_feedback(self, user_id: str, feedback: Feedback) -> FeedbackOutcome:
        """Store feedback once, move the cited documents' boosts, learn from its length.

        The feedback row is written first and claims the id, so a retry after a partial
        failure never counts the same feedback twice (at most once, by design).
        """
        if not await self._feedback.add_feedback(user_id, feedback):
            return FeedbackOutcome(recorded=False)

        changed_boosts: list[Boost] = []
        if feedback.document_ids:
            stored = await self._boosts.get_boosts(user_id, list(feedback.document_ids))
            changed_boosts = DocumentBoosts(stored, self._boost_policy).record(feedback)
            if changed_boosts:
                await self._boosts.upsert_boosts(user_id, changed_boosts)

        changed_patterns: list[Pattern] = []
        if feedback.rating is not None and feedback.answer_length_words is not None:
            tracker = BehaviorTracker(
                await self._patterns.get_patterns(user_id), self._tracker_settings
            )
            changed_patterns = tracker.observe(
                RatingEvent(
                    id=f"feedback:{feedback.id}",
                    at=feedback.at,
                    answer_id=feedback.answer_id,
                    rating=feedback.rating,
                    answer_length_words=feedback.answer_length_words,
                )
            )
            if changed_patterns:
                await self._patterns.upsert_patterns(user_id, changed_patterns)
        log.debug(
            "feedback_recorded",
            user_id=user_id,
            feedback_id=feedback.id,
            boosts=len(changed_boosts),
        )
        return FeedbackOutcome(
            recorded=True,
            boosts=tuple(changed_boosts),
            patterns=tuple(p for p in changed_patterns if not p.internal),
        )

    async def observe_message(self, user_id: str, message: MessageEvent) -> MessageOutcome:
        """Learn from a user message: stated preferences, habits, and rephrased questions."""
        applied = await self._apply_stated_preferences(user_id, message)

        tracker = BehaviorTracker(
            await self._patterns.get_patterns(user_id), self._tracker_settings
        )
        changed = tracker.observe(message)
        if changed:
            await self._patterns.upsert_patterns(user_id, changed)

        implicit: list[Feedback] = []
        for pattern in changed:
            if pattern.kind != IMPLICIT_NEGATIVE:
                continue
            signal = Feedback(
                id=f"rephrase:{message.id}",
                answer_id=pattern.key,
                at=message.at,
                implicit="rephrase",
                document_ids=tuple(pattern.value["document_ids"]),
            )
            await self.record_feedback(user_id, signal)
            implicit.append(signal)
        return MessageOutcome(
            preference_updates=tuple(applied),
            patterns=tuple(p for p in changed if not p.internal),
            implicit_feedback=tuple(implicit),
        )

    async def preferences_for(
        self, user_id: str, *, include_inferred: bool = True
    ) -> dict[str, Preference]:
        """Stated preferences; with `include_inferred`, a confident answer-length habit
        fills in when the user never stated one (a stated preference always wins)."""
        stated = await self._preferences.get_preferences(user_id)
        if not include_inferred or "answer_length" in stated:
            return stated
        rows = await self._patterns.get_patterns(user_id, [ANSWER_LENGTH])
        for row in rows:
            preferred = _INFERRED_LENGTH.get(row.value.get("preferred") or "")
            if preferred and row.confidence >= self._min_inferred_confidence:
                stated = {
                    **stated,
                    "answer_length": Preference(
                        key="answer_length",
                        value=preferred,
                        confidence=row.confidence,
                        source_text=INFERRED_SOURCE,
                        updated_at=row.updated_at,
                    ),
                }
        return stated

    async def boosts_for(
        self, user_id: str, document_ids: Sequence[str] | None = None
    ) -> dict[str, Boost]:
        """Raw boosts; pass them to `apply_boosts(..., now)`, which applies the decay."""
        return await self._boosts.get_boosts(user_id, document_ids)

    async def patterns_for(self, user_id: str, kind: str | None = None) -> list[Pattern]:
        rows = await self._patterns.get_patterns(user_id, [kind] if kind else None)
        return [row for row in rows if not row.internal]

    def observe_job(self, user_id: str, message: MessageEvent) -> Job:
        """A queue job for `observe_message`, keyed so a resubmission runs once."""
        return Job(
            key=f"observe:{user_id}:{message.id}",
            run=lambda: self.observe_message(user_id, message),
            name="observe_message",
        )

    def feedback_job(self, user_id: str, feedback: Feedback) -> Job:
        return Job(
            key=f"feedback:{user_id}:{feedback.id}",
            run=lambda: self.record_feedback(user_id, feedback),
            name="record_feedback",
        )

    async def _apply_stated_preferences(
        self, user_id: str, message: MessageEvent
    ) -> list[PreferenceUpdate]:
        updates = [
            update
            for update in extract_preferences(message.text)
            if update.confidence >= self._min_preference_confidence
        ]
        if not updates:
            return []
        current = await self._preferences.get_preferences(user_id)
        after = apply_preference_updates(
            current, updates, message.at, self._min_preference_confidence
        )
        for key in current.keys() - after.keys():
            await self._preferences.delete_preference(user_id, key)
        for key, preference in after.items():
            if current.get(key) != preference:
                await self._preferences.set_preference(user_id, preference)
        return updates
