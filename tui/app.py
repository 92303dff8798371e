"""The chat app: conversations, a streaming Markdown log, sources and evidence, slash commands.

Every call to the server runs in a worker, so the screen stays responsive; a failure is a
notification, and a server that cannot be used is a screen with Retry, never a traceback.
Below 100 columns the side panels fold away (F2 / F3 bring them back), so 80x24 over SSH works.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import urlsplit

import msgspec
import structlog
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.widgets import Footer, Header, Input, OptionList, TextArea
from textual.worker import Worker

from morgan.chat.schemas import (
    ChatResponse,
    DoneEvent,
    ErrorEvent,
    MetaEvent,
    SourceOut,
    StreamEvent,
    TokenEvent,
)
from morgan.cli.client import EXIT_AUTH, EXIT_SERVER, EXIT_UNREACHABLE
from morgan.llm.citations import cited_numbers
from tui.client import AsyncMorganClient, ClientError, FeedbackUnavailable
from tui.commands import (
    COMMANDS,
    KEYS,
    Command,
    CommandError,
    parse_command,
    parse_feedback,
    unescape,
)
from tui.styles import APP_CSS
from tui.widgets import (
    AssistantMessage,
    ConfirmDialog,
    ConversationList,
    ConversationPanel,
    DegradedBanner,
    MessageLog,
    PromptInput,
    RenameDialog,
    ServerDownScreen,
    SourcesPanel,
    StatusBar,
    UserMessage,
)

log = structlog.get_logger(__name__)

STATUS_REFRESH_S = 30.0
NARROW_COLUMNS = 100
"""Below this width one side panel at most is shown, and none until asked for."""


class MorganChatApp(App[None]):
    TITLE = "Morgan"
    CSS = APP_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+c", "copy_or_quit", "Quit", show=False, priority=True),
        Binding("escape", "cancel_answer", "Cancel", show=False, priority=True),
        Binding("f1", "help", "Help"),
        Binding("f2", "toggle_sidebar", "Chats"),
        Binding("f3", "toggle_sources", "Sources"),
        Binding("ctrl+n", "new_conversation", "New", show=False),
        Binding("n", "new_conversation", "New", show=False),
        Binding("r", "rename_conversation", "Rename", show=False),
        Binding("d", "delete_conversation", "Delete", show=False),
        Binding("plus", "feedback(5)", "Good", key_display="+"),
        Binding("minus", "feedback(1)", "Bad", key_display="-"),
        Binding("f5", "reconnect", "Reconnect", show=False),
        Binding("ctrl+l", "focus_prompt", "Type", show=False),
    ]

    def __init__(
        self,
        client: AsyncMorganClient | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        conversation_id: str | None = None,
    ) -> None:
        super().__init__()
        self.client = client or AsyncMorganClient(url, token)
        self.conversation_id = conversation_id
        self.last_answer: AssistantMessage | None = None
        self.chat_worker: Worker[None] | None = None
        self.model: str | None = None
        """Sent with each question when set (`/model NAME`); None lets the server choose."""
        self.server_status: dict[str, Any] = {}
        self.down_screen: ServerDownScreen | None = None
        self.narrow: bool | None = None

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield DegradedBanner(id="banner")
        with Horizontal(id="body"):
            yield ConversationPanel(id="sidebar")
            with Vertical(id="main"):
                yield MessageLog(id="log")
                yield PromptInput(id="prompt")
            yield SourcesPanel(id="sources")
        yield StatusBar(id="status")
        yield Footer()

    @property
    def message_log(self) -> MessageLog:
        return self.query_one(MessageLog)

    @property
    def sidebar(self) -> ConversationList:
        return self.query_one(ConversationList)

    @property
    def sidebar_panel(self) -> ConversationPanel:
        return self.query_one(ConversationPanel)

    @property
    def sources(self) -> SourcesPanel:
        return self.query_one(SourcesPanel)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def banner(self) -> DegradedBanner:
        return self.query_one(DegradedBanner)

    @property
    def prompt_input(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def last_answer_id(self) -> str | None:
        return self.last_answer.message_id if self.last_answer else None

    @property
    def streaming(self) -> bool:
        return self.chat_worker is not None and self.chat_worker.is_running

    def _busy(self) -> bool:
        """True (and says so) while an answer streams: one conversation changes at a time."""
        if self.streaming:
            self.notify(
                "an answer is still streaming; press Escape to cancel it", severity="warning"
            )
        return self.streaming

    def on_mount(self) -> None:
        self.sub_title = self.client.url
        self.prompt_input.focus()
        self._fit(self.size.width)
        self.call_server(self._connect, group="connect")
        self.set_interval(
            STATUS_REFRESH_S,
            lambda: self.call_server(self._refresh_status_quietly, group="refresh", exclusive=True),
        )

    async def on_unmount(self) -> None:
        await self.client.aclose()

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        narrow = width < NARROW_COLUMNS
        if narrow == self.narrow:
            return
        self.narrow = narrow
        self.set_class(narrow, "-hide-sidebar")
        self.set_class(narrow, "-hide-sources")
        self._hint_folded()

    def panel_shown(self, name: str) -> bool:
        return not self.has_class(f"-hide-{name}")

    def show_panel(self, name: str, show: bool = True) -> None:
        """In a narrow terminal one panel at a time: showing one folds the other."""
        other = "sources" if name == "sidebar" else "sidebar"
        if show and self.narrow:
            self.add_class(f"-hide-{other}")
        self.set_class(not show, f"-hide-{name}")
        self._hint_folded()

    # -- running server calls -----------------------------------------------------------------
    def call_server(
        self, job: Callable[[], Awaitable[Any]], *, group: str = "server", exclusive: bool = False
    ) -> Worker[None]:
        """Runs `job` in a worker; a failure becomes a notification (or the server-down screen)."""

        async def guarded() -> None:
            try:
                await job()
            except ClientError as exc:
                self.report(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the UI boundary: show it, never crash
                log.exception("tui_unexpected_error")
                self.notify(f"unexpected error: {exc}", title="Error", severity="error")

        return self.run_worker(guarded(), group=group, exclusive=exclusive, exit_on_error=False)

    def report(self, exc: ClientError) -> None:
        if isinstance(exc, FeedbackUnavailable):
            self.notify(exc.message, title="Feedback", severity="warning")
            return
        if exc.exit_code in (EXIT_UNREACHABLE, EXIT_AUTH):
            self.show_server_down(exc)
            return
        title = "Server error" if exc.exit_code >= EXIT_SERVER else "Request failed"
        self.notify(exc.message, title=title, severity="error", timeout=10)

    def show_server_down(self, exc: ClientError) -> None:
        if exc.exit_code == EXIT_AUTH:
            title, hint = (
                "The Morgan server refused this token",
                "Pass --token or set MORGAN_TOKEN, then press r to retry.",
            )
        else:
            title, hint = (
                "Morgan's server is not answering",
                f"Is it running elsewhere? Check --url / MORGAN_URL. Morgan retries every "
                f"{STATUS_REFRESH_S:.0f} s; press r to retry now.",
            )
        self.status_bar.set_server(title.lower(), False)
        if self.down_screen is not None:
            self.down_screen.update(title, exc.message, hint)
            return
        self.down_screen = ServerDownScreen(title, exc.message, hint)
        self.push_screen(self.down_screen)

    def _server_back(self) -> None:
        if self.down_screen is not None:
            if self.screen is self.down_screen:
                self.pop_screen()
            self.down_screen = None
            self.notify("connected to the Morgan server", title="Back online")

    @on(ServerDownScreen.Retry)
    def retry(self) -> None:
        self.call_server(self._connect, group="connect", exclusive=True)

    async def _connect(self) -> None:
        await self._refresh_status()
        self._server_back()
        await self._refresh_conversations()
        if self.conversation_id:
            await self._load_conversation(self.conversation_id)

    async def _refresh_status(self) -> None:
        body = await self.client.status()
        self.server_status = body
        degraded = [str(d) for d in body.get("degraded", [])]
        self.status_bar.set_server(
            f"{body.get('user', '?')}@{urlsplit(self.client.url).netloc} · {body.get('mode', '?')}",
            True,
            degraded,
        )
        self.banner.show(degraded)

    async def _refresh_status_quietly(self) -> None:
        was_ok = self.status_bar.server_ok
        if was_ok is None or self.streaming:
            return
        try:
            if was_ok is False:  # the server may be back: the same path as Retry
                await self._connect()
            else:
                await self._refresh_status()
        except ClientError as exc:
            self.report(exc)

    async def _refresh_conversations(self) -> None:
        rows = await self.client.conversations(search=self.sidebar_panel.search)
        self.sidebar.set_conversations(rows, self.conversation_id)
        self.sidebar_panel.show_count(len(rows))

    async def _load_conversation(self, conversation_id: str) -> None:
        messages = await self.client.messages(conversation_id)
        self.conversation_id = conversation_id
        await self.message_log.show_history(messages)
        answers = [b for b in self.message_log.assistant_messages() if b.state == "ok"]
        self.last_answer = answers[-1] if answers else None
        stored = [m for m in messages if m["role"] == "assistant" and m.get("status") == "ok"]
        last = stored[-1] if stored else {}
        self._show_sources(_sources(last.get("sources") or []), str(last.get("content") or ""))
        self.status_bar.set_answer(None, last.get("model"))
        if last:
            self.banner.show([*self.status_bar.degraded, *last.get("degraded", [])])

    def _show_sources(self, sources: list[SourceOut], answer: str = "") -> None:
        self.sources.show(sources, cited_numbers(answer) if answer else ())
        self._hint_folded()

    def _hint_folded(self) -> None:
        count = len(self.sources.sources)
        folded = count and not self.panel_shown("sources")
        self.status_bar.set_hint(f"F3: {count} source{'s' if count != 1 else ''}" if folded else "")

    # -- chatting -----------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def send(self, event: PromptInput.Submitted) -> None:
        text = event.text.strip()
        if not text:
            return
        try:
            command = parse_command(text)
        except CommandError as exc:
            self.notify(str(exc), title="Command", severity="warning")
            return
        if command is not None:
            event.prompt.clear()
            await self.run_command(command)
            return
        if self._busy():
            return
        event.prompt.clear()
        question = unescape(text)
        user = await self.message_log.add_user(question)
        bubble = await self.message_log.add_assistant()
        self._show_sources([])
        self.chat_worker = self.run_worker(
            self._stream_answer(question, user, bubble),
            group="chat",
            exclusive=True,
            exit_on_error=False,
        )

    async def _stream_answer(self, text: str, user: UserMessage, bubble: AssistantMessage) -> None:
        stream = bubble.start_stream()
        self.status_bar.set_activity("thinking…")
        new_conversation = self.conversation_id is None
        try:
            async for event in self.client.chat_stream(text, self.conversation_id, self.model):
                await self._on_stream_event(event, user, bubble, stream)
        except ClientError as exc:
            await stream.stop()
            await bubble.fail(exc.message)
            self.report(exc)
        except asyncio.CancelledError:
            await stream.stop()
            await bubble.fail("cancelled", state="cancelled")
            self.notify("answer cancelled", severity="warning")
            raise
        except Exception as exc:  # the UI boundary: show it, never crash
            log.exception("tui_stream_failed")
            await stream.stop()
            await bubble.fail(str(exc))
            self.notify(f"unexpected error: {exc}", title="Error", severity="error")
        else:
            await stream.stop()
        finally:
            self.status_bar.set_activity("")
        if self.conversation_id is not None and (new_conversation or bubble.state == "ok"):
            self.call_server(self._refresh_conversations)

    async def _on_stream_event(
        self, event: StreamEvent, user: UserMessage, bubble: AssistantMessage, stream: Any
    ) -> None:
        if isinstance(event, MetaEvent):
            self.conversation_id = str(event.data.conversation_id)
            self._show_sources(event.data.sources)
            user.set_emotion(event.data.emotion)
            if event.data.safety:
                bubble.mark_safety()
            self.status_bar.set_answer(event.data.tone)
            self.status_bar.set_activity("answering…")
        elif isinstance(event, TokenEvent):
            await bubble.write(stream, event.data.text)
        elif isinstance(event, DoneEvent):
            await stream.stop()
            await self._show_answer(event.data.response, user, bubble)
        elif isinstance(event, ErrorEvent):
            await stream.stop()
            await bubble.fail(event.data.detail)
            self.notify(event.data.detail, title="Answer failed", severity="error", timeout=10)

    async def _show_answer(
        self, response: ChatResponse, user: UserMessage, bubble: AssistantMessage
    ) -> None:
        total = response.timings.get("total_ms")
        footer = " · ".join(p for p in (response.model, f"{total:.0f} ms" if total else "") if p)
        await bubble.finish(
            response.text,
            message_id=str(response.message_id),
            safety=response.safety,
            footer=footer,
        )
        await self.message_log.add_evidence(bubble, response.evidence)
        self.last_answer = bubble
        self._show_sources(response.sources, response.text)
        user.set_emotion(response.emotion)
        self.status_bar.set_answer(response.tone, response.model)
        self.banner.show([*self.status_bar.degraded, *response.degraded])

    def action_cancel_answer(self) -> None:
        if self.chat_worker is None or not self.streaming or self.screen.is_modal:
            raise SkipAction()
        self.chat_worker.cancel()

    # -- slash commands -----------------------------------------------------------------------
    async def run_command(self, command: Command) -> None:
        name, args = command.name, command.args
        if name in ("exit", "quit"):
            self.exit()
        elif name == "help":
            await self.action_help()
        elif name == "new":
            await self.action_new_conversation()
        elif name == "clear":
            await self.message_log.remove_children()
        elif name == "history":
            self.show_panel("sidebar")
            self.query_one("#search", Input).focus()
        elif name == "sources":
            self.show_panel("sources")
            self.query_one("#source-list", OptionList).focus()
        elif name == "feedback":
            try:
                rating, comment = parse_feedback(args)
            except CommandError as exc:
                self.notify(str(exc), title="Command", severity="warning")
                return
            self.action_feedback(rating, comment)
        elif name == "status":
            self.call_server(self._show_status, group="status")
        elif name == "model":
            await self._model(args)

    async def action_help(self) -> None:
        def grid(rows: dict[str, str], prefix: str = "") -> Table:
            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold", no_wrap=True)
            table.add_column()
            for name, what in rows.items():
                table.add_row(Text(prefix + name), Text(what))  # Text: `[comment]` is no markup
            return table

        plain = "\n".join(f"/{c} {w}" for c, w in COMMANDS.items())
        plain += "\n" + "\n".join(f"{k} {w}" for k, w in KEYS.items())
        body = Group(grid(COMMANDS, "/"), Text(""), grid(KEYS))
        await self.message_log.add_note("Help", body, plain=plain, top=True)

    async def _show_status(self) -> None:
        await self._refresh_status()
        body = self.server_status
        text = Text(f"Morgan {body.get('version', '?')} ({body.get('mode', '?')}), ")
        text.append(f"user {body.get('user', '?')} at {self.client.url}\n")
        for c in body.get("components", []):
            state = str(c.get("state", "?"))
            style = {"up": "green", "off": "dim", "degraded": "yellow", "down": "red"}.get(
                state, ""
            )
            text.append(f"{c.get('name', '?'):<11} ")
            text.append(f"{state:<9}", style=style)
            text.append(f" {c.get('backend', '')} {c.get('detail', '')}".rstrip() + "\n")
        counts = body.get("counts", {})
        text.append(", ".join(f"{v} {k}" for k, v in counts.items()))
        await self.message_log.add_note("Status", text)

    async def _model(self, args: str) -> None:
        if args:
            self.model = None if args.lower() == "default" else args
            chosen = self.model or "the server's default"
            await self.message_log.add_note("Model", f"The next answers use {chosen}.")
            return
        components: list[dict[str, Any]] = self.server_status.get("components", [])
        llm = next((c for c in components if c.get("name") == "llm"), {})
        lines = [
            f"Server LLM: {llm.get('backend', '?')} {llm.get('detail', '')}".rstrip(),
            f"Last answer by: {self.status_bar.model or '—'}",
            f"Next answers: {self.model or 'server default'}  (/model NAME, /model default)",
        ]
        await self.message_log.add_note("Model", "\n".join(lines))

    # -- conversations ------------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#conversations")
    def open_conversation(self, event: OptionList.OptionSelected) -> None:
        conversation_id = event.option.id
        if conversation_id is None or conversation_id == self.conversation_id:
            return
        if self._busy():
            return
        self.call_server(lambda: self._load_conversation(conversation_id), group="load")

    @on(Input.Changed, "#search")
    def search_conversations(self) -> None:
        self.call_server(self._refresh_conversations, group="search", exclusive=True)

    @on(Input.Submitted, "#search")
    def search_done(self) -> None:
        self.sidebar.focus()

    async def action_new_conversation(self) -> None:
        if self._busy():
            return
        self.conversation_id = None
        self.last_answer = None
        await self.message_log.remove_children()
        self._show_sources([])
        self.status_bar.set_answer(None)
        self.sidebar.highlighted = None
        self.prompt_input.focus()

    def _target_conversation(self) -> str | None:
        target = self.sidebar.highlighted_id or self.conversation_id
        if target is None:
            self.notify("no conversation selected", severity="warning")
        return target

    def action_rename_conversation(self) -> None:
        target = self._target_conversation()
        if target is None:
            return

        def renamed(title: str | None) -> None:
            if title:
                self.call_server(lambda: self._rename(target, title))

        self.push_screen(RenameDialog(self.sidebar.title_of(target)), renamed)

    async def _rename(self, conversation_id: str, title: str) -> None:
        await self.client.rename(conversation_id, title)
        await self._refresh_conversations()
        self.notify(f"renamed to “{title}”")

    def action_delete_conversation(self) -> None:
        target = self._target_conversation()
        if target is None:
            return
        if target == self.conversation_id and self._busy():
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.call_server(lambda: self._delete(target))

        title = self.sidebar.title_of(target) or target
        self.push_screen(ConfirmDialog(f"Delete the conversation “{title}”?"), confirmed)

    async def _delete(self, conversation_id: str) -> None:
        await self.client.delete(conversation_id)
        if conversation_id == self.conversation_id:
            await self.action_new_conversation()
        await self._refresh_conversations()
        self.notify("conversation deleted")

    def action_toggle_sidebar(self) -> None:
        self.show_panel("sidebar", not self.panel_shown("sidebar"))
        if self.panel_shown("sidebar"):
            self.sidebar.focus()

    def action_toggle_sources(self) -> None:
        self.show_panel("sources", not self.panel_shown("sources"))

    # -- feedback and misc --------------------------------------------------------------------
    @on(PromptInput.Rate)
    def rate_from_prompt(self, event: PromptInput.Rate) -> None:
        self.action_feedback(event.rating)

    def action_feedback(self, rating: int, comment: str = "") -> None:
        answer = self.last_answer
        if answer is None or answer.message_id is None:
            self.notify("there is no answer to rate yet", severity="warning")
            return
        message_id = answer.message_id

        async def send() -> None:
            await self.client.feedback(message_id, rating, comment)
            answer.rate(rating)
            self.notify(f"thanks — rated {rating}/5", title="Feedback")

        self.call_server(send, group="feedback")

    def action_reconnect(self) -> None:
        self.call_server(self._connect, group="connect", exclusive=True)

    def action_focus_prompt(self) -> None:
        self.prompt_input.focus()

    def action_copy_or_quit(self) -> None:
        focused = self.focused
        selected = focused.selected_text if isinstance(focused, TextArea) else None
        selected = selected or self.screen.get_selected_text()
        if selected:
            self.copy_to_clipboard(selected)
            return
        self.exit()


def _sources(raw: list[Any]) -> list[SourceOut]:
    """Stored sources are plain JSON; a row this client cannot read is left out, not fatal."""
    out = []
    for item in raw:
        try:
            out.append(msgspec.convert(item, SourceOut))
        except msgspec.ValidationError:
            log.warning("tui_unreadable_source", item=str(item)[:80])
    return out
