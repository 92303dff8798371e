"""One line: server, degraded components, the last message's emotion and tone, activity."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


def describe_emotion(emotion: dict[str, Any] | None) -> str:
    if not emotion:
        return "—"
    label = str(emotion.get("label", "?"))
    intensity = emotion.get("intensity")
    return f"{label} {intensity:.2f}" if isinstance(intensity, (int, float)) else label


class StatusBar(Static):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.server = "connecting…"
        self.server_ok: bool | None = None
        self.degraded: list[str] = []
        self.emotion: dict[str, Any] | None = None
        self.tone = ""
        self.activity = ""

    def set_server(self, text: str, ok: bool | None, degraded: list[str] | None = None) -> None:
        """`ok`: reachable and authenticated; degraded components are shown beside it."""
        self.server, self.server_ok = text, ok
        if degraded is not None:
            self.degraded = list(degraded)
        self.refresh_line()

    def set_feeling(self, emotion: dict[str, Any] | None, tone: str | None) -> None:
        self.emotion, self.tone = emotion, tone or ""
        self.refresh_line()

    def set_degraded(self, degraded: list[str]) -> None:
        self.degraded = list(degraded)
        self.refresh_line()

    def set_activity(self, activity: str) -> None:
        self.activity = activity
        self.refresh_line()

    @property
    def plain(self) -> str:
        return self.line().plain

    def line(self) -> Text:
        colour = "red" if self.server_ok is False else "green"
        if self.server_ok is None or (self.server_ok and self.degraded):
            colour = "yellow"
        text = Text.assemble(("● ", colour), self.server)
        if self.degraded:
            text.append("  degraded: ", style="yellow")
            text.append(", ".join(self.degraded), style="bold yellow")
        text.append("  │  emotion: ", style="dim")
        text.append(describe_emotion(self.emotion))
        text.append("  tone: ", style="dim")
        text.append(self.tone or "—")
        if self.activity:
            text.append(f"  │  {self.activity}", style="italic cyan")
        return text

    def refresh_line(self) -> None:
        self.update(self.line())

    def on_mount(self) -> None:
        self.refresh_line()
