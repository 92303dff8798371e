"""`morgan status [--watch [N]]`: components, backends, state and counts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import click

from morgan.cli.client import ClientArgs, CLIError, MorganClient, connection_options
from morgan.cli.output import emit_json, wants_json


def _lines(body: dict[str, Any]) -> list[str]:
    out = [f"Morgan {body['version']} ({body['mode']}), user {body['user']}"]
    for c in body["components"]:
        detail = f" — {c['detail']}" if c.get("detail") else ""
        out.append(f"  {c['name']:<12} {c['state']:<9} {c['backend']}{detail}")
    counts = body["counts"]
    out.append(
        f"  {counts['documents']} documents, {counts['chunks']} chunks, "
        f"{counts['conversations']} conversations"
    )
    if body["degraded"]:
        out.append(f"degraded: {', '.join(body['degraded'])}")
    return out


@click.command("status")
@click.option(
    "--watch",
    type=click.FloatRange(min=0.1),
    is_flag=False,
    flag_value=2.0,
    default=None,
    metavar="[N]",
    help="Refresh every N seconds (default 2) until Ctrl+C; JSON lines when piped.",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="With --watch: stop after this many refreshes.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON (with --watch: one object a line).")
@connection_options
def status_command(watch: float | None, count: int | None, as_json: bool, conn: ClientArgs) -> None:
    """Show the server's components, their backends and state."""
    client = conn.client()
    try:
        if watch is None:
            body = client.json("GET", "/api/status")
            if as_json:
                emit_json(body)
            else:
                click.echo("\n".join(_lines(body)))
            return
        _watch(client, watch, count, wants_json(as_json))
    except KeyboardInterrupt:
        pass  # Ctrl+C is how a watch ends
    finally:
        client.close()


def _watch(client: MorganClient, every: float, count: int | None, as_lines: bool) -> None:
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    n = 0
    live = None if as_lines else Live(Text(""), console=Console(), auto_refresh=False)
    if live is not None:
        live.start()
    try:
        while count is None or n < count:
            try:
                body = client.json("GET", "/api/status")
                body["at"] = datetime.now(UTC).isoformat(timespec="seconds")
            except CLIError as exc:  # the server went away: keep watching, say so
                body = {
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "error": exc.message,
                    "exit_code": exc.exit_code,
                }
            n += 1
            if live is None:
                click.echo(json.dumps(body, ensure_ascii=False))
            else:
                text = "\n".join(_lines(body)) if "error" not in body else f"error: {body['error']}"
                live.update(
                    Text(f"{text}\n\nevery {every:g}s · {body['at']} · Ctrl+C to stop"),
                    refresh=True,
                )
            if count is None or n < count:
                time.sleep(every)  # the refresh period the user asked for
    finally:
        if live is not None:
            live.stop()
