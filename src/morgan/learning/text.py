"""Cheap text features for learning: content words, set similarity, topic keywords.

No model is needed: these only have to recognise "the same question, reworded" and pull
topic keywords, and they run on every message. Words, stems and stop words come from the
one text toolkit, `morgan.text`.
"""

from __future__ import annotations

from collections.abc import Iterable

from morgan.text import CONVERSATION_STOPWORDS as STOPWORDS
from morgan.text import stem, tokens


def content_terms(text: str) -> set[str]:
    """Stemmed words that carry meaning; stopwords and very short words dropped."""
    return {stem(t) for t in tokens(text) if t not in STOPWORDS and len(t) > 2}


def jaccard(left: Iterable[str], right: Iterable[str]) -> float:
    a, b = set(left), set(right)
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def keywords(text: str, limit: int = 5) -> list[str]:
    """Topic keywords of a message: its longest distinct content words, in order of use.

    Unstemmed so they read well when shown back to the user.
    """
    seen: dict[str, None] = {}
    for token in tokens(text):
        if token in STOPWORDS or len(token) < 4 or token.isdigit() or token in seen:
            continue
        seen[token] = None
    order = list(seen)
    ranked = set(sorted(order, key=lambda t: (-len(t), order.index(t)))[:limit])
    return [t for t in order if t in ranked]
