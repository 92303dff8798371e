"""LearningQueue: submit never waits, stop drains, keys run once, failures retry boundedly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from morgan.learning import Job, LearningQueue


@pytest.fixture
async def queue() -> AsyncIterator[LearningQueue]:
    q = LearningQueue(maxsize=100, max_attempts=3, retry_delay=0, job_timeout=5)
    await q.start()
    yield q
    await q.stop(timeout=5)


def recorder(log: list[str], name: str) -> Job:
    async def run() -> None:
        log.append(name)

    return Job(key=name, run=run, name=name)


async def test_submit_returns_immediately_while_a_job_is_slow(queue: LearningQueue) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    done: list[str] = []

    async def slow() -> None:
        started.set()
        await release.wait()
        done.append("slow")

    assert queue.submit(Job("slow", slow)) is True
    await started.wait()  # the worker is now blocked inside the slow job
    for i in range(20):
        assert queue.submit(recorder(done, f"quick-{i}")) is True  # no await: cannot block
    assert queue.pending == 20
    assert done == []

    release.set()
    await queue.join()
    assert done == ["slow"] + [f"quick-{i}" for i in range(20)]


async def test_stop_drains_pending_jobs() -> None:
    queue = LearningQueue(retry_delay=0)
    done: list[str] = []
    for i in range(10):
        queue.submit(recorder(done, f"job-{i}"))  # accepted before start, run after
    await queue.start()
    await queue.stop()
    assert done == [f"job-{i}" for i in range(10)]
    assert queue.stats.completed == 10
    assert not queue.running


async def test_stop_waits_for_the_running_job_and_the_backlog() -> None:
    queue = LearningQueue(retry_delay=0)
    await queue.start()
    started, release = asyncio.Event(), asyncio.Event()
    done: list[str] = []

    async def slow() -> None:
        started.set()
        await release.wait()
        done.append("slow")

    queue.submit(Job("slow", slow))
    for i in range(5):
        queue.submit(recorder(done, f"q{i}"))
    await started.wait()
    stopping = asyncio.create_task(queue.stop())
    await asyncio.sleep(0)  # let stop() begin waiting (a yield, not a timed wait)
    assert not stopping.done()
    release.set()
    await stopping
    assert done == ["slow", "q0", "q1", "q2", "q3", "q4"]


async def test_submit_after_stop_is_refused() -> None:
    queue = LearningQueue()
    await queue.start()
    await queue.stop()
    assert queue.submit(recorder([], "late")) is False
    assert queue.stats.rejected == 1


async def test_stop_timeout_cancels_and_counts_the_rest() -> None:
    queue = LearningQueue(retry_delay=0)
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    queue.submit(Job("forever", forever))
    queue.submit(recorder([], "after"))
    await queue.start()
    await started.wait()
    await queue.stop(timeout=0.05)
    assert queue.stats.dropped == 1
    assert not queue.running


async def test_same_key_runs_once(queue: LearningQueue) -> None:
    calls: list[str] = []
    assert queue.submit(recorder(calls, "k")) is True
    assert queue.submit(recorder(calls, "k")) is False  # while pending
    await queue.join()
    assert queue.submit(recorder(calls, "k")) is False  # after completion
    await queue.join()
    assert calls == ["k"]
    assert queue.stats.duplicates == 2


async def test_failures_are_logged_and_retried_a_bounded_number_of_times(
    queue: LearningQueue,
) -> None:
    attempts = 0

    async def broken() -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("database away")

    with capture_logs() as logs:
        queue.submit(Job("broken", broken, name="observe_message"))
        await queue.join()
    assert attempts == 3
    assert queue.stats.failed == 1 and queue.stats.retried == 2
    failures = [e for e in logs if e["event"] == "learning_job_failed"]
    assert [e["attempt"] for e in failures] == [1, 2, 3]
    assert failures[-1]["final"] is True and failures[-1]["job"] == "observe_message"
    # A job that never succeeded may be submitted again.
    assert queue.submit(Job("broken", broken)) is True
    await queue.join()


async def test_transient_failure_succeeds_on_retry(queue: LearningQueue) -> None:
    attempts = 0

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("blip")

    queue.submit(Job("flaky", flaky))
    await queue.join()
    assert attempts == 2
    assert queue.stats.completed == 1 and queue.stats.failed == 0


async def test_full_queue_drops_oldest_and_counts() -> None:
    queue = LearningQueue(maxsize=3, retry_delay=0)
    done: list[str] = []
    with capture_logs() as logs:
        for i in range(5):
            assert queue.submit(recorder(done, f"j{i}")) is True
    assert queue.stats.dropped == 2
    assert [e["key"] for e in logs if e["event"] == "learning_job_dropped"] == ["j0", "j1"]
    await queue.start()
    await queue.join()
    assert done == ["j2", "j3", "j4"]
    # A dropped job never ran, so its key is free again.
    assert queue.submit(recorder(done, "j0")) is True
    await queue.stop()
    assert done == ["j2", "j3", "j4", "j0"]


async def test_full_queue_can_reject_instead() -> None:
    queue = LearningQueue(maxsize=2, overflow="reject")
    done: list[str] = []
    results = [queue.submit(recorder(done, f"j{i}")) for i in range(4)]
    assert results == [True, True, False, False]
    assert queue.stats.rejected == 2 and queue.stats.dropped == 0
    await queue.start()
    await queue.stop()
    assert done == ["j0", "j1"]


async def test_job_timeout_counts_as_failure() -> None:
    queue = LearningQueue(max_attempts=1, job_timeout=0.01)
    queue.submit(Job("hang", lambda: asyncio.Event().wait()))
    await queue.start()
    await queue.join()
    assert queue.stats.failed == 1
    await queue.stop()


async def test_health_reports_state() -> None:
    queue = LearningQueue()
    assert (await queue.health()).state == "off"
    await queue.start()
    assert (await queue.health()).state == "up"
    await queue.stop()
    assert (await queue.health()).state == "off"
