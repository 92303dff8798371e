"""Feedback on one answer, explicit (a rating) or implicit (the user rephrased the question)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from morgan.llm.citations import cited_numbers

Rating = Annotated[int, msgspec.Meta(ge=1, le=5)]
ImplicitSignal = Literal["rephrase"]


class Feedback(msgspec.Struct, frozen=True):
    """`id` makes recording idempotent; `document_ids` are the documents the answer cited."""

    id: str
    answer_id: str
    at: datetime
    rating: Rating | None = None
    implicit: ImplicitSignal | None = None
    document_ids: tuple[str, ...] = ()
    answer_length_words: int | None = None
    comment: str = ""


def cited_documents(text: str, sources: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The documents an answer actually cited with `[n]` (also `[1, 2]`): only they earn or
    lose credit, so rating a bad answer never moves a retrieved-but-unused document."""
    by_n = {int(s["n"]): str(s["document_id"]) for s in sources if "n" in s}
    return tuple(dict.fromkeys(by_n[n] for n in cited_numbers(text) if n in by_n))
