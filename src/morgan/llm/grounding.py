"""Grounded or silent (issue 8): only what a source supports reaches the user, cited by it.

The bundled 270M base model copies facts from its sources but rarely writes `[n]`, and
small models echo the question, play both sides of the chat or repeat the system prompt.
`Grounder` judges the streamed answer sentence by sentence: each one is matched against the
sources with the extractive backend's BM25 scoring (the same terms, stemming and weights
that pick extractive answers); when one source sentence covers enough of it, the sentence
is kept and cites that source. A sentence that no source supports (the model's own words,
a hallucination) is dropped, and so is one whose numbers or names are not in the source
(`issued in 2018` when the source says 2023): lexical overlap cannot prove a claim, but it
must not vouch for facts the source lacks. Echoed questions, fake turns and system-prompt
text are dropped too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from morgan.llm.base import GenerationRequest, SourcePassage
from morgan.llm.citations import clean_citations
from morgan.llm.extractive import ExtractiveLLM, cite
from morgan.llm.prompts import TEMPLATE_TOKEN
from morgan.text import content_terms, sentence_spans, split_sentences, words

DEFAULT_MIN_SCORE = 1.0
"""BM25 score (answer sentence as the query, source sentences as the corpus) below which
no source is close enough to cite."""

DEFAULT_MIN_COVERAGE = 0.5
"""Share of the answer sentence's content words the chosen source sentence must contain,
so one shared rare word cannot attach a citation to an otherwise unsupported claim."""

DEFAULT_MIN_SHARED_TERMS = 2
"""Content words the sentence and the source sentence must share: a one-word heading or
reply (`Costs:`) is not a claim a source can vouch for."""

_MARKER_TEXT = r"\[\s*\d+\s*(?:[,;]\s*\d+\s*)*\]"
_MARKER = re.compile(_MARKER_TEXT)
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_LEADING_MARKERS = re.compile(rf"(?:[ \t]*{_MARKER_TEXT})+")


def _units(text: str) -> Iterator[tuple[str, bool]]:
    """Split `text` into consecutive pieces (sentence or code block, is_code); joining the
    pieces gives `text` back unchanged. Sentences come from `morgan.text` with every line
    a unit (model output); markers written after the stop (`It is tall. [1]`) stay with
    the sentence they follow; fenced code is one piece, never touched."""
    position = 0
    for fence in [*_FENCE.finditer(text), None]:
        end = fence.start() if fence is not None else len(text)
        if end > position:
            for piece in _prose_pieces(text[position:end]):
                yield piece, False
        if fence is None:
            break
        yield fence.group(), True
        position = fence.end()


def _prose_pieces(segment: str) -> Iterator[str]:
    bounds: list[int] = []
    for start, end in sentence_spans(segment, lines=True):
        lead = _LEADING_MARKERS.match(segment, start)
        if lead is not None and bounds:
            bounds[-1] = lead.end()
            if lead.end() >= end:
                continue
        bounds.append(end)
    previous = 0
    for bound in bounds:
        if bound > previous:
            yield segment[previous:bound]
            previous = bound
    if previous < len(segment):
        yield segment[previous:]


class _SourceMatcher:
    """Finds the source sentence that best matches an answer sentence."""

    def __init__(
        self,
        sources: Sequence[SourcePassage],
        min_score: float,
        min_coverage: float,
        min_shared_terms: int,
    ) -> None:
        self.sources = tuple(sources)
        self.min_coverage = min_coverage
        self.min_shared_terms = min_shared_terms
        self.scorer = ExtractiveLLM(max_sentences=1, min_score=min_score)
        # `select` answers with `cite(sentence, n)`; map that string back to its source.
        self.origin: dict[str, tuple[int, frozenset[str]]] = {}
        self.passage_terms = {s.n: frozenset(content_terms(s.text)) for s in self.sources}
        for source in self.sources:
            for sentence in split_sentences(source.text):
                self.origin.setdefault(
                    cite(sentence, source.n), (source.n, frozenset(content_terms(sentence)))
                )

    def support(self, sentence: str) -> tuple[int, frozenset[str]] | None:
        """The source number and terms of the source sentence that vouches for `sentence`."""
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
        return n, source_terms


def _specifics(sentence: str) -> set[str]:
    """Terms of the numbers and names in `sentence` (words holding a digit, or capitalised
    past the first word): the facts a wrong citation would most mislead about."""
    found = words(sentence)
    picked = [
        w for i, w in enumerate(found) if any(c.isdigit() for c in w) or (i and w[0].isupper())
    ]
    return set(content_terms(" ".join(picked)))


# -- grounded or silent --------------------------------------------------------------------

# A line that opens another turn: everything from here on is the model playing both sides.
_NEXT_TURN = re.compile(
    r"^\s*(?:[#>*_ ]*)(?:question|user|human|system|sources?|context|instructions?|q)"
    r"\s*(?:\*\*|__)?\s*:",
    re.IGNORECASE,
)
# A label in front of the answer itself ("Answer: It is 50 [1].") is dropped, the rest kept.
_ANSWER_LABEL = re.compile(
    r"^(\s*)(?:[#>*_ ]*)(?:answer|assistant|morgan|response|a)"
    r"\s*(?:\*\*|__)?\s*:\s*",
    re.IGNORECASE,
)
_PLACEHOLDER_MARKER = re.compile(
    r"[ \t]?\[\s*(?:n|k|x|#|\.\.\.|…|source|citation|\d+\s*-\s*\d+)\s*\]", re.IGNORECASE
)
_ANY_MARKER = re.compile(rf"[ \t]?{_MARKER_TEXT}")
_OPEN_MARKERS = re.compile(r"\s*(?:\[[\d\s,;]*\]?\s*)*")
_SHINGLE = 4
_ECHO_TERMS = 3


class Grounder:
    """Turns a model's streamed text into what the user may see, sentence by sentence.

    Fed deltas in order, it releases whole sentences once they are complete. A sentence is
    dropped when it opens another turn ("Question:", "User:" — and everything after it),
    leaks the system prompt, only repeats the question, or (with sources) is not supported
    by any source sentence; a kept one cites the source that supports it, and only that
    one, so a document's fake `[7]` cannot point anywhere. Without sources (small talk) no
    sentence is cited. `text` is what was released; `dropped` counts what was not.
    """

    def __init__(
        self,
        sources: Sequence[SourcePassage],
        *,
        question: str,
        system: str = "",
        min_score: float = DEFAULT_MIN_SCORE,
        min_coverage: float = DEFAULT_MIN_COVERAGE,
        min_shared_terms: int = DEFAULT_MIN_SHARED_TERMS,
    ) -> None:
        self.sources = tuple(sources)
        self.matcher = (
            _SourceMatcher(self.sources, min_score, min_coverage, min_shared_terms)
            if self.sources
            else None
        )
        self.question_terms = frozenset(content_terms(question))
        self._question = " ".join(question.lower().split())
        self._system = _SystemPrint(system, [s.text for s in self.sources] + [question])
        self.pending = ""
        self.released: list[str] = []
        self.stopped = False
        self.dropped = 0
        self.added = 0
        self.removed_citations = 0

    @property
    def text(self) -> str:
        return "".join(self.released).strip()

    def feed(self, delta: str) -> list[str]:
        """Pieces of text ready to show, in order (possibly none yet)."""
        if self.stopped:
            return []
        self.pending += delta
        units = list(_units(self.pending))
        if len(units) < 2:
            return []
        # The last unit may still grow; a sentence followed only by whitespace may yet get
        # its `[n]` from the next delta, so it waits too.
        done, rest = units[:-1], units[-1][0]
        if done and _OPEN_MARKERS.fullmatch(rest):
            rest = done.pop()[0] + rest
        self.pending = rest
        return self._accept_all(done)

    def finish(self) -> list[str]:
        units = [] if self.stopped else list(_units(self.pending))
        self.pending = ""
        return self._accept_all(units)

    def _accept_all(self, units: Sequence[tuple[str, bool]]) -> list[str]:
        out = []
        for unit, is_code in units:
            piece = None if self.stopped else self._accept(unit, is_code)
            if piece:
                if not self.released:
                    piece = piece.lstrip()
                self.released.append(piece)
                out.append(piece)
        return out

    def _accept(self, unit: str, is_code: bool) -> str | None:
        if not unit.strip():
            return unit if self.released else None
        lead = unit[: len(unit) - len(unit.lstrip())]
        body = TEMPLATE_TOKEN.sub("", unit).strip()
        if _NEXT_TURN.match(body):
            self.stopped = True
            return None
        body = _ANSWER_LABEL.sub("", body).strip()
        body = _PLACEHOLDER_MARKER.sub("", body).strip()
        if not body:
            return None
        if self._system.leaks(body):
            self.dropped += 1
            return None
        if is_code:
            return self._accept_code(lead, body)
        bare = " ".join(_ANY_MARKER.sub("", body).split())
        bare = re.sub(r"\s+(?=[.,;:!?])", "", bare)
        terms = set(content_terms(bare))
        if (
            not terms
            or bare.lower() in self._question
            or (
                terms <= self.question_terms
                and (self.matcher is not None or len(terms) >= _ECHO_TERMS)
            )
        ):
            self.dropped += 1  # says nothing the question did not (a "Hello!" back is fine)
            return None
        if self.matcher is None:
            if bare != body:
                self.removed_citations += 1
            return lead + bare
        found = self.matcher.support(bare)
        if found is None or not (terms - self.question_terms) & found[1]:
            self.dropped += 1  # no source sentence vouches for what it adds
            return None
        n = found[0]
        cited, _ = clean_citations(body, len(self.sources))
        numbers = {
            int(x) for m in _MARKER.finditer(cited) for x in re.split(r"[,;]", m.group()[1:-1])
        }
        if n in numbers:
            return lead + cited
        if numbers:
            self.removed_citations += 1
        else:
            self.added += 1
        return lead + cite(bare, n)

    def _accept_code(self, lead: str, block: str) -> str | None:
        inner = " ".join(block.strip("`").split())
        if self.matcher is None or any(inner in " ".join(s.text.split()) for s in self.sources):
            return lead + block
        self.dropped += 1
        return None


class _SystemPrint:
    """What would show that the system prompt leaked: its runs of four words and its rare
    tokens (codes, all-caps words), minus whatever the sources or question also contain."""

    def __init__(self, system: str, allowed: Sequence[str]) -> None:
        allowed_words = [w.lower() for text in allowed for w in words(text)]
        allowed_set = set(allowed_words)
        allowed_shingles = set(_shingles(allowed_words))
        system_words = words(system)
        self.shingles = set(_shingles([w.lower() for w in system_words])) - allowed_shingles
        self.rare = {
            w.lower()
            for w in system_words
            if (any(c.isdigit() for c in w) and any(c.isalpha() for c in w))
            or (len(w) >= 4 and w.isupper())
        } - allowed_set

    def leaks(self, text: str) -> bool:
        found = [w.lower() for w in words(text)]
        return bool(self.rare.intersection(found)) or bool(
            self.shingles.intersection(_shingles(found))
        )


def _shingles(found: Sequence[str]) -> Iterator[tuple[str, ...]]:
    for i in range(len(found) - _SHINGLE + 1):
        yield tuple(found[i : i + _SHINGLE])


__all__ = [
    "DEFAULT_MIN_COVERAGE",
    "DEFAULT_MIN_SCORE",
    "DEFAULT_MIN_SHARED_TERMS",
    "Grounder",
]
