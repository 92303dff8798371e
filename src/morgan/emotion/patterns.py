"""Emotional patterns over a user's recent history.

Pure functions over a bounded window (the last `MAX_WINDOW` records within `window`), so
recomputing after every message costs microseconds; `PatternWindow` keeps that window
incrementally for callers that hold it in memory.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Literal

import msgspec

PatternKind = Literal["time_of_day_stress", "rising_frustration", "dominant_emotion"]
TimeOfDay = Literal["night", "morning", "afternoon", "evening"]

STRESS_EKMAN = frozenset({"anger", "fear", "sadness", "disgust"})
FRUSTRATION_LABELS = frozenset({"anger", "annoyance", "disapproval", "disgust", "disappointment"})
MAX_WINDOW = 500


class EmotionRecord(msgspec.Struct, frozen=True):
    timestamp: datetime
    label: str
    ekman: str
    intensity: float
    conversation_id: str


class EmotionPattern(msgspec.Struct, frozen=True):
    kind: PatternKind
    description: str
    confidence: float  # in [0,1]
    count: int  # records that support the pattern
    detail: dict[str, str | float | int] = {}


RecordLike = EmotionRecord | tuple[datetime, str, str, float, str]


def _as_record(item: RecordLike) -> EmotionRecord:
    return item if isinstance(item, EmotionRecord) else EmotionRecord(*item)


def time_of_day(moment: datetime, tz: tzinfo | None = None) -> TimeOfDay:
    local = moment.astimezone(tz) if tz is not None and moment.tzinfo is not None else moment
    hour = local.hour
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


def _wilson_lower_bound(successes: int, total: int, z: float = 1.64) -> float:
    """A proportion we are ~95% sure is at least this high; small samples score low."""
    if total == 0:
        return 0.0
    p = successes / total
    denom = 1 + z * z / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, (centre - margin) / denom)


def recent_window(
    history: Iterable[RecordLike], now: datetime, window: timedelta = timedelta(days=14)
) -> list[EmotionRecord]:
    """Records within `window` before `now`, oldest first, at most MAX_WINDOW of them."""
    start = now - window
    kept = [r for r in map(_as_record, history) if start <= r.timestamp <= now]
    kept.sort(key=lambda r: r.timestamp)
    return kept[-MAX_WINDOW:]


def time_of_day_stress(
    records: Sequence[EmotionRecord], tz: tzinfo | None = None, min_count: int = 3
) -> list[EmotionPattern]:
    """Times of day where stress-family emotions recur clearly more than at other times."""
    if not records:
        return []
    by_slot: dict[str, list[EmotionRecord]] = {}
    for record in records:
        by_slot.setdefault(time_of_day(record.timestamp, tz), []).append(record)
    total_stress = sum(r.ekman in STRESS_EKMAN for r in records)
    patterns = []
    for slot, slot_records in by_slot.items():
        stressed = [r for r in slot_records if r.ekman in STRESS_EKMAN]
        days = {r.timestamp.astimezone(tz).date() if tz else r.timestamp.date() for r in stressed}
        if len(stressed) < min_count or len(days) < 2:
            continue
        others = len(records) - len(slot_records)
        other_rate = (total_stress - len(stressed)) / others if others else 0.0
        rate = len(stressed) / len(slot_records)
        if rate < 0.5 or rate < 1.5 * other_rate:
            continue
        confidence = _wilson_lower_bound(len(stressed), len(slot_records))
        patterns.append(
            EmotionPattern(
                kind="time_of_day_stress",
                description=f"stress tends to show up in the {slot}",
                confidence=round(confidence, 3),
                count=len(stressed),
                detail={
                    "time_of_day": slot,
                    "rate": round(rate, 3),
                    "other_rate": round(other_rate, 3),
                    "days": len(days),
                },
            )
        )
    return sorted(patterns, key=lambda p: -p.confidence)


def _frustration(record: EmotionRecord) -> float:
    return record.intensity if record.label in FRUSTRATION_LABELS else 0.0


def rising_frustration(
    records: Sequence[EmotionRecord], conversation_id: str, last_n: int = 8, min_count: int = 2
) -> EmotionPattern | None:
    """Frustration climbing over the last messages of one conversation (least-squares slope)."""
    turns = [r for r in records if r.conversation_id == conversation_id][-last_n:]
    if len(turns) < 3:
        return None
    values = [_frustration(r) for r in turns]
    frustrated = sum(v > 0 for v in values)
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    var_x = sum((i - mean_x) ** 2 for i in range(n))
    slope = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values)) / var_x
    if frustrated < min_count or slope <= 0.02 or values[-1] < 0.3:
        return None
    increases = sum(b > a for a, b in pairwise(values))
    steadiness = increases / (n - 1)
    confidence = min(1.0, 0.5 * min(1.0, slope * n) + 0.3 * steadiness + 0.2 * values[-1])
    return EmotionPattern(
        kind="rising_frustration",
        description="frustration is rising in this conversation",
        confidence=round(confidence, 3),
        count=frustrated,
        detail={
            "conversation_id": conversation_id,
            "slope": round(slope, 3),
            "latest_intensity": round(values[-1], 3),
            "turns": n,
        },
    )


def dominant_emotion(
    records: Sequence[EmotionRecord], now: datetime, days: int = 7, min_count: int = 3
) -> EmotionPattern | None:
    """The non-neutral emotion seen most often in the last `days`, weighted by intensity."""
    start = now - timedelta(days=days)
    week = [r for r in records if start <= r.timestamp <= now and r.label != "neutral"]
    if len(week) < min_count:
        return None
    counts = Counter(r.label for r in week)
    weight: Counter[str] = Counter()
    for r in week:
        weight[r.label] += 0.5 + r.intensity  # type: ignore[assignment]
    label, _ = weight.most_common(1)[0]
    count = counts[label]
    if count < min_count:
        return None
    share = count / len(week)
    return EmotionPattern(
        kind="dominant_emotion",
        description=f"{label} has been the main emotion over the last {days} days",
        confidence=round(_wilson_lower_bound(count, len(week)), 3),
        count=count,
        detail={"label": label, "share": round(share, 3), "emotional_messages": len(week)},
    )


def detect_patterns(
    history: Iterable[RecordLike],
    now: datetime,
    conversation_id: str | None = None,
    tz: tzinfo | None = None,
) -> list[EmotionPattern]:
    """All patterns over the bounded recent window, most confident first."""
    records = recent_window(history, now)
    found: list[EmotionPattern] = list(time_of_day_stress(records, tz))
    if conversation_id is not None and (rising := rising_frustration(records, conversation_id)):
        found.append(rising)
    if dominant := dominant_emotion(records, now):
        found.append(dominant)
    return sorted(found, key=lambda p: -p.confidence)


class PatternWindow:
    """A per-user bounded window updated one message at a time."""

    def __init__(self, window: timedelta = timedelta(days=14), tz: tzinfo | None = None) -> None:
        self._window = window
        self._tz = tz
        self._records: deque[EmotionRecord] = deque(maxlen=MAX_WINDOW)

    def __len__(self) -> int:
        return len(self._records)

    def add(self, item: RecordLike) -> list[EmotionPattern]:
        record = _as_record(item)
        self._records.append(record)
        while self._records and self._records[0].timestamp < record.timestamp - self._window:
            self._records.popleft()
        return detect_patterns(self._records, record.timestamp, record.conversation_id, self._tz)
