"""The screen shown while the server cannot be used: what is wrong, how to fix it, Retry."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Label, Static


class ServerDownScreen(Screen[None]):
    """Covers the chat until a retry works; the app pops it once the server answers."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r,enter", "retry", "Retry", priority=True),
        Binding("q", "app.quit", "Quit"),
    ]

    class Retry(Message):
        """Asks the app to connect again."""

    def __init__(self, title: str, detail: str, hint: str) -> None:
        super().__init__()
        self.title_text, self.detail, self.hint = title, detail, hint

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="down-box"):
            yield Label(f"✗ {self.title_text}", id="down-title", markup=False)
            yield Static(self.detail, id="down-detail", markup=False)
            yield Static(self.hint, id="down-hint", markup=False)
            yield Static("", id="down-state", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Retry (r)", variant="primary", id="retry")
                yield Button("Quit (q)", id="quit")

    def update(self, title: str, detail: str, hint: str) -> None:
        self.title_text, self.detail, self.hint = title, detail, hint
        self.query_one("#down-title", Label).update(f"✗ {title}")
        self.query_one("#down-detail", Static).update(detail)
        self.query_one("#down-hint", Static).update(hint)
        self.set_state("")

    def set_state(self, text: str) -> None:
        self.query_one("#down-state", Static).update(text)

    @property
    def state_text(self) -> str:
        return str(self.query_one("#down-state", Static).content)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "retry":
            self.action_retry()
        else:
            self.app.exit()

    def action_retry(self) -> None:
        self.set_state("retrying…")
        self.post_message(self.Retry())
