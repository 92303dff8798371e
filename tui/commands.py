"""Slash commands typed into the prompt: parsing only, so the rules are testable without a screen.

A message is a command when its first word is `/` plus letters (`/help`, `/feedback 4 ok`);
anything else starting with `/` (`/etc/hosts is what?`) is an ordinary question, and `//x`
sends `/x` as a question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMANDS: dict[str, str] = {
    "help": "show the commands and keys",
    "new": "start a new conversation",
    "history": "show the conversation list (type there to search)",
    "clear": "clear the screen; the conversation is kept",
    "feedback": "N [comment]: rate the last answer from 1 (bad) to 5 (good)",
    "sources": "show the sources of the last answer",
    "status": "show the server, its components and what is degraded",
    "model": "[NAME | default]: show the model, or choose one for the next answers",
    "exit": "leave the chat",
    "quit": "leave the chat",
}

KEYS: dict[str, str] = {
    "Enter": "send",
    "Shift+Enter  Ctrl+J": "new line",
    "Esc": "cancel the answer being written",
    "+  -": "rate the last answer good / bad (in an empty prompt too)",
    "F1": "help",
    "F2": "conversations: n new, r rename, d delete",
    "F3": "sources of the last answer",
    "F5": "reconnect",
    "Ctrl+Q": "quit",
}

_COMMAND = re.compile(r"^/(?P<name>[A-Za-z]+)(?:\s+(?P<args>.*))?$", re.DOTALL)


class CommandError(ValueError):
    """A command that cannot run as typed; the message says how to type it."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str = ""


def parse_command(text: str) -> Command | None:
    """The command in `text`, or None when `text` is a question to send."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    name = match["name"].lower()
    if name not in COMMANDS:
        raise CommandError(f"unknown command /{name}; /help lists them (start with // to send it)")
    return Command(name, (match["args"] or "").strip())


def unescape(text: str) -> str:
    """`//x` is the question `/x`."""
    return text[1:] if text.startswith("//") else text


def parse_feedback(args: str) -> tuple[int, str]:
    """`N [comment]` of /feedback."""
    rating, _, comment = args.partition(" ")
    if not rating.isdigit() or not 1 <= int(rating) <= 5:
        raise CommandError("usage: /feedback N [comment], N from 1 (bad) to 5 (good)")
    return int(rating), comment.strip()
