"""How every list command prints: a rich table on a terminal, JSON when piped or with --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import click

T = TypeVar("T")
Column = tuple[str, Callable[[dict[str, Any]], Any]]
"""A header and how to get the cell from one row."""


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2 if sys.stdout.isatty() else None))


def wants_json(as_json: bool) -> bool:
    """--json, or stdout is not a terminal (a pipe or a file gets machine-readable output)."""
    return as_json or not sys.stdout.isatty()


def json_option(f: Any) -> Any:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="JSON output (the default when stdout is not a terminal).",
    )(f)


def emit_rows(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    *,
    as_json: bool,
    empty: str = "nothing here",
    footer: str | None = None,
) -> None:
    """`rows` as JSON (exactly what the server sent) or as a table with an optional footer."""
    if wants_json(as_json):
        emit_json(list(rows))
        if footer:
            click.echo(footer, err=True)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(empty)
    else:
        table = Table(*(h for h, _ in columns), box=None, header_style="bold")
        for row in rows:
            table.add_row(*("" if (v := get(row)) is None else str(v) for _, get in columns))
        console.print(table)
    if footer:
        console.print(footer, style="dim")


def thinking(message: str = "Morgan is thinking…") -> AbstractContextManager[Any]:
    """A spinner on stderr while waiting, only when stderr is a terminal (never on stdout)."""
    from rich.console import Console

    console = Console(stderr=True)
    return console.status(message) if console.is_terminal else nullcontext()


def until_first_token(events: Iterator[T]) -> Iterator[T]:
    """Shows `thinking()` until the stream's first token event, then gets out of the way."""
    spinner = thinking()
    spinner.__enter__()
    stopped = False
    try:
        for event in events:
            if not stopped and getattr(event, "event", None) in ("token", "done", "error"):
                spinner.__exit__(None, None, None)
                stopped = True
            yield event
    finally:
        if not stopped:
            spinner.__exit__(None, None, None)
