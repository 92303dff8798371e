"""Core starts while its embedding server is down, reports it, and connects when it answers.

Issue 9 blocker: `build_rag` read the Ollama embedder's dimension before Ollama had answered,
and every cluster install (embeddings from Ollama) exited at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract_fakes.ollama import FakeOllama
from tests.integration.api.conftest import running_api

pytestmark = pytest.mark.slow

NOTE = (
    b"# Bees\n\nThe hive swarms in late spring when the old queen leaves with half the workers.\n"
)


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama(embedding_dimension=768) as fake:
        yield fake


async def test_core_serves_while_ollama_embeddings_are_down_then_connects(
    ollama: FakeOllama, tmp_path: Path
) -> None:
    ollama.fail("/api/embed", 503, "model is loading", times=None)
    ollama.fail("/api/tags", 503, "starting", times=None)
    url = f"ollama://{ollama.base_url.split('://', 1)[1]}"
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'morgan.db'}"
    env = {"MORGAN_EMBEDDINGS_URL": url, "MORGAN_EMBEDDINGS_MODEL": "nomic-embed-text"}
    async with running_api(db_url, tmp_path / "home", **env) as api:
        ready = await api.client.get("/health/ready")
        assert ready.status_code == 200, ready.text  # readiness: the database answers
        status = (await api.client.get("/api/status", headers=api.auth())).json()
        assert {"embeddings", "vectors"} <= set(status["degraded"])
        vectors = next(c for c in status["components"] if c["name"] == "vectors")
        assert (
            vectors["detail"].startswith("connecting: ") and "model is loading" in vectors["detail"]
        )

        ollama.clear_faults()
        assert await api.on_app_loop(api.services.vectors.connect)
        status = (await api.client.get("/api/status", headers=api.auth())).json()
        assert "vectors" not in status["degraded"] and "embeddings" not in status["degraded"]

        r = await api.client.post(
            "/api/ingest", files={"file": ("bees.md", NOTE)}, headers=api.auth()
        )
        assert r.status_code == 200 and r.json()["errors"] == [], r.text
        chat = await api.client.post(
            "/api/chat", json={"message": "When does the hive swarm?"}, headers=api.auth()
        )
        assert chat.status_code == 200, chat.text
        assert chat.json()["sources"], chat.text
