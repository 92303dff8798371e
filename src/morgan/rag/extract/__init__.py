"""Text extraction: PDF, DOCX, HTML, Markdown and plain text into sections.

Public interface for the rest of Morgan; everything else in this package is internal.
"""

from morgan.rag.extract.extractor import DEFAULT_MAX_BYTES, extract, extract_async
from morgan.rag.extract.models import (
    HEADING_SEPARATOR,
    ErrorCode,
    ExtractedDocument,
    ExtractionError,
    Mime,
    PageCallback,
    Section,
)
from morgan.rag.extract.sniff import looks_like_document

__all__ = [
    "DEFAULT_MAX_BYTES",
    "HEADING_SEPARATOR",
    "ErrorCode",
    "ExtractedDocument",
    "ExtractionError",
    "Mime",
    "PageCallback",
    "Section",
    "extract",
    "extract_async",
    "looks_like_document",
]
