"""Ollama backends over its documented HTTP API (`/api/chat`, `/api/embed`, `/api/show`,
`/api/tags`, `/api/pull`).

Ollama silently truncates prompts longer than `num_ctx` (and its default `num_ctx` is far
below most models' real window), so the client always sends `num_ctx` explicitly, sized
from the model's own `<arch>.context_length` reported by `/api/show`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any

import httpx
import msgspec
import numpy as np
import structlog

from morgan.components import ComponentHealth
from morgan.llm._http import RetryPolicy, make_timeout, open_response, request_json
from morgan.llm.base import Generation, GenerationRequest, LLMUnavailable
from morgan.llm.errors import EmbedderUnavailable, EmbeddingDimensionUnknown, LLMStreamInterrupted
from morgan.llm.prompts import render_chat_messages
from morgan.llm.tokens import estimate_tokens

log = structlog.get_logger(__name__)

DEFAULT_NUM_CTX_CAP = 8192
"""Upper bound on the automatic `num_ctx`: KV-cache VRAM grows linearly with it, and many
models advertise 128k windows that would not fit next to the weights."""

FALLBACK_NUM_CTX = 2048
"""Used only until `/api/show` has answered; Ollama's own historical default."""

_HEALTH_TIMEOUT = httpx.Timeout(3.0)


class OllamaModel(msgspec.Struct, frozen=True):
    """One entry of `/api/tags`."""

    name: str
    size: int = 0
    digest: str = ""
    modified_at: str = ""
    family: str = ""
    parameter_size: str = ""
    quantization_level: str = ""


class PullProgress(msgspec.Struct, frozen=True):
    """One line of `/api/pull` progress; `total`/`completed` are bytes of the current layer."""

    status: str
    digest: str = ""
    total: int = 0
    completed: int = 0

    @property
    def fraction(self) -> float | None:
        return self.completed / self.total if self.total else None


def _same_model(a: str, b: str) -> bool:
    def norm(name: str) -> str:
        return name if ":" in name else f"{name}:latest"

    return norm(a) == norm(b)


class OllamaClient:
    """Thin async client for the Ollama endpoints Morgan uses; every failure is
    `LLMUnavailable` (or `error_type`) carrying Ollama's own error message."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.25,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = make_timeout(timeout_s)
        self.policy = RetryPolicy(retries=retries, backoff_s=backoff_s)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=self.timeout)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def post(
        self, path: str, body: dict[str, Any], *, error_type: type[LLMUnavailable] = LLMUnavailable
    ) -> Any:
        return await request_json(
            self._client,
            "POST",
            self.url(path),
            backend="ollama",
            policy=self.policy,
            json=body,
            timeout=self.timeout,
            error_type=error_type,
        )

    async def stream_lines(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Yield decoded NDJSON objects; a `{"error": ...}` line raises `LLMUnavailable`.

        Transport errors while reading are raised as `httpx` errors so the caller can tell
        "nothing delivered" from "broke mid-stream".
        """
        async with open_response(
            self._client,
            "POST",
            self.url(path),
            backend="ollama",
            policy=self.policy,
            json=body,
            timeout=self.timeout,
        ) as response:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                try:
                    payload = msgspec.json.decode(line)
                except msgspec.DecodeError as exc:
                    raise LLMUnavailable(f"ollama: undecodable stream line {line[:200]!r}") from exc
                if isinstance(payload, dict) and payload.get("error"):
                    raise LLMUnavailable(f"ollama: {payload['error']}")
                yield payload

    async def show(self, model: str) -> dict[str, Any]:
        return await self.post("/api/show", {"model": model})

    async def context_length(self, model: str) -> int | None:
        """The model's trained window from `model_info["<arch>.context_length"]`."""
        info = (await self.show(model)).get("model_info") or {}
        arch = info.get("general.architecture")
        value = info.get(f"{arch}.context_length") if arch else None
        if value is None:
            value = next((v for k, v in info.items() if k.endswith(".context_length")), None)
        return int(value) if value else None

    async def list_models(self, *, probe: bool = False) -> list[OllamaModel]:
        """`probe=True` is for health checks: short timeout, no retries."""
        payload = await request_json(
            self._client,
            "GET",
            self.url("/api/tags"),
            backend="ollama",
            policy=RetryPolicy(retries=0) if probe else self.policy,
            timeout=_HEALTH_TIMEOUT if probe else self.timeout,
        )
        models = []
        for entry in payload.get("models", []):
            details = entry.get("details") or {}
            models.append(
                OllamaModel(
                    name=entry.get("name") or entry.get("model", ""),
                    size=int(entry.get("size") or 0),
                    digest=entry.get("digest", ""),
                    modified_at=entry.get("modified_at", ""),
                    family=details.get("family", ""),
                    parameter_size=details.get("parameter_size", ""),
                    quantization_level=details.get("quantization_level", ""),
                )
            )
        return models

    async def pull(self, model: str) -> AsyncIterator[PullProgress]:
        """Stream pull progress (for `morgan models pull`); ends after `status == "success"`."""
        try:
            lines = self.stream_lines("/api/pull", {"model": model, "stream": True})
            async with aclosing(lines):  # type: ignore[type-var]
                async for line in lines:
                    yield PullProgress(
                        status=str(line.get("status", "")),
                        digest=str(line.get("digest", "")),
                        total=int(line.get("total") or 0),
                        completed=int(line.get("completed") or 0),
                    )
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"ollama: pull of {model} interrupted: {exc!r}") from exc


class OllamaLLM:
    """`LLM` backed by Ollama's `/api/chat`. Call `warm_up()` at startup so
    `context_window` reflects the model before the first prompt is budgeted."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        num_ctx: int | None = None,
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.25,
        keep_alive: str | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = f"ollama:{model}"
        self.model = model
        self.client = OllamaClient(
            base_url,
            timeout_s=timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            http_client=http_client,
        )
        self._requested_num_ctx = num_ctx
        self._num_ctx: int | None = None
        self._keep_alive = keep_alive

    @property
    def context_window(self) -> int:
        if self._num_ctx is not None:
            return self._num_ctx
        return self._requested_num_ctx or FALLBACK_NUM_CTX

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def warm_up(self) -> None:
        await self._resolve_num_ctx()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _resolve_num_ctx(self) -> int:
        if self._num_ctx is None:
            trained = await self.client.context_length(self.model)
            wanted = self._requested_num_ctx or DEFAULT_NUM_CTX_CAP
            self._num_ctx = min(wanted, trained) if trained else wanted
            log.info("llm.ollama.context", model=self.model, trained=trained, num_ctx=self._num_ctx)
        return self._num_ctx

    async def _body(self, request: GenerationRequest, *, stream: bool) -> dict[str, Any]:
        options: dict[str, Any] = {
            "num_ctx": await self._resolve_num_ctx(),
            "num_predict": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.stop:
            options["stop"] = list(request.stop)
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": render_chat_messages(request),
            "stream": stream,
            "options": options,
        }
        if self._keep_alive is not None:
            body["keep_alive"] = self._keep_alive
        return body

    def _check_truncation(self, final: dict[str, Any]) -> None:
        prompt_tokens = int(final.get("prompt_eval_count") or 0)
        if self._num_ctx and prompt_tokens >= self._num_ctx - 8:
            log.warning(
                "llm.ollama.prompt_truncated",
                model=self.model,
                prompt_tokens=prompt_tokens,
                num_ctx=self._num_ctx,
            )

    async def generate(self, request: GenerationRequest) -> Generation:
        payload = await self.client.post("/api/chat", await self._body(request, stream=False))
        if payload.get("error"):
            raise LLMUnavailable(f"ollama: {payload['error']}")
        self._check_truncation(payload)
        return Generation(
            text=(payload.get("message") or {}).get("content", ""),
            model=payload.get("model", self.model),
            prompt_tokens=int(payload.get("prompt_eval_count") or 0),
            completion_tokens=int(payload.get("eval_count") or 0),
            finish_reason=payload.get("done_reason") or "stop",
        )

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        body = await self._body(request, stream=True)
        delivered: list[str] = []
        started = time.perf_counter()
        try:
            lines = self.client.stream_lines("/api/chat", body)
            async with aclosing(lines):  # type: ignore[type-var]
                async for line in lines:
                    delta = (line.get("message") or {}).get("content", "")
                    if delta:
                        delivered.append(delta)
                        yield delta
                    if line.get("done"):
                        self._check_truncation(line)
                        log.debug(
                            "llm.ollama.stream_done",
                            model=self.model,
                            seconds=round(time.perf_counter() - started, 3),
                            completion_tokens=line.get("eval_count"),
                        )
                        return
            raise httpx.RemoteProtocolError("stream ended without a done message")
        except (httpx.HTTPError, LLMUnavailable) as exc:
            if isinstance(exc, LLMStreamInterrupted):
                raise
            message = (
                str(exc)
                if isinstance(exc, LLMUnavailable)
                else (f"ollama: stream from {self.model} failed: {exc!r}")
            )
            if delivered:
                raise LLMStreamInterrupted(
                    message, backend=self.name, partial_text="".join(delivered)
                ) from exc
            raise LLMUnavailable(message) from exc

    async def list_models(self) -> list[OllamaModel]:
        return await self.client.list_models()

    def pull(self, model: str | None = None) -> AsyncIterator[PullProgress]:
        return self.client.pull(model or self.model)

    async def health(self) -> ComponentHealth:
        try:
            models = await self.client.list_models(probe=True)
        except LLMUnavailable as exc:
            return ComponentHealth("llm", self.name, "down", str(exc))
        if not any(_same_model(m.name, self.model) for m in models):
            return ComponentHealth(
                "llm",
                self.name,
                "down",
                f"model {self.model} is not pulled on {self.client.base_url}",
            )
        return ComponentHealth("llm", self.name, "up", f"num_ctx={self.context_window}")


class OllamaEmbedder:
    """`Embedder` backed by Ollama's `/api/embed`, batched, L2-normalised."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        batch_size: int = 32,
        dimension: int | None = None,
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.25,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = f"ollama:{model}"
        self.model = model
        self.batch_size = max(1, batch_size)
        self._dimension = dimension
        self.client = OllamaClient(
            base_url,
            timeout_s=timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            http_client=http_client,
        )

    @property
    def dimension(self) -> int:
        """Learnt from the first answer; until then `EmbeddingDimensionUnknown`, so callers
        that need it (the vector collection) wait for the server instead of crashing."""
        if self._dimension is None:
            raise EmbeddingDimensionUnknown(
                f"{self.name}: embedding dimension unknown until {self.client.base_url} "
                "answers one /api/embed call"
            )
        return self._dimension

    async def warm_up(self) -> None:
        if self._dimension is None:
            await self.embed(["dimension probe"])

    async def aclose(self) -> None:
        await self.client.aclose()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            payload = await self.client.post(
                "/api/embed",
                {"model": self.model, "input": batch, "truncate": True},
                error_type=EmbedderUnavailable,
            )
            embeddings = payload.get("embeddings") or []
            if len(embeddings) != len(batch):
                raise EmbedderUnavailable(
                    f"ollama: /api/embed returned {len(embeddings)} vectors for {len(batch)} texts"
                )
            matrix = np.asarray(embeddings, dtype=np.float32)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix = matrix / np.where(norms > 0, norms, 1.0)  # type: ignore[assignment]
            if self._dimension is None:
                self._dimension = int(matrix.shape[1])
            elif matrix.shape[1] != self._dimension:
                raise EmbedderUnavailable(
                    f"ollama: {self.model} returned dimension {matrix.shape[1]}, "
                    f"expected {self._dimension}"
                )
            vectors.extend(matrix.tolist())
        return vectors

    async def health(self) -> ComponentHealth:
        try:
            models = await self.client.list_models(probe=True)
        except LLMUnavailable as exc:
            return ComponentHealth("embeddings", self.name, "down", str(exc))
        if not any(_same_model(m.name, self.model) for m in models):
            return ComponentHealth(
                "embeddings", self.name, "down", f"model {self.model} is not pulled"
            )
        detail = f"dimension={self._dimension}" if self._dimension else "dimension not probed yet"
        return ComponentHealth("embeddings", self.name, "up", detail)


__all__ = [
    "DEFAULT_NUM_CTX_CAP",
    "OllamaClient",
    "OllamaEmbedder",
    "OllamaLLM",
    "OllamaModel",
    "PullProgress",
]
