"""Grounded or silent: what kind of answer a message gets, decided before any generation.

* `grounded`: the documents hold relevant evidence; the model may rephrase it, but only
  sentences a source supports reach the user (`morgan.llm.grounding.Grounder`), and the
  evidence sentences are the answer when nothing it wrote survives.
* `not_found`: nothing relevant enough was retrieved; the model is not asked at all (a
  small model invents when asked), the answer says so and lists the closest sources,
  flagged as not supporting it.
* `small_talk`: "hi", "thanks": a reply without documents and never with citations.
* `chat`: a statement, not a question ("I'm so angry, the export crashed again!"), that the
  documents say nothing about: the model replies in the turn's tone, without documents or
  citations, through the same filter (no echo, no fake turns, no system prompt).
* `open`: the caller turned retrieval off (`rag: false`); the model answers uncited.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

from morgan.llm.extractive import NOT_FOUND
from morgan.rag.evidence import DEFAULT_MIN_RELEVANCE, Evidence, PassageLike, select_evidence
from morgan.text import split_sentences, tokens

Mode = Literal["grounded", "not_found", "small_talk", "chat", "open"]

_GREETING = frozenset(
    ["hi", "hello", "hey", "hiya", "howdy", "morning", "afternoon", "evening", "yo", "greetings"]
)
_THANKS = frozenset(["thanks", "thank", "thx", "ty", "cheers", "appreciate", "appreciated"])
_SMALL_TALK = (
    _GREETING
    | _THANKS
    | frozenset(
        """
    good great nice cool ok okay fine bye goodbye later see night day there you your
    morgan how are doing what's up who is what can do is it that was helpful helped
    perfect awesome welcome much very so a the and i me my am all well lovely sure yes no
    please again alright
    """.split()  # noqa: SIM905
    )
)
GREETING_REPLY = "Hello! Ask me anything about your documents and I will answer from them."
THANKS_REPLY = "You're welcome! Ask me anything else about your documents."


class AnswerPlan(msgspec.Struct, kw_only=True):
    mode: Mode
    evidence: list[Evidence]
    relevance: float = 0.0

    @property
    def uses_sources(self) -> bool:
        return self.mode == "grounded"

    @property
    def cites(self) -> bool:
        """Whether sources are shown at all (small talk and chat never show any)."""
        return self.mode in ("grounded", "not_found")


_QUESTION_WORDS = frozenset(
    """
    what what's whats how why when where who whom whose which is are was were can could do does
    did should shall will would may might tell explain list show give find describe define
    summarise summarize compare name
    """.split()  # noqa: SIM905
)


def is_question(message: str) -> bool:
    """Asks for information: a question mark, or opens with a question or request word."""
    found = tokens(message)
    return "?" in message or bool(found and found[0] in _QUESTION_WORDS)


def is_small_talk(message: str) -> bool:
    """A greeting or thanks with nothing to look up ("thanks, that helped!")."""
    found = tokens(message)
    return (
        bool(found)
        and len(found) <= 8
        and all(t in _SMALL_TALK for t in found)
        and any(t in _GREETING or t in _THANKS for t in found)
    )


def plan_answer(
    message: str,
    passages: Sequence[PassageLike],
    *,
    rag: bool,
    dense: Mapping[uuid.UUID, float] | None = None,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
) -> AnswerPlan:
    if not rag:
        return AnswerPlan(mode="open", evidence=[])
    # "Please keep it short from now on. How do I restart the export?": the question
    # sentence alone is judged too, so a preamble cannot hide it.
    asked = [message, *(q for q in split_sentences(message) if q.endswith("?"))]
    selection = max(
        (
            select_evidence(q, passages, dense=dense, min_relevance=min_relevance)
            for q in dict.fromkeys(asked)
        ),
        key=lambda sel: sel.relevance,
    )
    if selection.relevant:
        return AnswerPlan(
            mode="grounded", evidence=selection.sentences, relevance=selection.relevance
        )
    if is_small_talk(message):
        return AnswerPlan(mode="small_talk", evidence=[], relevance=selection.relevance)
    if not is_question(message):
        return AnswerPlan(mode="chat", evidence=[], relevance=selection.relevance)
    return AnswerPlan(mode="not_found", evidence=[], relevance=selection.relevance)


def small_talk_reply(message: str) -> str:
    """The fixed reply when no model words it (extractive backend, empty generation)."""
    return THANKS_REPLY if any(t in _THANKS for t in tokens(message)) else GREETING_REPLY


def not_found_text(closest: Sequence[PassageLike]) -> str:
    """`NOT_FOUND`, naming the closest sources (uncited: they do not support an answer)."""
    names: list[str] = []
    for passage in closest:
        where = passage.title.strip()
        if passage.page:
            where = f"{where}, page {passage.page}"
        if where and where not in names:
            names.append(where)
    if not names:
        return NOT_FOUND
    shown = "; ".join(f"“{name}”" for name in names[:3])
    return f"{NOT_FOUND} The closest passages, which do not answer it: {shown}."


__all__ = [
    "AnswerPlan",
    "Mode",
    "is_question",
    "is_small_talk",
    "not_found_text",
    "plan_answer",
    "small_talk_reply",
]
