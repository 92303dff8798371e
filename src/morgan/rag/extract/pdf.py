"""PDF text with page numbers: page text by PDFium (pypdfium2), structure by pypdf.

Page text comes from PDFium, C code 10-20x faster than pypdf's pure-Python extractor (a
111-page manual: 3 s instead of ~40 s on a busy 2-core machine, where pypdf re-parsed
every font's CMap on every page); a page PDFium cannot read or finds empty is read by pypdf.

Sections are pages, split further where a bookmark (outline entry) starts, so answers can
cite "page 12" and chunks carry the chapter path. pypdf is opened non-strict so a broken
cross-reference table is rebuilt instead of refused; a strict open is tried first only to
tell the user that a repair happened.
"""

from __future__ import annotations

import io
import logging
import math
import multiprocessing
import re
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import PurePath

import structlog
from pypdf import PasswordType, PdfReader
from pypdf.errors import PdfReadError

from morgan.rag.extract.models import (
    HEADING_SEPARATOR,
    NO_TEXT_MESSAGE,
    ErrorCode,
    ExtractedDocument,
    ExtractionError,
    Mime,
    PageCallback,
    Section,
)
from morgan.rag.extract.tidy import tidy

log = structlog.get_logger(__name__)

# pypdf logs a warning per font it cannot fully decode (hundreds for a LaTeX book) and per
# repaired object; they carry no action for the user, and the repair is reported in
# `ExtractedDocument.warnings` instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)

MIN_PAGES_PER_PROCESS = 8
"""Below two processes' worth of pages, starting processes costs more than it saves."""

_PDFIUM_LOCK = threading.Lock()
"""PDFium is not thread-safe; ingestion extracts in worker threads."""

_FILENAME_LIKE = re.compile(r"\.(pdf|docx?|odt|rtf|txt|indd|tex|dvi)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Bookmark:
    page_index: int
    path: str
    title: str


def extract_pdf(
    data: bytes,
    filename: str,
    *,
    password: str | None = None,
    on_page: PageCallback | None = None,
    workers: int = 1,
) -> ExtractedDocument:
    """`workers` > 1 extracts long PDFs in that many processes (pypdf is pure Python)."""
    warnings: list[str] = []
    reader = _open(data, password, warnings)
    try:
        total = len(reader.pages)
    except Exception as error:  # pypdf raises many types on broken page trees
        raise ExtractionError(ErrorCode.DAMAGED, f"damaged PDF page tree: {error}") from error
    if total == 0:
        raise ExtractionError(ErrorCode.EMPTY, "PDF has no pages")

    bookmarks_by_page: dict[int, list[_Bookmark]] = {}
    for bookmark in _bookmarks(reader, warnings):
        bookmarks_by_page.setdefault(bookmark.page_index, []).append(bookmark)
    sections: list[Section] = []
    failed_pages: list[int] = []
    empty_pages = 0
    carried_heading = ""
    for page_index, raw in enumerate(_page_texts(reader, data, password, total, workers, on_page)):
        if raw is None:
            failed_pages.append(page_index + 1)
        text = tidy(raw or "", join_hyphenation=True)
        starting_here = bookmarks_by_page.get(page_index, [])
        if text:
            page_sections, carried_heading = _split_at_bookmarks(
                text, page_index + 1, carried_heading, starting_here
            )
            sections.extend(page_sections)
        else:
            empty_pages += 1
            if starting_here:
                carried_heading = starting_here[-1].path

    if failed_pages and len(failed_pages) == total:
        raise ExtractionError(ErrorCode.DAMAGED, "damaged PDF: no page could be read")
    if failed_pages:
        warnings.append(f"text could not be read from page(s) {_page_list(failed_pages)}")
    if not sections:
        raise ExtractionError(ErrorCode.EMPTY, NO_TEXT_MESSAGE)
    if empty_pages:
        warnings.append(f"{empty_pages} of {total} page(s) have no text layer")

    return ExtractedDocument(
        title=_title(reader, filename, sections),
        mime=Mime.PDF,
        sections=sections,
        pages=total,
        warnings=warnings,
    )


def _page_texts(
    reader: PdfReader,
    data: bytes,
    password: str | None,
    total: int,
    workers: int,
    on_page: PageCallback | None,
) -> list[str | None]:
    """Raw text per page in page order; None where the page could not be read."""
    if workers > 1 and total >= 2 * MIN_PAGES_PER_PROCESS:
        try:
            return _page_texts_in_processes(data, password, total, workers, on_page)
        except (BrokenProcessPool, OSError, RuntimeError) as error:
            # No usable worker processes (sandbox limits, unguarded __main__): stay correct.
            log.warning("pdf_workers_unavailable", error=repr(error))
    return _read_pages(reader, data, password, 0, total, on_page)


def _read_pages(
    reader: PdfReader,
    data: bytes,
    password: str | None,
    start: int,
    end: int,
    on_page: PageCallback | None = None,
) -> list[str | None]:
    """PDFium's text per page; pypdf's where PDFium failed or found none."""
    fast = _pdfium_texts(data, password, start, end)
    texts: list[str | None] = []
    for offset, page_index in enumerate(range(start, end)):
        text = fast[offset] if fast is not None else None
        texts.append(text if text and text.strip() else _read_page(reader, page_index))
        if on_page is not None:
            on_page(page_index + 1, end)
    return texts


def _pdfium_texts(
    data: bytes, password: str | None, start: int, end: int
) -> list[str | None] | None:
    """None when pypdfium2 is missing or cannot open the file (pypdf then reads every page)."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return None
    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data, password=password or None)
        except Exception as error:  # noqa: BLE001 - pypdf opened it; let pypdf read it
            log.debug("pdfium_open_failed", error=str(error))
            return None
        try:
            texts: list[str | None] = []
            for page_index in range(start, min(end, len(document))):
                try:
                    page = document[page_index]
                    try:
                        textpage = page.get_textpage()
                        try:
                            texts.append(_pdfium_clean(textpage.get_text_bounded()))
                        finally:
                            textpage.close()
                    finally:
                        page.close()
                except Exception as error:  # noqa: BLE001 - pypdf gets a try at this page
                    log.debug("pdfium_page_failed", page=page_index + 1, error=str(error))
                    texts.append(None)
            texts.extend([None] * (end - start - len(texts)))
            return texts
        finally:
            document.close()


def _pdfium_clean(text: str) -> str:
    # CRLF line ends; U+0002 marks a soft hyphen PDFium already joined across the line end.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x02", "")


def _read_page(reader: PdfReader, page_index: int) -> str | None:
    try:
        return reader.pages[page_index].extract_text() or ""
    except Exception as error:  # noqa: BLE001 - one bad page must not lose the rest
        log.debug("pdf_page_failed", page=page_index + 1, error=str(error))
        return None


def _page_texts_in_processes(
    data: bytes, password: str | None, total: int, workers: int, on_page: PageCallback | None
) -> list[str | None]:
    batches = max(workers * 2, math.ceil(total / 64))
    size = max(MIN_PAGES_PER_PROCESS, math.ceil(total / batches))
    ranges = [(start, min(start + size, total)) for start in range(0, total, size)]
    texts: list[str | None] = [None] * total
    done = 0
    context = multiprocessing.get_context("spawn")  # fork is unsafe in a threaded server
    with ProcessPoolExecutor(max_workers=min(workers, len(ranges)), mp_context=context) as pool:
        futures = {
            pool.submit(_read_page_range, data, password, start, end): start
            for start, end in ranges
        }
        for future in as_completed(futures):
            start = futures[future]
            batch = future.result()
            texts[start : start + len(batch)] = batch
            done += len(batch)
            if on_page is not None:
                on_page(done, total)
    return texts


def _read_page_range(data: bytes, password: str | None, start: int, end: int) -> list[str | None]:
    """Runs in a worker process: reopen the PDF and read pages `start..end`."""
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        reader.decrypt(password or "")
    return _read_pages(reader, data, password, start, end)


def _open(data: bytes, password: str | None, warnings: list[str]) -> PdfReader:
    try:
        PdfReader(io.BytesIO(data), strict=True)
    except Exception:  # noqa: BLE001 - only a probe: the lenient open below decides
        repaired = True
    else:
        repaired = False
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except PdfReadError as error:
        raise ExtractionError(ErrorCode.DAMAGED, f"damaged PDF: {error}") from error
    except Exception as error:  # pypdf surfaces parse failures as assorted exception types
        raise ExtractionError(ErrorCode.DAMAGED, f"damaged PDF: {error!r}") from error
    if repaired:
        warnings.append("damaged PDF structure was repaired; some text may be missing")

    if reader.is_encrypted:
        try:
            outcome = reader.decrypt(password or "")
        except Exception as error:  # missing crypto backend, unknown security handler
            raise ExtractionError(
                ErrorCode.ENCRYPTED, f"encrypted PDF could not be decrypted: {error}"
            ) from error
        if outcome == PasswordType.NOT_DECRYPTED:
            message = (
                "encrypted PDF, password required"
                if not password
                else "encrypted PDF, the password is wrong"
            )
            raise ExtractionError(ErrorCode.ENCRYPTED, message)
    return reader


def _bookmarks(reader: PdfReader, warnings: list[str]) -> list[_Bookmark]:
    """Outline entries with their heading path, in page order (order kept within a page)."""
    found: list[_Bookmark] = []

    def walk(items: list, parents: tuple[str, ...]) -> None:
        last_title: str | None = None
        for item in items:
            if isinstance(item, list):
                if last_title is not None:
                    walk(item, (*parents, last_title))
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if not title:
                continue
            last_title = title
            try:
                page_index = reader.get_destination_page_number(item)
            except Exception as error:  # noqa: BLE001 - a dangling bookmark is just skipped
                log.debug("pdf_bookmark_skipped", title=title, error=str(error))
                continue
            if page_index is not None and page_index >= 0:
                found.append(
                    _Bookmark(page_index, HEADING_SEPARATOR.join((*parents, title)), title)
                )

    try:
        walk(reader.outline, ())
    except Exception as error:  # noqa: BLE001 - outlines are optional decoration
        warnings.append(f"PDF bookmarks could not be read: {error}")
        return []
    found.sort(key=lambda bookmark: bookmark.page_index)
    return found


def _split_at_bookmarks(
    text: str, page: int, carried: str, starting_here: list[_Bookmark]
) -> tuple[list[Section], str]:
    """Cut a page where its bookmarks' titles appear; unfound titles still rename the page."""
    cuts: list[tuple[int, str]] = []
    search_from = 0
    for bookmark in starting_here:
        position = _find_title(text, bookmark.title, search_from)
        if position is None:
            continue
        cuts.append((position, bookmark.path))
        search_from = position + 1

    last = starting_here[-1].path if starting_here else carried
    if not cuts:
        heading = starting_here[0].path if starting_here else carried
        return [Section(heading=heading, text=text, page=page)], last

    sections: list[Section] = []
    starts = [(0, carried), *cuts]
    ends = [position for position, _ in cuts] + [len(text)]
    for (start, heading), end in zip(starts, ends, strict=True):
        part = text[start:end].strip()
        if part:
            sections.append(Section(heading=heading, text=part, page=page))
    return sections, last


def _find_title(text: str, title: str, start: int) -> int | None:
    words = [re.escape(word) for word in title.split()]
    if not words:
        return None
    pattern = re.compile(r"\s*".join(words), re.IGNORECASE)
    match = pattern.search(text, start)
    return match.start() if match else None


def _title(reader: PdfReader, filename: str, sections: list[Section]) -> str:
    try:
        metadata_title = (reader.metadata or {}).get("/Title")  # type: ignore[call-overload]
    except Exception:  # noqa: BLE001 - broken info dictionaries are common
        metadata_title = None
    title = " ".join(str(metadata_title or "").split())
    if title and not _FILENAME_LIKE.search(title) and title.lower() not in {"untitled", "title"}:
        return title
    return PurePath(filename).stem or (sections[0].text.split("\n", 1)[0][:120])


def _page_list(pages: list[int]) -> str:
    shown = ", ".join(str(page) for page in pages[:10])
    return shown + (f" and {len(pages) - 10} more" if len(pages) > 10 else "")
