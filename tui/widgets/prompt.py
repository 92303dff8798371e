"""The message box: Enter sends; Shift+Enter or Ctrl+J inserts a newline; in an empty box `+`
and `-` rate the last answer (the box is where people sit, so the keys work there)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = ("shift+enter", "ctrl+j")
RATING_KEYS = {"plus": 5, "minus": 1}


class PromptInput(TextArea):
    @dataclass
    class Submitted(Message):
        prompt: PromptInput
        text: str

    @dataclass
    class Rate(Message):
        rating: int

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self.border_title = "Message · Enter send · Shift+Enter newline · /help"

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        if event.key in RATING_KEYS and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.Rate(RATING_KEYS[event.key]))
            return
        await super()._on_key(event)
