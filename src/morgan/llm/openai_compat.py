"""`LLM` for any server speaking OpenAI's `/v1/chat/completions` (vLLM, llama.cpp server,
LM Studio, hosted APIs), over plain httpx so no vendor SDK is needed at run time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import msgspec
import structlog

from morgan.components import ComponentHealth
from morgan.llm._http import RetryPolicy, make_timeout, open_response, request_json
from morgan.llm.base import Generation, GenerationRequest, LLMUnavailable
from morgan.llm.errors import LLMStreamInterrupted
from morgan.llm.prompts import render_chat_messages
from morgan.llm.tokens import estimate_tokens

log = structlog.get_logger(__name__)

DEFAULT_CONTEXT_WINDOW = 8192
_HEALTH_TIMEOUT = httpx.Timeout(3.0)


def _api_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root if root.endswith("/v1") else f"{root}/v1"


class OpenAICompatibleLLM:
    """Chat completions, streamed as server-sent events. `warm_up()` reads the window from
    `/v1/models` when the server reports one (vLLM's `max_model_len`)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        context_window: int | None = None,
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.25,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.api_root = _api_root(base_url)
        self._context_window = context_window
        self._reported_window: int | None = None
        self.timeout = make_timeout(timeout_s)
        self.policy = RetryPolicy(retries=retries, backoff_s=backoff_s)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=self.timeout)

    @property
    def context_window(self) -> int:
        return self._context_window or self._reported_window or DEFAULT_CONTEXT_WINDOW

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _models(self, *, probe: bool = False) -> list[dict[str, Any]]:
        """`probe=True` is for health checks: short timeout, no retries."""
        payload = await request_json(
            self._client,
            "GET",
            f"{self.api_root}/models",
            backend="openai",
            policy=RetryPolicy(retries=0) if probe else self.policy,
            timeout=_HEALTH_TIMEOUT if probe else self.timeout,
            headers=self._headers,
        )
        return list(payload.get("data") or [])

    async def warm_up(self) -> None:
        for entry in await self._models():
            if entry.get("id") == self.model:
                window = entry.get("max_model_len") or entry.get("context_length")
                if window:
                    self._reported_window = int(window)
                    log.info("llm.openai.context", model=self.model, window=window)

    async def _request(
        self, method: str, path: str, *, json: Any = None, timeout: httpx.Timeout | None = None
    ) -> Any:
        return await request_json(
            self._client,
            method,
            f"{self.api_root}{path}",
            backend="openai",
            policy=self.policy,
            json=json,
            timeout=timeout or self.timeout,
            headers=self._headers,
        )

    def _body(self, request: GenerationRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": render_chat_messages(request),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": stream,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    async def generate(self, request: GenerationRequest) -> Generation:
        payload = await self._request(
            "POST", "/chat/completions", json=self._body(request, stream=False)
        )
        try:
            choice = payload["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMUnavailable("openai: response has no choices") from exc
        usage = payload.get("usage") or {}
        return Generation(
            text=(choice.get("message") or {}).get("content") or "",
            model=payload.get("model", self.model),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason") or "stop",
        )

    async def _events(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async with open_response(
            self._client,
            "POST",
            f"{self.api_root}/chat/completions",
            backend="openai",
            policy=self.policy,
            json=body,
            timeout=self.timeout,
            headers=self._headers,
        ) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    event = msgspec.json.decode(data)
                except msgspec.DecodeError as exc:
                    raise LLMUnavailable(f"openai: undecodable event {data[:200]!r}") from exc
                if isinstance(event, dict) and event.get("error"):
                    error = event["error"]
                    message = error.get("message") if isinstance(error, dict) else error
                    raise LLMUnavailable(f"openai: {message}")
                yield event
        raise httpx.RemoteProtocolError("event stream ended without [DONE]")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        delivered: list[str] = []
        try:
            events = self._events(self._body(request, stream=True))
            async with aclosing(events):  # type: ignore[type-var]
                async for event in events:
                    for choice in event.get("choices") or []:
                        delta = (choice.get("delta") or {}).get("content") or ""
                        if delta:
                            delivered.append(delta)
                            yield delta
        except (httpx.HTTPError, LLMUnavailable) as exc:
            if isinstance(exc, LLMStreamInterrupted):
                raise
            message = (
                str(exc)
                if isinstance(exc, LLMUnavailable)
                else (f"openai: stream from {self.model} failed: {exc!r}")
            )
            if delivered:
                raise LLMStreamInterrupted(
                    message, backend=self.name, partial_text="".join(delivered)
                ) from exc
            raise LLMUnavailable(message) from exc

    async def health(self) -> ComponentHealth:
        try:
            models = await self._models(probe=True)
        except LLMUnavailable as exc:
            return ComponentHealth("llm", self.name, "down", str(exc))
        if models and not any(entry.get("id") == self.model for entry in models):
            return ComponentHealth(
                "llm", self.name, "down", f"model {self.model} is not served at {self.api_root}"
            )
        return ComponentHealth("llm", self.name, "up")
