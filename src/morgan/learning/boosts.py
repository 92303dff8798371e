"""Per-user document boosts learned from feedback on answers that cited the document.

How a boost is applied: `adjusted = score + boost * abs(score)`, i.e. `score * (1 + boost)`
for the non-negative fused RRF scores it is meant for. With the default bound of 0.5 a
document's fused score is scaled by a factor in [0.5, 1.5], which can move it a few places
but never bury or pin it. Being multiplicative it does not depend on RRF's scale (k=60 makes
fused scores tiny).

Updates saturate: a step moves the boost by `step * (1 - b/bound)` toward the bound it
approaches, so repeated feedback converges on the bound instead of crossing it, and a
document with a negative history recovers faster from positive feedback than it sank.
Boosts decay toward 0 with a half-life; time is always passed in, never read from a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import msgspec

from morgan.learning.feedback import Feedback

T = TypeVar("T")


class Boost(msgspec.Struct, frozen=True):
    """A document's boost as it was at `updated_at`; read it through `BoostPolicy.current`."""

    document_id: str
    value: float
    updated_at: datetime
    count: int = 0


def _default_rating_steps() -> dict[int, float]:
    return {1: -0.2, 2: -0.1, 3: 0.0, 4: 0.1, 5: 0.2}


class BoostPolicy(msgspec.Struct, frozen=True):
    bound: float = 0.5
    half_life: timedelta = timedelta(days=30)
    rating_steps: dict[int, float] = msgspec.field(default_factory=_default_rating_steps)
    rephrase_step: float = -0.05
    negligible: float = 1e-3

    def current(self, boost: Boost | None, now: datetime) -> float:
        """The boost decayed from its last update to `now` (never grows if `now` is earlier)."""
        if boost is None:
            return 0.0
        elapsed = max(0.0, (now - boost.updated_at).total_seconds())
        half_life = self.half_life.total_seconds()
        factor = 0.5 ** (elapsed / half_life) if half_life > 0 else 1.0
        value = boost.value * factor
        return 0.0 if abs(value) < self.negligible else value

    def step_for(self, feedback: Feedback) -> float:
        if feedback.rating is not None:
            return self.rating_steps.get(feedback.rating, 0.0)
        if feedback.implicit == "rephrase":
            return self.rephrase_step
        return 0.0

    def updated(self, boost: Boost | None, document_id: str, step: float, now: datetime) -> Boost:
        current = self.current(boost, now)
        if step >= 0:
            value = current + step * (1 - current / self.bound)
        else:
            value = current + step * (1 + current / self.bound)
        value = max(-self.bound, min(self.bound, value))
        count = (boost.count if boost else 0) + 1
        updated_at = max(now, boost.updated_at) if boost else now
        return Boost(document_id=document_id, value=value, updated_at=updated_at, count=count)


DEFAULT_BOOST_POLICY = BoostPolicy()


class DocumentBoosts:
    """One user's boosts. `record` is idempotent per feedback id within this object; across
    processes the feedback repository's unique id gives the same guarantee."""

    def __init__(
        self,
        boosts: Mapping[str, Boost] | Iterable[Boost] = (),
        policy: BoostPolicy = DEFAULT_BOOST_POLICY,
    ) -> None:
        items = boosts.values() if isinstance(boosts, Mapping) else boosts
        self._boosts: dict[str, Boost] = {boost.document_id: boost for boost in items}
        self._policy = policy
        self._applied: set[str] = set()

    @property
    def policy(self) -> BoostPolicy:
        return self._policy

    def record(self, feedback: Feedback) -> list[Boost]:
        """Apply feedback to every document the answer cited; returns the boosts changed."""
        if feedback.id in self._applied:
            return []
        self._applied.add(feedback.id)
        step = self._policy.step_for(feedback)
        if step == 0.0:
            return []
        changed = []
        for document_id in dict.fromkeys(feedback.document_ids):
            boost = self._policy.updated(
                self._boosts.get(document_id), document_id, step, feedback.at
            )
            self._boosts[document_id] = boost
            changed.append(boost)
        return changed

    def value(self, document_id: str, now: datetime) -> float:
        return self._policy.current(self._boosts.get(document_id), now)

    def boosts(self) -> dict[str, Boost]:
        return dict(self._boosts)

    def apply(
        self, candidates: Sequence[tuple[str, float]], now: datetime
    ) -> list[tuple[str, float]]:
        return apply_boosts(candidates, self._boosts, now, self._policy)


def apply_boosts(
    candidates: Sequence[tuple[str, float]],
    boosts: Mapping[str, Boost],
    now: datetime,
    policy: BoostPolicy = DEFAULT_BOOST_POLICY,
) -> list[tuple[str, float]]:
    """Re-score (document_id, fused_score) pairs and sort best first; ties keep input order."""
    ranked = rerank_with_boosts(candidates, lambda c: c[0], lambda c: c[1], boosts, now, policy)
    return [(candidate[0], score) for candidate, score in ranked]


def rerank_with_boosts(
    items: Sequence[T],
    document_id: Callable[[T], str],
    score: Callable[[T], float],
    boosts: Mapping[str, Boost],
    now: datetime,
    policy: BoostPolicy = DEFAULT_BOOST_POLICY,
) -> list[tuple[T, float]]:
    """`apply_boosts` for any candidate type (e.g. fused chunk hits): returns (item, score).

    Several chunks of one document all get that document's boost.
    """
    rescored = []
    for position, item in enumerate(items):
        base = score(item)
        boost = policy.current(boosts.get(document_id(item)), now)
        rescored.append((base + boost * abs(base), position, item))
    rescored.sort(key=lambda entry: (-entry[0], entry[1]))
    return [(item, adjusted) for adjusted, _, item in rescored]
