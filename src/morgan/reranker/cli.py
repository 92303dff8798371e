"""`morgan reranker ...` commands; the lead mounts `reranker_group` on the main CLI."""

from __future__ import annotations

from pathlib import Path

import click

from morgan.reranker.base import RerankerModelError


@click.group("reranker")
def reranker_group() -> None:
    """Run the cross-encoder reranker as its own service."""


@reranker_group.command("serve")
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    envvar="MORGAN_RERANKER_MODEL_DIR",
    help="Folder with the tokenizer files and model.onnx (or onnx/model.onnx).",
)
@click.option(
    "--host",
    default="0.0.0.0",  # noqa: S104 - the reranker is a pod's service; it must listen on the pod IP
    show_default=True,
    envvar="MORGAN_RERANKER_HOST",
)
@click.option("--port", default=8081, show_default=True, type=int, envvar="MORGAN_RERANKER_PORT")
@click.option(
    "--max-length",
    default=512,
    show_default=True,
    type=click.IntRange(min=8),
    envvar="MORGAN_RERANKER_MAX_LENGTH",
    help="Token window per (query, passage) pair; longer passages are truncated.",
)
@click.option(
    "--batch-size",
    default=32,
    show_default=True,
    type=click.IntRange(min=1),
    envvar="MORGAN_RERANKER_BATCH_SIZE",
    help="Pairs per ONNX run.",
)
@click.option(
    "--model-poll-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    envvar="MORGAN_RERANKER_MODEL_POLL_SECONDS",
    help="While the model folder is empty, serve unready (status no_model) and look again "
    "this often; it loads as soon as `morgan reranker fetch` has filled the folder.",
)
@click.option("--log-level", default="info", show_default=True)
def serve(
    model_dir: Path,
    host: str,
    port: int,
    max_length: int,
    batch_size: int,
    model_poll_seconds: float,
    log_level: str,
) -> None:
    """Serve POST /rerank, /health/live, /health/ready and /metrics."""
    import uvicorn

    from morgan.reranker.service import create_reranker_app

    app = create_reranker_app(
        model_dir, max_length=max_length, batch_size=batch_size, model_poll_s=model_poll_seconds
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)


@reranker_group.command("fetch")
@click.option(
    "--from",
    "source",
    required=True,
    envvar="MORGAN_RERANKER_MODEL_SOURCE",
    help="A folder, s3://bucket/prefix?endpoint=URL (AWS_* credentials), or an http(s) URL of "
    "a .tar.gz/.zip archive or a model.onnx.",
)
@click.option(
    "--to",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    envvar="MORGAN_RERANKER_MODEL_DIR",
    help="The model folder `reranker serve --model-dir` reads.",
)
@click.option("--force", is_flag=True, help="Replace a model that is already there.")
def fetch(source: str, target: Path, force: bool) -> None:
    """Copy an exported ONNX cross-encoder (model.onnx + tokenizer files) into the model folder."""
    from morgan.reranker.fetch import fetch_model

    try:
        model = fetch_model(source, target, force=force)
    except (RerankerModelError, OSError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"reranker model ready: {model}")
