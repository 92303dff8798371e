"""HttpReranker turns every way the service can fail into RerankerUnavailable."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar

from morgan.reranker import HttpReranker, OnnxCrossEncoder, RerankerUnavailable
from morgan.reranker.service import create_reranker_app

ServeInThread = Callable[[Litestar], AbstractContextManager[Any]]


@pytest.fixture
def closed_port_url() -> str:
    """A port that was just free: nothing listens there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_server_url() -> Iterator[str]:
    """Accepts connections (kernel backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class _GatedEncoder(OnnxCrossEncoder):
    def __init__(self, model_dir: Path) -> None:
        super().__init__(model_dir)
        self.gate = threading.Event()

    def warm_up(self) -> None:
        if not self.gate.wait(timeout=30):
            raise RuntimeError("gate never opened")
        super().warm_up()


async def test_service_down_is_unavailable(closed_port_url: str) -> None:
    reranker = HttpReranker(closed_port_url, timeout_s=2)
    with pytest.raises(RerankerUnavailable, match="cannot reach reranker"):
        await reranker.rerank("cat", ["a cat"])
    health = await reranker.health()
    assert (health.state, health.backend) == ("down", "http")
    assert "cannot reach" in health.detail
    await reranker.aclose()


async def test_silent_service_times_out(silent_server_url: str) -> None:
    reranker = HttpReranker(silent_server_url, timeout_s=0.3)
    started = time.perf_counter()
    with pytest.raises(RerankerUnavailable, match=r"did not answer within 0.3s"):
        await reranker.rerank("cat", ["a cat"])
    assert time.perf_counter() - started < 5
    assert (await reranker.health()).state == "down"
    await reranker.aclose()


async def test_loading_service_is_unavailable_then_serves(
    tiny_model_dir: Path, serve_app: ServeInThread
) -> None:
    encoder = _GatedEncoder(tiny_model_dir)
    app = create_reranker_app(encoder=encoder)
    with serve_app(app) as service:
        reranker = HttpReranker(service.url, timeout_s=5)
        with pytest.raises(RerankerUnavailable, match="answered 503: model loading"):
            await reranker.rerank("cat", ["a cat"])
        health = await reranker.health()
        assert (health.state, health.detail) == ("down", "loading")

        encoder.gate.set()
        assert service.state.ready.wait(timeout=30)
        assert len(await reranker.rerank("cat", ["a cat", "a dog"])) == 2
        assert (await reranker.health()).state == "up"
        await reranker.aclose()


async def test_service_stopped_mid_session_is_unavailable(
    tiny_model_dir: Path, serve_app: ServeInThread
) -> None:
    with serve_app(create_reranker_app(tiny_model_dir)) as service:
        assert service.state.ready.wait(timeout=30)
        reranker = HttpReranker(service.url, timeout_s=2)
        assert len(await reranker.rerank("cat", ["a cat"])) == 1
    with pytest.raises(RerankerUnavailable):
        await reranker.rerank("cat", ["a cat"])
    assert (await reranker.health()).state == "down"
    await reranker.aclose()
