"""HTTP plumbing shared by the Ollama and OpenAI-compatible clients.

Retries happen only before a response body is being consumed: once a stream has started,
a retry would duplicate tokens, so the caller sees the failure instead.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
import structlog

from morgan.http_failures import HttpFailure, classify
from morgan.llm.base import LLMUnavailable

log = structlog.get_logger(__name__)

_PERMANENT = re.compile(r"\b(out of memory|oom)\b", re.IGNORECASE)
"""5xx bodies that a retry cannot fix; falling back at once is faster for the user."""


def error_detail(body: bytes) -> str:
    """Extract the message from Ollama's `{"error": "..."}` or OpenAI's `{"error": {...}}`."""
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body.decode("utf-8", "replace").strip()[:500]
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, str):
            return error
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    return body.decode("utf-8", "replace").strip()[:500]


def make_timeout(timeout_s: float) -> httpx.Timeout:
    """Connect fails fast; reads may legitimately wait while the server loads a model."""
    return httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))


class RetryPolicy(msgspec.Struct, frozen=True):
    retries: int = 2
    backoff_s: float = 0.25

    def delay(self, attempt: int) -> float:
        return self.backoff_s * (2**attempt)


async def _raise_for_status(response: httpx.Response, backend: str) -> None:
    failure = classify(response.status_code)
    if failure is None:
        return
    body = await response.aread()
    raise _StatusError(failure, f"{backend}: HTTP {response.status_code}: {error_detail(body)}")


class _StatusError(LLMUnavailable):
    def __init__(self, failure: HttpFailure, message: str) -> None:
        super().__init__(message)
        self.failure = failure


@asynccontextmanager
async def open_response(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    backend: str,
    policy: RetryPolicy,
    json: Any = None,
    timeout: httpx.Timeout | None = None,
    headers: dict[str, str] | None = None,
    error_type: type[LLMUnavailable] = LLMUnavailable,
) -> AsyncIterator[httpx.Response]:
    """Open a streamed response with a 2xx status, retrying connect errors and 5xx.

    Errors before the body is read become `error_type`; errors while the caller reads the
    body are the caller's to translate (it knows whether anything was delivered yet).
    """
    attempt = 0
    while True:
        request = client.build_request(method, url, json=json, timeout=timeout, headers=headers)
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            failure = classify(exc)
            if failure.before_sending:
                if attempt < policy.retries:
                    await _backoff(backend, url, attempt, policy, repr(exc))
                    attempt += 1
                    continue
                raise error_type(f"{backend}: cannot connect to {url}: {exc!r}") from exc
            if failure.timed_out:
                raise error_type(f"{backend}: timed out waiting for {url}") from exc
            raise error_type(f"{backend}: request to {url} failed: {exc!r}") from exc
        try:
            try:
                await _raise_for_status(response, backend)
            except _StatusError as exc:
                permanent = _PERMANENT.search(str(exc)) is not None
                if exc.failure.server_side and not permanent and attempt < policy.retries:
                    await response.aclose()
                    await _backoff(backend, url, attempt, policy, str(exc))
                    attempt += 1
                    continue
                raise error_type(str(exc)) from exc
            except httpx.HTTPError as exc:
                raise error_type(f"{backend}: reading error body from {url}: {exc!r}") from exc
            yield response
            return
        finally:
            await response.aclose()


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    backend: str,
    policy: RetryPolicy,
    json: Any = None,
    timeout: httpx.Timeout | None = None,
    headers: dict[str, str] | None = None,
    error_type: type[LLMUnavailable] = LLMUnavailable,
) -> Any:
    """A whole JSON request/response with the retry policy; any failure is `error_type`."""
    async with open_response(
        client,
        method,
        url,
        backend=backend,
        policy=policy,
        json=json,
        timeout=timeout,
        headers=headers,
        error_type=error_type,
    ) as response:
        try:
            body = await response.aread()
        except httpx.HTTPError as exc:
            if classify(exc).timed_out:
                raise error_type(f"{backend}: timed out reading {url}") from exc
            raise error_type(f"{backend}: reading {url} failed: {exc!r}") from exc
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise error_type(f"{backend}: {url} returned invalid JSON") from exc


async def _backoff(backend: str, url: str, attempt: int, policy: RetryPolicy, why: str) -> None:
    delay = policy.delay(attempt)
    log.warning(
        "llm.http.retry", backend=backend, url=url, attempt=attempt + 1, delay_s=delay, reason=why
    )
    await asyncio.sleep(delay)
