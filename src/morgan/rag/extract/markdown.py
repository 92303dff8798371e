"""Markdown and plain text: `#` headings (and setext underlines) become the section path.

Fenced code stays in the text verbatim (people search for function names), and a `#`
line inside a fence is code, not a heading.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from morgan.rag.extract.models import (
    HEADING_SEPARATOR,
    ErrorCode,
    ExtractedDocument,
    ExtractionError,
    Mime,
    Section,
)
from morgan.rag.extract.tidy import tidy, tidy_preformatted

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*\n", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*[\"']?(.*?)[\"']?[ \t]*$", re.MULTILINE)
_EMPTY_MESSAGE = "no extractable text (the file is empty or whitespace only)"


def extract_markdown(text: str, filename: str, *, encoding: str | None = None) -> ExtractedDocument:
    title = ""
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_MATTER_TITLE.search(front.group(1))
        title = found.group(1).strip() if found else ""
        text = text[front.end() :]

    builder = _MarkdownSections()
    fence: str | None = None
    code: list[str] = []
    for line in text.split("\n"):
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                builder.code("\n".join(code))
                code, fence = [], None
            else:
                code.append(line)
            continue
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence = opening.group(1)
            continue
        atx = _ATX.match(line)
        if atx:
            builder.heading(len(atx.group(1)), (atx.group(2) or "").strip())
            continue
        setext = _SETEXT.match(line)
        if setext and builder.last_line_is_paragraph_text():
            builder.heading(1 if setext.group(1)[0] == "=" else 2, builder.pop_last_line())
            continue
        builder.line(line)
    if fence is not None and code:  # unterminated fence: still text
        builder.code("\n".join(code))

    sections = builder.finish()
    if not sections:
        raise ExtractionError(ErrorCode.EMPTY, _EMPTY_MESSAGE)
    first_heading = next((s.heading for s in sections if s.heading), "")
    title = title or first_heading.split(HEADING_SEPARATOR)[0] or PurePath(filename).stem
    return ExtractedDocument(title=title, mime=Mime.MARKDOWN, sections=sections, encoding=encoding)


def extract_plain_text(
    text: str, filename: str, *, encoding: str | None = None
) -> ExtractedDocument:
    cleaned = tidy(text)
    if not cleaned:
        raise ExtractionError(ErrorCode.EMPTY, _EMPTY_MESSAGE)
    return ExtractedDocument(
        title=PurePath(filename).stem or cleaned.split("\n", 1)[0][:120],
        mime=Mime.TEXT,
        sections=[Section(heading="", text=cleaned)],
        encoding=encoding,
    )


class _MarkdownSections:
    def __init__(self) -> None:
        self._path: list[tuple[int, str]] = []
        self._lines: list[str] = []
        self._blocks: list[str] = []
        self._sections: list[Section] = []

    def line(self, line: str) -> None:
        self._lines.append(line)

    def code(self, code: str) -> None:
        self._flush_lines()
        code = tidy_preformatted(code)
        if code.strip():
            self._blocks.append(code)

    def heading(self, level: int, title: str) -> None:
        self._flush_section()
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        if title:
            self._path.append((level, title))

    def last_line_is_paragraph_text(self) -> bool:
        return bool(self._lines and self._lines[-1].strip())

    def pop_last_line(self) -> str:
        return self._lines.pop().strip()

    def finish(self) -> list[Section]:
        self._flush_section()
        return self._sections

    def _flush_lines(self) -> None:
        prose = tidy("\n".join(self._lines))
        self._lines = []
        if prose:
            self._blocks.append(prose)

    def _flush_section(self) -> None:
        self._flush_lines()
        if self._blocks:
            heading = HEADING_SEPARATOR.join(title for _, title in self._path)
            self._sections.append(Section(heading=heading, text="\n\n".join(self._blocks)))
        self._blocks = []
