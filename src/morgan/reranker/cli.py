"""`morgan reranker ...` commands; the lead mounts `reranker_group` on the main CLI."""

from __future__ import annotations

from pathlib import Path

import click

from morgan.reranker.base import RerankerModelError
from morgan.reranker.onnx_cross_encoder import find_model_file


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
@click.option("--host", default="0.0.0.0", show_default=True, envvar="MORGAN_RERANKER_HOST")
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
@click.option("--log-level", default="info", show_default=True)
def serve(
    model_dir: Path, host: str, port: int, max_length: int, batch_size: int, log_level: str
) -> None:
    """Serve POST /rerank, /health/live, /health/ready and /metrics."""
    import uvicorn

    from morgan.reranker.service import create_reranker_app

    try:
        find_model_file(model_dir)
    except RerankerModelError as error:
        raise click.ClickException(str(error)) from error
    app = create_reranker_app(model_dir, max_length=max_length, batch_size=batch_size)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
