"""What the chat looks like, at 80x24 (an SSH terminal) and 120x40, compared with the committed
SVGs in __snapshots__/ (pytest-textual-snapshot; `--snapshot-update` rewrites them after a
deliberate change; look at the report before accepting). The scripted server keeps every
character on screen fixed: no clock, no fresh ids, fixed dates."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot

from tests.unit.tui.scripted_server import URL, ScriptedServer, app_for
from tui.app import MorganChatApp
from tui.client import AsyncMorganClient

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


async def settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    async with asyncio.timeout(10):
        while any(w.is_running or w.state.name == "PENDING" for w in app.workers):
            await app.workers.wait_for_complete()
            await pilot.pause()
        await pilot.pause()


async def answered(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, MorganChatApp)
    await settle(pilot)
    app.prompt_input.cursor_blink = False
    app.prompt_input.insert("How often should I water tomatoes?")
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
def test_an_answer_with_evidence_sources_emotion_and_banner(
    snap_compare: Any, size: tuple[int, int]
) -> None:
    app = app_for(ScriptedServer(degraded=("reranker",)))
    assert snap_compare(app, terminal_size=size, run_before=answered)


def test_sources_panel_on_a_narrow_terminal(snap_compare: Any) -> None:
    async def with_sources(pilot: Pilot[Any]) -> None:
        await answered(pilot)
        await pilot.press("f3")
        await settle(pilot)

    assert snap_compare(app_for(ScriptedServer()), terminal_size=(80, 24), run_before=with_sources)


def test_help(snap_compare: Any) -> None:
    async def help_note(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, MorganChatApp)
        app.prompt_input.cursor_blink = False
        app.prompt_input.insert("/help")
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app_for(ScriptedServer()), terminal_size=(120, 40), run_before=help_note)


@pytest.mark.parametrize("size", SIZES)
def test_server_down_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app = MorganChatApp(AsyncMorganClient(URL, "mgn_x", transport=httpx.MockTransport(refuse)))
    assert snap_compare(app, terminal_size=size, run_before=settle)
