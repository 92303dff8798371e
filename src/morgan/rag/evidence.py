"""Evidence first: the exact sentences of the retrieved passages that answer the question.

Every answer shows these sentences (each with its `[n]`, page and heading), whatever the
model writes, and they decide whether there is anything to answer from at all: when the
best one is not relevant enough, the answer says the documents do not contain it
(issue 8, "grounded or silent"; issue 11, "evidence first").

A sentence is scored by how much of the question it covers (IDF-weighted over the
candidate sentences, so a rare word counts more than "file"), a little for the heading and
title it sits under, the dense similarity of its section to the question (from retrieval,
free), and whether it holds the kind of thing asked for (a number for "how many", a name
for "who"). The relevance threshold is calibrated in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

import msgspec

from morgan.text import CONVERSATION_STOPWORDS, content_terms, split_sentences, words

DEFAULT_MIN_RELEVANCE = 0.47
"""Best sentence score below which the documents are taken not to answer the question
(docs/BENCHMARKS.md, "Relevance threshold")."""

MAX_SENTENCES = 3
"""Evidence sentences shown per answer."""

W_LEXICAL = 0.7
W_CONTEXT = 0.15
W_DENSE = 0.3
ANSWER_TYPE_BONUS = 0.1
MISSING_NAME_FACTOR = 0.75
"""Score factor per name-like question word ("xz", "Australia", "2018") found in none of
the passages: the question is about something the documents do not mention."""
_PSEUDO_SENTENCES = 20
_RELATIVE_FLOOR = 0.75
"""A further sentence is shown only if it scores at least this share of the best one."""

_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_NUMBER_QUESTION = re.compile(
    r"\b(how (many|much|long|big|large|old|often)|default|maximum|minimum|limit|size|value|"
    r"number|version|port|uid|gid|id|code|level|length|count|amount|percent(age)?)\b",
    re.IGNORECASE,
)
_NAME_QUESTION = re.compile(
    r"^\s*(who|whom|whose)\b|\b(author|written by|wrote|maintainer)\b", re.IGNORECASE
)
_DATE_QUESTION = re.compile(r"^\s*when\b|\bwhat year\b|\bwhich year\b|\bdate\b", re.IGNORECASE)


class PassageLike(Protocol):
    """What evidence needs of a retrieved passage (`morgan.rag.retrieval.Passage`)."""

    document_id: uuid.UUID
    section_id: uuid.UUID
    title: str
    heading: str
    page: int | None
    text: str


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    n: int
    text: str
    page: int | None
    heading: str
    document_id: uuid.UUID
    score: float


class EvidenceSelection(msgspec.Struct, kw_only=True):
    sentences: list[Evidence]
    relevance: float
    """Score of the best candidate sentence (0 when there is none)."""
    relevant: bool


class _Candidate(msgspec.Struct):
    n: int
    position: int
    text: str
    terms: frozenset[str]
    context: frozenset[str]
    """Terms of the title, heading and previous sentence ("It had uid 37." after the one
    naming the operator account) that the sentence itself lacks."""
    passage: PassageLike
    score: float = 0.0


def quote(sentence: str) -> str:
    """A source sentence as shown to the user: a `[7]` written in the document becomes
    `(7)`, so a document can never cite a source of its own making."""
    return _MARKER.sub(lambda m: f"({m.group(1)})", sentence)


def render_answer(evidence: Sequence[Evidence]) -> str:
    """The evidence sentences as an answer, each cited: `It is 50 [1]. It can be 0 [2].`"""
    from morgan.llm.extractive import cite

    return " ".join(cite(e.text, e.n) for e in evidence)


def select_evidence(
    question: str,
    passages: Sequence[PassageLike],
    *,
    dense: Mapping[uuid.UUID, float] | None = None,
    max_sentences: int = MAX_SENTENCES,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
) -> EvidenceSelection:
    """The sentences of `passages` (numbered 1.. in order) that best answer `question`.

    `dense` maps a passage's section id to its cosine similarity with the question.
    """
    query = set(content_terms(question))
    candidates = _candidates(passages)
    if not query or not candidates:
        return EvidenceSelection(sentences=[], relevance=0.0, relevant=False)
    doc_freq = Counter(t for c in candidates for t in c.terms | c.context)
    total = len(candidates)

    def idf(term: str) -> float:
        # A pseudo-corpus of sentences without the term keeps a handful of candidates from
        # calling the words they all share worthless (two near-identical notes).
        return math.log(
            1 + (total + _PSEUDO_SENTENCES - doc_freq[term] + 0.5) / (doc_freq[term] + 0.5)
        )

    weights = {t: idf(t) for t in query}
    weight_sum = sum(weights.values()) or 1.0
    wants_number = bool(_NUMBER_QUESTION.search(question))
    wants_name = bool(_NAME_QUESTION.search(question))
    wants_date = bool(_DATE_QUESTION.search(question))
    question_words = {w.lower() for w in words(question)}
    for c in candidates:
        lexical = sum(weights[t] for t in query & c.terms) / weight_sum
        context = sum(weights[t] for t in query & (c.terms | c.context)) / weight_sum
        similarity = (dense or {}).get(c.passage.section_id, 0.0)
        c.score = (
            W_LEXICAL * lexical + W_CONTEXT * (context - lexical) + W_DENSE * max(0.0, similarity)
        )
        if lexical > 0 and _answers_type(
            c.text, question_words, wants_number, wants_name, wants_date
        ):
            c.score += ANSWER_TYPE_BONUS
    missing = _missing_names(question, candidates)
    if missing:
        for c in candidates:
            c.score *= MISSING_NAME_FACTOR ** len(missing)
    ranked = sorted(candidates, key=lambda c: (-c.score, c.n, c.position))
    best = ranked[0].score
    relevant = best >= min_relevance
    chosen: list[_Candidate] = []
    if relevant:
        for c in ranked:
            if len(chosen) >= max_sentences or c.score < best * _RELATIVE_FLOOR:
                break
            if any(len(c.terms & o.terms) >= 0.8 * len(c.terms) for o in chosen):
                continue  # the same sentence again, from an overlapping chunk
            chosen.append(c)
    return EvidenceSelection(
        sentences=[
            Evidence(
                n=c.n,
                text=quote(c.text),
                page=c.passage.page,
                heading=c.passage.heading,
                document_id=c.passage.document_id,
                score=round(c.score, 4),
            )
            for c in chosen
        ],
        relevance=round(best, 4),
        relevant=relevant,
    )


def _candidates(passages: Sequence[PassageLike]) -> list[_Candidate]:
    seen: set[str] = set()
    out: list[_Candidate] = []
    for n, passage in enumerate(passages, start=1):
        around = frozenset(content_terms(f"{passage.title} {passage.heading}"))
        sentences = _joined(split_sentences(passage.text))
        previous: frozenset[str] = frozenset()
        for position, sentence in enumerate(sentences):
            key = " ".join(sentence.lower().split())
            terms = frozenset(content_terms(sentence))
            context = (around | previous) - terms
            previous = terms
            if key in seen or len(terms) < 2:
                continue
            seen.add(key)
            out.append(_Candidate(n, position, sentence, terms, context, passage))
    return out


def _joined(sentences: list[str]) -> list[str]:
    """A sentence that announces what follows ("... the default format is used:") is kept
    with the line it announces, or the evidence would stop just before the fact."""
    out: list[str] = []
    for sentence in sentences:
        if out and out[-1].endswith(":") and len(out[-1]) < 400:
            out[-1] = f"{out[-1]} {sentence}"
        else:
            out.append(sentence)
    return out


def _missing_names(question: str, candidates: Sequence[_Candidate]) -> set[str]:
    """Name-like words of the question (a capitalised word past the first, a word with a
    digit, a two-letter code word like `xz`) that no candidate sentence, title or heading has."""
    present = {t for c in candidates for t in c.terms | c.context}
    found = words(question)
    names = {
        w
        for i, w in enumerate(found)
        if (i and w[:1].isupper())
        or any(ch.isdigit() for ch in w)
        or (len(w) == 2 and w.isalpha() and w.lower() not in CONVERSATION_STOPWORDS)
    }
    return {t for w in names for t in content_terms(w)} - present


def _answers_type(
    sentence: str, question_words: set[str], number: bool, name: bool, date: bool
) -> bool:
    found = words(sentence)
    new = [w for w in found if w.lower() not in question_words]
    if number and any(any(ch.isdigit() for ch in w) for w in new):
        return True
    if date and _YEAR.search(sentence):
        return True
    return name and any(
        i and w[:1].isupper() for i, w in enumerate(found) if w.lower() not in question_words
    )


__all__ = [
    "DEFAULT_MIN_RELEVANCE",
    "Evidence",
    "EvidenceSelection",
    "quote",
    "render_answer",
    "select_evidence",
]
