"""One loader for a model folder on disk: the ONNX graph, its tokenizer, an ONNX Runtime session.

The reranker's cross-encoder, the emotion classifier and MiniLM all ship as a folder
(config.json, tokenizer files, model.onnx or onnx/model.onnx). Loading is strictly offline:
a folder that does not exist is an error here, never a model id that transformers would try
to download (`from_pretrained("bge-reranker")` on a missing folder goes to the hub), and
transformers is told `local_files_only=True` besides. Errors name the folder and the file,
raised as the caller's type (`RerankerModelError`, `EmotionModelError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

MODEL_FILE_CANDIDATES = ("model.onnx", "onnx/model.onnx")
CPU = ("CPUExecutionProvider",)


class ModelFolderError(Exception):
    """The folder, its ONNX file or its tokenizer cannot be loaded."""


def model_folder(
    folder: str | Path, *, what: str = "model", error: type[Exception] = ModelFolderError
) -> Path:
    """`folder` as an existing directory, or `error`: never a name to look up elsewhere."""
    directory = Path(folder).expanduser()
    if not directory.is_dir():
        raise error(f"{what} directory does not exist: {directory}")
    return directory


def find_onnx_file(
    folder: str | Path,
    *,
    any_onnx: bool = False,
    what: str = "model",
    hint: str = "",
    error: type[Exception] = ModelFolderError,
) -> Path:
    """model.onnx or onnx/model.onnx in `folder` (with `any_onnx`, else the first *.onnx)."""
    directory = model_folder(folder, what=what, error=error)
    for candidate in MODEL_FILE_CANDIDATES:
        if (directory / candidate).is_file():
            return directory / candidate
    if any_onnx and (found := sorted(directory.glob("*.onnx"))):
        return found[0]
    raise error(
        f"no ONNX model in {directory}: looked for {' and '.join(MODEL_FILE_CANDIDATES)}"
        + (" or any *.onnx" if any_onnx else "")
        + (f" ({hint})" if hint else "")
    )


def load_tokenizer(
    folder: str | Path,
    *,
    fast: bool = False,
    what: str = "model",
    error: type[Exception] = ModelFolderError,
) -> Any:
    """The folder's transformers tokenizer, from its own files only (`local_files_only`).

    With `fast`, a slow (Python) tokenizer is refused: offsets need a tokenizer.json."""
    directory = model_folder(folder, what=what, error=error)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    except Exception as exc:  # transformers raises many kinds for a bad folder
        raise error(f"cannot load the tokenizer from {directory}: {exc}") from exc
    if fast and not getattr(tokenizer, "is_fast", False):
        raise error(
            f"the tokenizer in {directory} is not a fast tokenizer (tokenizer.json missing?); "
            "offsets are needed to cut long texts"
        )
    return tokenizer


def load_tokenizer_file(
    folder: str | Path, *, what: str = "model", error: type[Exception] = ModelFolderError
) -> Any:
    """The folder's tokenizer.json as a `tokenizers.Tokenizer` (no transformers import)."""
    directory = model_folder(folder, what=what, error=error)
    from tokenizers import Tokenizer

    path = directory / "tokenizer.json"
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for a missing or bad file
        raise error(f"cannot load the tokenizer {path}: {exc}") from exc


def open_session(
    model_file: str | Path,
    *,
    providers: Sequence[str] = CPU,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    spinning: bool = True,
    error: type[Exception] = ModelFolderError,
) -> Any:
    """An `onnxruntime.InferenceSession` for `model_file`.

    `spinning=False` stops idle worker threads from spin-waiting: on a shared CPU spinning
    threads steal the cores the event loop and other requests need."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
    if inter_op_threads is not None:
        options.inter_op_num_threads = inter_op_threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(model_file), sess_options=options, providers=list(providers)
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise error(f"cannot load ONNX model {model_file}: {exc}") from exc
