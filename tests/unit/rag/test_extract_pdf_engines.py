"""PDF page text comes from PDFium (fast) and matches what pypdf reads; pypdf still reads
what PDFium cannot (and is the only reader when pypdfium2 is absent)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from morgan.rag.extract import extract
from morgan.rag.extract.pdf import _pdfium_texts, _read_pages
from morgan.rag.extract.tidy import tidy

SAMPLES = Path(os.environ.get("MORGAN_SAMPLE_DOCUMENTS", "/work/shared/data/documents"))
WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if len(w) > 2}


@pytest.mark.parametrize(
    "name", ["GeoBase_NHNC1_Data_Model_UML_EN.pdf", "multicolumn.pdf", "google-doc-document.pdf"]
)
def test_pdfium_reads_the_words_pypdf_reads(name: str) -> None:
    data = (SAMPLES / "pdf" / name).read_bytes()
    reader = PdfReader(io.BytesIO(data))
    fast = _pdfium_texts(data, None, 0, len(reader.pages))
    assert fast is not None and len(fast) == len(reader.pages)
    # pypdf leaves "adip-\niscing" and ligatures for tidy(); PDFium joins them itself.
    slow = [tidy(page.extract_text() or "", join_hyphenation=True) for page in reader.pages]
    fast_words = _words(" ".join(t or "" for t in fast))
    slow_words = _words(" ".join(slow))
    assert len(fast_words & slow_words) >= 0.9 * len(slow_words)
    assert all("\r" not in (t or "") and "\x02" not in (t or "") for t in fast)


def test_encrypted_pdf_is_read_by_pdfium_with_its_password() -> None:
    data = (SAMPLES / "pdf/libreoffice-writer-password.pdf").read_bytes()
    assert _pdfium_texts(data, None, 0, 1) is None  # cannot open without the password
    texts = _pdfium_texts(data, "openpassword", 0, 1)
    assert texts and texts[0] and texts[0].strip()
    assert extract(data, "secret.pdf", password="openpassword").sections


def test_pages_pdfium_cannot_read_fall_back_to_pypdf() -> None:
    data = (SAMPLES / "pdf/minimal-document.pdf").read_bytes()
    reader = PdfReader(io.BytesIO(data))
    # Not a PDF for PDFium: every page comes from pypdf, as before PDFium was used.
    texts = _read_pages(reader, b"not a pdf", None, 0, len(reader.pages))
    assert texts == [page.extract_text() for page in reader.pages]
