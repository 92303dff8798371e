"""Feedback on one answer, explicit (a rating) or implicit (the user rephrased the question)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

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
