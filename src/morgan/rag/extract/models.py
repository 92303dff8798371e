"""What extraction hands to chunking, and how it says no.

Every extractor returns the same `ExtractedDocument`, so chunking never needs to know which
file format a section came from. Failures are one exception type with a machine-readable
`code`, so ingestion can report `errors[]` per file instead of crashing on the first bad one.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import msgspec

HEADING_SEPARATOR = " > "
"""Joins a heading path, e.g. "Chapter 1 > Intro"."""

PageCallback = Callable[[int, int], None]
"""`on_page(done, total)`: progress for long documents (PDF pages; one step for other kinds)."""


class Mime(StrEnum):
    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    HTML = "text/html"
    MARKDOWN = "text/markdown"
    TEXT = "text/plain"


class Section(msgspec.Struct, frozen=True):
    """A run of text under one heading path; chunks never cross a section boundary."""

    heading: str
    text: str
    page: int | None = None
    """1-based page number for PDFs; None where the format has no pages."""


class ExtractedDocument(msgspec.Struct, frozen=True):
    title: str
    mime: str
    sections: list[Section]
    pages: int | None = None
    """Page count for PDFs (including pages without text); None for page-less formats."""
    encoding: str | None = None
    """Character set the text was decoded from (text formats only)."""
    warnings: list[str] = msgspec.field(default_factory=list)
    """Non-fatal problems (repaired structure, pages without text) worth showing the user."""

    @property
    def text(self) -> str:
        return "\n\n".join(section.text for section in self.sections)


class ErrorCode(StrEnum):
    ENCRYPTED = "encrypted"
    EMPTY = "empty"
    DAMAGED = "damaged"
    UNSUPPORTED = "unsupported"
    TOO_LARGE = "too_large"
    TOO_COMPLEX = "too_complex"


class ExtractionError(Exception):
    """A file that cannot become text, with a reason a user can act on."""

    def __init__(self, code: ErrorCode, message: str, *, filename: str = "") -> None:
        self.code = ErrorCode(code)
        self.message = message
        self.filename = filename
        prefix = f"{filename}: " if filename else ""
        super().__init__(f"{prefix}{message}")

    def with_filename(self, filename: str) -> ExtractionError:
        """The same error, naming the file (extractors raise it before they know the name)."""
        if self.filename:
            return self
        error = ExtractionError(self.code, self.message, filename=filename)
        error.__cause__ = self.__cause__
        return error


NO_TEXT_MESSAGE = "no extractable text (image-only? OCR is not enabled)"
