"""Decide a file's kind from its bytes, never from its name.

Uploads arrive with whatever name and MIME type the client chose; a `.pdf` that holds
plain text is text, and a PDF renamed `.txt` is a PDF. The name and declared type only
break the tie between Markdown and plain text, where the bytes cannot.
"""

from __future__ import annotations

import io
import re
import zipfile
from enum import StrEnum
from pathlib import PurePath

from morgan.rag.extract.models import ErrorCode, ExtractionError


class Kind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    TEXT_LIKE = "text"  # HTML, Markdown or plain text: decided after decoding


_PDF_MAGIC = b"%PDF-"
_PDF_MAGIC_WINDOW = 1024  # the spec tolerates junk before the header; readers look this far
_ZIP_MAGIC = b"PK\x03\x04"

_KNOWN_BINARIES: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Microsoft Office file (.doc/.xls/.ppt)"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\x7fELF", "executable"),
    (b"MZ", "executable"),
    (b"{\\rtf", "RTF document"),
)

_ZIP_FLAVOURS: tuple[tuple[str, str], ...] = (
    ("xl/workbook.xml", "Excel workbook (.xlsx)"),
    ("ppt/presentation.xml", "PowerPoint presentation (.pptx)"),
    ("content.xml", "OpenDocument file"),
)

_MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdown", ".mkd", ".mkdn"}
_HTML_START = re.compile(
    r"""\A(?:\s|<!--.*?-->|<\?xml[^>]*>)*
        <(?:!doctype\s+html|html|head|body|meta|title|script|style|iframe|h[1-6]|div|font
           |table|a|b|br|p|link|base|main|article|section|header|nav|ul|ol|pre)[\s/>]""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def sniff_binary(data: bytes) -> Kind:
    """PDF and DOCX by magic bytes; anything else must turn out to be text."""
    if _PDF_MAGIC in data[:_PDF_MAGIC_WINDOW]:
        return Kind.PDF
    if data.startswith(_ZIP_MAGIC):
        return _sniff_zip(data)
    for magic, description in _KNOWN_BINARIES:
        if data.startswith(magic):
            raise ExtractionError(ErrorCode.UNSUPPORTED, f"unsupported file type: {description}")
    return Kind.TEXT_LIKE


def looks_like_document(head: bytes) -> bool:
    """For files without an extension (README, copyright): is the start of the file something
    `extract` can read? PDF/DOCX by magic bytes, otherwise text: no NUL bytes, decodes."""
    if head.startswith(_ZIP_MAGIC):
        return True  # only the first bytes are here: the server tells DOCX from other ZIPs
    try:
        kind = sniff_binary(head)
    except ExtractionError:
        return False
    if kind is not Kind.TEXT_LIKE:
        return True
    if b"\x00" in head:
        return head.startswith((b"\xff\xfe", b"\xfe\xff"))  # UTF-16 text carries a BOM
    return True


def _sniff_zip(data: bytes) -> Kind:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ExtractionError(ErrorCode.DAMAGED, f"damaged ZIP container: {error}") from error
    if "word/document.xml" in names:
        return Kind.DOCX
    for marker, description in _ZIP_FLAVOURS:
        if marker in names:
            raise ExtractionError(ErrorCode.UNSUPPORTED, f"unsupported file type: {description}")
    raise ExtractionError(ErrorCode.UNSUPPORTED, "unsupported file type: ZIP archive")


def looks_like_html(text: str) -> bool:
    return _HTML_START.match(text[:4096]) is not None


def looks_like_markdown(text: str, filename: str, declared_mime: str | None) -> bool:
    if PurePath(filename).suffix.lower() in _MARKDOWN_SUFFIXES:
        return True
    if declared_mime and declared_mime.split(";")[0].strip().lower() == "text/markdown":
        return True
    # Content alone: a couple of ATX headings, or a heading plus a fenced code block.
    headings = len(_ATX_HEADING.findall(text[:65536]))
    return headings >= 2 or (headings >= 1 and _FENCE.search(text[:65536]) is not None)


def probably_html_bytes(data: bytes) -> bool:
    """A cheap look before decoding, to know whether a <meta charset> should be honoured."""
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<!--")) or (
        b"<html" in head or b"<body" in head or b"<meta" in head
    )
