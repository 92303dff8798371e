"""TUI behaviour that a fast real server cannot show: a slow stream to cancel, key handling.

The server side here is an httpx transport that streams by hand; the client, app and widgets
are the real ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from tui.app import MorganChatApp
from tui.cli import chat_command
from tui.client import AsyncMorganClient, ClientError, FeedbackUnavailable
from tui.widgets import PromptInput, format_source
from tui.widgets.status_bar import describe_emotion

CONVERSATION = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
MESSAGE = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
STATUS = {
    "version": "0",
    "mode": "embedded",
    "user": "ada",
    "components": [],
    "degraded": ["reranker"],
    "counts": {},
}


class SlowServer:
    """Answers status and conversations at once; the chat stream stops after one token."""

    def __init__(self, feedback_status: int = 404) -> None:
        self.token_sent = asyncio.Event()
        self.stream_closed = asyncio.Event()
        self.feedback_status = feedback_status
        self.requests: list[httpx.Request] = []

    async def _events(self) -> AsyncIterator[bytes]:
        meta = {
            "conversation_id": CONVERSATION,
            "tone": "gentle",
            "emotion": {"label": "worry", "intensity": 0.7},
            "sources": [
                {
                    "n": 1,
                    "title": "Guide",
                    "heading": "Guide > Care",
                    "page": 3,
                    "snippet": "Water twice a week.",
                    "score": 0.5,
                }
            ],
        }
        try:
            yield json.dumps({"event": "meta", "data": meta}).encode() + b"\n"
            yield (
                json.dumps({"event": "token", "data": {"text": "Water **twice**"}}).encode() + b"\n"
            )
            self.token_sent.set()
            await asyncio.Event().wait()  # a long answer: never finishes by itself
        finally:
            self.stream_closed.set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/status":
            return httpx.Response(200, json=STATUS)
        if path == "/api/conversations":
            return httpx.Response(200, json=[])
        if path == "/api/chat/stream":
            return httpx.Response(200, content=self._events())
        if path == "/api/feedback":
            body = {"detail": "Not Found"} if self.feedback_status == 404 else {}
            return httpx.Response(self.feedback_status, json=body)
        return httpx.Response(404, json={"detail": "Not Found"})


def app_for(server: SlowServer) -> MorganChatApp:
    client = AsyncMorganClient("http://morgan.test", "mgn_x", transport=httpx.MockTransport(server))
    return MorganChatApp(client)


async def settle(app: App[Any], pilot: Pilot[Any]) -> None:
    async with asyncio.timeout(10):  # a worker that never ends fails the test instead of hanging
        while any(w.is_running or w.state.name == "PENDING" for w in app.workers):
            await app.workers.wait_for_complete()
            await pilot.pause()
        await pilot.pause()


async def test_escape_cancels_a_streaming_answer_and_closes_the_stream() -> None:
    server = SlowServer()
    app = app_for(server)
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(app, pilot)
        assert "ada" in app.status_bar.plain and "reranker" in app.status_bar.plain
        app.prompt_input.insert("how often?")
        await pilot.press("enter")
        await server.token_sent.wait()
        await pilot.pause()
        assert app.streaming
        assert "worry 0.70" in app.status_bar.plain and "gentle" in app.status_bar.plain
        assert app.sources.lines == ["[1] Guide — Care, page 3"]
        await pilot.press("x")  # the UI still takes input while the answer streams
        assert app.prompt_input.text == "x"

        await pilot.press("escape")
        await settle(app, pilot)
        assert server.stream_closed.is_set()
        bubble = app.message_log.assistant_messages()[-1]
        assert bubble.state == "cancelled"
        assert bubble.text == "Water **twice**"
        assert not app.streaming
        assert app.is_running


async def test_escape_without_a_stream_does_nothing_harmful() -> None:
    app = app_for(SlowServer())
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("escape")
        assert app.is_running


async def test_feedback_route_missing_is_reported_as_unavailable() -> None:
    client = AsyncMorganClient(
        "http://morgan.test", "t", transport=httpx.MockTransport(SlowServer(404))
    )
    with pytest.raises(FeedbackUnavailable, match="feedback not available on this server"):
        await client.feedback(MESSAGE, 5)
    server_error = AsyncMorganClient(
        "http://morgan.test", "t", transport=httpx.MockTransport(SlowServer(500))
    )
    with pytest.raises(ClientError, match="server error 500") as caught:
        await server_error.feedback(MESSAGE, 1)
    assert not isinstance(caught.value, FeedbackUnavailable)
    await client.aclose()
    await server_error.aclose()


async def test_feedback_sends_the_documented_body() -> None:
    server = SlowServer(204)
    client = AsyncMorganClient("http://morgan.test", "t", transport=httpx.MockTransport(server))
    await client.feedback(MESSAGE, 1, "too long")
    sent = server.requests[-1]
    assert json.loads(sent.content) == {"message_id": MESSAGE, "rating": 1, "comment": "too long"}
    assert sent.headers["authorization"] == "Bearer t"
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


@pytest.mark.parametrize(
    ("source", "line"),
    [
        (
            {"n": 1, "title": "Guide", "heading": "Guide > Care", "page": 3},
            "[1] Guide — Care, page 3",
        ),
        ({"n": 2, "title": "Guide", "heading": "Guide", "page": None}, "[2] Guide"),
        (
            {"n": 3, "title": "Notes", "heading": "Other > Deep", "page": None},
            "[3] Notes — Other > Deep",
        ),
        ({"n": 4, "title": "", "heading": "", "page": 7}, "[4] (untitled), page 7"),
    ],
)
def test_format_source(source: dict[str, Any], line: str) -> None:
    assert format_source(source) == line


def test_describe_emotion() -> None:
    assert describe_emotion(None) == "—"
    assert describe_emotion({"label": "joy", "intensity": 0.456}) == "joy 0.46"


def test_chat_command_rejects_a_malformed_conversation_id() -> None:
    result = CliRunner().invoke(chat_command, ["--conversation", "nope", "--url", "http://x"])
    assert result.exit_code == 2
    assert "not a conversation id" in result.output


@pytest.mark.parametrize("key", ["ctrl+c", "ctrl+q"])
async def test_quit_keys_end_the_app(key: str) -> None:
    app = app_for(SlowServer())
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await pilot.pause()
        assert app.return_code == 0  # exit() was requested; run_test shuts the app down
