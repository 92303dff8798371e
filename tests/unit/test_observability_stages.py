"""Stage histograms and the LLM fallback counter land in the registry of the app whose request
ran them (a ContextVar the request middleware sets), and nowhere outside a request."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from morgan.observability import (
    Metrics,
    count_llm_fallback,
    observe_stage,
    request_context_middleware,
    timed,
)


@timed("rag_search")
async def _search() -> str:
    await asyncio.sleep(0)
    return "hits"


@timed("emotion_detection")
async def _detect_fails() -> None:
    raise RuntimeError("model broke")


def _app(work: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await work()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


async def _request(metrics: Metrics, work: Any) -> None:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/chat", "headers": []}
    await request_context_middleware(metrics)(_app(work))(scope, receive, send)


def _value(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


def test_a_request_records_into_its_own_apps_registry() -> None:
    first, second = Metrics(), Metrics()

    async def work() -> None:
        assert await _search() == "hits"
        with contextlib.suppress(RuntimeError):
            await _detect_fails()  # a failing detection is timed too
        # A task the request spawns (emotion runs beside retrieval) inherits the context.
        await asyncio.create_task(_search())
        count_llm_fallback("ollama:llama3.1:8b")

    asyncio.run(_request(first, work))
    assert _value(first, "morgan_rag_search_duration_seconds_count") == 2
    assert _value(first, "morgan_emotion_detection_duration_seconds_count") == 1
    assert _value(first, "morgan_llm_fallbacks_total", {"backend": "ollama:llama3.1:8b"}) == 1
    assert _value(second, "morgan_rag_search_duration_seconds_count") == 0


def test_outside_a_request_nothing_is_recorded_and_nothing_fails() -> None:
    metrics = Metrics()
    assert asyncio.run(_search()) == "hits"
    observe_stage("emotion_detection", 0.1)
    count_llm_fallback("x")
    assert _value(metrics, "morgan_rag_search_duration_seconds_count") == 0
