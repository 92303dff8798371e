"""Conversations survive a server restart (both databases); the embedded model answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_conversations_persist_across_restart(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra = {}
    if database == "postgresql":
        extra["MORGAN_DATABASE_URL"] = request.getfixturevalue("fresh_pg_url")
    home = tmp_path / "home"
    server = start_server(home, extra)
    try:
        first = json.loads(server.cli("ask", "--json", "remember the heron").stdout)
    finally:
        stop_server(server)
    server = start_server(home, extra)
    try:
        listed = json.loads(server.cli("conversations", "list", "--json").stdout)
        assert [c["id"] for c in listed] == [first["conversation_id"]]
        shown = json.loads(
            server.cli("conversations", "show", "--json", first["conversation_id"]).stdout
        )
        assert next(m["content"] for m in shown) == "remember the heron"
        follow = json.loads(
            server.cli(
                "ask", "--json", "--conversation", first["conversation_id"], "and then?"
            ).stdout
        )
        assert follow["conversation_id"] == first["conversation_id"]
    finally:
        stop_server(server)


def test_embedded_model_streams_a_grounded_answer(tmp_path: Path) -> None:
    server = start_server(tmp_path / "home", {"MORGAN_LLM_URL": "embedded://gemma3-270m"})
    try:
        note = tmp_path / "trip.md"
        note.write_text(
            "# Trip notes\n\nThe spare house key is hidden under the blue flower pot by the back door.\n"
        )
        assert server.cli("ingest", str(note)).returncode == 0
        result = server.cli("ask", "--json", "--stream", "Where is the spare house key hidden?")
        assert result.returncode == 0, result.stderr
        events = [json.loads(line) for line in result.stdout.splitlines()]
        tokens = [e for e in events if e["event"] == "token"]
        done = events[-1]
        assert events[0]["event"] == "meta" and done["event"] == "done"
        assert len(tokens) > 1  # really streamed, token by token
        answer = done["data"]["response"]
        assert answer["model"].startswith("embedded")
        assert answer["degraded"] == []
        assert answer["sources"][0]["title"] == "Trip notes"
        assert answer["text"].strip()
        status = json.loads(server.cli("status", "--json").stdout)
        llm = next(c for c in status["components"] if c["name"] == "llm")
        assert llm["state"] == "up"
    finally:
        stop_server(server)
