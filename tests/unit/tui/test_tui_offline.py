"""TUI behaviour a fast real server cannot show: a stream to cancel, evidence and safety before
the server sends them, narrow terminals, key handling. The server is scripted
(tests/unit/tui/scripted_server.py); the client, app and widgets are the real ones."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import msgspec
import pytest
from click.testing import CliRunner
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from morgan.chat.schemas import EmotionOut, SourceOut
from tests.unit.tui.scripted_server import MESSAGE, URL, ScriptedServer, app_for
from tui.app import MorganChatApp
from tui.cli import chat_command
from tui.client import AsyncMorganClient, ClientError, FeedbackUnavailable
from tui.widgets import PromptInput, banner_text, describe_emotion, format_source


async def settle(app: App[Any], pilot: Pilot[Any]) -> None:
    async with asyncio.timeout(10):  # a worker that never ends fails the test instead of hanging
        while any(w.is_running or w.state.name == "PENDING" for w in app.workers):
            await app.workers.wait_for_complete()
            await pilot.pause()
        await pilot.pause()


async def ask(app: Any, pilot: Pilot[Any], text: str) -> None:
    app.prompt_input.focus()
    app.prompt_input.insert(text)
    await pilot.press("enter")
    await settle(app, pilot)


async def test_answer_shows_emotion_evidence_cited_sources_and_the_degraded_banner() -> None:
    app = app_for(ScriptedServer(degraded=("llm",)))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.banner.display and "reranker" in app.banner.plain

        await ask(app, pilot, "How often should I water tomatoes?")

        answer = app.message_log.assistant_messages()[-1]
        assert answer.state == "ok" and "twice a week" in answer.text
        user = app.message_log.user_messages()[-1]
        assert user.emotion is not None and user.emotion.label == "nervousness"
        assert "feeling: " in str(user.border_subtitle) and "nervousness 62%" in str(
            user.border_subtitle
        )
        assert user.has_class("-emotion-fear")
        [evidence] = app.message_log.evidence()
        assert evidence.plain.startswith("[1] “Water tomatoes deeply twice a week")
        assert evidence.plain.endswith("— Watering, p. 4")
        assert app.sources.cited == {1}
        assert app.sources.border_subtitle == "1 cited of 2"
        assert "chunk 3" in app.sources.snippet_text and "page 4" in app.sources.snippet_text
        # the answer's own degradation joins what /api/status said
        assert "llm (the language model fell back)" in app.banner.plain
        assert "reranker" in app.banner.plain
        assert "tone: gentle" in app.status_bar.plain
        assert "extractive · 812 ms" in str(answer.border_subtitle)


async def test_a_safety_reply_is_marked_as_support() -> None:
    app = app_for(ScriptedServer(safety=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "I feel awful")
        answer = app.message_log.assistant_messages()[-1]
        assert answer.safety and answer.has_class("safety")
        assert answer.border_title == "Morgan · support"


async def test_an_answer_without_newer_fields_still_shows() -> None:
    class OlderServer(ScriptedServer):
        def response(self) -> dict[str, Any]:
            body = super().response()
            del body["evidence"], body["safety"]
            return body

    app = app_for(OlderServer())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "How often?")
        answer = app.message_log.assistant_messages()[-1]
        assert answer.state == "ok" and not answer.safety
        assert app.message_log.evidence() == []


async def test_escape_cancels_a_streaming_answer_and_closes_the_stream() -> None:
    server = ScriptedServer(hang=True)
    app = app_for(server)
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(app, pilot)
        app.prompt_input.insert("how often?")
        await pilot.press("enter")
        await server.token_sent.wait()
        await pilot.pause()
        assert app.streaming
        assert app.sources.lines == [
            "[1] Garden guide — Watering, page 4",
            "[2] Garden guide — Pests, page 9",
        ]
        await pilot.press("x")  # the UI still takes input while the answer streams
        assert app.prompt_input.text == "x"

        await pilot.press("escape")
        await settle(app, pilot)
        assert server.stream_closed.is_set()
        bubble = app.message_log.assistant_messages()[-1]
        assert bubble.state == "cancelled"
        assert bubble.text == "Water tomatoes "
        assert not app.streaming
        assert app.is_running


async def test_narrow_terminal_folds_the_panels_and_f2_f3_bring_one_back() -> None:
    app = app_for(ScriptedServer())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        sidebar, sources = app.query_one("#sidebar"), app.query_one("#sources")
        assert not sidebar.display and not sources.display
        assert app.message_log.size.width > 70
        await ask(app, pilot, "How often?")
        assert "F3: 2 sources" in app.status_bar.plain  # what is folded away is said
        await pilot.press("f2")
        assert sidebar.display and not sources.display
        await pilot.press("f3")
        assert sources.display and not sidebar.display  # one panel at a time when narrow
        assert "F3:" not in app.status_bar.plain
        await pilot.press("f3")
        assert not sources.display
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert sidebar.display and sources.display


async def test_slash_commands() -> None:
    server = ScriptedServer()
    app = app_for(server)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "/help")
        [note] = app.message_log.notes()
        assert "/feedback" in note.plain and "Shift+Enter" in note.plain
        assert app.message_log.user_messages() == []  # a command is not a question

        await ask(app, pilot, "/status")
        assert "reranker" in app.message_log.notes()[-1].plain
        assert "42 chunks" in app.message_log.notes()[-1].plain

        await ask(app, pilot, "/model small")
        assert app.model == "small"
        await ask(app, pilot, "How often?")
        chat = next(r for r in server.requests if r.url.path == "/api/chat/stream")
        assert json.loads(chat.content)["model"] == "small"
        await ask(app, pilot, "/model default")
        assert app.model is None

        await ask(app, pilot, "/feedback 4 clear and short")
        sent = [r for r in server.requests if r.url.path == "/api/feedback"][-1]
        assert json.loads(sent.content) == {
            "message_id": MESSAGE,
            "rating": 4,
            "comment": "clear and short",
        }
        assert "you rated 4/5" in str(app.message_log.assistant_messages()[-1].border_subtitle)

        await ask(app, pilot, "/feedback 9")
        await ask(app, pilot, "/nope")
        assert app.prompt_input.text == "/nope"  # kept, to fix the typo
        app.prompt_input.clear()
        notes = [m.message for m in app._notifications]
        assert any("usage: /feedback N" in m for m in notes)
        assert any("unknown command /nope" in m for m in notes)

        await ask(app, pilot, "/clear")
        assert not app.message_log.children
        assert app.conversation_id is not None  # the conversation is kept

        await ask(app, pilot, "/new")
        assert app.conversation_id is None

        await ask(app, pilot, "/history")
        assert app.focused is app.query_one("#search")
        await ask(app, pilot, "//etc is a folder?")
        assert app.message_log.user_messages()[-1].text == "/etc is a folder?"

        await ask(app, pilot, "/quit")
        assert app.return_code == 0


async def test_plus_and_minus_in_an_empty_prompt_rate_the_last_answer() -> None:
    server = ScriptedServer()
    app = app_for(server)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "How often?")
        app.prompt_input.focus()
        await pilot.press("minus")
        await settle(app, pilot)
        sent = [r for r in server.requests if r.url.path == "/api/feedback"]
        assert [json.loads(r.content)["rating"] for r in sent] == [1]
        await pilot.press("a", "plus")  # with text in the box, + is just a character
        assert app.prompt_input.text == "a+"
        assert len([r for r in server.requests if r.url.path == "/api/feedback"]) == 1


async def test_search_asks_the_server() -> None:
    server = ScriptedServer()
    app = app_for(server)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert len(app.sidebar.rows) == 2
        app.query_one("#search").focus()
        await pilot.press(*"aphid")
        await settle(app, pilot)
        assert [r["title"] for r in app.sidebar.rows.values()] == ["Aphids on roses"]
        assert app.sidebar_panel.border_subtitle == "1 matching"
        assert server.requests[-1].url.params["q"] == "aphid"


async def test_escape_without_a_stream_does_nothing_harmful() -> None:
    app = app_for(ScriptedServer())
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("escape")
        assert app.is_running


async def test_feedback_route_missing_is_reported_as_unavailable() -> None:
    client = AsyncMorganClient(
        URL, "t", transport=httpx.MockTransport(ScriptedServer(feedback_status=404))
    )
    with pytest.raises(FeedbackUnavailable, match="feedback not available on this server"):
        await client.feedback(MESSAGE, 5)
    server_error = AsyncMorganClient(
        URL, "t", transport=httpx.MockTransport(ScriptedServer(feedback_status=500))
    )
    with pytest.raises(ClientError, match="server error 500") as caught:
        await server_error.feedback(MESSAGE, 1)
    assert not isinstance(caught.value, FeedbackUnavailable)
    await client.aclose()
    await server_error.aclose()


async def test_a_line_that_is_no_stream_event_is_a_server_error() -> None:
    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"event": "meta", "data": {"nope": 1}}\n')

    client = AsyncMorganClient(URL, "t", transport=httpx.MockTransport(garbage))
    with pytest.raises(ClientError, match="unreadable stream event") as caught:
        async for _ in client.chat_stream("hi"):
            pass
    assert caught.value.exit_code == 5
    await client.aclose()


class PromptOnly(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def compose(self) -> ComposeResult:
        yield PromptInput()

    def on_prompt_input_submitted(self, event: PromptInput.Submitted) -> None:
        self.sent.append(event.text)


@pytest.mark.parametrize("newline_key", ["ctrl+j", "shift+enter"])
async def test_enter_sends_and_newline_keys_break_lines(newline_key: str) -> None:
    app = PromptOnly()
    async with app.run_test() as pilot:
        app.query_one(PromptInput).focus()
        await pilot.press("h", "i", newline_key, "y", "o", "enter")
        await pilot.pause()
        assert app.sent == ["hi\nyo"]


def _source(n: int, title: str, heading: str, page: int | None) -> SourceOut:
    return SourceOut(
        n=n,
        document_id=uuid.UUID(int=n),
        title=title,
        chunk_index=0,
        page=page,
        heading=heading,
        score=0.5,
        snippet="",
    )


@pytest.mark.parametrize(
    ("source", "line"),
    [
        (_source(1, "Guide", "Guide > Care", 3), "[1] Guide — Care, page 3"),
        (_source(2, "Guide", "Guide", None), "[2] Guide"),
        (_source(3, "Notes", "Other > Deep", None), "[3] Notes — Other > Deep"),
        (_source(4, "", "", 7), "[4] (untitled), page 7"),
    ],
)
def test_format_source(source: SourceOut, line: str) -> None:
    assert format_source(source) == line


def test_describe_emotion_spells_the_label_out() -> None:
    assert describe_emotion(None) == "—"
    assert describe_emotion(EmotionOut(label="joy", intensity=0.456)) == "joy 46%"


def test_banner_names_what_is_degraded_and_what_it_means() -> None:
    assert banner_text([]) == ""
    assert banner_text(["reranker", "zeta"]) == (
        "⚠ Degraded: reranker (results are not reranked); zeta"
    )


def test_stored_sources_that_do_not_parse_are_left_out() -> None:
    from tui.app import _sources

    good = msgspec.to_builtins(_source(1, "Guide", "Guide > Care", 3))
    assert _sources([good, {"n": 2}]) == [_source(1, "Guide", "Guide > Care", 3)]


def test_chat_command_rejects_a_malformed_conversation_id() -> None:
    result = CliRunner().invoke(chat_command, ["--conversation", "nope", "--url", "http://x"])
    assert result.exit_code == 2
    assert "not a conversation id" in result.output


@pytest.mark.parametrize("key", ["ctrl+c", "ctrl+q"])
async def test_quit_keys_end_the_app(key: str) -> None:
    app = app_for(ScriptedServer())
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await pilot.pause()
        assert app.return_code == 0  # exit() was requested; run_test shuts the app down


async def test_the_periodic_refresh_leaves_the_down_screen_once_the_server_answers() -> None:
    from tui.widgets import ServerDownScreen

    server = ScriptedServer()
    up = False

    def flaky(request: httpx.Request) -> httpx.Response:
        if not up:
            raise httpx.ConnectError("connection refused", request=request)
        return server(request)

    app = MorganChatApp(AsyncMorganClient(URL, "mgn_x", transport=httpx.MockTransport(flaky)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ServerDownScreen)
        await app._refresh_status_quietly()  # what the STATUS_REFRESH_S timer runs
        await settle(app, pilot)
        assert isinstance(app.screen, ServerDownScreen)
        up = True
        await app._refresh_status_quietly()
        await settle(app, pilot)
        assert not isinstance(app.screen, ServerDownScreen)
        assert app.status_bar.server_ok and len(app.sidebar.rows) == 2
