"""An in-process background queue so learning never runs on the chat hot path.

Policy, in one place:
- `submit` is synchronous and never waits. When the queue is full it drops the *oldest*
  pending job (counted in `stats.dropped`, logged) so fresh signals win; with
  `overflow="reject"` it refuses the new job instead (counted in `stats.rejected`).
- A job runs at most once per idempotency key: a key that is pending, running or completed
  is refused as a duplicate. Completed keys are remembered up to `remember_keys` (oldest
  forgotten first). A job that failed every attempt, or was dropped, may be submitted again.
- A failing job is retried up to `max_attempts` in total, with exponential backoff from
  `retry_delay` seconds; every failure is logged with its traceback.
- One worker runs jobs in submission order, which keeps per-user learning deterministic.
- `stop()` refuses new jobs and drains the pending ones; after `timeout` it cancels what is
  left and counts it as dropped.

Call `submit` from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import msgspec
import structlog

from morgan.components import ComponentHealth

log = structlog.get_logger(__name__)

OverflowPolicy = Literal["drop_oldest", "reject"]


@dataclass(frozen=True, slots=True)
class Job:
    """`key` is the idempotency key, e.g. "observe:<message id>"."""

    key: str
    run: Callable[[], Awaitable[object]]
    name: str = "learning"


class QueueStats(msgspec.Struct):
    submitted: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    dropped: int = 0
    rejected: int = 0
    duplicates: int = 0


class LearningQueue:
    def __init__(
        self,
        *,
        maxsize: int = 1000,
        max_attempts: int = 3,
        retry_delay: float = 0.5,
        job_timeout: float | None = 60.0,
        overflow: OverflowPolicy = "drop_oldest",
        remember_keys: int = 10_000,
    ) -> None:
        if maxsize < 1 or max_attempts < 1:
            raise ValueError("maxsize and max_attempts must be at least 1")
        self._maxsize = maxsize
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._job_timeout = job_timeout
        self._overflow = overflow
        self._remember_keys = remember_keys
        self._pending: deque[Job] = deque()
        self._active: set[str] = set()  # pending or running
        self._done: OrderedDict[str, None] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None
        self._stopping = False
        self.stats = QueueStats()

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def start(self) -> None:
        if self.running:
            return
        self._stopping = False
        self._worker = asyncio.create_task(self._work(), name="learning-queue")

    def submit(self, job: Job) -> bool:
        """Queue `job` without waiting; False if it was refused (duplicate, full, stopping)."""
        if self._stopping:
            self.stats.rejected += 1
            log.warning("learning_job_rejected", reason="stopping", job=job.name, key=job.key)
            return False
        if job.key in self._active or job.key in self._done:
            self.stats.duplicates += 1
            return False
        if len(self._pending) >= self._maxsize:
            if self._overflow == "reject":
                self.stats.rejected += 1
                log.warning("learning_job_rejected", reason="full", job=job.name, key=job.key)
                return False
            oldest = self._pending.popleft()
            self._active.discard(oldest.key)
            self.stats.dropped += 1
            log.warning("learning_job_dropped", reason="full", job=oldest.name, key=oldest.key)
        self._pending.append(job)
        self._active.add(job.key)
        self.stats.submitted += 1
        self._idle.clear()
        self._wakeup.set()
        return True

    async def join(self) -> None:
        """Wait until every submitted job has finished (needs a started queue)."""
        await self._idle.wait()

    async def stop(self, timeout: float | None = None) -> None:
        """Refuse new jobs, finish the pending ones, then end the worker."""
        self._stopping = True
        self._wakeup.set()
        worker = self._worker
        if worker is None:
            self._drop_pending("stopped before start")
            return
        try:
            await asyncio.wait_for(asyncio.shield(worker), timeout)
        except TimeoutError:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            self._drop_pending("stop timed out")
        finally:
            self._worker = None

    async def health(self) -> ComponentHealth:
        stats = self.stats
        detail = (
            f"pending={self.pending} completed={stats.completed} failed={stats.failed} "
            f"dropped={stats.dropped} rejected={stats.rejected}"
        )
        if self._worker is None:
            return ComponentHealth("learning", "asyncio-queue", "off", "not started; " + detail)
        if self._worker.done():
            return ComponentHealth("learning", "asyncio-queue", "down", "worker ended; " + detail)
        if self.pending >= 0.9 * self._maxsize:
            return ComponentHealth("learning", "asyncio-queue", "degraded", "backlog; " + detail)
        return ComponentHealth("learning", "asyncio-queue", "up", detail)

    async def _work(self) -> None:
        while True:
            while not self._pending:
                self._idle.set()
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
            job = self._pending.popleft()
            try:
                succeeded = await self._run_with_retries(job)
            finally:
                self._active.discard(job.key)
            if succeeded:
                self.stats.completed += 1
                self._remember_done(job.key)
            else:
                self.stats.failed += 1

    async def _run_with_retries(self, job: Job) -> bool:
        for attempt in range(1, self._max_attempts + 1):
            try:
                await asyncio.wait_for(job.run(), self._job_timeout)
                return True
            except asyncio.CancelledError:
                raise
            except Exception:
                final = attempt == self._max_attempts
                log.exception(
                    "learning_job_failed",
                    job=job.name,
                    key=job.key,
                    attempt=attempt,
                    max_attempts=self._max_attempts,
                    final=final,
                )
                if final:
                    return False
                self.stats.retried += 1
                if self._retry_delay > 0:
                    await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1))
        return False

    def _remember_done(self, key: str) -> None:
        self._done[key] = None
        while len(self._done) > self._remember_keys:
            self._done.popitem(last=False)

    def _drop_pending(self, reason: str) -> None:
        while self._pending:
            job = self._pending.popleft()
            self._active.discard(job.key)
            self.stats.dropped += 1
            log.warning("learning_job_dropped", reason=reason, job=job.name, key=job.key)
        self._idle.set()
