"""Sniffing, encodings and per-format structure, on files built in the test."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from morgan.rag.extract import (
    HEADING_SEPARATOR,
    ErrorCode,
    ExtractionError,
    Mime,
    extract,
    extract_async,
)

SAMPLES = Path(os.environ.get("MORGAN_SAMPLE_DOCUMENTS", "/work/shared/data/documents"))
needs_samples = pytest.mark.skipif(
    not (SAMPLES / "manifest.tsv").exists(), reason=f"sample documents not found under {SAMPLES}"
)


def make_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Field guide"
    document.add_heading("Chapter 1", level=1)
    document.add_heading("Intro", level=2)
    document.add_paragraph("Owls hunt at night.")
    table = document.add_table(rows=2, cols=3)
    for row, values in zip(
        table.rows, (("Bird", "Size", "Diet"), ("Owl", "40 cm", "mice")), strict=True
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading("Chapter 2", level=1)
    document.add_paragraph("Gulls eat chips.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_text_pdf() -> bytes:
    """A real one-page PDF with a text layer, written with pypdf's content streams."""
    from pypdf.generic import (
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
    )

    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=200)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 20 100 Td (Sniffed by content) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------ sniffing


def test_pdf_renamed_txt_is_a_pdf() -> None:
    document = extract(make_text_pdf(), "notes.txt", declared_mime="text/plain")
    assert document.mime == Mime.PDF
    assert "Sniffed by content" in document.text
    assert document.sections[0].page == 1


def test_text_named_pdf_is_text() -> None:
    document = extract(b"Just some words.\n\nAnother paragraph.", "report.pdf")
    assert document.mime == Mime.TEXT
    assert document.text == "Just some words.\n\nAnother paragraph."


def test_docx_renamed_pdf_is_a_docx() -> None:
    document = extract(make_docx(), "scan.pdf", declared_mime="application/pdf")
    assert document.mime == Mime.DOCX


def test_html_named_txt_is_html() -> None:
    document = extract(b"<!DOCTYPE html><title>T</title><h1>Head</h1><p>Body.</p>", "a.txt")
    assert document.mime == Mime.HTML
    assert document.sections[0].heading == "Head"


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (bytes(range(256)) * 64, "garbage.pdf", ErrorCode.UNSUPPORTED),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "photo.txt", ErrorCode.UNSUPPORTED),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.doc", ErrorCode.UNSUPPORTED),
        (b"", "empty.txt", ErrorCode.EMPTY),
        (b"  \n\t\n ", "blank.md", ErrorCode.EMPTY),
        (b"%PDF-1.7\n garbage garbage", "broken.pdf", ErrorCode.DAMAGED),
        (b"PK\x03\x04 truncated zip", "broken.docx", ErrorCode.DAMAGED),
    ],
)
def test_unreadable_input_fails_with_a_code(data: bytes, name: str, code: ErrorCode) -> None:
    with pytest.raises(ExtractionError) as caught:
        extract(data, name)
    assert caught.value.code is code
    assert caught.value.filename == name


def test_zip_that_is_not_docx_is_unsupported() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ExtractionError, match="Excel") as caught:
        extract(buffer.getvalue(), "sheet.docx")
    assert caught.value.code is ErrorCode.UNSUPPORTED


def test_docx_with_broken_xml_is_damaged() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_docx())) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "word/document.xml":
                content = content[: len(content) // 2]
            target.writestr(item, content)
    with pytest.raises(ExtractionError) as caught:
        extract(buffer.getvalue(), "cut.docx")
    assert caught.value.code is ErrorCode.DAMAGED


def test_truncated_pdf_fails_cleanly() -> None:
    data = make_text_pdf()
    with pytest.raises(ExtractionError) as caught:
        extract(data[: len(data) // 3], "cut.pdf")
    assert caught.value.code in (ErrorCode.DAMAGED, ErrorCode.EMPTY)


def test_size_limit() -> None:
    with pytest.raises(ExtractionError) as caught:
        extract(b"x" * 2000, "big.txt", max_bytes=1000)
    assert caught.value.code is ErrorCode.TOO_LARGE
    assert extract(b"x" * 1000, "fits.txt", max_bytes=1000).text == "x" * 1000


def test_docx_zip_bomb_is_too_large() -> None:
    data = make_docx()
    with pytest.raises(ExtractionError) as caught:
        extract(data, "bomb.docx", max_bytes=len(data) // 10)  # expands past 20x the limit
    assert caught.value.code is ErrorCode.TOO_LARGE


# ----------------------------------------------------------------------------- encodings


@needs_samples
def test_utf16_html_with_lying_meta_uses_the_bom() -> None:
    data = (SAMPLES / "html/example-steelJIS-datasheet-utf-16.html").read_bytes()
    document = extract(data, "datasheet.html", declared_mime="text/html; charset=utf-8")
    assert document.encoding == "utf-16-le"
    assert document.title.startswith("SNB22-3 - SteelJIS")
    assert "\x00" not in document.text and "JIS G 4108" in document.text
    assert "googletag" not in document.text  # ad scripts dropped


@needs_samples
def test_cp1252_html_without_declaration() -> None:
    document = extract((SAMPLES / "html/fake-html-cp1252.html").read_bytes(), "fake.html")
    assert document.encoding == "cp1252"
    for phrase in ("Die schöne Frau", "15,50 €", "El niño comió paella con ñoquis", "köttbullar"):
        assert phrase in document.text


@needs_samples
def test_latin1_markdown_umlauts() -> None:
    document = extract((SAMPLES / "md/umlauts-non-utf8.md").read_bytes(), "umlauts-non-utf8.md")
    assert document.title == "können"
    assert document.sections[0].text == "können\n\näöüß"


def test_meta_charset_is_honoured_when_it_decodes() -> None:
    html = '<html><head><meta charset="koi8-r"><title>t</title></head><body><p>Привет мир</p>'
    document = extract(html.encode("koi8-r"), "ru.html")
    assert document.encoding == "koi8-r"
    assert "Привет мир" in document.text


def test_meta_charset_that_does_not_decode_is_ignored() -> None:
    html = '<html><head><meta charset="utf-8"></head><body><p>Grüße aus Köln, 5 €</p>'
    document = extract(html.encode("cp1252"), "lying.html")
    assert "Grüße aus Köln, 5 €" in document.text


def test_declared_mime_charset_is_honoured() -> None:
    data = "Ça coûte 3 €".encode("iso-8859-15")
    document = extract(data, "note.txt", declared_mime="text/plain; charset=iso-8859-15")
    assert document.text == "Ça coûte 3 €"


def test_utf8_bom_and_crlf() -> None:
    document = extract("\ufeffline one\r\nline two\r\n".encode("utf-8"), "a.txt")
    assert document.encoding == "utf-8"
    assert document.text == "line one\nline two"


# ------------------------------------------------------------------------------- formats


def test_docx_headings_become_paths_and_tables_rows() -> None:
    document = extract(make_docx(), "guide.docx")
    assert document.title == "Field guide"
    by_heading = {section.heading: section.text for section in document.sections}
    intro = f"Chapter 1{HEADING_SEPARATOR}Intro"
    assert set(by_heading) == {intro, "Chapter 2"}
    assert by_heading[intro] == "Owls hunt at night.\n\nBird | Size | Diet\nOwl | 40 cm | mice"
    assert by_heading["Chapter 2"] == "Gulls eat chips."


def test_html_structure_and_chrome() -> None:
    html = b"""<!doctype html><html><head><title>Page</title><style>p{color:red}</style>
    <script>var tracking = 1;</script></head><body>
    <nav><a href="/">Home</a> <a href="/x">Menu item</a></nav>
    <main><h1>Guide</h1><p>Intro <b>bold</b>text.</p>
    <h2>Setup</h2><p>Line one<br>line two</p><ul><li>first</li><li>second</li></ul>
    <h3>Details</h3><table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>
    <h2>Usage</h2><pre>  indented
    code</pre></main>
    <footer>Copyright footer</footer></body></html>"""
    document = extract(html, "page.html")
    assert document.title == "Page"
    sections = {section.heading: section.text for section in document.sections}
    assert sections == {
        "Guide": "Intro boldtext.",
        "Guide > Setup": "Line one\nline two\n\nfirst\nsecond",
        "Guide > Setup > Details": "k | v\na | 1",
        "Guide > Usage": "  indented\n    code",
    }
    for chrome in ("tracking", "color:red", "Menu item", "Copyright"):
        assert chrome not in document.text


def test_markdown_sections_fences_setext_and_front_matter() -> None:
    markdown = """---
title: Front title
---
Intro text.

# Chapter 1

## Intro
Hello.

```python
# not a heading
print("hi")
```

Part two
--------
Words.
"""
    document = extract(markdown.encode(), "doc.md")
    assert document.mime == Mime.MARKDOWN
    assert document.title == "Front title"
    sections = [(section.heading, section.text) for section in document.sections]
    assert sections == [
        ("", "Intro text."),
        ("Chapter 1 > Intro", 'Hello.\n\n# not a heading\nprint("hi")'),
        ("Chapter 1 > Part two", "Words."),
    ]


def test_markdown_is_recognised_by_content_without_extension() -> None:
    document = extract(b"# Title\n\nText.\n\n## Sub\n\nMore.", "README")
    assert document.mime == Mime.MARKDOWN
    assert [s.heading for s in document.sections] == ["Title", "Title > Sub"]


def test_progress_callback_for_single_step_formats() -> None:
    calls: list[tuple[int, int]] = []
    extract(b"hello", "a.txt", on_page=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 1)]


async def test_extract_async_runs_off_the_event_loop() -> None:
    document = await extract_async(make_docx(), "guide.docx")
    assert document.mime == Mime.DOCX
    with pytest.raises(ExtractionError):
        await extract_async(b"", "empty.txt")
