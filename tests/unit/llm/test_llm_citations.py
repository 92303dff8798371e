from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from morgan.llm.citations import clean_citation_stream, clean_citations


@pytest.mark.parametrize(
    ("text", "expected", "removed"),
    [
        ("Paris is big [1].", "Paris is big [1].", 0),
        ("Paris is big [7].", "Paris is big.", 1),
        ("Zero [0] is never a source.", "Zero is never a source.", 1),
        ("Both [1, 2] agree.", "Both [1, 2] agree.", 0),
        ("Mixed [1, 7] here.", "Mixed [1] here.", 1),
        ("Mixed [2; 9; 3].", "Mixed [2, 3].", 1),
        ("Adjacent [1][2] markers.", "Adjacent [1][2] markers.", 0),
        ("Adjacent [2][9] markers.", "Adjacent [2] markers.", 1),
        ("No space[4], then more.", "No space, then more.", 1),
        ("Code `items[5]` stays.", "Code `items[5]` stays.", 0),
        ("```\nx = a[9]\n```\nbut [9] goes.", "```\nx = a[9]\n```\nbut goes.", 1),
        ("Links [see here](http://x) and [a] stay.", "Links [see here](http://x) and [a] stay.", 0),
        ("", "", 0),
    ],
)
def test_clean_citations(text: str, expected: str, removed: int) -> None:
    assert clean_citations(text, 3) == (expected, removed)


def test_no_sources_removes_every_marker() -> None:
    assert clean_citations("Claim [1]. Another [2, 3].", 0) == ("Claim. Another.", 3)


async def _deltas(pieces: list[str]) -> AsyncIterator[str]:
    for piece in pieces:
        yield piece


TEXT = "Paris [1] is big [7]. Both [1, 9] agree; `a[8]` is code [3]."


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
async def test_stream_matches_whole_text_for_any_split(size: int) -> None:
    pieces = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
    streamed = "".join([d async for d in clean_citation_stream(_deltas(pieces), 3)])
    assert streamed == clean_citations(TEXT, 3)[0]


async def test_stream_does_not_hold_back_plain_text() -> None:
    out = clean_citation_stream(_deltas(["Hello", " world", " [", "2", "]", " done"]), 3)
    assert await anext(out) == "Hello"
    assert await anext(out) == " world"
    assert [d async for d in out] == [" [2]", " done"]
