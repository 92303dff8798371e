"""`morgan chat`: open the chat TUI against a running server."""

from __future__ import annotations

import click

from morgan.cli.client import EXIT_USAGE, CLIError
from tui.client import is_uuid


@click.command("chat")
@click.option("--url", help="Server URL (default: MORGAN_URL, then [server] host/port settings).")
@click.option("--token", envvar="MORGAN_TOKEN", help="API token (default: MORGAN_HOME/token).")
@click.option("--conversation", "conversation_id", default=None, help="Open this conversation id.")
def chat_command(url: str | None, token: str | None, conversation_id: str | None) -> None:
    """Chat with Morgan in a full-screen terminal UI."""
    if conversation_id is not None and not is_uuid(conversation_id):
        raise CLIError(f"not a conversation id: {conversation_id}", EXIT_USAGE)
    from tui.app import MorganChatApp

    MorganChatApp(url=url, token=token, conversation_id=conversation_id).run()
