"""`morgan config` (runtime settings in the server's database) and the hidden `morgan debug`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from morgan.cli.client import EXIT_USAGE, ClientArgs, CLIError, connection_options
from morgan.cli.output import emit_json, emit_rows, json_option, wants_json


def _shown(value: Any) -> str:
    return (
        "(per answer)"
        if value is None
        else json.dumps(value)
        if not isinstance(value, str)
        else value
    )


ENTRY_COLUMNS = [
    ("key", lambda e: e["key"]),
    ("value", lambda e: _shown(e["value"])),
    ("source", lambda e: e["source"]),
    ("default", lambda e: _shown(e["default"])),
    ("what it changes", lambda e: e["help"]),
]


@click.group("config")
def config_group() -> None:
    """Runtime settings stored by the server (llm.temperature, llm.max_tokens, llm.model, ...).

    They apply to the next answer on every server replica, without a restart.
    """


@config_group.command("list")
@json_option
@connection_options
def config_list(as_json: bool, conn: ClientArgs) -> None:
    """Every known key with its value and where it comes from."""
    client = conn.client()
    try:
        rows = client.json("GET", "/api/config")
    finally:
        client.close()
    emit_rows(rows, ENTRY_COLUMNS, as_json=as_json)


@config_group.command("get")
@click.argument("key")
@json_option
@connection_options
def config_get(key: str, as_json: bool, conn: ClientArgs) -> None:
    """Print one value (the raw value alone when piped)."""
    client = conn.client()
    try:
        entry = client.json("GET", f"/api/config/{key}")
    finally:
        client.close()
    if as_json:
        emit_json(entry)
    elif wants_json(False):
        click.echo("" if entry["value"] is None else _shown(entry["value"]))
    else:
        click.echo(f"{entry['key']} = {_shown(entry['value'])} ({entry['source']})")


@config_group.command("set")
@click.argument("key")
@click.argument("value")
@json_option
@connection_options
def config_set(key: str, value: str, as_json: bool, conn: ClientArgs) -> None:
    """Set KEY to VALUE; the server validates it (e.g. llm.temperature 0-2)."""
    client = conn.client()
    try:
        entry = client.json("PUT", f"/api/config/{key}", json={"value": value})
    finally:
        client.close()
    if as_json:
        emit_json(entry)
    else:
        click.echo(f"{entry['key']} = {_shown(entry['value'])}", err=True)


@config_group.command("delete")
@click.argument("key")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@connection_options
def config_delete(key: str, yes: bool, conn: ClientArgs) -> None:
    """Remove a runtime value, so KEY goes back to its default. Asks first unless --yes."""
    if not yes:
        if not sys.stdin.isatty():
            raise CLIError(f"refusing to delete {key} without confirmation; pass --yes", EXIT_USAGE)
        click.confirm(f"Delete {key} (back to its default)?", abort=True, err=True)
    client = conn.client()
    try:
        entry = client.json("DELETE", f"/api/config/{key}")
    finally:
        client.close()
    click.echo(f"{entry['key']} back to its default ({_shown(entry['value'])})", err=True)


@click.group("debug", hidden=True)
def debug_group() -> None:
    """What the server is made of right now (for diagnosing it)."""


def _report(conn: ClientArgs) -> dict[str, Any]:
    client = conn.client()
    try:
        return client.json("GET", "/api/debug")  # type: ignore[no-any-return]
    finally:
        client.close()


@debug_group.command("components")
@json_option
@connection_options
def debug_components(as_json: bool, conn: ClientArgs) -> None:
    """Every component with its backend, state and detail."""
    emit_rows(
        _report(conn)["components"],
        [
            ("name", lambda c: c["name"]),
            ("backend", lambda c: c["backend"]),
            ("state", lambda c: c["state"]),
            ("detail", lambda c: c.get("detail", "")),
        ],
        as_json=as_json,
    )


@debug_group.command("queue")
@json_option
@connection_options
def debug_queue(as_json: bool, conn: ClientArgs) -> None:
    """The background (learning) queue: running, pending and its counters."""
    queue = _report(conn)["queue"]
    if wants_json(as_json):
        emit_json(queue)
        return
    click.echo(
        f"{queue['name']}: {'running' if queue['running'] else 'stopped'}, "
        f"{queue['pending']} pending, {queue['background_tasks']} background tasks"
    )
    for k, v in (queue.get("stats") or {}).items():
        click.echo(f"  {k:<11} {v}")


@debug_group.command("vectors")
@json_option
@connection_options
def debug_vectors(as_json: bool, conn: ClientArgs) -> None:
    """Vector index statistics (backend, location, points, segments)."""
    stats = _report(conn)["vectors"]
    if wants_json(as_json):
        emit_json(stats)
        return
    for k, v in stats.items():
        click.echo(f"{k:<15} {v}")


@debug_group.command("config")
@json_option
@connection_options
def debug_config(as_json: bool, conn: ClientArgs) -> None:
    """Every setting with the place its value came from: env, morgan.toml, default, runtime."""
    emit_rows(
        _report(conn)["config"],
        [
            ("name", lambda s: s["name"]),
            ("value", lambda s: _shown(s["value"])),
            ("source", lambda s: s["source"]),
            ("variable", lambda s: s.get("env", "")),
        ],
        as_json=as_json,
    )
