"""Every sample document either extracts to sections or fails with the right error code."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from morgan.rag.extract import ErrorCode, ExtractedDocument, ExtractionError, Mime, extract

SAMPLES = Path(os.environ.get("MORGAN_SAMPLE_DOCUMENTS", "/work/shared/data/documents"))

if not (SAMPLES / "manifest.tsv").exists():
    pytest.skip(f"sample documents not found under {SAMPLES}", allow_module_level=True)

MANIFEST = {
    row["file"]: row
    for row in csv.DictReader((SAMPLES / "manifest.tsv").open(encoding="utf-8"), delimiter="\t")
}
EXPECTED_ERRORS = {
    "pdf/libreoffice-writer-password.pdf": ErrorCode.ENCRYPTED,
    "pdf/imagemagick-CCITTFaxDecode.pdf": ErrorCode.EMPTY,
    "docx/having-images.docx": ErrorCode.EMPTY,
}
MIME_BY_TYPE = {
    "pdf": Mime.PDF,
    "docx": Mime.DOCX,
    "html": Mime.HTML,
    "markdown": Mime.MARKDOWN,
}

_cache: dict[str, ExtractedDocument | ExtractionError] = {}


def extracted(name: str) -> ExtractedDocument:
    """Extract each sample once per test session (the 117-page PDF takes seconds)."""
    if name not in _cache:
        try:
            _cache[name] = extract((SAMPLES / name).read_bytes(), Path(name).name)
        except ExtractionError as error:
            _cache[name] = error
    outcome = _cache[name]
    if isinstance(outcome, ExtractionError):
        raise outcome
    return outcome


def test_manifest_lists_every_sample_file() -> None:
    on_disk = {str(path.relative_to(SAMPLES)) for path in SAMPLES.glob("*/*") if path.is_file()}
    assert on_disk == set(MANIFEST)
    assert set(EXPECTED_ERRORS) <= set(MANIFEST)


# First, so the 117-page extraction it does is cached for the tests after it.
def test_long_pdf_keeps_every_page_number_and_reports_progress() -> None:
    progress: list[tuple[int, int]] = []
    data = (SAMPLES / "pdf/GeoTopo-komprimiert.pdf").read_bytes()
    document = extract(
        data, "GeoTopo-komprimiert.pdf", on_page=lambda d, t: progress.append((d, t))
    )
    _cache["pdf/GeoTopo-komprimiert.pdf"] = document
    assert document.pages == 117
    assert progress == [(done, 117) for done in range(1, 118)]
    pages = [section.page for section in document.sections]
    assert pages == sorted(pages)
    assert set(pages) >= set(range(6, 117))  # the text pages; a few front pages are figures
    assert document.title == "Geometrie und Topologie"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_sample_extracts_or_fails_with_expected_code(name: str) -> None:
    expected_error = EXPECTED_ERRORS.get(name)
    if expected_error is not None:
        with pytest.raises(ExtractionError) as caught:
            extracted(name)
        assert caught.value.code is expected_error
        assert Path(name).name in str(caught.value)
        return
    document = extracted(name)
    assert document.mime == MIME_BY_TYPE[MANIFEST[name]["type"]]
    assert document.sections
    assert all(section.text.strip() for section in document.sections)
    assert document.title
    if document.mime == Mime.PDF:
        assert document.pages is not None and document.pages >= 1
        assert all(1 <= (s.page or 0) <= document.pages for s in document.sections)
    else:
        assert all(section.page is None for section in document.sections)


def test_encrypted_pdf_message_and_password() -> None:
    data = (SAMPLES / "pdf/libreoffice-writer-password.pdf").read_bytes()
    with pytest.raises(ExtractionError, match="encrypted PDF, password required"):
        extract(data, "secret.pdf")
    with pytest.raises(ExtractionError, match="password is wrong") as wrong:
        extract(data, "secret.pdf", password="nope")
    assert wrong.value.code is ErrorCode.ENCRYPTED
    document = extract(data, "secret.pdf", password="openpassword")
    assert document.sections and document.pages == 1


def test_image_only_pdf_says_ocr_is_off() -> None:
    with pytest.raises(ExtractionError, match="OCR is not enabled"):
        extracted("pdf/imagemagick-CCITTFaxDecode.pdf")


def test_broken_xref_pdf_is_recovered_with_a_warning() -> None:
    document = extracted("pdf/issue-297.pdf")
    assert "test example" in document.text
    assert any("repaired" in warning for warning in document.warnings)


def test_pdf_bookmarks_become_heading_paths() -> None:
    document = extracted("pdf/GeoTopo-komprimiert.pdf")
    headings = {section.heading for section in document.sections}
    assert "1 Topologische Grundbegriffe > 1.1 Topologische Räume" in headings
    first_chapter = next(s for s in document.sections if s.heading.endswith("1.2 Metrische Räume"))
    assert first_chapter.text.startswith("1.2 Metrische Räume")


def test_pdf_text_is_cleaned() -> None:
    document = extracted("pdf/GeoTopo-komprimiert.pdf")
    text = document.text
    assert "Auflage" in text and "\ufb02" not in text  # ligature expanded
    assert not any(ord(char) < 32 and char not in "\n\t" for char in text)
    vicksburg = extracted("pdf/Seige_of_Vicksburg_Sample_OCR.pdf").text
    assert "dangerous" in vicksburg  # "dan-\ngerous" joined


def test_multilingual_pdf_keeps_scripts() -> None:
    text = extracted("pdf/multilang.pdf").text
    for phrase in ("Hello World", "Привет, мир", "你好世界", "こんにちは世界"):
        assert phrase in text


def test_docx_tables_are_rows_with_pipes() -> None:
    text = extracted("docx/docx-tables.docx").text
    assert "Header Col 1 | Header Col 2" in text
    assert "Lorem ipsum | A link example" in text
    ragged = extracted("docx/tables-with-incomplete-rows.docx").text
    assert "a | b" in ragged and "b | c | d" in ragged


def test_docx_headers_and_footers_are_optional() -> None:
    data = (SAMPLES / "docx/docx-hdrftr.docx").read_bytes()
    plain = extract(data, "docx-hdrftr.docx")
    assert plain.text == "Main document"
    full = extract(data, "docx-hdrftr.docx", include_headers_footers=True)
    by_heading = {section.heading: section.text for section in full.sections}
    assert "First header para" in by_heading["Header"]
    assert "para1" in by_heading["Footer"]


def test_html_drops_chrome_and_keeps_headings() -> None:
    document = extracted("html/wikipedia-hermitian-matrix.html")
    assert document.title == "Hermitian matrix - Wikipedia"
    headings = [section.heading for section in document.sections]
    assert headings[0] == "Hermitian matrix"
    assert "Hermitian matrix > Alternative characterizations > Spectral properties" in headings
    text = document.text
    assert "Navigation menu" not in text and "Personal tools" not in text
    assert "[edit]" not in text
    assert "{\\displaystyle" not in text  # MathML rendered once, as its TeX source


def test_html_code_blocks_keep_their_lines() -> None:
    text = extracted("html/v8-blog.html").text
    assert "// add.c\n#include <emscripten.h>" in text


def test_markdown_headings_and_code() -> None:
    document = extracted("md/pypdf-extract-text.md")
    headings = [section.heading for section in document.sections]
    assert (
        "Extract Text from a PDF > Using a visitor > Example 1: Ignore header and footer"
        in headings
    )
    assert not any("extract only text oriented up" in heading for heading in headings)
    assert "# extract only text oriented up" in document.sections[0].text


def test_pdf_pages_read_in_worker_processes_match_sequential() -> None:
    name = "pdf/GeoBase_NHNC1_Data_Model_UML_EN.pdf"  # 19 pages: enough for two processes
    progress: list[int] = []
    parallel = extract(
        (SAMPLES / name).read_bytes(),
        Path(name).name,
        pdf_workers=2,
        on_page=lambda done, total: progress.append(done),
    )
    assert parallel == extracted(name)
    assert progress == sorted(progress) and progress[-1] == 19
    assert 1 < len(progress) < 19  # batches of pages, not the sequential per-page path
