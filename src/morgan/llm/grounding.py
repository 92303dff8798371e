"""Cite the sentences a model left uncited, from the source they were taken from.

The bundled 270M base model copies facts from its sources but rarely writes `[n]`, so its
answers reach the user with no way to check them. After `clean_citations`, every answer
sentence without a marker is matched against the sources with the extractive backend's
BM25 scoring (the same terms, stemming and weights that pick extractive answers); when one
source sentence covers enough of it, that source's `[n]` is appended. A sentence that no
source supports (the model's own words, a hallucination) stays uncited, and so does one
whose numbers or names are not in the source (`issued in 2018` when the source says 2023):
lexical overlap cannot prove a claim, but it must not vouch for facts the source lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from morgan.llm.base import GenerationRequest, SourcePassage
from morgan.llm.extractive import NOT_FOUND, ExtractiveLLM, cite, content_terms, split_sentences

DEFAULT_MIN_SCORE = 1.0
"""BM25 score (answer sentence as the query, source sentences as the corpus) below which
no source is close enough to cite."""

DEFAULT_MIN_COVERAGE = 0.5
"""Share of the answer sentence's content words the chosen source sentence must contain,
so one shared rare word cannot attach a citation to an otherwise unsupported claim."""

DEFAULT_MIN_SHARED_TERMS = 2
"""Content words the sentence and the source sentence must share: a one-word heading or
reply (`Costs:`) is not a claim a source can vouch for."""

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MARKER_TEXT = r"\[\s*\d+\s*(?:[,;]\s*\d+\s*)*\]"
_MARKER = re.compile(_MARKER_TEXT)
# A sentence ends at .!? (plus closing quotes/brackets and any markers written after the
# stop, as in `It is tall. [1]`) where the next sentence starts with a capital or a digit,
# the rule `extractive.split_sentences` uses, so a quoted source sentence is one piece here
# too; a line break also ends one. Fenced code is matched whole so it is never touched.
_BOUNDARY = re.compile(
    r"```.*?(?:```|\Z)"
    rf"|[.!?]+[\"'”’)\]]*(?:[ \t]*{_MARKER_TEXT})*(?=[ \t]+[\"'“‘(\[]?[A-Z0-9]|\s*\Z|[ \t]*\n)"
    r"|\n+",
    re.DOTALL,
)


def _units(text: str) -> Iterator[tuple[str, bool]]:
    """Split `text` into consecutive pieces (sentence or code block, is_code); joining the
    pieces gives `text` back unchanged."""
    position = 0
    for match in _BOUNDARY.finditer(text):
        if match.group().startswith("```"):
            if match.start() > position:
                yield text[position:match.start()], False
            yield match.group(), True
        else:
            yield text[position:match.end()], False
        position = match.end()
    if position < len(text):
        yield text[position:], False


class _SourceMatcher:
    """Finds the source sentence that best matches an answer sentence."""

    def __init__(self, sources: Sequence[SourcePassage], min_score: float, min_coverage: float,
                 min_shared_terms: int) -> None:
        self.sources = tuple(sources)
        self.min_coverage = min_coverage
        self.min_shared_terms = min_shared_terms
        self.scorer = ExtractiveLLM(max_sentences=1, min_score=min_score)
        # `select` answers with `cite(sentence, n)`; map that string back to its source.
        self.origin: dict[str, tuple[int, frozenset[str]]] = {}
        self.passage_terms = {s.n: frozenset(content_terms(s.text)) for s in self.sources}
        for source in self.sources:
            for sentence in split_sentences(source.text):
                self.origin.setdefault(cite(sentence, source.n),
                                       (source.n, frozenset(content_terms(sentence))))

    def best(self, sentence: str) -> int | None:
        terms = set(content_terms(sentence))
        if not terms or not self.sources:
            return None
        picked = self.scorer.select(
            GenerationRequest(question=sentence, sources=self.sources, max_tokens=1_000_000)
        )
        if not picked or picked[0] not in self.origin:
            return None
        n, source_terms = self.origin[picked[0]]
        shared = len(terms & source_terms)
        if shared < self.min_shared_terms or shared / len(terms) < self.min_coverage:
            return None
        if not _specifics(sentence) <= self.passage_terms[n]:
            return None
        return n


def _specifics(sentence: str) -> set[str]:
    """Terms of the numbers and names in `sentence` (words holding a digit, or capitalised
    past the first word): the facts a wrong citation would most mislead about."""
    words = _WORD.findall(sentence)
    picked = [w for i, w in enumerate(words) if any(c.isdigit() for c in w) or (i and w[0].isupper())]
    return set(content_terms(" ".join(picked)))


def attach_citations(
    text: str,
    sources: Sequence[SourcePassage],
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_shared_terms: int = DEFAULT_MIN_SHARED_TERMS,
) -> tuple[str, int]:
    """Return `text` with `[n]` appended to each uncited sentence a source supports, and how
    many markers were added. Sentences that already cite, code blocks and sentences no
    source supports are left exactly as they were."""
    if not sources or not text.strip() or text.strip() == NOT_FOUND:
        return text, 0
    matcher = _SourceMatcher(sources, min_score, min_coverage, min_shared_terms)
    out: list[str] = []
    added = 0
    for unit, is_code in _units(text):
        body = unit.strip()
        if is_code or not body or _MARKER.search(unit):
            out.append(unit)
            continue
        n = matcher.best(body)
        if n is None:
            out.append(unit)
            continue
        lead = unit[: len(unit) - len(unit.lstrip())]
        trail = unit[len(unit.rstrip()):]
        out.append(f"{lead}{cite(body, n)}{trail}")
        added += 1
    return "".join(out), added


__all__ = ["DEFAULT_MIN_COVERAGE", "DEFAULT_MIN_SCORE", "DEFAULT_MIN_SHARED_TERMS", "attach_citations"]
