"""`morgan`: serve, ingest, ask, status and admin commands. Composes with shell pipes.

Exit codes: 0 ok, 1 some items failed (ingest), 2 usage, 3 server unreachable,
4 authentication, 5 server error.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from morgan.cli.client import (
    EXIT_SERVER,
    EXIT_USAGE,
    ClientArgs,
    CLIError,
    MorganClient,
    connection_options,
)
from morgan.cli.output import emit_rows, json_option, thinking, until_first_token

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def _emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=None if not sys.stdout.isatty() else 2))


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="morgan")
def cli() -> None:
    """Morgan: a self-hosted assistant that answers from your own documents."""
    import os

    from morgan.observability import configure_logging

    # Logs go to stderr so stdout stays clean for pipes (`morgan users create` prints a token).
    configure_logging(os.environ.get("MORGAN_LOG_LEVEL", "warning"), "console")


# -- server -----------------------------------------------------------------------------------
def _listening_server(config: Any, settings: Any) -> Any:
    """A uvicorn server that records MORGAN_HOME/token.url once its socket listens, so a server
    that fails to start (port taken, data folder in use) never redirects the CLI's token."""
    import uvicorn

    from morgan.auth.service import write_secret_file

    class ListeningServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit and settings.token_file.is_file():
                write_secret_file(settings.token_url_file, settings.server_url)

    return ListeningServer(config)


_HOME_LOCK: list[Any] = []  # the open lock file, held for the life of `morgan serve`


def _hold_home_lock(home: Path) -> None:
    """One embedded server per MORGAN_HOME: SQLite, the Edge vector folder and the token
    belong to one process, so a second `morgan serve` says so in one line instead of failing
    deep in start-up with a traceback."""
    try:
        import fcntl
    except ImportError:  # Windows: the vector folder's own lock still refuses a second server
        return
    home.mkdir(parents=True, exist_ok=True)
    handle = (home / "server.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "unknown"
        handle.close()
        raise CLIError(
            f"another `morgan serve` (pid {pid}) already uses {home}; stop it first, "
            "or give this one its own MORGAN_HOME",
            EXIT_USAGE,
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    _HOME_LOCK.append(handle)


@cli.command()
@click.option("--host", default=None, help="Interface to bind (default MORGAN_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default MORGAN_PORT or 8000).")
@click.option("--migrate", is_flag=True, help="Upgrade the database schema before starting.")
def serve(host: str | None, port: int | None, migrate: bool) -> None:
    """Run the Morgan server (embedded defaults: SQLite, local Qdrant, CPU models)."""
    import uvicorn

    from morgan.app import create_app
    from morgan.errors import SchemaOutOfDate
    from morgan.settings import load_settings

    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = load_settings(overrides={"server": overrides})  # token.url names the real port
    if settings.server.mode == "embedded":
        _hold_home_lock(settings.home)
    if (
        settings.database.url.startswith("sqlite")
        and not Path(settings.database.url.split("///", 1)[-1]).exists()
    ):
        migrate = True  # a brand-new embedded install: create the schema
    app = create_app(settings, migrate=migrate)
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = _listening_server(config, settings)
    try:
        server.run()
    except SchemaOutOfDate as exc:
        raise CLIError(exc.detail, EXIT_USAGE) from exc
    if not server.started:
        raise CLIError("the server failed to start; see the log above", EXIT_SERVER)


@cli.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Run the Alembic migrations (SQLite or PostgreSQL, from MORGAN_DATABASE_URL)."""
    from morgan.settings import load_settings
    from morgan.storage.db import Database

    async def run() -> str | None:
        database = Database(load_settings().database.url)
        try:
            await database.upgrade(revision)
            return await database.schema_revision()
        finally:
            await database.close()

    click.echo(f"database at revision {asyncio.run(run())}", err=True)


@db.command("current")
def db_current() -> None:
    """Print the schema revision of the configured database."""
    from morgan.settings import load_settings
    from morgan.storage.db import Database

    async def run() -> str | None:
        database = Database(load_settings().database.url)
        try:
            return await database.schema_revision()
        finally:
            await database.close()

    click.echo(asyncio.run(run()) or "none")


@cli.group()
def users() -> None:
    """User and token administration (talks to the database directly)."""


@users.command("create")
@click.argument("name")
def users_create(name: str) -> None:
    """Create a user; prints its API token alone on stdout (shown once)."""
    from morgan.auth import AuthService
    from morgan.errors import MorganError
    from morgan.settings import load_settings
    from morgan.storage.db import Database

    async def run() -> str:
        database = Database(load_settings().database.url)
        try:
            await database.ensure_schema(migrate=True)
            _, token = await AuthService(database).create_user(name)
            return token
        finally:
            await database.close()

    try:
        token = asyncio.run(run())
    except (MorganError, ValueError) as exc:
        raise CLIError(str(exc), EXIT_USAGE) from exc
    click.echo(token)


def _auth_admin(action: Any) -> Any:
    """Run `action(AuthService)` against the configured database (no server needed)."""
    from morgan.auth import AuthService
    from morgan.auth.outage import build_revocations
    from morgan.errors import MorganError
    from morgan.settings import load_settings
    from morgan.shared_state import SharedRedis
    from morgan.storage.db import Database

    async def run() -> Any:
        settings = load_settings()
        database = Database(settings.database.url)
        # Revocations also reach the servers' outage token caches (Redis in the cluster).
        shared = SharedRedis.from_cache_url(settings.cache.url)
        revocations = build_revocations(shared, settings.auth.outage_token_ttl_s, settings.home)
        try:
            await database.ensure_schema(migrate=False)
            result = await action(AuthService(database, revocations))
            if shared is not None and shared.degraded:
                click.echo(
                    "warning: Redis unreachable: done in the database, but a server's outage "
                    f"token cache may still accept the token for up to "
                    f"{settings.auth.outage_token_ttl_s:g} s if the database goes down",
                    err=True,
                )
            return result
        finally:
            await database.close()
            if shared is not None:
                await shared.close()

    try:
        return asyncio.run(run())
    except MorganError as exc:
        raise CLIError(exc.detail, EXIT_USAGE) from exc


class _CreateByDefault(click.Group):
    """`morgan users token NAME` still issues a token; `create`/`list`/`revoke` are explicit."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["create", *args]
        return super().resolve_command(ctx, args)


@users.group("token", cls=_CreateByDefault)
def users_token() -> None:
    """API tokens: `token NAME` (or `token create NAME`) issues one; `list`, `revoke`."""


@users_token.command("create")
@click.argument("name")
def users_token_create(name: str) -> None:
    """Issue an additional token for an existing user (printed alone on stdout)."""
    click.echo(_auth_admin(lambda auth: auth.create_token(name)))


@users_token.command("list")
@click.argument("name")
@json_option
def users_token_list(name: str, as_json: bool) -> None:
    """The user's tokens: prefix, name, created, last used, revoked."""
    tokens = _auth_admin(lambda auth: auth.list_tokens(name))
    rows = [
        {
            "prefix": t.prefix,
            "name": t.name,
            "created_at": t.created_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        }
        for t in tokens
    ]
    emit_rows(
        rows,
        [
            ("prefix", lambda r: r["prefix"]),
            ("name", lambda r: r["name"]),
            ("created", lambda r: r["created_at"][:16]),
            ("last used", lambda r: (r["last_used_at"] or "never")[:16]),
            ("revoked", lambda r: (r["revoked_at"] or "")[:16]),
        ],
        as_json=as_json,
        empty=f"{name} has no tokens",
    )


@users_token.command("revoke")
@click.argument("name")
@click.option(
    "--prefix",
    default=None,
    help="Revoke only the token starting with this "
    "(its first 10 characters, as `users token list` shows); default: all of them.",
)
def users_token_revoke(name: str, prefix: str | None) -> None:
    """Revoke a user's tokens; the next request with one of them gets 401."""
    n = _auth_admin(lambda auth: auth.revoke_tokens(name, prefix=prefix))
    if prefix and not n:
        raise CLIError(f"{name} has no active token starting with {prefix[:10]!r}", EXIT_USAGE)
    click.echo(f"revoked {n} token{'s' if n != 1 else ''} of {name}", err=True)


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable a user: all their tokens stop working from the next request (data is kept)."""
    _auth_admin(lambda auth: auth.set_active(name, False))
    click.echo(f"disabled {name}", err=True)


@users.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """Re-enable a disabled user (their unrevoked tokens work again)."""
    _auth_admin(lambda auth: auth.set_active(name, True))
    click.echo(f"enabled {name}", err=True)


# -- client commands --------------------------------------------------------------------------
@cli.command()
@click.argument("question", required=False)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object (with --stream: NDJSON events)."
)
@click.option(
    "--stream/--no-stream",
    default=None,
    help="Stream tokens (default: on when stdout is a terminal).",
)
@click.option("--no-rag", is_flag=True, help="Answer without searching your documents.")
@click.option(
    "--conversation", "conversation_id", default=None, help="Continue a conversation by id."
)
@click.option("--new", "new_conversation", is_flag=True, help="Start a new conversation.")
@click.option(
    "--model", default=None, help="Ask a specific model (Ollama / OpenAI-compatible backends)."
)
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1, 20))
@click.option("--emotion", "show_emotion", is_flag=True, help="Show the detected emotion.")
@connection_options
def ask(
    question: str | None,
    as_json: bool,
    stream: bool | None,
    no_rag: bool,
    conversation_id: str | None,
    new_conversation: bool,
    model: str | None,
    top_k: int,
    show_emotion: bool,
    conn: ClientArgs,
) -> None:
    """Ask a question; reads it from stdin when QUESTION is missing or `-`."""
    if question in (None, "-"):
        if sys.stdin.isatty():
            raise CLIError("give a QUESTION or pipe one on stdin", EXIT_USAGE)
        question = sys.stdin.read()
    question = (question or "").strip()
    if not question:
        raise CLIError("the question is empty", EXIT_USAGE)
    if conversation_id and new_conversation:
        raise CLIError("--conversation and --new exclude each other", EXIT_USAGE)
    body: dict[str, Any] = {"message": question, "rag": not no_rag, "top_k": top_k}
    if conversation_id:
        body["conversation_id"] = conversation_id
    if model:
        body["model"] = model
    if stream is None:
        stream = sys.stdout.isatty() and not as_json
    client = conn.client()
    try:
        if stream:
            _ask_stream(client, body, as_json, show_emotion)
        else:
            with thinking():
                response = client.json("POST", "/api/chat", json=body)
            if as_json:
                _emit_json(response)
            else:
                _print_answer(response, show_emotion)
    finally:
        client.close()


def _ask_stream(
    client: MorganClient, body: dict[str, Any], as_json: bool, show_emotion: bool
) -> None:
    import msgspec

    from morgan.chat.schemas import DoneEvent, ErrorEvent, TokenEvent

    response: dict[str, Any] | None = None
    for event in until_first_token(client.stream_events("/api/chat/stream", body)):
        if as_json:
            click.echo(msgspec.json.encode(event).decode())  # the wire format, one event a line
        if isinstance(event, TokenEvent) and not as_json:
            click.echo(event.data.text, nl=False)
        elif isinstance(event, ErrorEvent):
            raise CLIError(event.data.detail, EXIT_SERVER)
        elif isinstance(event, DoneEvent):
            response = msgspec.to_builtins(event.data.response)
    if response is not None and not as_json:
        click.echo()
        _print_sources(response, show_emotion)


def _print_answer(response: dict[str, Any], show_emotion: bool) -> None:
    click.echo(response["text"])
    _print_sources(response, show_emotion)


def _print_sources(response: dict[str, Any], show_emotion: bool) -> None:
    color = sys.stdout.isatty()
    if response.get("evidence"):
        click.echo()
        click.secho("Evidence:", bold=True, color=color)
        for e in response["evidence"]:  # quoted verbatim from the cited source
            where = "; ".join(
                filter(None, [e.get("heading"), f"page {e['page']}" if e.get("page") else ""])
            )
            click.echo(f"  [{e['n']}] “{e['text']}”" + (f" ({where})" if where else ""))
    if response.get("sources"):
        click.echo()
        supporting = all(s.get("supports", True) for s in response["sources"])
        click.secho(
            "Sources:" if supporting else "Closest sources (they do not answer this):",
            bold=True,
            color=color,
        )
        for s in response["sources"]:
            where = f", page {s['page']}" if s.get("page") else ""
            heading = f" — {s['heading']}" if s.get("heading") else ""
            click.echo(f"  [{s['n']}] {s['title']}{heading}{where}")
    if show_emotion and response.get("emotion"):
        e = response["emotion"]
        click.echo(
            f"\nEmotion: {e['label']} ({e.get('ekman', '')}, intensity {e['intensity']:.2f})"
        )
    if response.get("degraded"):
        click.secho(
            f"\n(degraded: {', '.join(response['degraded'])})", fg="yellow", color=color, err=True
        )


@cli.group()
def conversations() -> None:
    """List, show and remove conversations."""


@conversations.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 499))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@click.option(
    "--search", default=None, help="Only conversations whose title or text contains this."
)
@json_option
@connection_options
def conversations_list(
    limit: int, offset: int, search: str | None, as_json: bool, conn: ClientArgs
) -> None:
    """Newest first; says when there are more than shown (page with --offset)."""
    client = conn.client()
    params: dict[str, Any] = {"limit": limit + 1, "offset": offset}  # one extra: are there more?
    if search:
        params["q"] = search
    try:
        rows = client.json("GET", "/api/conversations", params=params)
        total = None if search else client.json("GET", "/api/status")["counts"]["conversations"]
    finally:
        client.close()
    more = len(rows) > limit
    rows = rows[:limit]
    footer = None
    if more or offset:
        of = f" of {total}" if total is not None else ""
        footer = (
            f"showing {offset + 1}-{offset + len(rows)}{of}"
            if rows
            else f"nothing at offset {offset}{of}"
        )
        if more:
            footer += f"; use --offset {offset + limit} for more"
    emit_rows(
        rows,
        [
            ("id", lambda c: c["id"]),
            ("updated", lambda c: c["updated_at"][:16]),
            ("msgs", lambda c: c["messages"]),
            ("title", lambda c: c["title"]),
        ],
        as_json=as_json,
        empty="no conversations yet",
        footer=footer,
    )


@conversations.command("show")
@click.argument("conversation_id")
@click.option("--json", "as_json", is_flag=True)
@connection_options
def conversations_show(conversation_id: str, as_json: bool, conn: ClientArgs) -> None:
    client = conn.client()
    rows = client.json("GET", f"/api/conversations/{conversation_id}/messages")
    client.close()
    if as_json:
        _emit_json(rows)
        return
    for m in rows:
        click.echo(
            f"{m['role']}: {m['content'] if m['status'] == 'ok' else '(failed: ' + str(m['error']) + ')'}\n"
        )


@conversations.command("rm")
@click.argument("conversation_id")
@connection_options
def conversations_rm(conversation_id: str, conn: ClientArgs) -> None:
    client = conn.client()
    client.request("DELETE", f"/api/conversations/{conversation_id}")
    client.close()
    click.echo(f"removed {conversation_id}", err=True)


def _mount_module_commands() -> None:
    """Subcommands that live with their module (reranker service, cluster planner, models, TUI)."""
    from morgan.cli.config import config_group, debug_group
    from morgan.cli.doctor import doctor_command
    from morgan.cli.documents import documents_group
    from morgan.cli.ingest import ingest_command
    from morgan.cli.learning import feedback_command, preferences_group
    from morgan.cli.status import status_command
    from morgan.cluster.cli import cluster_group, hosts_group
    from morgan.llm.cli import models_group
    from morgan.reranker.cli import reranker_group
    from morgan.storage.vectors.cli import index_group
    from tui.cli import chat_command

    for command, name in (
        (reranker_group, "reranker"),
        (cluster_group, "cluster"),
        (models_group, "models"),
        (ingest_command, "ingest"),
        (doctor_command, "doctor"),
        (status_command, "status"),
        (documents_group, "documents"),
        (config_group, "config"),
        (debug_group, "debug"),
        (feedback_command, "feedback"),
        (preferences_group, "preferences"),
        (chat_command, "chat"),
        (index_group, "index"),
        (hosts_group, "hosts"),
    ):
        cli.add_command(command, name=name)


_mount_module_commands()
