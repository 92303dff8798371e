"""Behavioural patterns learned from what the user does, not what they say.

The tracker's whole state is a set of `Pattern` rows, so the repository stores nothing
else: rows whose kind starts with "_" are bookkeeping (recently seen event ids, the last
message for rephrase detection) and are hidden from `patterns()`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec

from morgan.learning.text import content_terms, jaccard, keywords

Rating = Annotated[int, msgspec.Meta(ge=1, le=5)]


class MessageEvent(msgspec.Struct, frozen=True, tag="message"):
    """The user sent a message. `previous_answer_*` describe Morgan's reply just before it,
    so a rephrased question can be charged to that reply and the documents it cited."""

    id: str
    at: datetime
    text: str
    conversation_id: str | None = None
    topics: tuple[str, ...] = ()
    previous_answer_id: str | None = None
    previous_answer_document_ids: tuple[str, ...] = ()


class RatingEvent(msgspec.Struct, frozen=True, tag="rating"):
    """The user rated an answer of `answer_length_words` words."""

    id: str
    at: datetime
    answer_id: str
    rating: Rating
    answer_length_words: int


BehaviorEvent = MessageEvent | RatingEvent


class Pattern(msgspec.Struct, frozen=True):
    """One learned pattern; `value` is JSON-able, `count` is how many events support it."""

    kind: str
    key: str
    value: Any
    confidence: float
    count: int
    updated_at: datetime

    @property
    def internal(self) -> bool:
        return self.kind.startswith("_")


PatternUpdate = Pattern  # observe() returns the new state of every row it changed

TOPIC = "topic"
ACTIVE_HOURS = "active_hours"
ANSWER_LENGTH = "answer_length"
IMPLICIT_NEGATIVE = "implicit_negative"
_SEEN = "_seen_events"
_LAST_MESSAGE = "_last_message"


class TrackerSettings(msgspec.Struct, frozen=True):
    rephrase_window: timedelta = timedelta(minutes=3)
    rephrase_similarity: float = 0.5
    rephrase_min_terms: int = 2
    seen_capacity: int = 256
    keywords_per_message: int = 5
    short_answer_words: int = 80
    long_answer_words: int = 250


LENGTH_BUCKETS = ("short", "medium", "long")


class BehaviorTracker:
    """Folds events into patterns. Idempotent over the last `seen_capacity` event ids."""

    def __init__(
        self, patterns: Iterable[Pattern] = (), settings: TrackerSettings | None = None
    ) -> None:
        self._settings = settings or TrackerSettings()
        self._rows: dict[tuple[str, str], Pattern] = {(p.kind, p.key): p for p in patterns}
        seen_row = self._rows.get((_SEEN, "ids"))
        self._seen: deque[str] = deque(
            seen_row.value if seen_row else (), maxlen=self._settings.seen_capacity
        )

    def patterns(self, kind: str | None = None) -> list[Pattern]:
        return [
            row for row in self._rows.values()
            if not row.internal and (kind is None or row.kind == kind)
        ]  # fmt: skip

    def all_rows(self) -> list[Pattern]:
        """Every row including bookkeeping, e.g. to persist a tracker built from scratch."""
        return list(self._rows.values())

    def observe(self, event: BehaviorEvent) -> list[Pattern]:
        if event.id in self._seen:
            return []
        changed: list[Pattern] = []
        if isinstance(event, MessageEvent):
            changed += self._observe_message(event)
        else:
            changed.append(self._observe_rating(event))
        self._seen.append(event.id)
        changed.append(self._put(_SEEN, "ids", list(self._seen), 1.0, len(self._seen), event.at))
        return changed

    # --- messages ------------------------------------------------------------------------

    def _observe_message(self, event: MessageEvent) -> list[Pattern]:
        changed: list[Pattern] = []
        topics = event.topics or tuple(keywords(event.text, self._settings.keywords_per_message))
        for topic in dict.fromkeys(t.strip().lower() for t in topics if t.strip()):
            changed.append(self._count_topic(topic, event.at))
        changed.append(self._count_hour(event.at))

        terms = content_terms(event.text)
        rephrase = self._rephrase_of_last(event, terms)
        if rephrase is not None:
            changed.append(rephrase)
        changed.append(
            self._put(
                _LAST_MESSAGE,
                "last",
                {
                    "id": event.id,
                    "conversation_id": event.conversation_id,
                    "at": event.at.isoformat(),
                    "terms": sorted(terms),
                },
                1.0,
                1,
                event.at,
            )
        )
        return changed

    def _count_topic(self, topic: str, at: datetime) -> Pattern:
        row = self._rows.get((TOPIC, topic))
        count = (row.count if row else 0) + 1
        first_seen = row.value["first_seen"] if row else at.isoformat()
        value = {"first_seen": first_seen, "last_seen": at.isoformat()}
        return self._put(TOPIC, topic, value, count / (count + 5), count, at)

    def _count_hour(self, at: datetime) -> Pattern:
        row = self._rows.get((ACTIVE_HOURS, "hour_of_day"))
        histogram = list(row.value["histogram"]) if row else [0] * 24
        histogram[at.hour] += 1
        total = sum(histogram)
        peaks = sorted((h for h in range(24) if histogram[h]), key=lambda h: (-histogram[h], h))
        value = {"histogram": histogram, "peak_hours": sorted(peaks[:3])}
        return self._put(ACTIVE_HOURS, "hour_of_day", value, total / (total + 20), total, at)

    def _rephrase_of_last(self, event: MessageEvent, terms: set[str]) -> Pattern | None:
        """A very similar message soon after the last one means the last answer missed."""
        last = self._rows.get((_LAST_MESSAGE, "last"))
        settings = self._settings
        if last is None or event.previous_answer_id is None:
            return None
        previous = last.value
        if previous["conversation_id"] != event.conversation_id:
            return None
        elapsed = event.at - datetime.fromisoformat(previous["at"])
        if not timedelta(0) <= elapsed <= settings.rephrase_window:
            return None
        previous_terms = set(previous["terms"])
        if min(len(terms), len(previous_terms)) < settings.rephrase_min_terms:
            return None
        similarity = jaccard(terms, previous_terms)
        if similarity < settings.rephrase_similarity:
            return None
        value = {
            "rephrased_by": event.id,
            "previous_message_id": previous["id"],
            "similarity": round(similarity, 3),
            "seconds_later": round(elapsed.total_seconds(), 1),
            "document_ids": list(event.previous_answer_document_ids),
        }
        return self._put(
            IMPLICIT_NEGATIVE, event.previous_answer_id, value, round(similarity, 3), 1, event.at
        )

    # --- ratings -------------------------------------------------------------------------

    def _observe_rating(self, event: RatingEvent) -> Pattern:
        """Mean rating per answer-length bucket; the best-rated bucket is the preference."""
        row = self._rows.get((ANSWER_LENGTH, "preferred"))
        buckets = (
            {name: dict(stats) for name, stats in row.value["buckets"].items()}
            if row
            else {name: {"n": 0, "sum": 0} for name in LENGTH_BUCKETS}
        )
        bucket = self._bucket(event.answer_length_words)
        buckets[bucket]["n"] += 1
        buckets[bucket]["sum"] += event.rating
        preferred, confidence = _preferred_bucket(buckets)
        total = sum(stats["n"] for stats in buckets.values())
        value = {"preferred": preferred, "buckets": buckets}
        return self._put(ANSWER_LENGTH, "preferred", value, confidence, total, event.at)

    def _bucket(self, words: int) -> str:
        if words < self._settings.short_answer_words:
            return "short"
        if words > self._settings.long_answer_words:
            return "long"
        return "medium"

    def _put(
        self, kind: str, key: str, value: Any, confidence: float, count: int, at: datetime
    ) -> Pattern:
        row = Pattern(kind, key, value, round(confidence, 4), count, at)
        self._rows[(kind, key)] = row
        return row


def _preferred_bucket(buckets: dict[str, dict[str, int]]) -> tuple[str | None, float]:
    """The bucket with the best mean rating (needs 2+ ratings), and how sure that is.

    Confidence grows with the number of ratings in the winning bucket and with its lead
    over the runner-up (a full rating point of lead counts as certain).
    """
    means = {name: stats["sum"] / stats["n"] for name, stats in buckets.items() if stats["n"] >= 2}
    if not means:
        return None, 0.0
    ranked = sorted(means, key=lambda name: -means[name])
    best = ranked[0]
    support = buckets[best]["n"] / (buckets[best]["n"] + 3)
    lead = min(1.0, means[best] - means[ranked[1]]) if len(ranked) > 1 else 0.5
    return best, max(0.0, support * lead)
