"""Which phrases in a message carry its emotion.

Two cheap sources: a cue lexicon learned from GoEmotions (log-odds with an informative
Dirichlet prior, unigrams and bigrams, shipped as `artifacts/cues.json`), and optionally
occlusion — re-score the message with each content word removed, in one batch, and keep
the words whose removal drops the label's probability most.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np

from morgan.emotion.base import EmotionResult
from morgan.emotion.head import DEFAULT_ARTIFACT_DIR
from morgan.emotion.labels import GOEMOTIONS_LABELS

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?", re.IGNORECASE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "i",
        "me",
        "my",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "we",
        "they",
        "them",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "just",
        "so",
        "very",
        "really",
    ]
)

ScoreFn = Callable[[Sequence[str]], Awaitable[np.ndarray]]


class Trigger(msgspec.Struct, frozen=True):
    phrase: str
    label: str
    weight: float
    start: int
    end: int
    source: Literal["lexicon", "occlusion"] = "lexicon"


@lru_cache(maxsize=4)
def load_cues(path: Path = DEFAULT_ARTIFACT_DIR / "cues.json") -> dict[str, dict[str, float]]:
    """label -> {phrase: weight in (0,1]}."""
    return json.loads(Path(path).read_text())


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0).lower(), m.start(), m.end()) for m in TOKEN.finditer(text)]


def extract_triggers(
    text: str,
    result: EmotionResult,
    cues: dict[str, dict[str, float]] | None = None,
    max_triggers: int = 5,
) -> list[Trigger]:
    """Lexicon cues for the message's detected labels, strongest first (microseconds)."""
    cues = load_cues() if cues is None else cues
    labels = [l for l in result.labels if l != "neutral"]
    if not labels:
        return []
    tokens = _tokens(text)
    found: dict[tuple[int, int, str], Trigger] = {}
    for label in labels:
        lexicon = cues.get(label, {})
        score = result.scores.get(label, 0.0)
        for n in (2, 1):
            for i in range(len(tokens) - n + 1):
                phrase = " ".join(t[0] for t in tokens[i : i + n])
                weight = lexicon.get(phrase)
                if weight is None:
                    continue
                start, end = tokens[i][1], tokens[i + n - 1][2]
                if n == 1 and any(s <= start and end <= e for s, e, _ in found):
                    continue  # already inside a bigram
                found[(start, end, label)] = Trigger(
                    text[start:end], label, round(weight * score, 4), start, end
                )
    ranked = sorted(found.values(), key=lambda t: -t.weight)
    return ranked[:max_triggers]


async def occlusion_triggers(
    text: str,
    result: EmotionResult,
    score: ScoreFn,
    max_words: int = 12,
    min_drop: float = 0.05,
) -> list[Trigger]:
    """Words whose removal lowers the top label's probability by at least `min_drop`.

    One batched call to `score` (e.g. `detector.score_texts`) with up to `max_words` variants.
    """
    if result.label == "neutral":
        return []
    column = GOEMOTIONS_LABELS.index(result.label)
    words = [t for t in _tokens(text) if t[0] not in STOPWORDS][:max_words]
    if not words:
        return []
    variants = [(text[:start] + text[end:]).strip() for _, start, end in words]
    probs = await score(variants)
    base = result.scores[result.label]
    triggers = [
        Trigger(
            text[start:end],
            result.label,
            round(base - float(p[column]), 4),
            start,
            end,
            "occlusion",
        )
        for (_, start, end), p in zip(words, probs, strict=False)
        if base - float(p[column]) >= min_drop
    ]
    return sorted(triggers, key=lambda t: -t.weight)
