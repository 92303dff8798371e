"""Fixtures for the blob and cache contract suites: SeaweedFS, Redis, and dead ports."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.own_redis import RedisServer, redis_url  # noqa: F401  (fixture)
from tests.fixtures.seaweed import SeaweedServer, seaweedfs  # noqa: F401  (fixture)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it), not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_seaweedfs(tmp_path: Path) -> Iterator[SeaweedServer]:
    """A SeaweedFS of its own, for tests that stop and restart the object store."""
    server = SeaweedServer(tmp_path / "seaweedfs")
    server.start()
    try:
        yield server
    finally:
        server.stop()
