"""The conversation panel: a search box over the list; the option id is the conversation id."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option


def conversation_label(row: dict[str, Any]) -> Text:
    when = str(row.get("updated_at", ""))[:16].replace("T", " ")
    count = row.get("messages", 0)
    label = Text(
        str(row.get("title") or "(untitled)"), style="bold", overflow="ellipsis", no_wrap=True
    )
    label.append(f"\n{when} · {count} msg{'s' if count != 1 else ''}", style="dim")
    return label


class ConversationList(OptionList):
    """Select (Enter / click) opens a conversation; `n`, `r`, `d` are app bindings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: dict[str, dict[str, Any]] = {}

    def set_conversations(self, rows: list[dict[str, Any]], current_id: str | None) -> None:
        keep = self.highlighted_id or current_id
        self.rows = {str(r["id"]): r for r in rows}
        self.clear_options()
        self.add_options([Option(conversation_label(r), id=str(r["id"])) for r in rows])
        target = current_id if current_id in self.rows else keep
        if target in self.rows:
            self.highlighted = self.get_option_index(target)

    @property
    def highlighted_id(self) -> str | None:
        if self.highlighted is None or self.option_count == 0:
            return None
        return self.get_option_at_index(self.highlighted).id

    def title_of(self, conversation_id: str) -> str:
        return str(self.rows.get(conversation_id, {}).get("title", ""))


class ConversationPanel(Vertical):
    """Typing in the search box asks the server for conversations whose title or text match."""

    BORDER_TITLE = "Conversations"

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search conversations…", id="search")
        yield ConversationList(id="conversations")

    @property
    def search(self) -> str:
        return self.query_one("#search", Input).value

    def show_count(self, shown: int) -> None:
        query = self.search.strip()
        self.border_subtitle = f"{shown} matching" if query else (str(shown) if shown else "")
