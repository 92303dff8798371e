"""Which prompt texts are slash commands, and how their arguments parse."""

from __future__ import annotations

import pytest

from tui.commands import COMMANDS, Command, CommandError, parse_command, parse_feedback, unescape


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/help", Command("help")),
        ("  /NEW  ", Command("new")),
        ("/feedback 4 too long\nbut right", Command("feedback", "4 too long\nbut right")),
        ("/model default", Command("model", "default")),
        ("How do I use /help?", None),
        ("/etc/hosts is what?", None),
        ("//help", None),
        ("/", None),
    ],
)
def test_parse_command(text: str, command: Command | None) -> None:
    assert parse_command(text) == command


def test_every_documented_command_parses() -> None:
    assert {parse_command(f"/{name}").name for name in COMMANDS} == set(COMMANDS)  # type: ignore[union-attr]


def test_unknown_command_says_how_to_send_it_anyway() -> None:
    with pytest.raises(CommandError, match=r"unknown command /hepl; /help lists them .*//"):
        parse_command("/hepl")


def test_unescape() -> None:
    assert unescape("//help") == "/help"
    assert unescape("/x") == "/x"


@pytest.mark.parametrize(
    ("args", "parsed"), [("5", (5, "")), ("1 wrong page", (1, "wrong page")), ("3  ok ", (3, "ok"))]
)
def test_parse_feedback(args: str, parsed: tuple[int, str]) -> None:
    assert parse_feedback(args) == parsed


@pytest.mark.parametrize("args", ["", "0", "6", "good", "-1"])
def test_parse_feedback_rejects(args: str) -> None:
    with pytest.raises(CommandError, match="usage: /feedback N"):
        parse_feedback(args)
