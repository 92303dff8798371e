"""DOCX text via python-docx: heading styles become the section path, tables become rows.

Table rows are rendered as `cell | cell | cell` so a row stays one retrievable line;
horizontally merged cells (which python-docx repeats) are written once, and nested tables
are flattened into their cell.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePath

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from morgan.rag.extract.limits import Budget, ExtractionCancelled
from morgan.rag.extract.models import (
    HEADING_SEPARATOR,
    NO_TEXT_MESSAGE,
    ErrorCode,
    ExtractedDocument,
    ExtractionError,
    Mime,
    Section,
)
from morgan.rag.extract.tidy import tidy

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_CELL_SEPARATOR = " | "


def extract_docx(
    data: bytes,
    filename: str,
    *,
    include_headers_footers: bool = False,
    max_uncompressed_bytes: int | None = None,
    max_xml_bytes: int | None = None,
    budget: Budget | None = None,
) -> ExtractedDocument:
    budget = budget or Budget()
    if max_uncompressed_bytes is not None or max_xml_bytes is not None:
        _refuse_zip_bomb(data, max_uncompressed_bytes, max_xml_bytes)
    try:
        document = Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises KeyError, lxml errors, PackageNotFound...
        raise ExtractionError(ErrorCode.DAMAGED, f"damaged DOCX: {error!r}") from error

    builder = _SectionBuilder()
    title_from_style = ""
    try:
        for block in document.iter_inner_content():
            budget.check()
            if isinstance(block, Paragraph):
                text = tidy(block.text)
                if not text:
                    continue
                budget.add_chars(len(text))
                if _style_name(block).lower() == "title":
                    title_from_style = title_from_style or text
                    builder.add(text)
                    continue
                level = _heading_level(block)
                if level is not None:
                    builder.heading(level, text)
                else:
                    builder.add(text)
            elif isinstance(block, Table):
                rows = _table_rows(block)
                if rows:
                    budget.add_chars(sum(len(row) for row in rows))
                    builder.add("\n".join(rows))
        if include_headers_footers:
            _add_headers_footers(document, builder)
    except (ExtractionError, ExtractionCancelled):
        raise
    except Exception as error:  # malformed XML parts surface lazily while iterating
        raise ExtractionError(ErrorCode.DAMAGED, f"damaged DOCX content: {error!r}") from error

    sections = builder.finish()
    if not sections:
        raise ExtractionError(ErrorCode.EMPTY, NO_TEXT_MESSAGE)
    return ExtractedDocument(
        title=_title(document, title_from_style, sections, filename),
        mime=Mime.DOCX,
        sections=sections,
    )


class _SectionBuilder:
    """Collects paragraphs under the current heading path."""

    def __init__(self) -> None:
        self._path: list[tuple[int, str]] = []
        self._parts: list[str] = []
        self._sections: list[Section] = []

    def heading(self, level: int, text: str) -> None:
        self._flush()
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))

    def add(self, text: str) -> None:
        self._parts.append(text)

    def add_section(self, heading: str, text: str) -> None:
        self._flush()
        self._sections.append(Section(heading=heading, text=text))

    def finish(self) -> list[Section]:
        self._flush()
        return self._sections

    def _flush(self) -> None:
        if self._parts:
            heading = HEADING_SEPARATOR.join(title for _, title in self._path)
            self._sections.append(Section(heading=heading, text="\n\n".join(self._parts)))
            self._parts = []


def _style_name(paragraph: Paragraph) -> str:
    try:
        style = paragraph.style
    except (KeyError, ValueError):
        return ""
    return (style.name or "") if style is not None else ""


def _heading_level(paragraph: Paragraph) -> int | None:
    match = _HEADING_STYLE.match(_style_name(paragraph))
    if match:
        return int(match.group(1))
    # Documents that style headings by hand may still set an outline level on the paragraph.
    properties = paragraph._p.pPr
    if properties is not None:
        outline = properties.find(qn("w:outlineLvl"))
        if outline is not None:
            value = outline.get(qn("w:val"))
            if value is not None and value.isdigit() and int(value) < 9:
                return int(value) + 1
    return None


def _table_rows(table: Table) -> list[str]:
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a horizontally merged cell is repeated per grid column
                continue
            seen.add(id(cell._tc))
            cells.append(_cell_text(cell))
        while cells and not cells[-1]:
            cells.pop()
        if any(cells):
            rows.append(_CELL_SEPARATOR.join(cells))
    return rows


def _cell_text(cell: _Cell) -> str:
    parts = [tidy(paragraph.text) for paragraph in cell.paragraphs]
    for nested in cell.tables:
        parts.append("; ".join(_table_rows(nested)))
    return " ".join(part for part in parts if part)


def _add_headers_footers(document: DocxDocument, builder: _SectionBuilder) -> None:
    for label, attribute in (("Header", "header"), ("Footer", "footer")):
        texts: list[str] = []
        for section in document.sections:
            part = getattr(section, attribute)
            if part.is_linked_to_previous and texts:
                continue
            for paragraph in part.paragraphs:
                text = tidy(paragraph.text)
                if text and text not in texts:
                    texts.append(text)
        if texts:
            builder.add_section(label, "\n".join(texts))


def _title(
    document: DocxDocument, title_from_style: str, sections: list[Section], filename: str
) -> str:
    core_title = " ".join((document.core_properties.title or "").split())
    if core_title:
        return core_title
    if title_from_style:
        return title_from_style
    first_heading = next((s.heading for s in sections if s.heading), "")
    if first_heading:
        return first_heading.split(HEADING_SEPARATOR)[0]
    return PurePath(filename).stem


def _refuse_zip_bomb(data: bytes, limit: int | None, xml_limit: int | None = None) -> None:
    """Declared sizes are upper bounds (zipfile never reads past them), so check them first.

    The XML parts are what python-docx parses into memory (about ten times their size), so
    they have their own, smaller limit; images and other media only count toward the total.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ExtractionError(ErrorCode.DAMAGED, f"damaged DOCX container: {error}") from error
    total = sum(info.file_size for info in infos)
    if limit is not None and total > limit:
        raise ExtractionError(
            ErrorCode.TOO_LARGE,
            f"DOCX expands to {total} bytes, more than the {limit}-byte limit",
        )
    xml = sum(info.file_size for info in infos if info.filename.endswith((".xml", ".rels")))
    if xml_limit is not None and xml > xml_limit:
        raise ExtractionError(
            ErrorCode.TOO_LARGE,
            f"DOCX text parts expand to {xml} bytes, more than the {xml_limit}-byte limit",
        )
