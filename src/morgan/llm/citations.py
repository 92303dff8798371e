"""Keep only citation markers that point at a real source.

Small models invent `[7]` with three sources or write `[0]`; a dangling marker would link
the user to nothing, so it is removed (and counted, so the pipeline can log it). Anything
inside backtick code is left alone.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

# A bracket of numbers separated by commas/semicolons, e.g. [2], [1, 2], [1;3].
_MARKER = re.compile(r"(?P<space>[ \t]?)\[(?P<body>\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+(?=[.,;:!?])")
# What may still grow into a marker at the end of a streamed chunk.
_OPEN_TAIL = re.compile(r"[ \t]?\[[\d\s,;]*$|[ \t]$")


def _clean_prose(text: str, n_sources: int) -> tuple[str, int]:
    removed = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal removed
        numbers = [int(part) for part in re.split(r"[,;]", match.group("body"))]
        valid = [n for n in dict.fromkeys(numbers) if 1 <= n <= n_sources]
        removed += len(numbers) - len(valid)
        if not valid:
            return ""
        if valid == numbers:
            return match.group(0)
        return f"{match.group('space')}[{', '.join(map(str, valid))}]"

    cleaned = _MARKER.sub(replace, text)
    if removed:
        cleaned = _SPACE_BEFORE_PUNCT.sub("", cleaned)
    return cleaned, removed


class _CitationCleaner:
    """Cleans text fed in order, remembering whether it is inside backtick code."""

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self.in_code = False
        self.removed = 0

    def feed(self, text: str) -> str:
        out: list[str] = []
        for index, segment in enumerate(text.split("`")):
            if index:
                out.append("`")
                self.in_code = not self.in_code
            if self.in_code:
                out.append(segment)
            else:
                cleaned, count = _clean_prose(segment, self.n_sources)
                out.append(cleaned)
                self.removed += count
        return "".join(out)


def cited_numbers(text: str) -> list[int]:
    """Every source number an answer cites, in order of first use: `[1, 2] ... [2][3]` -> 1, 2, 3.

    The one citation parser: feedback credits exactly the sources this returns."""
    numbers = (
        int(part) for m in _MARKER.finditer(text) for part in re.split(r"[,;]", m.group("body"))
    )
    return list(dict.fromkeys(numbers))


def clean_citations(text: str, n_sources: int) -> tuple[str, int]:
    """Return `text` with invalid `[n]` markers removed and how many numbers were removed.

    `[1, 7]` with three sources becomes `[1]`; `[1][2]` is two markers, both kept.
    """
    cleaner = _CitationCleaner(n_sources)
    return cleaner.feed(text), cleaner.removed


async def clean_citation_stream(deltas: AsyncIterator[str], n_sources: int) -> AsyncIterator[str]:
    """Streamed variant: holds back only a possibly-unfinished `[..` tail, so tokens still
    flow at once while a marker split across deltas (`[1` + `2]`) is judged whole."""
    cleaner = _CitationCleaner(n_sources)
    pending = ""
    async for delta in deltas:
        pending += delta
        hold = None if cleaner.in_code and "`" not in pending else _OPEN_TAIL.search(pending)
        cut = hold.start() if hold else len(pending)
        ready, pending = pending[:cut], pending[cut:]
        if ready and (cleaned := cleaner.feed(ready)):
            yield cleaned
    if pending and (cleaned := cleaner.feed(pending)):
        yield cleaned
