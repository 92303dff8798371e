"""Background work: computation that may wait while someone is waiting for an answer.

Ingestion marks its embedding calls with `background_work()`; a context variable carries
the mark into `asyncio.to_thread`, and the in-process embedder runs such calls on threads
whose scheduling priority is lowered (`lower_thread_priority`). On 2 shared cores a chat's
query embedding then takes a core from an ingest batch at once, instead of sharing it
(docs/BENCHMARKS.md, "chat during ingest"); with nothing else to run, ingestion still gets
every core, so its throughput is unchanged.
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
