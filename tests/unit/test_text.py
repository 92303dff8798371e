"""The one text toolkit: sentence splitting that keeps facts whole, and shared word handling."""

from __future__ import annotations

import pytest

from morgan.text import content_terms, sentence_spans, split_sentences, stem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A PDF line break inside a sentence is not a sentence end (issue 11: the 50 was lost).
        (
            "The default weight value is\n50, and the maximum is 100. Next.",
            ["The default weight value is 50, and the maximum is 100.", "Next."],
        ),
        # An initial is not a sentence end ("Philip A [1]. Nelson").
        (
            "bc was written by Philip A. Nelson. It works.",
            ["bc was written by Philip A. Nelson.", "It works."],
        ),
        # Abbreviations with and without inner dots.
        (
            "Use a tool, eg. Linux tools. Or i.e. This one. E.g. That.",
            ["Use a tool, eg. Linux tools.", "Or i.e. This one.", "E.g. That."],
        ),
        # A date is not an ordinal: "May 3. The" ends a sentence; "31. Dezember" does not.
        ("We land on May 3. The hotel is near.", ["We land on May 3.", "The hotel is near."]),
        ("Am 31. Dezember schrieb er. Ja.", ["Am 31. Dezember schrieb er.", "Ja."]),
        # List items end the line before them; a wrapped line does not.
        ("Options:\n- one thing\n- two things", ["Options:", "- one thing", "- two things"]),
        ("Steps.\n1. Unpack it", ["Steps.", "1. Unpack it"]),
        (
            "Dr. Silva came. Then 3 more!\n\n- a list item",
            ["Dr. Silva came.", "Then 3 more!", "- a list item"],
        ),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_lines_mode_cuts_at_every_line_break() -> None:
    assert split_sentences("Line one\nLine two. X", lines=True) == ["Line one", "Line two.", "X"]
    assert split_sentences("Line one\nLine two. X") == ["Line one Line two.", "X"]


def test_spans_point_into_the_text() -> None:
    text = "  First one.  Second\nline.\n\nThird "
    assert [text[a:b] for a, b in sentence_spans(text)] == ["First one.", "Second\nline.", "Third"]


def test_terms_and_stems_are_shared() -> None:
    assert stem("resetting") == stem("resets") == "reset"
    assert content_terms("What is the default weight of 50 globs?") == [
        "default",
        "weight",
        "50",
        "glob",
    ]
