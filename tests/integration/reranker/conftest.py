"""A tiny cross-encoder and the reranker service on a real uvicorn server, per session."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from litestar import Litestar

from morgan.reranker.service import RerankerModelState, create_reranker_app

BUILDER = Path(__file__).parents[3] / "scripts" / "build_tiny_cross_encoder.py"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("build_tiny_cross_encoder", BUILDER)
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder.build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny") / "cross-encoder")


@dataclass
class RunningService:
    url: str
    state: RerankerModelState


@contextlib.contextmanager
def serve_in_thread(app: Litestar) -> Iterator[RunningService]:
    """uvicorn on a socket bound before start-up, so the port accepts connections at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield RunningService(f"http://127.0.0.1:{port}", app.state.reranker)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def reranker_service(tiny_model_dir: Path) -> Iterator[RunningService]:
    with serve_in_thread(create_reranker_app(tiny_model_dir, batch_size=16)) as service:
        assert service.state.ready.wait(timeout=60), "reranker service never loaded its model"
        assert service.state.status == "ready", service.state.error
        yield service


@pytest.fixture(scope="session")
def reranker_url(reranker_service: RunningService) -> str:
    return reranker_service.url


@pytest.fixture
def serve_app() -> object:
    """`with serve_app(app) as service:` runs `app` on uvicorn for the block."""
    return serve_in_thread
