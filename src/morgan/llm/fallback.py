"""Main model, then a faster/smaller one, then extractive answers.

A backend is skipped only while nothing has reached the user: once a stream has produced a
token, switching would splice two different answers, so a later failure is raised as
`LLMStreamInterrupted` for the pipeline to show as an error event. Each call can fill a
`FallbackReport`, which the chat pipeline turns into `degraded: ["llm"]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing

import structlog

from morgan.components import ComponentHealth
from morgan.llm.base import (
    LLM,
    BackendFailure,
    FallbackReport,
    Generation,
    GenerationRequest,
    LLMUnavailable,
)
from morgan.llm.errors import LLMStreamInterrupted
from morgan.observability import count_llm_fallback

__all__ = ["BackendFailure", "FallbackLLM", "FallbackReport"]

log = structlog.get_logger(__name__)


class FallbackLLM:
    """An `LLM` that tries `backends` in order. `generate`/`stream` accept an optional
    `report=` to learn which backend answered (safe under concurrent requests)."""

    def __init__(self, backends: Sequence[LLM], *, name: str = "fallback") -> None:
        if not backends:
            raise ValueError("FallbackLLM needs at least one backend")
        self.backends = list(backends)
        self.name = name

    @property
    def context_window(self) -> int:
        """The smallest window, so a prompt budgeted once fits whichever backend answers."""
        return min(backend.context_window for backend in self.backends)

    def count_tokens(self, text: str) -> int:
        return max(backend.count_tokens(text) for backend in self.backends)

    async def warm_up(self) -> None:
        for backend in self.backends:
            warm_up = getattr(backend, "warm_up", None)
            if warm_up is None:
                continue
            try:
                await warm_up()
            # A backend that cannot warm up stays in the chain; its calls fail over later.
            except Exception as exc:  # noqa: BLE001
                log.warning("llm.fallback.warm_up_failed", backend=backend.name, error=repr(exc))

    def _fail(self, report: FallbackReport, backend: LLM, exc: Exception) -> None:
        report.failures.append(BackendFailure(backend.name, str(exc) or repr(exc)))
        count_llm_fallback(backend.name)
        log.warning("llm.fallback.backend_failed", backend=backend.name, error=str(exc))

    async def generate(
        self, request: GenerationRequest, *, report: FallbackReport | None = None
    ) -> Generation:
        report = report if report is not None else FallbackReport()
        for backend in self.backends:
            try:
                generation = await backend.generate(request)
            except LLMUnavailable as exc:
                self._fail(report, backend, exc)
                continue
            report.answered_by = backend.name
            return generation
        raise LLMUnavailable(self._summary(report))

    async def stream(
        self, request: GenerationRequest, *, report: FallbackReport | None = None
    ) -> AsyncIterator[str]:
        report = report if report is not None else FallbackReport()
        for backend in self.backends:
            started = False
            delivered: list[str] = []
            try:
                deltas = backend.stream(request)
                async with aclosing(deltas):  # type: ignore[type-var]
                    async for delta in deltas:
                        if not started:
                            started = True
                            report.answered_by = backend.name
                        delivered.append(delta)
                        yield delta
                if not started:
                    report.answered_by = backend.name
                return
            except LLMUnavailable as exc:
                if started:
                    report.interrupted = True
                    self._fail(report, backend, exc)
                    if isinstance(exc, LLMStreamInterrupted):
                        raise
                    raise LLMStreamInterrupted(
                        str(exc), backend=backend.name, partial_text="".join(delivered)
                    ) from exc
                self._fail(report, backend, exc)
        raise LLMUnavailable(self._summary(report))

    def stream_reporting(
        self, request: GenerationRequest, report: FallbackReport
    ) -> AsyncIterator[str]:
        """`ReportingLLM`: how the chat pipeline learns who answered, without knowing this class."""
        return self.stream(request, report=report)

    def _summary(self, report: FallbackReport) -> str:
        return "all LLM backends failed: " + "; ".join(
            f"{failure.backend}: {failure.error}" for failure in report.failures
        )

    async def health(self) -> ComponentHealth:
        states = [await backend.health() for backend in self.backends]
        detail = ", ".join(
            f"{h.backend}={h.state}" + (f" ({h.detail})" if h.state != "up" and h.detail else "")
            for h in states
        )
        if states[0].state == "up":
            return ComponentHealth("llm", self.name, "up", detail)
        if any(h.state == "up" for h in states[1:]):
            return ComponentHealth("llm", self.name, "degraded", detail)
        return ComponentHealth("llm", self.name, "down", detail)
