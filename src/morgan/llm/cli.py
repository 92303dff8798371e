"""`morgan models`: list and pull models on the Ollama server Morgan is configured to use.

It talks to Ollama directly (not through the Morgan server), so models can be pulled before
Morgan first starts. The server is `--url`, else MORGAN_LLM_URL from the settings.

Exit codes follow `morgan`: 2 when the LLM is not an Ollama server (nothing to list or
pull), 3 when Ollama cannot be reached, 5 when Ollama answers with an error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import click
import httpx
import msgspec

from morgan.cli.client import EXIT_SERVER, EXIT_UNREACHABLE, EXIT_USAGE, CLIError
from morgan.http_failures import classify
from morgan.llm.base import LLMUnavailable
from morgan.llm.ollama import OllamaLLM, OllamaModel, PullProgress

T = TypeVar("T")


def _ollama(url: str | None) -> tuple[OllamaLLM, list[str]]:
    """The configured Ollama backend and the model names the settings use on it."""
    from morgan.llm.factory import UnsupportedLLMUrl, build_llm
    from morgan.settings import SettingsError, load_settings

    try:
        models = load_settings().models
    except SettingsError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from exc
    target = url or models.llm_url
    try:
        llm = build_llm(target, models.llm_model or "unused")
    except UnsupportedLLMUrl as exc:
        raise CLIError(str(exc), EXIT_USAGE) from exc
    if not isinstance(llm, OllamaLLM):
        where = "--url" if url else "MORGAN_LLM_URL"
        raise CLIError(
            f"the LLM is not an Ollama server ({where}={target}); `morgan models` manages "
            "Ollama models only: pass --url http://HOST:11434 or set MORGAN_LLM_URL=ollama://HOST:11434",
            EXIT_USAGE,
        )
    configured = [models.llm_model]
    if models.fast_llm_model:
        configured.append(models.fast_llm_model)
    if not models.embeddings_url.startswith("embedded"):
        configured.append(models.embeddings_model)
    return llm, configured


def _run(llm: OllamaLLM, action: Callable[[], Awaitable[T]]) -> T:
    """Run one async action, translating Ollama failures into exit codes."""

    async def go() -> T:
        try:
            return await action()
        finally:
            await llm.aclose()

    try:
        return asyncio.run(go())
    except LLMUnavailable as exc:
        cause = exc.__cause__
        if isinstance(cause, httpx.HTTPError) and classify(cause).before_sending:
            raise CLIError(
                f"cannot reach Ollama at {llm.client.base_url} (is it running?): {exc}",
                EXIT_UNREACHABLE,
            ) from exc
        raise CLIError(str(exc), EXIT_SERVER) from exc


def _same(a: str, b: str) -> bool:
    def norm(name: str) -> str:
        return name if ":" in name else f"{name}:latest"

    return norm(a) == norm(b)


def _size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n_bytes} B"


@click.group("models")
def models_group() -> None:
    """List and pull models on the Ollama server (MORGAN_LLM_URL or --url)."""


@models_group.command("list")
@click.option("--url", "url", default=None, help="Ollama URL (default: MORGAN_LLM_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the models as JSON.")
def list_models(url: str | None, as_json: bool) -> None:
    """List the models pulled on the Ollama server; `*` marks the ones Morgan is set to use."""
    llm, configured = _ollama(url)
    models: list[OllamaModel] = _run(llm, llm.list_models)
    if as_json:
        rows = [
            {**msgspec.to_builtins(m), "configured": any(_same(m.name, c) for c in configured)}
            for m in models
        ]
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not models:
        console.print(
            f"no models on {llm.client.base_url}; pull one with `morgan models pull NAME`"
        )
        return
    table = Table("", "name", "size", "parameters", "quantization", "modified", box=None)
    for m in models:
        mark = "*" if any(_same(m.name, c) for c in configured) else ""
        table.add_row(
            mark, m.name, _size(m.size), m.parameter_size, m.quantization_level, m.modified_at[:10]
        )
    console.print(table)
    missing = [c for c in configured if not any(_same(m.name, c) for m in models)]
    for name in missing:
        console.print(f"[yellow]configured but not pulled:[/] {name} (morgan models pull {name})")


@models_group.command("pull")
@click.argument("model")
@click.option("--url", "url", default=None, help="Ollama URL (default: MORGAN_LLM_URL).")
def pull_model(model: str, url: str | None) -> None:
    """Pull MODEL onto the Ollama server, showing download progress on stderr."""
    llm, _ = _ollama(url)
    from rich.console import Console

    console = Console(stderr=True)

    async def pull() -> str:
        return await _show_progress(llm.pull(model), console)

    final = _run(llm, pull)
    if final != "success":
        raise CLIError(f"pull of {model} ended with status {final!r}", EXIT_SERVER)
    click.echo(f"pulled {model}")


async def _show_progress(progress_lines: AsyncIterator[PullProgress], console: Any) -> str:
    """A bar per layer on a terminal; one line per status change otherwise (logs, pipes)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    status = ""
    if not console.is_terminal:
        async for line in progress_lines:
            status = line.status
            if line.fraction is not None and line.total:
                console.print(
                    f"{line.status}: {line.completed}/{line.total} bytes ({line.fraction:.0%})"
                )
            else:
                console.print(line.status)
        return status
    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        async for line in progress_lines:
            status = line.status
            if line.digest and line.total:
                task = tasks.get(line.digest)
                if task is None:
                    task = tasks[line.digest] = bar.add_task(line.status, total=line.total)
                bar.update(task, completed=line.completed, total=line.total)
            else:
                bar.console.print(line.status)
    return status
