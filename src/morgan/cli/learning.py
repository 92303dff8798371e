"""`morgan feedback` and `morgan preferences`: rate answers, see and forget what was learned."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from morgan.cli.client import ClientArgs, connection_options
from morgan.cli.output import emit_rows, json_option


@click.command("feedback")
@click.argument("rating", type=click.IntRange(1, 5))
@click.option(
    "--message", "message_id", default=None, help="Answer to rate (default: your last answer)."
)
@click.option(
    "--conversation",
    "conversation_id",
    default=None,
    help="Rate the last answer of this conversation.",
)
@click.option("--comment", default="", help="What was good or bad about it.")
@click.option("--json", "as_json", is_flag=True)
@connection_options
def feedback_command(
    rating: int,
    message_id: str | None,
    conversation_id: str | None,
    comment: str,
    as_json: bool,
    conn: ClientArgs,
) -> None:
    """Rate an answer from 1 (bad) to 5 (great); Morgan ranks the documents it cited accordingly."""
    body: dict[str, Any] = {"rating": rating, "comment": comment}
    if message_id:
        body["message_id"] = message_id
    if conversation_id:
        body["conversation_id"] = conversation_id
    client = conn.client()
    try:
        result = client.json("POST", "/api/feedback", json=body)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"rated answer {result['message_id']} {rating}/5", err=not sys.stdout.isatty())


@click.group("preferences")
def preferences_group() -> None:
    """What Morgan learned about how you like answers (length, name, language, ...)."""


@preferences_group.command("list")
@json_option
@connection_options
def preferences_list(as_json: bool, conn: ClientArgs) -> None:
    """What was learned, from which of your messages; a table on a terminal, JSON otherwise."""
    client = conn.client()
    try:
        prefs = client.json("GET", "/api/preferences")
    finally:
        client.close()
    emit_rows(
        prefs,
        [
            ("key", lambda p: p["key"]),
            ("value", lambda p: p["value"]),
            ("from", lambda p: p["source_text"][:60]),
        ],
        as_json=as_json,
        empty="nothing learned yet",
    )


@preferences_group.command("rm")
@click.argument("key", required=False)
@click.option("--all", "forget_all", is_flag=True, help="Forget every learned preference.")
@connection_options
def preferences_rm(key: str | None, forget_all: bool, conn: ClientArgs) -> None:
    """Forget one learned preference (or all of them with --all)."""
    if not key and not forget_all:
        raise click.UsageError("give a KEY or --all")
    client = conn.client()
    try:
        client.request("DELETE", "/api/preferences" if forget_all else f"/api/preferences/{key}")
    finally:
        client.close()
    click.echo("forgotten", err=True)
