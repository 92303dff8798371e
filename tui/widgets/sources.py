"""The sources of the current answer; highlighting one shows the cited chunk, page and heading."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from morgan.chat.schemas import SourceOut


def short_heading(source: SourceOut) -> str:
    """The heading without the document title, which headings repeat as their root."""
    heading, title = source.heading or "", source.title or ""
    if heading.startswith(f"{title} > "):
        heading = heading[len(title) + 3 :]
    return "" if heading == title else heading


def format_source(source: SourceOut) -> str:
    """`[n] title — heading, page N`, leaving out what the source does not have."""
    line = f"[{source.n}] {source.title or '(untitled)'}"
    if heading := short_heading(source):
        line += f" — {heading}"
    if source.page:
        line += f", page {source.page}"
    return line


def describe_source(source: SourceOut) -> Text:
    """The detail view: where the chunk sits, then its text."""
    text = Text()
    text.append(f"[{source.n}] {source.title or '(untitled)'}\n", style="bold")
    where = [f"page {source.page}" if source.page else "", f"chunk {source.chunk_index}"]
    if heading := short_heading(source):
        text.append(f"{heading}\n", style="italic")
    text.append(" · ".join(w for w in where if w) + f" · score {source.score:.3f}\n", style="dim")
    if not source.supports:
        text.append("the closest passage; it does not answer the question\n", style="italic yellow")
    text.append("\n")
    text.append(source.snippet)
    return text


class SourcesPanel(Vertical):
    BORDER_TITLE = "Sources"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources: list[SourceOut] = []
        self.cited: set[int] = set()

    def compose(self) -> ComposeResult:
        yield OptionList(id="source-list")
        yield Static("", id="snippet")

    @property
    def lines(self) -> list[str]:
        return [format_source(s) for s in self.sources]

    def show(self, sources: Iterable[SourceOut], cited: Iterable[int] = ()) -> None:
        """`cited`: the [n] the answer uses; they are marked, the rest are only retrieved."""
        self.sources = list(sources)
        self.cited = set(cited)
        options = self.query_one("#source-list", OptionList)
        options.clear_options()
        options.add_options(
            [
                Option(Text(("● " if s.n in self.cited else "  ") + line), id=str(i))
                for i, (s, line) in enumerate(zip(self.sources, self.lines, strict=True))
            ]
        )
        snippet = self.query_one("#snippet", Static)
        if self.sources:
            options.highlighted = 0  # the first source's chunk shows at once
            self._show_snippet(0)
        else:
            snippet.update("No sources for this answer.")
        cited_count = len([s for s in self.sources if s.n in self.cited])
        self.border_subtitle = (
            f"{cited_count} cited of {len(self.sources)}"
            if self.cited
            else str(len(self.sources) or "")
        )

    def on_mount(self) -> None:
        self.show([])

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_snippet(event.option_index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._show_snippet(event.option_index)

    def _show_snippet(self, index: int) -> None:
        if 0 <= index < len(self.sources):
            self.query_one("#snippet", Static).update(describe_source(self.sources[index]))

    @property
    def snippet_text(self) -> str:
        content = self.query_one("#snippet", Static).content
        return content.plain if isinstance(content, Text) else str(content)
