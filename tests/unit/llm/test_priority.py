"""Background work is marked per task and lowers only the thread it runs on."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from morgan.llm.priority import (
    BACKGROUND_NICE,
    answers_in_progress,
    background_work,
    foreground_work,
    in_background,
    lower_thread_priority,
    yield_to_foreground,
)


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux")
def test_lowering_a_pool_thread_leaves_the_caller_alone() -> None:
    before = _nice()
    with ThreadPoolExecutor(1, initializer=lower_thread_priority) as pool:
        assert pool.submit(_nice).result() == max(before, BACKGROUND_NICE)
    assert _nice() == before


def test_lowering_never_raises_priority() -> None:
    def twice() -> int:
        lower_thread_priority(15)
        lower_thread_priority(5)  # asking for a higher priority is ignored
        return _nice()

    with ThreadPoolExecutor(1) as pool:
        nice = pool.submit(twice).result()
    if sys.platform.startswith("linux"):
        assert nice == max(15, _nice())


async def test_the_mark_is_per_task_and_travels_to_threads() -> None:
    async def ingest() -> tuple[bool, bool]:
        with background_work():
            await asyncio.sleep(0)
            inside = await asyncio.to_thread(in_background)
        return inside, in_background()

    async def chat() -> bool:
        await asyncio.sleep(0)
        return await asyncio.to_thread(in_background)

    (inside, after), chatting = await asyncio.gather(ingest(), chat())
    assert (inside, after, chatting) == (True, False, False)


def test_background_runs_wait_while_an_answer_is_in_progress() -> None:
    with foreground_work():
        assert answers_in_progress() == 1
        assert yield_to_foreground(max_wait_s=0) is False  # would wait: an answer runs
        results: list[bool] = []
        waiter = threading.Thread(target=lambda: results.append(yield_to_foreground(30)))
        waiter.start()
    waiter.join(timeout=30)  # released by the answer's end, not by the 30 s cap
    assert results == [True] and answers_in_progress() == 0
    assert yield_to_foreground(max_wait_s=0) is True
