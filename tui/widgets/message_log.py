"""The scrolling chat log: user bubbles (with the emotion Morgan read), Markdown answers, the
evidence sentences under an answer, and notes from slash commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import RenderableType
from rich.markup import escape
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from morgan.chat.schemas import EmotionOut, EvidenceOut

EKMAN_COLOURS = {
    "joy": "green",
    "surprise": "cyan",
    "sadness": "dodger_blue1",
    "fear": "magenta",
    "anger": "red",
    "disgust": "dark_orange",
    "neutral": "grey62",
}


def describe_emotion(emotion: EmotionOut | None) -> str:
    """`worry 70%`: the label is always spelled out, so it reads without colour."""
    if emotion is None:
        return "—"
    return f"{emotion.label} {emotion.intensity:.0%}"


class UserMessage(Static):
    def __init__(self, text: str) -> None:
        super().__init__(text, markup=False)
        self.text = text
        self.emotion: EmotionOut | None = None
        self.border_title = "You"

    def set_emotion(self, emotion: EmotionOut | None) -> None:
        self.emotion = emotion
        if emotion is None:
            self.border_subtitle = ""
            return
        colour = EKMAN_COLOURS.get(emotion.ekman, "grey62")
        self.border_subtitle = (
            f"[{colour}]●[/] feeling: [b {colour}]{escape(describe_emotion(emotion))}[/]"
        )
        self.set_class(True, f"-emotion-{emotion.ekman}")


class AssistantMessage(Markdown):
    """`text` holds the Markdown shown so far; `state` is streaming, ok, cancelled or failed."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.text = text
        self.state = "streaming" if not text else "ok"
        self.message_id: str | None = None
        self.safety = False
        self.rating: int | None = None
        self.footer = ""
        self.border_title = "Morgan"

    def start_stream(self) -> MarkdownStream:
        return Markdown.get_stream(self)

    async def write(self, stream: MarkdownStream, fragment: str) -> None:
        self.text += fragment
        await stream.write(fragment)

    async def finish(
        self, text: str, *, message_id: str, safety: bool = False, footer: str = ""
    ) -> None:
        """Shows the server's final text (it may differ: invalid citations are removed)."""
        self.state = "ok"
        self.message_id = message_id
        self.footer = footer
        if safety:
            self.mark_safety()
        self._subtitle()
        if text != self.text:
            self.text = text
            await self.update(text)

    def mark_safety(self) -> None:
        """A crisis reply: the server answered with support resources, not from documents."""
        self.safety = True
        self.add_class("safety")
        self.border_title = "Morgan · support"

    def rate(self, rating: int) -> None:
        self.rating = rating
        self._subtitle()

    def _subtitle(self) -> None:
        parts = [self.footer] if self.footer else []
        if self.rating is not None:
            parts.append(f"you rated {self.rating}/5")
        self.border_subtitle = " · ".join(parts)

    async def fail(self, reason: str, state: str = "failed") -> None:
        self.state = state
        self.add_class(state)
        self.border_subtitle = reason
        if not self.text:
            self.text = f"*({reason})*"
            await self.update(self.text)


def evidence_text(items: Sequence[EvidenceOut]) -> Text:
    """`[n] "sentence" — heading, p. N`, one a line: what the answer rests on, word for word."""
    out = Text()
    for i, item in enumerate(items):
        if i:
            out.append("\n")
        out.append(f"[{item.n}] ", style="bold")
        out.append(f"“{item.text}”")
        where = [item.heading, f"p. {item.page}" if item.page else ""]
        if any(where):
            out.append(f" — {', '.join(w for w in where if w)}", style="dim")
    return out


class Evidence(Static):
    """The sentences from the cited chunks that answer the question, under their answer."""

    def __init__(self, items: Sequence[EvidenceOut]) -> None:
        super().__init__(evidence_text(items))
        self.items = list(items)
        self.border_title = "Evidence"

    @property
    def plain(self) -> str:
        return evidence_text(self.items).plain


class Note(Static):
    """Output of a slash command (/help, /status, /model): part of the screen, not the chat."""

    def __init__(self, title: str, body: RenderableType, plain: str | None = None) -> None:
        super().__init__(body, markup=False)
        self.body = body
        self.border_title = title
        self._plain = plain

    @property
    def plain(self) -> str:
        if self._plain is not None:
            return self._plain
        return self.body.plain if isinstance(self.body, Text) else str(self.body)


class MessageLog(VerticalScroll):
    """Stays pinned to the bottom while an answer streams, unless the user scrolls up."""

    def on_mount(self) -> None:
        self.anchor()

    async def add_user(self, text: str) -> UserMessage:
        bubble = UserMessage(text)
        await self.mount(bubble)
        self.anchor()  # a new question: follow the answer again, wherever the user had scrolled
        return bubble

    async def add_assistant(self, text: str = "") -> AssistantMessage:
        bubble = AssistantMessage(text)
        await self.mount(bubble)
        return bubble

    async def add_evidence(
        self, bubble: AssistantMessage, items: Sequence[EvidenceOut]
    ) -> Evidence | None:
        if not items:
            return None
        block = Evidence(items)
        await self.mount(block, after=bubble)
        return block

    async def add_note(
        self, title: str, body: RenderableType, plain: str | None = None, *, top: bool = False
    ) -> Note:
        """`top`: scroll so the note's first line shows (long notes like /help)."""
        note = Note(title, body, plain)
        await self.mount(note)
        if top:
            self.release_anchor()
        self.call_after_refresh(self.scroll_to_widget, note, animate=False, top=top)
        return note

    async def show_history(self, messages: list[dict[str, Any]]) -> None:
        await self.remove_children()
        for m in messages:
            if m["role"] == "user":
                await self.add_user(m["content"])
            elif m["role"] == "assistant":
                bubble = await self.add_assistant(m["content"] or "")
                bubble.message_id = str(m["id"])
                if m.get("status") != "ok":
                    await bubble.fail(str(m.get("error") or m.get("status")))
        self.scroll_end(animate=False)

    def assistant_messages(self) -> list[AssistantMessage]:
        return list(self.query(AssistantMessage))

    def user_messages(self) -> list[UserMessage]:
        return list(self.query(UserMessage))

    def notes(self) -> list[Note]:
        return list(self.query(Note))

    def evidence(self) -> list[Evidence]:
        return list(self.query(Evidence))
