"""The chat TUI driven by Textual's pilot against a real `morgan serve` (SQLite, extractive LLM)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot

from tests.e2e.conftest import RunningServer, free_port, start_server, stop_server
from tui.app import MorganChatApp
from tui.widgets import AssistantMessage, ServerDownScreen
from tui.widgets.message_log import EKMAN_COLOURS

QUESTION = "How often should I water tomatoes?"
GUIDE = """# Garden guide

## Watering

Water tomatoes deeply twice a week, early in the morning, so the leaves dry by noon.

## Pests

Aphids on roses can be washed off with a mild solution of soapy water.
"""
SIZE = (150, 40)


class RecordingApp(MorganChatApp):
    """Keeps every notification so tests can read what the user was told."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.notes: list[tuple[str, str, str]] = []

    def notify(
        self, message: str, *, title: str = "", severity: Any = "information", **kwargs: Any
    ) -> None:
        self.notes.append((severity, title, message))
        super().notify(message, title=title, severity=severity, **kwargs)

    def said(self, severity: str, fragment: str) -> bool:
        return any(s == severity and fragment in m for s, _, m in self.notes)


async def settle(app: MorganChatApp, pilot: Pilot[None]) -> None:
    """Awaits every worker (and those they start) and the messages they post."""
    async with asyncio.timeout(60):
        while any(w.is_running or w.state.name == "PENDING" for w in app.workers):
            await app.workers.wait_for_complete()
            await pilot.pause()
        await pilot.pause()


async def ask(app: MorganChatApp, pilot: Pilot[None], question: str) -> AssistantMessage:
    app.prompt_input.focus()
    app.prompt_input.insert(question)
    await pilot.press("enter")
    await settle(app, pilot)
    return app.message_log.assistant_messages()[-1]


@pytest.fixture(scope="module")
def tui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("home-tui")
    server = start_server(home, {})
    guide = home / "garden-guide.md"
    guide.write_text(GUIDE)
    ingested = server.cli("ingest", str(guide))
    assert ingested.returncode == 0, ingested.stderr
    yield server
    stop_server(server)


def conversations(server: RunningServer) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {server.token}"}
    return httpx.get(f"{server.url}/api/conversations", headers=headers).json()  # type: ignore[no-any-return]


def _texts(server: RunningServer, app: MorganChatApp) -> list[str]:
    """Title and message text of every conversation the sidebar shows."""
    headers = {"Authorization": f"Bearer {server.token}"}
    out = []
    for cid, row in app.sidebar.rows.items():
        messages = httpx.get(f"{server.url}/api/conversations/{cid}/messages", headers=headers)
        out.append(" ".join([row["title"], *(m["content"] for m in messages.json())]).lower())
    return out


async def test_question_streams_an_answer_with_its_sources(tui_server: RunningServer) -> None:
    app = RecordingApp(url=tui_server.url, token=tui_server.token)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "local" in app.status_bar.plain and app.status_bar.server_ok

        answer = await ask(app, pilot, QUESTION)

        assert answer.state == "ok"
        assert "twice a week" in answer.text
        assert "twice a week" in answer.source  # what the Markdown widget renders
        assert app.message_log.user_messages()[-1].text == QUESTION
        assert app.sources.lines[0] == "[1] Garden guide — Watering"
        assert "twice a week" in app.sources.snippet_text  # the first source's chunk, at once
        assert "Watering" in app.sources.snippet_text and "chunk 0" in app.sources.snippet_text
        app.sources.query_one("#source-list").focus()
        await pilot.press("down")
        assert "soapy water" in app.sources.snippet_text
        assert "tone:" in app.status_bar.plain and "model: extractive" in app.status_bar.plain
        user = app.message_log.user_messages()[-1]
        assert user.emotion is not None  # the server's detector read the message
        assert f"feeling: [b {EKMAN_COLOURS[user.emotion.ekman]}]{user.emotion.label}" in str(
            user.border_subtitle
        )
        [evidence] = app.message_log.evidence()
        assert "twice a week" in evidence.plain and "Watering" in evidence.plain
        assert app.conversation_id is not None
        assert app.conversation_id in app.sidebar.rows
        assert app.sidebar.rows[app.conversation_id]["messages"] == 2
        assert app.last_answer_id is not None
        assert not [n for n in app.notes if n[0] == "error"], app.notes

        follow_up = await ask(app, pilot, "And what about aphids?")
        assert "soapy water" in follow_up.text
        assert app.sidebar.rows[app.conversation_id]["messages"] == 4


async def test_feedback_keys_rate_the_last_answer(tui_server: RunningServer) -> None:
    app = RecordingApp(url=tui_server.url, token=tui_server.token)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.message_log.focus()
        await pilot.press("plus")
        assert app.said("warning", "no answer to rate yet")

        await ask(app, pilot, QUESTION)
        app.message_log.focus()
        await pilot.press("plus")
        await settle(app, pilot)
        assert app.said("information", "rated 5/5"), app.notes

        app.prompt_input.focus()
        await pilot.press("minus")  # in the empty prompt, too
        await settle(app, pilot)
        assert app.said("information", "rated 1/5"), app.notes
        await ask(app, pilot, "/feedback 4 right page, a bit long")
        assert app.said("information", "rated 4/5"), app.notes
        assert "you rated 4/5" in str(app.message_log.assistant_messages()[-1].border_subtitle)
        assert not [n for n in app.notes if n[0] == "error"], app.notes


async def test_sidebar_opens_renames_and_deletes_conversations(tui_server: RunningServer) -> None:
    asked = tui_server.cli("ask", "--json", "How do I wash aphids off roses?")
    assert asked.returncode == 0, asked.stderr
    app = RecordingApp(url=tui_server.url, token=tui_server.token)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        target = next(
            c for c in conversations(tui_server) if c["title"] == "How do I wash aphids off roses?"
        )
        assert target["id"] in app.sidebar.rows

        app.sidebar.focus()
        app.sidebar.highlighted = app.sidebar.get_option_index(target["id"])
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.conversation_id == target["id"]
        assert [m.text for m in app.message_log.user_messages()] == [
            "How do I wash aphids off roses?"
        ]
        assert "soapy water" in app.message_log.assistant_messages()[0].text
        assert app.sources.lines

        app.query_one("#search").focus()
        await pilot.press(*"SOAPY")  # matches the answer's text, not the title
        await settle(app, pilot)
        assert target["id"] in app.sidebar.rows
        assert all("soapy" in t or "aphid" in t.lower() for t in _texts(tui_server, app))
        await pilot.press(*"zzz")
        await settle(app, pilot)
        assert app.sidebar.rows == {} and app.sidebar_panel.border_subtitle == "0 matching"
        app.query_one("#search").clear()
        await settle(app, pilot)
        assert target["id"] in app.sidebar.rows and len(app.sidebar.rows) > 1

        app.sidebar.focus()
        app.sidebar.highlighted = app.sidebar.get_option_index(target["id"])
        await pilot.press("r")
        await pilot.press(*"Aphids", "enter")
        await settle(app, pilot)
        assert app.sidebar.title_of(target["id"]) == "Aphids"
        assert any(c["title"] == "Aphids" for c in conversations(tui_server))

        app.sidebar.focus()
        app.sidebar.highlighted = app.sidebar.get_option_index(target["id"])
        await pilot.press("d", "n")  # the dialog's "no" leaves it alone
        await settle(app, pilot)
        assert target["id"] in app.sidebar.rows
        await pilot.press("d", "y")
        await settle(app, pilot)
        assert target["id"] not in app.sidebar.rows
        assert all(c["id"] != target["id"] for c in conversations(tui_server))
        assert app.conversation_id is None and not app.message_log.user_messages()

        await pilot.press("n")
        assert app.conversation_id is None
        assert not [n for n in app.notes if n[0] == "error"], app.notes


async def test_conversation_option_opens_it_at_start(tui_server: RunningServer) -> None:
    asked = tui_server.cli("ask", "--json", "Do tomatoes need water?")
    assert asked.returncode == 0, asked.stderr
    existing = next(c for c in conversations(tui_server) if c["title"] == "Do tomatoes need water?")
    app = RecordingApp(url=tui_server.url, token=tui_server.token, conversation_id=existing["id"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert len(app.message_log.user_messages()) * 2 == existing["messages"]
        answer = await ask(app, pilot, "Anything else about watering?")
        assert answer.state == "ok"
        assert app.conversation_id == existing["id"]


async def test_server_down_screen_retries_until_the_server_answers(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    app = RecordingApp(url=f"http://127.0.0.1:{port}", token="mgn_whatever")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ServerDownScreen)
        assert "cannot reach the Morgan server" in app.screen.detail
        assert "morgan serve" in app.screen.detail and "retry" in app.screen.hint
        assert app.status_bar.server_ok is False
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ServerDownScreen)  # still down: the screen stays

        server = start_server(home, {}, port=port)
        try:
            app.client.http.headers["Authorization"] = f"Bearer {server.token}"
            await pilot.press("r")
            await settle(app, pilot)
            assert not isinstance(app.screen, ServerDownScreen)
            assert app.status_bar.server_ok and app.said("information", "connected")
            answer = await ask(app, pilot, QUESTION)
            assert answer.state == "ok"
        finally:
            stop_server(server)
        assert app.is_running


async def test_bad_token_is_the_down_screen_with_the_reason(tui_server: RunningServer) -> None:
    app = RecordingApp(url=tui_server.url, token="mgn_wrong")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ServerDownScreen)
        assert "refused this token" in app.screen.title_text
        assert "authentication failed" in app.screen.detail
        assert "MORGAN_TOKEN" in app.screen.hint
        await pilot.press("q")
        assert app.return_code == 0


async def test_usable_at_80x24(tui_server: RunningServer) -> None:
    app = RecordingApp(url=tui_server.url, token=tui_server.token)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert not app.query_one("#sidebar").display and not app.query_one("#sources").display
        answer = await ask(app, pilot, QUESTION)
        assert answer.state == "ok" and "twice a week" in answer.text
        assert answer.region.width >= 60 and answer.region.height >= 3  # on screen, readable
        assert app.prompt_input.region.bottom <= 22  # above the status line and footer
        await ask(app, pilot, "/sources")
        assert app.query_one("#sources").display and app.sources.lines
        assert app.message_log.region.width >= 40
        assert not [n for n in app.notes if n[0] == "error"], app.notes
