"""A Hugging Face cross-encoder exported to ONNX, run with onnxruntime.

Any sequence-classification cross-encoder works (BERT, MiniLM, XLM-R/bge): the inputs are read
from the ONNX graph, and the logits may be one relevance logit per pair ([B, 1] or [B]) or two
classes ([B, 2], the second one meaning "relevant").
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from morgan.onnx_models import MODEL_FILE_CANDIDATES, find_onnx_file, load_tokenizer, open_session
from morgan.reranker.base import RerankerModelError

log = structlog.get_logger(__name__)

__all__ = ["MODEL_FILE_CANDIDATES", "OnnxCrossEncoder", "find_model_file"]
_KNOWN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_NUMPY_INT_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


def find_model_file(model_dir: str | Path) -> Path:
    """The ONNX file inside `model_dir`, or a `RerankerModelError` that says what is missing."""
    return find_onnx_file(
        model_dir,
        what="reranker model",
        hint="export the cross-encoder with optimum or torch.onnx.export",
        error=RerankerModelError,
    )


def default_providers() -> list[str]:
    """CUDA first when onnxruntime-gpu can use it, the CPU always as the fallback."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def relevance_from_logits(logits: np.ndarray, *, normalize: bool) -> np.ndarray:
    """One score per pair: the relevance logit, squashed to [0, 1] when `normalize`.

    For two-class heads the logit is `l1 - l0`, so the normalised score equals the softmax
    probability of the positive class.
    """
    values = np.asarray(logits, dtype=np.float64)
    if values.ndim == 1:
        raw = values
    elif values.ndim == 2 and values.shape[1] == 1:
        raw = values[:, 0]
    elif values.ndim == 2 and values.shape[1] == 2:
        raw = values[:, 1] - values[:, 0]
    else:
        raise RerankerModelError(
            f"unsupported logits shape {values.shape}: expected [batch], [batch, 1] or [batch, 2]"
        )
    if not normalize:
        return raw
    return 0.5 * (1.0 + np.tanh(0.5 * raw))  # the logistic function, without overflow


@dataclass(frozen=True)
class _Loaded:
    session: Any
    tokenizer: Any
    input_types: dict[str, type[np.integer]]
    output_name: str
    max_length: int
    providers: list[str]


class OnnxCrossEncoder:
    """Scores (query, passage) pairs with an ONNX cross-encoder; blocking, thread-safe.

    Nothing is read in `__init__`; `warm_up()` loads the tokenizer and the ONNX session (and
    `score` calls it when needed). Long passages are truncated, never the query; a query
    longer than half the window is cut to its first half-window of tokens.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        max_length: int = 512,
        batch_size: int = 32,
        providers: Sequence[str] | None = None,
        normalize: bool = True,
        intra_op_threads: int | None = None,
    ) -> None:
        if max_length < 8:
            raise ValueError(f"max_length must be at least 8, got {max_length}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model_dir = Path(model_dir).expanduser()
        self.requested_max_length = max_length
        self.batch_size = batch_size
        self.requested_providers = list(providers) if providers is not None else None
        self.normalize = normalize
        self.intra_op_threads = intra_op_threads
        self._loaded: _Loaded | None = None
        self._load_lock = threading.Lock()
        # Fast tokenizers raise "Already borrowed" when two threads use one at once.
        self._tokenizer_lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self.model_dir.name

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def max_length(self) -> int:
        """The effective window: the requested one, capped by what the tokenizer allows."""
        return self._require_loaded().max_length

    @property
    def active_providers(self) -> list[str]:
        return list(self._require_loaded().providers)

    def warm_up(self) -> None:
        """Load tokenizer and ONNX session once; raises `RerankerModelError` when unusable."""
        with self._load_lock:
            if self._loaded is None:
                self._loaded = self._load()

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage, in the given order."""
        if not passages:
            return []
        self.warm_up()
        loaded = self._require_loaded()
        # Shortest first, so each batch pads to a similar length; scores go back in place.
        by_length = sorted(range(len(passages)), key=lambda index: len(passages[index]))
        scores = np.empty(len(passages), dtype=np.float64)
        query = self._fit_query(query, loaded)
        for start in range(0, len(by_length), self.batch_size):
            indices = by_length[start : start + self.batch_size]
            feed = self._encode(loaded, query, [passages[index] for index in indices])
            (logits,) = loaded.session.run([loaded.output_name], feed)
            scores[indices] = relevance_from_logits(logits, normalize=self.normalize)
        return scores.tolist()

    def encode_pairs(self, query: str, passages: Sequence[str]) -> dict[str, np.ndarray]:
        """The ONNX feed for one batch: pairs padded to the longest, passages truncated."""
        loaded = self._require_loaded()
        return self._encode(loaded, self._fit_query(query, loaded), passages)

    def _encode(
        self, loaded: _Loaded, query: str, passages: Sequence[str]
    ) -> dict[str, np.ndarray]:
        with self._tokenizer_lock:
            encoded = loaded.tokenizer(
                [query] * len(passages),
                list(passages),
                padding=True,
                truncation="only_second",
                max_length=loaded.max_length,
                return_tensors="np",
            )
        feed: dict[str, np.ndarray] = {}
        for name, dtype in loaded.input_types.items():
            if name in encoded:
                feed[name] = np.asarray(encoded[name], dtype=dtype)
            elif name == "token_type_ids":
                feed[name] = np.zeros_like(encoded["input_ids"], dtype=dtype)
            else:
                raise RerankerModelError(f"the tokenizer does not produce model input {name!r}")
        return feed

    def _fit_query(self, query: str, loaded: _Loaded) -> str:
        """Cut an overlong query at a token boundary so `only_second` truncation always fits."""
        budget = loaded.max_length // 2
        with self._tokenizer_lock:
            encoded = loaded.tokenizer(
                query,
                add_special_tokens=False,
                return_offsets_mapping=True,
                truncation=False,
                verbose=False,
            )
        offsets = encoded["offset_mapping"]
        if len(offsets) <= budget:
            return query
        log.warning("reranker.query_truncated", query_tokens=len(offsets), kept_tokens=budget)
        return query[: offsets[budget - 1][1]]

    def _require_loaded(self) -> _Loaded:
        if self._loaded is None:
            raise RuntimeError("call warm_up() before using the cross-encoder")
        return self._loaded

    def _load(self) -> _Loaded:
        model_file = find_model_file(self.model_dir)
        tokenizer = self._load_tokenizer()
        session = self._load_session(model_file)
        input_types: dict[str, type[np.integer]] = {}
        for model_input in session.get_inputs():
            if model_input.name not in _KNOWN_INPUTS:
                raise RerankerModelError(
                    f"unsupported model input {model_input.name!r} in {model_file}: "
                    f"a cross-encoder takes {', '.join(_KNOWN_INPUTS)}"
                )
            if model_input.type not in _NUMPY_INT_TYPES:
                raise RerankerModelError(
                    f"model input {model_input.name!r} has type {model_input.type}, "
                    "expected int64 or int32"
                )
            input_types[model_input.name] = _NUMPY_INT_TYPES[model_input.type]  # type: ignore[assignment]
        if "input_ids" not in input_types:
            raise RerankerModelError(f"{model_file} has no input_ids input")
        output_names = [output.name for output in session.get_outputs()]
        output_name = "logits" if "logits" in output_names else output_names[0]
        tokenizer_limit = getattr(tokenizer, "model_max_length", None) or self.requested_max_length
        max_length = min(self.requested_max_length, int(min(tokenizer_limit, 1_000_000)))
        providers = session.get_providers()
        log.info(
            "reranker.model_loaded",
            model=str(model_file),
            inputs=list(input_types),
            output=output_name,
            max_length=max_length,
            providers=providers,
        )
        return _Loaded(session, tokenizer, input_types, output_name, max_length, providers)

    def _load_tokenizer(self) -> Any:
        # Fast only: offsets are needed to cut long queries.
        return load_tokenizer(
            self.model_dir, fast=True, what="reranker model", error=RerankerModelError
        )

    def _load_session(self, model_file: Path) -> Any:
        return open_session(
            model_file,
            providers=self.requested_providers or default_providers(),
            intra_op_threads=self.intra_op_threads,
            error=RerankerModelError,
        )
