"""The scrolling chat log: plain user bubbles and Markdown assistant bubbles."""

from __future__ import annotations

from typing import Any

from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream


class UserMessage(Static):
    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False)
        self.text = text
        self.border_title = "You"


class AssistantMessage(Markdown):
    """`text` holds the Markdown shown so far; `state` is streaming, ok, cancelled or failed."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.text = text
        self.state = "streaming" if not text else "ok"
        self.border_title = "Morgan"

    def start_stream(self) -> MarkdownStream:
        return Markdown.get_stream(self)

    async def write(self, stream: MarkdownStream, fragment: str) -> None:
        self.text += fragment
        await stream.write(fragment)

    async def finish(self, text: str) -> None:
        """Shows the server's final text (it may differ: invalid citations are removed)."""
        self.state = "ok"
        if text != self.text:
            self.text = text
            await self.update(text)

    async def fail(self, reason: str, state: str = "failed") -> None:
        self.state = state
        self.add_class(state)
        self.border_subtitle = reason
        if not self.text:
            self.text = f"*({reason})*"
            await self.update(self.text)


class MessageLog(VerticalScroll):
    """Stays pinned to the bottom while an answer streams, unless the user scrolls up."""

    def on_mount(self) -> None:
        self.anchor()

    async def add_user(self, text: str) -> UserMessage:
        bubble = UserMessage(text)
        await self.mount(bubble)
        return bubble

    async def add_assistant(self, text: str = "") -> AssistantMessage:
        bubble = AssistantMessage(text)
        await self.mount(bubble)
        return bubble

    async def show_history(self, messages: list[dict[str, Any]]) -> None:
        await self.remove_children()
        for m in messages:
            if m["role"] == "user":
                await self.add_user(m["content"])
            elif m["role"] == "assistant":
                bubble = await self.add_assistant(m["content"] or "")
                if m.get("status") != "ok":
                    await bubble.fail(str(m.get("error") or m.get("status")))
        self.scroll_end(animate=False)

    def assistant_messages(self) -> list[AssistantMessage]:
        return list(self.query(AssistantMessage))

    def user_messages(self) -> list[UserMessage]:
        return list(self.query(UserMessage))
