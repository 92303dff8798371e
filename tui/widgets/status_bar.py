"""One line: the server, the last answer's tone and model, and what Morgan is doing now."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


class StatusBar(Static):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.server = "connecting…"
        self.server_ok: bool | None = None
        self.degraded: list[str] = []
        self.tone = ""
        self.model = ""
        self.activity = ""
        self.hint = ""

    def set_server(self, text: str, ok: bool | None, degraded: list[str] | None = None) -> None:
        """`ok`: reachable and authenticated."""
        self.server, self.server_ok = text, ok
        if degraded is not None:
            self.degraded = list(degraded)
        self.refresh_line()

    def set_answer(self, tone: str | None, model: str | None = None) -> None:
        self.tone = tone or ""
        if model is not None:
            self.model = model
        self.refresh_line()

    def set_degraded(self, degraded: list[str]) -> None:
        self.degraded = list(degraded)
        self.refresh_line()

    def set_activity(self, activity: str) -> None:
        self.activity = activity
        self.refresh_line()

    def set_hint(self, hint: str) -> None:
        """What is folded away (`F3: 2 sources`) on a narrow terminal."""
        self.hint = hint
        self.refresh_line()

    @property
    def plain(self) -> str:
        return self.line().plain

    def line(self) -> Text:
        colour = "red" if self.server_ok is False else "green"
        mark = "✗" if self.server_ok is False else "●"
        if self.server_ok is None or (self.server_ok and self.degraded):
            colour, mark = "yellow", "◐"
        text = Text.assemble((f"{mark} ", colour), self.server)
        text.append("  tone: ", style="dim")
        text.append(self.tone or "—")
        if self.model:
            text.append("  model: ", style="dim")
            text.append(self.model)
        if self.hint:
            text.append(f"  {self.hint}", style="bold")
        if self.activity:
            text.append(f"  {self.activity}", style="italic cyan")
        return text

    def refresh_line(self) -> None:
        self.update(self.line())

    def on_mount(self) -> None:
        self.refresh_line()
