"""BM25-style sparse vectors for Qdrant's lexical half of hybrid search.

Documents carry the BM25 term-frequency part, `tf*(k1+1) / (tf + k1*(1-b+b*len/avg_len))`;
queries carry 1.0 per distinct term; the collection's sparse vector is configured with
`Modifier.IDF`, so Qdrant multiplies in the inverse document frequency from its own,
always current, statistics. The dot product is then the BM25 score.

Term ids are CRC-32 of the stemmed term: stable across processes and releases (Python's
`hash()` is salted per process), and inside Qdrant's u32 index space.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import msgspec
import snowballstemmer

SparseVector = tuple[list[int], list[float]]
"""`(indices, values)`, indices ascending and unique, as Qdrant's `SparseVector` wants."""

DEFAULT_AVG_LEN: dict[str, float] = {"coarse": 112.0, "medium": 57.0, "fine": 28.0}
"""Mean analysed-term count of chunks per granularity, measured on the sample documents
with the default chunk sizes (stop words removed); override with corpus statistics."""

# Unicode-aware: letters and digits of any script, joined by inner apostrophes or dots
# ("don't", "e.g", "3.14"); underscores split ("snake_case" -> "snake", "case").
_TOKEN = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*")

ENGLISH_STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each few for from further had hadn't has hasn't
    have haven't having he he'd he'll he's her here here's hers herself him himself his
    how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more
    most mustn't my myself no nor not of off on once only or other ought our ours
    ourselves out over own same shan't she she'd she'll she's should shouldn't so some
    such than that that's the their theirs them themselves then there there's these they
    they'd they'll they're they've this those through to too under until up very was
    wasn't we we'd we'll we're we've were weren't what what's when when's where where's
    which while who who's whom why why's with won't would wouldn't you you'd you'll
    you're you've your yours yourself yourselves
    """.split()  # noqa: SIM905 - a word list reads best as prose
)


class BM25Parameters(msgspec.Struct, frozen=True):
    k1: float = 1.2
    b: float = 0.75
    avg_len: dict[str, float] = msgspec.field(default_factory=lambda: dict(DEFAULT_AVG_LEN))
    default_avg_len: float = 57.0
    """Used when `encode_document` is given neither `avg_len` nor a known granularity."""


class Analyzer:
    """Text to index terms: lowercase, word split, stop words out, Snowball English stems."""

    def __init__(
        self,
        *,
        stopwords: Iterable[str] = ENGLISH_STOPWORDS,
        language: str = "english",
        min_length: int = 1,
        max_length: int = 40,
    ) -> None:
        self._stopwords = frozenset(word.lower() for word in stopwords)
        self._stemmer = snowballstemmer.stemmer(language)
        self._min_length = min_length
        self._max_length = max_length
        self._stem_lock = threading.Lock()  # a Snowball stemmer keeps per-call state
        self._stem = lru_cache(maxsize=65536)(self._stem_word)

    def _stem_word(self, word: str) -> str:
        with self._stem_lock:
            return self._stemmer.stemWord(word)  # type: ignore[no-any-return]

    def terms(self, text: str) -> list[str]:
        terms: list[str] = []
        for match in _TOKEN.finditer(text.lower()):
            word = match.group(0).replace("’", "'")
            if word in self._stopwords or not self._min_length <= len(word) <= self._max_length:
                continue
            if "'" in word:  # possessives and contractions: "matrix's" -> "matrix"
                word = word.split("'", 1)[0]
                if not word or word in self._stopwords:
                    continue
            terms.append(self._stem(word) if word.isalpha() else word)
        return terms


def term_index(term: str) -> int:
    """Stable unsigned 32-bit id of an analysed term."""
    return zlib.crc32(term.encode("utf-8"))


class SparseEncoder:
    """BM25 document vectors and binary query vectors over the same analyser."""

    def __init__(
        self, parameters: BM25Parameters | None = None, *, analyzer: Analyzer | None = None
    ) -> None:
        self.parameters = parameters or BM25Parameters()
        self.analyzer = analyzer or Analyzer()

    def encode_document(
        self, text: str, *, granularity: str | None = None, avg_len: float | None = None
    ) -> SparseVector:
        terms = self.analyzer.terms(text)
        if not terms:
            return [], []
        k1, b = self.parameters.k1, self.parameters.b
        average = avg_len or self.parameters.avg_len.get(
            granularity or "", self.parameters.default_avg_len
        )
        length_norm = k1 * (1.0 - b + b * len(terms) / average)
        weights: dict[int, float] = {}
        for term, tf in Counter(terms).items():
            index = term_index(term)
            # Two terms hashing to one id (rare) add up, as one term would.
            weights[index] = weights.get(index, 0.0) + tf * (k1 + 1.0) / (tf + length_norm)
        return _sorted(weights)

    def encode_documents(
        self, texts: Sequence[str], *, granularity: str | None = None
    ) -> list[SparseVector]:
        return [self.encode_document(text, granularity=granularity) for text in texts]

    def encode_query(self, text: str) -> SparseVector:
        return _sorted({term_index(term): 1.0 for term in self.analyzer.terms(text)})


def _sorted(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return indices, [weights[index] for index in indices]
