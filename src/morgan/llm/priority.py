"""Background work: computation that may wait while someone is waiting for an answer.

Ingestion marks its embedding calls with `background_work()`; a context variable carries
the mark into `asyncio.to_thread`, and the in-process embedder runs such calls on threads
whose scheduling priority is lowered (`lower_thread_priority`), in short runs, and before
each run waits while a chat is being answered (`foreground_work`, `yield_to_foreground`),
for at most `MAX_YIELD_S`. On 2 shared cores a niced thread still slows a chat through the
caches and memory it shares (a query embedding 1.5x slower), so priority alone is not
enough; with nothing else to run, ingestion still gets every core (docs/BENCHMARKS.md,
"chat during ingest").
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

log = structlog.get_logger(__name__)

BACKGROUND_NICE = 19
"""The nice value of background threads: like a desktop indexer, ingestion takes the CPU
that nothing else wants."""

MAX_YIELD_S = 0.5
"""The longest a background run waits for answers in progress: ingestion slows while chats
keep coming, and never stops."""

_background: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "morgan_background_work", default=False
)


@contextmanager
def background_work() -> Iterator[None]:
    """Marks the calls made inside as background work (ingestion), for this task only."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def in_background() -> bool:
    return _background.get()


class _Foreground:
    """How many answers are in progress in this process, for background runs to wait on."""

    def __init__(self) -> None:
        self._active = 0
        self._idle = threading.Condition()

    def enter(self) -> None:
        with self._idle:
            self._active += 1

    def leave(self) -> None:
        with self._idle:
            self._active = max(0, self._active - 1)
            if not self._active:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)

    @property
    def active(self) -> int:
        return self._active


_foreground = _Foreground()


@contextmanager
def foreground_work() -> Iterator[None]:
    """Marks an answer in progress (a chat): background runs wait until it is done."""
    _foreground.enter()
    try:
        yield
    finally:
        _foreground.leave()


def yield_to_foreground(max_wait_s: float = MAX_YIELD_S) -> bool:
    """Called by a background thread before each run: returns once no answer is in progress
    (True) or after `max_wait_s` (False)."""
    return _foreground.wait_idle(max_wait_s)


def answers_in_progress() -> int:
    return _foreground.active


def lower_thread_priority(nice: int = BACKGROUND_NICE) -> bool:
    """Lower the calling thread's scheduling priority (Linux, where nice is per thread).

    Used as a thread-pool initializer. Elsewhere (macOS, Windows) nice applies to the whole
    process, so this does nothing and returns False."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
    except OSError as exc:  # a sandbox that forbids it: run at normal priority
        log.warning("thread_priority_unchanged", error=str(exc))
        return False
    return True
