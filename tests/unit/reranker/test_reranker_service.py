"""The reranker service app through Litestar's AsyncTestClient (real model, no server)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from morgan.reranker import OnnxCrossEncoder, rank_order
from morgan.reranker.service import RerankerModelState, create_reranker_app

PASSAGES = ["the cat sleeps in the house", "a doctor at the hospital", "rain from the sky"]


async def loaded(state: RerankerModelState) -> None:
    assert await asyncio.to_thread(state.ready.wait, 30), "model did not finish loading"


async def test_rerank_scores_and_orders(tiny_model_dir: Path) -> None:
    app = create_reranker_app(tiny_model_dir, batch_size=2)
    async with AsyncTestClient(app=app) as client:
        await loaded(app.state.reranker)
        response = await client.post("/rerank", json={"query": "cat", "passages": PASSAGES})
        assert response.status_code == 200, response.text
        body = response.json()
    expected = OnnxCrossEncoder(tiny_model_dir).score("cat", PASSAGES)
    assert body["scores"] == pytest.approx(expected, abs=1e-6)
    assert body["order"] == rank_order(expected)
    assert body["model"] == tiny_model_dir.name
    assert body["elapsed_ms"] > 0


async def test_top_k_shortens_only_the_order(tiny_model_dir: Path) -> None:
    app = create_reranker_app(tiny_model_dir)
    async with AsyncTestClient(app=app) as client:
        await loaded(app.state.reranker)
        response = await client.post(
            "/rerank", json={"query": "cat", "passages": PASSAGES, "top_k": 2}
        )
    body = response.json()
    assert len(body["scores"]) == 3
    assert body["order"] == rank_order(body["scores"])[:2]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"query": "cat", "passages": ["p"] * 101}, "between 1 and 100 items, got 101"),
        ({"query": "cat", "passages": []}, "between 1 and 100 items, got 0"),
        ({"query": "", "passages": ["p"]}, "query must not be empty"),
        ({"query": "  ", "passages": ["p"]}, "query must not be empty"),
        ({"passages": ["p"]}, "missing required field `query`"),
        ({"query": "cat", "passages": "p"}, "Expected `array`"),
        ({"query": "cat", "passages": ["p"], "top_k": 0}, "top_k must be at least 1"),
        ({"query": "cat", "passages": ["p"], "extra": 1}, "unknown field `extra`"),
    ],
)
async def test_invalid_requests_get_422_with_a_reason(
    tiny_model_dir: Path, payload: dict[str, object], message: str
) -> None:
    app = create_reranker_app(tiny_model_dir)
    async with AsyncTestClient(app=app) as client:
        await loaded(app.state.reranker)
        response = await client.post("/rerank", json=payload)
    assert response.status_code == 422
    assert message in response.json()["detail"]


async def test_not_ready_until_the_model_is_loaded(gated_encoder: OnnxCrossEncoder) -> None:
    app = create_reranker_app(encoder=gated_encoder)
    state: RerankerModelState = app.state.reranker
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/health/live")).status_code == 200
        loading = await client.get("/health/ready")
        assert loading.status_code == 503 and loading.json()["status"] == "loading"
        refused = await client.post("/rerank", json={"query": "cat", "passages": PASSAGES})
        assert refused.status_code == 503 and "loading" in refused.json()["detail"]

        gated_encoder.gate.set()  # type: ignore[attr-defined]
        await loaded(state)
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "model": gated_encoder.model_name,
            "providers": ["CPUExecutionProvider"],
            "detail": "",
        }
        scored = await client.post("/rerank", json={"query": "cat", "passages": PASSAGES})
        assert scored.status_code == 200


async def test_failed_load_stays_unready_with_the_reason(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.onnx").write_bytes(b"garbage")
    app = create_reranker_app(broken)
    async with AsyncTestClient(app=app) as client:
        await loaded(app.state.reranker)
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "failed"
        assert "cannot load ONNX model" in ready.json()["detail"]
        refused = await client.post("/rerank", json={"query": "cat", "passages": PASSAGES})
        assert refused.status_code == 503 and "failed" in refused.json()["detail"]


async def test_metrics_count_requests(tiny_model_dir: Path) -> None:
    app = create_reranker_app(tiny_model_dir)
    async with AsyncTestClient(app=app) as client:
        await loaded(app.state.reranker)
        await client.post("/rerank", json={"query": "cat", "passages": PASSAGES})
        await client.post("/rerank", json={"query": "", "passages": PASSAGES})
        text = (await client.get("/metrics")).text
    assert 'morgan_reranker_requests_total{outcome="ok"} 1.0' in text
    assert 'morgan_reranker_requests_total{outcome="invalid"} 1.0' in text
    assert "morgan_reranker_passages_total 3.0" in text
    assert "morgan_reranker_model_ready 1.0" in text


def test_app_needs_a_model() -> None:
    with pytest.raises(ValueError, match="model_dir or encoder"):
        create_reranker_app()


async def test_empty_model_folder_serves_unready_then_loads_once_filled(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Issue 9: `reranker serve` on an empty volume crash-looped; now it waits, observable."""
    folder = tmp_path / "models"
    folder.mkdir()
    app = create_reranker_app(folder, model_poll_s=0.05)
    state: RerankerModelState = app.state.reranker
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/health/live")).status_code == 200
        waiting = await client.get("/health/ready")
        while waiting.json()["status"] == "loading":  # the loader thread has not looked yet
            waiting = await client.get("/health/ready")
        assert waiting.status_code == 503
        assert waiting.json()["status"] == "no_model"
        assert "no ONNX model" in waiting.json()["detail"]
        for item in tiny_model_dir.iterdir():  # what `morgan reranker fetch` does
            shutil.copy(item, folder / item.name)
        await loaded(state)
        ready = await client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
