"""`morgan index ...`: migrate, optimize and inspect the vector index.

They open the embedded (Edge) folder themselves, so the server must be stopped: Edge allows
one process per folder, and the HNSW build of `optimize` would stall a serving process.
With a Qdrant server URL they talk to the server (which optimizes on its own).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

EXIT_USAGE = 2
EXIT_SERVER = 5
"""`morgan`'s exit codes (morgan.cli.client), repeated: storage must not import the CLI."""
DEFAULT_DIMENSION = 384
"""Only used when a new shard must be created; an existing one keeps its own."""


class CLIError(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


@click.group("index")
def index_group() -> None:
    """The vector index: stats, optimize (server stopped), migrate from local mode."""


def _settings() -> Any:
    from morgan.settings import load_settings

    return load_settings()


def _open(url: str, collection: str) -> Any:
    from morgan.storage.vectors import build_vector_index, is_server_url
    from morgan.storage.vectors.edge import is_edge_folder
    from morgan.storage.vectors.migrate import is_local_mode_folder

    if not is_server_url(url):
        path = Path(url)
        if not is_edge_folder(path) and not is_local_mode_folder(path):
            raise CLIError(f"no vector index at {path}", EXIT_USAGE)
    # No build on open: `morgan index optimize` decides, start-up rules do not apply.
    return build_vector_index(
        url, collection=collection, dimension=DEFAULT_DIMENSION, startup_build="off"
    )


async def _with_index(url: str, collection: str, action: Any) -> Any:
    from morgan.storage.vectors import VectorIndexUnavailable

    index = _open(url, collection)
    try:
        await index.ensure_collection()
        return await action(index)
    except VectorIndexUnavailable as exc:
        raise CLIError(str(exc), EXIT_SERVER) from exc
    finally:
        await index.close()


@index_group.command("stats")
def stats_command() -> None:
    """Points, segments and HNSW coverage, as JSON on stdout."""
    s = _settings()

    async def run(index: Any) -> Any:
        return await index.stats()

    st = asyncio.run(_with_index(s.vectors.url, s.vectors.collection, run))
    click.echo(
        json.dumps(
            {
                "backend": st.backend,
                "location": st.location,
                "points": st.points,
                "segments": st.segments,
                "indexed_points": st.indexed_points,
                **st.extra,
            }
        )
    )


@index_group.command("optimize")
def optimize_command() -> None:
    """Build the HNSW graph now (minutes at 200k points; run it with the server stopped)."""
    import time

    s = _settings()

    async def run(index: Any) -> bool:
        return bool(await index.optimize())

    t0 = time.perf_counter()
    changed = asyncio.run(_with_index(s.vectors.url, s.vectors.collection, run))
    click.echo(
        f"{'optimized' if changed else 'already optimal'} in {time.perf_counter() - t0:.1f} s",
        err=True,
    )


@index_group.command("migrate")
@click.option(
    "--source",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="qdrant-client local-mode folder (default: the configured vector folder).",
)
@click.option(
    "--target",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="New Qdrant Edge folder (default: the configured vector folder).",
)
def migrate_command(source: Path | None, target: Path | None) -> None:
    """Copy a local-mode folder into Qdrant Edge (start-up does this by itself in place)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from morgan.storage.vectors import is_server_url
    from morgan.storage.vectors.migrate import is_local_mode_folder, migrate_folder

    s = _settings()
    if is_server_url(s.vectors.url) and (source is None or target is None):
        raise CLIError("MORGAN_VECTORS_URL is a server; pass --source and --target", EXIT_USAGE)
    source = source or Path(s.vectors.url)
    target = target or Path(s.vectors.url)
    if not is_local_mode_folder(source):
        raise CLIError(f"{source} is not a qdrant-client local-mode folder", EXIT_USAGE)
    with Progress(TextColumn("migrating"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task("migrate", total=None)
        try:
            done = migrate_folder(
                source,
                target,
                collection=s.vectors.collection,
                dimension=DEFAULT_DIMENSION,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
        except (FileExistsError, RuntimeError) as exc:
            raise CLIError(str(exc), EXIT_USAGE) from exc
    click.echo(f"migrated {done} points into {target}", err=True)
