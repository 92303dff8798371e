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
    background_work,
    in_background,
    lower_thread_priority,
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
