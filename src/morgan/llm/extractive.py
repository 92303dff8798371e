"""An answer without a model: the source sentences that best match the question.

This is the last line of the LLM fallback chain (and the default when no model is
available), so it must never fail and must never invent: every sentence it returns is
copied from a source and carries that source's `[n]`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator

import msgspec

from morgan.components import ComponentHealth
from morgan.llm.base import Generation, GenerationRequest, SourcePassage
from morgan.llm.tokens import estimate_tokens
from morgan.text import content_terms, split_sentences

NOT_FOUND = "I could not find this in your documents."


class _Sentence(msgspec.Struct, frozen=True):
    source_rank: int
    position: int
    n: int
    text: str
    terms: tuple[str, ...]


def cite(sentence: str, n: int) -> str:
    """`It is tall.` -> `It is tall [1].` (the marker goes before closing punctuation)."""
    body = sentence.rstrip(".!?")
    return f"{body} [{n}]{sentence[len(body) :]}" if body else f"{sentence} [{n}]"


class ExtractiveLLM:
    """Scores every source sentence with BM25 against the question's content words and
    returns the best few, each followed by its citation. Deterministic."""

    name = "extractive"

    def __init__(
        self, *, max_sentences: int = 3, min_score: float = 0.5, k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.max_sentences = max_sentences
        self.min_score = min_score
        self.k1 = k1
        self.b = b

    @property
    def context_window(self) -> int:
        return 1_000_000

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def _sentences(self, sources: tuple[SourcePassage, ...]) -> list[_Sentence]:
        out = []
        for rank, source in enumerate(sources):
            for position, text in enumerate(split_sentences(source.text)):
                out.append(_Sentence(rank, position, source.n, text, tuple(content_terms(text))))
        return out

    def select(self, request: GenerationRequest) -> list[str]:
        """The answer as a list of `sentence [n]` pieces; empty when nothing matches."""
        query = set(content_terms(request.question))
        sentences = [s for s in self._sentences(request.sources) if s.terms]
        if not query or not sentences:
            return []
        doc_freq = Counter(term for s in sentences for term in set(s.terms))
        avg_len = sum(len(s.terms) for s in sentences) / len(sentences)
        total = len(sentences)

        def score(sentence: _Sentence) -> float:
            tf = Counter(sentence.terms)
            norm = self.k1 * (1 - self.b + self.b * len(sentence.terms) / avg_len)
            value = 0.0
            for term in query & tf.keys():
                idf = math.log(1 + (total - doc_freq[term] + 0.5) / (doc_freq[term] + 0.5))
                value += idf * tf[term] * (self.k1 + 1) / (tf[term] + norm)
            return value

        scored = [(score(s), s) for s in sentences]
        best = sorted(
            ((value, s) for value, s in scored if value >= self.min_score),
            key=lambda item: (-item[0], item[1].source_rank, item[1].position),
        )
        budget = request.max_tokens
        pieces: list[str] = []
        for _, sentence in best[: self.max_sentences]:
            piece = cite(sentence.text, sentence.n)
            cost = estimate_tokens(piece)
            if pieces and cost > budget:
                break
            budget -= cost
            pieces.append(piece)
        return pieces

    def _pieces(self, request: GenerationRequest) -> list[str]:
        pieces = self.select(request)
        if not pieces:
            return [NOT_FOUND]
        return [piece if i == 0 else f" {piece}" for i, piece in enumerate(pieces)]

    async def generate(self, request: GenerationRequest) -> Generation:
        text = "".join(self._pieces(request))
        return Generation(
            text=text,
            model=self.name,
            prompt_tokens=estimate_tokens(request.question),
            completion_tokens=estimate_tokens(text),
        )

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        for piece in self._pieces(request):
            yield piece

    async def health(self) -> ComponentHealth:
        return ComponentHealth("llm", self.name, "up", "answers by quoting sources")
