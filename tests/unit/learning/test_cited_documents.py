"""Feedback credits exactly the documents an answer cited, whatever marker form it used."""

from __future__ import annotations

from morgan.learning.feedback import cited_documents
from morgan.llm.citations import cited_numbers

SOURCES = [
    {"n": 1, "document_id": "doc-a"},
    {"n": 2, "document_id": "doc-b"},
    {"n": 3, "document_id": "doc-c"},
]


def test_a_grouped_marker_credits_every_document_it_names() -> None:
    assert cited_documents("Both say so [1, 2].", SOURCES) == ("doc-a", "doc-b")


def test_semicolons_and_repeats_are_one_citation_each_in_first_use_order() -> None:
    assert cited_numbers("x [3]. y [1; 3]. z [2][3].") == [3, 1, 2]


def test_uncited_and_dangling_sources_earn_nothing() -> None:
    assert cited_documents("Only this [2]. A made-up one [9].", SOURCES) == ("doc-b",)
    assert cited_documents("No markers at all.", SOURCES) == ()
