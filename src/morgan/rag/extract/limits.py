"""What one document may cost to read: expanded size, characters, nesting, chunks, wall time.

Extractors check a `Budget` while they work (per page, per block, per paragraph), so a
hostile file — a 50 MB single line, a DOCX that unzips a hundredfold, 100,000 nested
`<div>`s — ends early with a clear `too_large` or `too_complex` instead of taking the
machine's memory and minutes of CPU. The same budget carries the cancel flag of an
ingestion job: extraction runs in a worker thread, and this is how the thread learns to stop.
"""

from __future__ import annotations

import re
import threading
import time

import msgspec

from morgan.rag.extract.models import ErrorCode, ExtractionError


class IngestLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_chars: int = 3_000_000
    """Characters of text extracted from one document."""
    max_chunks: int = 20_000
    """Chunks of all granularities from one document."""
    max_expanded_bytes: int = 50 * 1024 * 1024
    """Bytes the XML parts of a DOCX may unzip to (media files are counted separately)."""
    max_depth: int = 256
    """Element nesting depth in HTML (DOCX XML is held to libxml2's own 256)."""
    max_seconds: float = 300.0
    """Wall time to read and chunk one document."""


class ExtractionCancelled(Exception):
    """The job was cancelled; the worker thread stops at its next check."""


class Budget:
    """One document's allowance; `check()` is cheap enough to call per block."""

    def __init__(
        self, limits: IngestLimits | None = None, *, cancel: threading.Event | None = None
    ):
        self.limits = limits or IngestLimits()
        self.cancel = cancel or threading.Event()
        self.deadline = time.monotonic() + self.limits.max_seconds
        self.chars = 0

    def check(self) -> None:
        if self.cancel.is_set():
            raise ExtractionCancelled("ingestion was cancelled")
        if time.monotonic() > self.deadline:
            raise ExtractionError(
                ErrorCode.TOO_COMPLEX,
                f"reading the document took longer than {self.limits.max_seconds:g} s",
            )

    def add_chars(self, count: int) -> None:
        self.chars += count
        if self.chars > self.limits.max_chars:
            raise ExtractionError(
                ErrorCode.TOO_LARGE,
                f"the document has more than {self.limits.max_chars} characters of text",
            )
        self.check()

    def check_text_length(self, length: int) -> None:
        """Text formats: the whole decoded text is the extracted text (minus markup)."""
        if length > self.limits.max_chars:
            raise ExtractionError(
                ErrorCode.TOO_LARGE,
                f"the document has {length} characters of text, more than the "
                f"{self.limits.max_chars}-character limit",
            )

    def check_chunks(self, count: int) -> None:
        if count > self.limits.max_chunks:
            raise ExtractionError(
                ErrorCode.TOO_LARGE,
                f"the document makes {count} chunks, more than the {self.limits.max_chunks}-chunk "
                "limit; split it into smaller files",
            )
        self.check()


# Elements that never nest (void) or that the parser closes implicitly when a sibling opens:
# counting them would call ordinary sloppy HTML "deep".
_NOT_NESTING = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup",
    "thead", "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rtc", "rp", "html", "head",
    "body", "!doctype",
})  # fmt: skip
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "plaintext"})


def check_html_depth(text: str, budget: Budget) -> None:
    """Refuse markup nested deeper than the limit before the parser sees it.

    HTML parsing cost grows faster than linearly with depth (100,000 nested `<div>`s took
    minutes), so depth is measured by a linear scan of the tags first.
    """
    limit = budget.limits.max_depth
    depth = 0
    raw: str | None = None
    for i, match in enumerate(_TAG.finditer(text)):
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if raw is not None:  # inside <script>/<style>: only its end tag counts
            if closing and name == raw:
                raw = None
            continue
        if name in _NOT_NESTING or self_closing:
            continue
        if closing:
            depth = max(0, depth - 1)
            continue
        if name in _RAW_TEXT:
            raw = name
            continue
        depth += 1
        if depth > limit:
            raise ExtractionError(
                ErrorCode.TOO_COMPLEX,
                f"HTML elements are nested more than {limit} deep",
            )
        if i % 4096 == 0:
            budget.check()
