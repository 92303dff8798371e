"""TF-IDF word uni+bigram logistic regression, evaluated without scikit-learn.

Reproduces sklearn's `TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)` (default
token pattern, lower-casing, l2 norm) followed by one-vs-rest logistic regression, so the
trained weights can ship as plain arrays. Lexical cues ("thanks", "lol", "sorry for your
loss") are where GoEmotions' labels live, and the sentence embedding blurs them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import pairwise

import numpy as np

SKLEARN_TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")


def ngrams(text: str) -> list[str]:
    tokens = SKLEARN_TOKEN_PATTERN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


class TfidfLogistic:
    """Sparse text -> 28 logits from a vocabulary, idf weights and per-label coefficients."""

    def __init__(
        self, vocabulary: list[str], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray
    ) -> None:
        self.index = {term: i for i, term in enumerate(vocabulary)}
        self.idf = idf.astype(np.float32)
        self.coef = coef.astype(np.float32)  # (vocab, labels)
        self.intercept = intercept.astype(np.float32)

    def logits(self, texts: list[str]) -> np.ndarray:
        out = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            counts = Counter(t for t in ngrams(text) if t in self.index)
            if not counts:
                continue
            columns = np.fromiter((self.index[t] for t in counts), dtype=np.int64)
            tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float32)
            values = tf * self.idf[columns]
            values /= np.linalg.norm(values)
            out[row] += values @ self.coef[columns]
        return out
