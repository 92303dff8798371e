"""Reciprocal Rank Fusion: combines ranked lists without calibrating their scores."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

RRF_K = 60


def reciprocal_rank_fusion(
    ranked_lists: Iterable[Sequence[K]], *, k: int = RRF_K, weights: Sequence[float] | None = None
) -> dict[K, float]:
    """score(key) = sum over lists of weight / (k + rank); a key counts once per list (best rank)."""
    scores: dict[K, float] = {}
    for i, ranked in enumerate(ranked_lists):
        weight = 1.0 if weights is None else weights[i]
        seen: set[K] = set()
        rank = 0
        for key in ranked:
            if key in seen:
                continue
            seen.add(key)
            rank += 1
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return scores
