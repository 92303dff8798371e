"""The chat app: a conversation sidebar, a streaming Markdown log, sources and a status line.

Every call to the server runs in a worker, so the screen stays responsive; every failure is a
notification, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import structlog
from textual import on
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, OptionList, TextArea
from textual.worker import Worker

from morgan.cli.client import EXIT_AUTH, EXIT_SERVER, EXIT_UNREACHABLE
from tui.client import AsyncMorganClient, ClientError, FeedbackUnavailable
from tui.styles import APP_CSS
from tui.widgets import (
    AssistantMessage,
    ConfirmDialog,
    ConversationList,
    MessageLog,
    PromptInput,
    RenameDialog,
    SourcesPanel,
    StatusBar,
)

log = structlog.get_logger(__name__)

STATUS_REFRESH_S = 30.0


class MorganChatApp(App[None]):
    TITLE = "Morgan"
    CSS = APP_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+c", "copy_or_quit", "Quit", show=False, priority=True),
        Binding("escape", "cancel_answer", "Cancel answer", priority=True),
        Binding("ctrl+n", "new_conversation", "New", show=False),
        Binding("n", "new_conversation", "New"),
        Binding("r", "rename_conversation", "Rename"),
        Binding("d", "delete_conversation", "Delete"),
        Binding("plus", "feedback(5)", "Good answer"),
        Binding("minus", "feedback(1)", "Bad answer"),
        Binding("f5", "reconnect", "Refresh"),
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
        self.last_answer_id: str | None = None
        self.chat_worker: Worker[None] | None = None

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield ConversationList(id="sidebar")
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
    def sources(self) -> SourcesPanel:
        return self.query_one(SourcesPanel)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def prompt_input(self) -> PromptInput:
        return self.query_one(PromptInput)

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
        self.call_server(self._connect, group="connect")
        self.set_interval(STATUS_REFRESH_S, self._refresh_status_quietly)

    async def on_unmount(self) -> None:
        await self.client.aclose()

    # -- running server calls -----------------------------------------------------------------
    def call_server(
        self, job: Callable[[], Awaitable[Any]], *, group: str = "server"
    ) -> Worker[None]:
        """Runs `job` in a worker; a failure becomes a notification."""

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

        return self.run_worker(guarded(), group=group, exit_on_error=False)

    def report(self, exc: ClientError) -> None:
        if isinstance(exc, FeedbackUnavailable):
            self.notify(exc.message, title="Feedback", severity="warning")
            return
        title = {EXIT_UNREACHABLE: "Server unreachable", EXIT_AUTH: "Authentication failed"}.get(
            exc.exit_code, "Server error" if exc.exit_code >= EXIT_SERVER else "Request failed"
        )
        if exc.exit_code in (EXIT_UNREACHABLE, EXIT_AUTH):
            self.status_bar.set_server(title.lower(), False)
        self.notify(exc.message, title=title, severity="error", timeout=10)

    async def _connect(self) -> None:
        await self._refresh_status()
        await self._refresh_conversations()
        if self.conversation_id:
            await self._load_conversation(self.conversation_id)

    async def _refresh_status(self) -> None:
        body = await self.client.status()
        self.status_bar.set_server(
            f"{body.get('user', '?')} @ {self.client.url} ({body.get('mode', '?')})",
            True,
            body.get("degraded", []),
        )

    async def _refresh_status_quietly(self) -> None:
        was_ok = self.status_bar.server_ok
        if was_ok is None or self.streaming:
            return
        try:
            await self._refresh_status()
            if was_ok is False:  # the server came back: show what was missed
                await self._refresh_conversations()
        except ClientError as exc:
            self.status_bar.set_server(exc.message, False)

    async def _refresh_conversations(self) -> None:
        rows = await self.client.conversations()
        self.sidebar.set_conversations(rows, self.conversation_id)

    async def _load_conversation(self, conversation_id: str) -> None:
        messages = await self.client.messages(conversation_id)
        self.conversation_id = conversation_id
        await self.message_log.show_history(messages)
        answers = [m for m in messages if m["role"] == "assistant" and m.get("status") == "ok"]
        self.last_answer_id = str(answers[-1]["id"]) if answers else None
        self.sources.show(answers[-1].get("sources", []) if answers else [])
        self.status_bar.set_feeling(None, None)
        if answers:
            self.status_bar.set_degraded(answers[-1].get("degraded", []))

    # -- chatting -----------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def send(self, event: PromptInput.Submitted) -> None:
        text = event.text.strip()
        if not text:
            return
        if self._busy():
            return
        event.prompt.clear()
        await self.message_log.add_user(text)
        bubble = await self.message_log.add_assistant()
        self.sources.show([])
        self.chat_worker = self.run_worker(
            self._stream_answer(text, bubble), group="chat", exclusive=True, exit_on_error=False
        )

    async def _stream_answer(self, text: str, bubble: AssistantMessage) -> None:
        stream = bubble.start_stream()
        self.status_bar.set_activity("thinking…")
        new_conversation = self.conversation_id is None
        try:
            async for event in self.client.chat_stream(text, self.conversation_id):
                await self._on_stream_event(event, bubble, stream)
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
        self, event: dict[str, Any], bubble: AssistantMessage, stream: Any
    ) -> None:
        kind, data = event.get("event"), event.get("data") or {}
        if kind == "meta":
            self.conversation_id = str(data["conversation_id"])
            self.sources.show(data.get("sources") or [])
            self.status_bar.set_feeling(data.get("emotion"), data.get("tone"))
            self.status_bar.set_activity("answering…")
        elif kind == "token":
            await bubble.write(stream, str(data.get("text", "")))
        elif kind == "done":
            response = data["response"]
            await stream.stop()
            await bubble.finish(response["text"])
            self.last_answer_id = str(response["message_id"])
            self.sources.show(response.get("sources") or [])
            self.status_bar.set_feeling(response.get("emotion"), response.get("tone"))
            self.status_bar.set_degraded(response.get("degraded") or [])
            if response.get("timings", {}).get("total_ms"):
                bubble.border_subtitle = (
                    f"{response.get('model', '')} · {response['timings']['total_ms']:.0f} ms"
                )
        elif kind == "error":
            detail = str(data.get("detail", "generation failed"))
            await stream.stop()
            await bubble.fail(detail)
            self.notify(detail, title="Answer failed", severity="error", timeout=10)

    def action_cancel_answer(self) -> None:
        if not self.streaming or self.screen.is_modal:
            raise SkipAction()
        assert self.chat_worker is not None
        self.chat_worker.cancel()

    # -- conversations ------------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#sidebar")
    def open_conversation(self, event: OptionList.OptionSelected) -> None:
        conversation_id = event.option.id
        if conversation_id is None or conversation_id == self.conversation_id:
            return
        if self._busy():
            return
        self.call_server(lambda: self._load_conversation(conversation_id), group="load")

    async def action_new_conversation(self) -> None:
        if self._busy():
            return
        self.conversation_id = None
        self.last_answer_id = None
        await self.message_log.remove_children()
        self.sources.show([])
        self.status_bar.set_feeling(None, None)
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

    # -- feedback and misc --------------------------------------------------------------------
    def action_feedback(self, rating: int) -> None:
        message_id = self.last_answer_id
        if message_id is None:
            self.notify("there is no answer to rate yet", severity="warning")
            return

        async def send() -> None:
            await self.client.feedback(message_id, rating)
            self.notify(f"thanks — rated {rating}/5", title="Feedback")

        self.call_server(send, group="feedback")

    def action_reconnect(self) -> None:
        self.call_server(self._connect, group="connect")

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
