"""An LLM backend that becomes available while the server runs.

`./scripts/dev.sh serve` starts the server before `llama-cpp-python` has finished compiling
(8-13 min on 2 cores): the embedded model sits in the fallback chain as a `LateBindingLLM`
that answers `LLMUnavailable` (so the chain falls through to the next backend, extractive)
and reports "building" until its `probe` says the backend can be built; from then on every
call goes to the real backend. Generic: any backend whose dependency may appear later.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import structlog

from morgan.components import ComponentHealth
from morgan.llm.base import LLM, Generation, GenerationRequest, LLMUnavailable
from morgan.llm.tokens import estimate_tokens

log = structlog.get_logger(__name__)

Probe = Callable[[], str | None]
"""None when the backend can be built now; otherwise why not (shown in status)."""


class LateBindingLLM:
    """Delegates to `build()` once `probe()` returns None; until then fails over fast."""

    def __init__(
        self,
        name: str,
        build: Callable[[], LLM],
        probe: Probe,
        *,
        context_window: int = 8192,
        recheck_s: float = 5.0,
    ) -> None:
        self.name = name
        self._build = build
        self._probe = probe
        self._window = context_window
        self._recheck_s = recheck_s
        self._inner: LLM | None = None
        self._reason = "not checked yet"
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def bound(self) -> LLM | None:
        """The real backend, once built."""
        return self._inner

    def _resolve(self) -> LLM | None:
        if self._inner is not None:
            return self._inner
        with self._lock:
            if self._inner is not None:
                return self._inner
            now = time.monotonic()
            if now - self._checked_at < self._recheck_s:
                return None
            self._checked_at = now
            reason = self._probe()
            if reason is not None:
                self._reason = reason
                return None
            try:
                self._inner = self._build()
            except Exception as exc:  # noqa: BLE001 - reported in status, retried later
                self._reason = f"cannot start: {exc}"
                log.warning("llm.late_binding.build_failed", backend=self.name, error=str(exc))
                return None
            log.info("llm.late_binding.bound", backend=self.name)
            return self._inner

    def _require(self) -> LLM:
        inner = self._resolve()
        if inner is None:
            raise LLMUnavailable(f"{self.name}: {self._reason}")
        return inner

    @property
    def context_window(self) -> int:
        return self._inner.context_window if self._inner is not None else self._window

    def count_tokens(self, text: str) -> int:
        if self._inner is not None:
            return self._inner.count_tokens(text)
        return estimate_tokens(text)

    async def warm_up(self) -> None:
        inner = self._resolve()
        warm = getattr(inner, "warm_up", None)
        if warm is not None:
            await warm()

    async def generate(self, request: GenerationRequest) -> Generation:
        return await self._require().generate(request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        async for delta in self._require().stream(request):
            yield delta

    async def health(self) -> ComponentHealth:
        inner = self._resolve()
        if inner is None:
            return ComponentHealth("llm", self.name, "degraded", self._reason)
        return await inner.health()


def module_probe(module: str, *, install_log: Path | None = None) -> Probe:
    """Ready when `module` is importable; "building" while the install log says it runs.

    `install_log` is the log `dev.sh` writes the background install to; its last line is
    `done` or `failed` when pip has finished.
    """

    def probe() -> str | None:
        importlib.invalidate_caches()  # pip may have added it since the last look
        found = importlib.util.find_spec(module) is not None
        if install_log is None or not install_log.is_file():
            return None if found else f"{module} is not installed"
        last = _last_line(install_log)
        if found and (last in ("done", "failed") or _age_s(install_log) > 600):
            return None  # pip has finished writing the package (or its log is stale)
        if last == "failed":
            return f"building {module} failed; see {install_log}"
        return f"building: {module} is being installed in the background (log: {install_log})"

    return probe


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 512))
            lines = fh.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""
