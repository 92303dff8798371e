"""The sources of the current answer; highlighting one shows its snippet."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


def format_source(source: dict[str, Any]) -> str:
    """`[n] title — heading, page N`, leaving out what the source does not have."""
    line = f"[{source.get('n', '?')}] {source.get('title') or '(untitled)'}"
    heading = source.get("heading") or ""
    title = source.get("title") or ""
    if heading.startswith(f"{title} > "):
        heading = heading[len(title) + 3 :]  # headings repeat the document title as their root
    if heading and heading != title:
        line += f" — {heading}"
    if source.get("page"):
        line += f", page {source['page']}"
    return line


class SourcesPanel(Vertical):
    BORDER_TITLE = "Sources"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield OptionList(id="source-list")
        yield Static("", id="snippet", markup=False)

    @property
    def lines(self) -> list[str]:
        return [format_source(s) for s in self.sources]

    def show(self, sources: list[dict[str, Any]]) -> None:
        self.sources = list(sources)
        options = self.query_one("#source-list", OptionList)
        options.clear_options()
        options.add_options([Option(line, id=str(i)) for i, line in enumerate(self.lines)])
        snippet = self.query_one("#snippet", Static)
        snippet.update("" if sources else "No sources for this answer.")
        self.border_subtitle = f"{len(sources)}" if sources else ""

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_snippet(event.option_index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._show_snippet(event.option_index)

    def _show_snippet(self, index: int) -> None:
        if 0 <= index < len(self.sources):
            source = self.sources[index]
            score = source.get("score")
            tail = f"\n\nscore {score:.3f}" if isinstance(score, (int, float)) else ""
            self.query_one("#snippet", Static).update(f"{source.get('snippet', '')}{tail}")

    @property
    def snippet_text(self) -> str:
        return str(self.query_one("#snippet", Static).content)
