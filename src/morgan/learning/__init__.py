"""Learning: stated preferences, behavioural patterns, document boosts, background jobs.

The chat pipeline calls `extract_preferences`/`apply_preference_updates` on the hot path
(cheap, so "keep it short" applies to the same answer), `apply_boosts` after fusion, and
submits `LearningService` jobs to a `LearningQueue` for everything else.
"""

from morgan.learning.boosts import (
    DEFAULT_BOOST_POLICY,
    Boost,
    BoostPolicy,
    DocumentBoosts,
    apply_boosts,
    rerank_with_boosts,
)
from morgan.learning.feedback import Feedback
from morgan.learning.patterns import (
    BehaviorEvent,
    BehaviorTracker,
    MessageEvent,
    Pattern,
    PatternUpdate,
    RatingEvent,
    TrackerSettings,
)
from morgan.learning.preferences import (
    PREFERENCE_KEYS,
    Preference,
    PreferenceKey,
    PreferenceUpdate,
    apply_preference_updates,
    extract_preferences,
)
from morgan.learning.queue import Job, LearningQueue, QueueStats
from morgan.learning.repositories import (
    BoostRepository,
    FeedbackRepository,
    PatternRepository,
    PreferenceRepository,
)
from morgan.learning.service import FeedbackOutcome, LearningService, MessageOutcome

__all__ = [
    "DEFAULT_BOOST_POLICY",
    "PREFERENCE_KEYS",
    "BehaviorEvent",
    "BehaviorTracker",
    "Boost",
    "BoostPolicy",
    "BoostRepository",
    "DocumentBoosts",
    "Feedback",
    "FeedbackOutcome",
    "FeedbackRepository",
    "Job",
    "LearningQueue",
    "LearningService",
    "MessageEvent",
    "MessageOutcome",
    "Pattern",
    "PatternRepository",
    "PatternUpdate",
    "Preference",
    "PreferenceKey",
    "PreferenceRepository",
    "PreferenceUpdate",
    "QueueStats",
    "RatingEvent",
    "TrackerSettings",
    "apply_boosts",
    "apply_preference_updates",
    "extract_preferences",
    "rerank_with_boosts",
]
