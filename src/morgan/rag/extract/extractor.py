"""One entry point for every supported format: sniff by content, decode, dispatch.

Whatever goes wrong inside a parser library comes out as `ExtractionError` with a code,
so one malformed upload is reported in `errors[]` and ingestion carries on.
"""

from __future__ import annotations

import asyncio
import functools
import time

import structlog

from morgan.rag.extract.encoding import charset_from_mime, decode_text
from morgan.rag.extract.html_page import extract_html
from morgan.rag.extract.limits import Budget, ExtractionCancelled, check_html_depth
from morgan.rag.extract.markdown import extract_markdown, extract_plain_text
from morgan.rag.extract.models import (
    ErrorCode,
    ExtractedDocument,
    ExtractionError,
    PageCallback,
)
from morgan.rag.extract.pdf import extract_pdf
from morgan.rag.extract.sniff import (
    Kind,
    looks_like_html,
    looks_like_markdown,
    probably_html_bytes,
    sniff_binary,
)
from morgan.rag.extract.word import extract_docx

log = structlog.get_logger(__name__)

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DOCX_EXPANSION_FACTOR = 20  # a DOCX may unzip to at most this multiple of max_bytes


def extract(
    data: bytes,
    filename: str,
    *,
    declared_mime: str | None = None,
    password: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    include_headers_footers: bool = False,
    on_page: PageCallback | None = None,
    pdf_workers: int = 1,
    budget: Budget | None = None,
) -> ExtractedDocument:
    """Extract text from a PDF, DOCX, HTML, Markdown or plain-text file.

    The kind is decided from the bytes; `filename` and `declared_mime` only name the
    document and tell Markdown from plain text (and a declared charset is honoured when it
    decodes the bytes). CPU-bound: call it through `extract_async` from async code.
    `pdf_workers` > 1 reads long PDFs in that many processes. `budget` bounds characters,
    nesting and time (and carries a job's cancel flag); the defaults apply without one.
    """
    started = time.perf_counter()
    budget = budget or Budget()
    try:
        document = _extract(
            data,
            filename,
            declared_mime=declared_mime,
            password=password,
            max_bytes=max_bytes,
            include_headers_footers=include_headers_footers,
            on_page=on_page,
            pdf_workers=pdf_workers,
            budget=budget,
        )
    except ExtractionCancelled:
        raise
    except ExtractionError as error:
        error = error.with_filename(filename)
        log.info("extraction_refused", filename=filename, code=error.code, reason=error.message)
        raise error from error.__cause__
    except RecursionError as error:
        raise ExtractionError(
            ErrorCode.DAMAGED, "document structure is nested too deeply", filename=filename
        ) from error
    except Exception as error:  # a parser bug must not take the ingestion batch down
        log.warning("extraction_crashed", filename=filename, error=repr(error))
        raise ExtractionError(
            ErrorCode.DAMAGED, f"could not read the file: {error!r}", filename=filename
        ) from error
    log.debug(
        "extracted",
        filename=filename,
        mime=document.mime,
        sections=len(document.sections),
        pages=document.pages,
        seconds=round(time.perf_counter() - started, 3),
    )
    return document


async def extract_async(data: bytes, filename: str, **options: object) -> ExtractedDocument:
    """`extract` in a worker thread, so parsing a large PDF never blocks the event loop."""
    return await asyncio.to_thread(functools.partial(extract, data, filename, **options))  # type: ignore[arg-type]


def _extract(
    data: bytes,
    filename: str,
    *,
    declared_mime: str | None,
    password: str | None,
    max_bytes: int,
    include_headers_footers: bool,
    on_page: PageCallback | None,
    pdf_workers: int,
    budget: Budget,
) -> ExtractedDocument:
    if len(data) > max_bytes:
        raise ExtractionError(
            ErrorCode.TOO_LARGE, f"file is {len(data)} bytes, more than the {max_bytes}-byte limit"
        )
    if not data.strip():
        raise ExtractionError(ErrorCode.EMPTY, "the file is empty")

    kind = sniff_binary(data)
    if kind is Kind.PDF:

        def on_pdf_page(done: int, total: int) -> None:
            budget.check()
            if on_page is not None:
                on_page(done, total)

        document = extract_pdf(
            data, filename, password=password, on_page=on_pdf_page, workers=pdf_workers
        )
        budget.check_text_length(sum(len(s.text) for s in document.sections))
        return document
    if kind is Kind.DOCX:
        document = extract_docx(
            data,
            filename,
            include_headers_footers=include_headers_footers,
            max_uncompressed_bytes=max_bytes * DOCX_EXPANSION_FACTOR,
            max_xml_bytes=budget.limits.max_expanded_bytes,
            budget=budget,
        )
    else:
        # Before decoding: a character takes at most 4 bytes, and outside HTML the decoded
        # text is the extracted text, so a file this large cannot fit the character limit.
        is_html = probably_html_bytes(data)
        if not is_html and len(data) > budget.limits.max_chars * 4:
            budget.check_text_length(len(data) // 4)
        text, encoding = decode_text(
            data,
            declared_charset=charset_from_mime(declared_mime),
            look_for_meta=is_html,
        )
        budget.check()
        if looks_like_html(text):
            check_html_depth(text, budget)
            document = extract_html(text, filename, encoding=encoding, budget=budget)
        else:
            budget.check_text_length(len(text))
            if looks_like_markdown(text, filename, declared_mime):
                document = extract_markdown(text, filename, encoding=encoding)
            else:
                document = extract_plain_text(text, filename, encoding=encoding)
    if on_page is not None:
        on_page(1, 1)
    return document
