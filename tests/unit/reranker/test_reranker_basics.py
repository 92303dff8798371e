"""Request rules, ordering, the disabled reranker, the in-process wrapper and the factory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from morgan.reranker import (
    MAX_PASSAGES,
    DisabledReranker,
    HttpReranker,
    InProcessReranker,
    InvalidRerankRequest,
    Reranker,
    RerankerDisabled,
    RerankerModelError,
    RerankerUnavailable,
    create_reranker,
    rank_order,
    validate_rerank_request,
)


@pytest.mark.parametrize(
    ("query", "count", "message"),
    [
        ("", 1, "query must not be empty"),
        ("   \n", 1, "query must not be empty"),
        ("cat", 0, "between 1 and 100 items, got 0"),
        ("cat", MAX_PASSAGES + 1, "between 1 and 100 items, got 101"),
    ],
)
def test_invalid_requests_say_what_is_wrong(query: str, count: int, message: str) -> None:
    with pytest.raises(InvalidRerankRequest, match=message):
        validate_rerank_request(query, ["passage"] * count)


def test_valid_request_passes() -> None:
    validate_rerank_request("cat", ["passage"] * MAX_PASSAGES)


def test_rank_order_is_descending_and_stable() -> None:
    assert rank_order([0.1, 0.9, 0.5, 0.9]) == [1, 3, 2, 0]
    assert rank_order([0.1, 0.9, 0.5], top_k=2) == [1, 2]
    assert rank_order([]) == []


async def test_disabled_reranker_is_off_and_never_scores() -> None:
    reranker = DisabledReranker("not configured in this test")
    assert isinstance(reranker, Reranker)
    health = await reranker.health()
    assert (health.name, health.state, health.detail) == (
        "reranker",
        "off",
        "not configured in this test",
    )
    with pytest.raises(RerankerDisabled, match="reranker is off"):
        await reranker.rerank("cat", ["a cat"])
    assert issubclass(RerankerDisabled, RerankerUnavailable)


async def test_in_process_health_follows_loading(tiny_model_dir: Path) -> None:
    reranker = InProcessReranker.from_model_dir(tiny_model_dir)
    before = await reranker.health()
    assert before.state == "down" and "not loaded" in before.detail
    reranker.warm_up()
    after = await reranker.health()
    assert (after.state, after.backend) == ("up", "onnx")
    assert "CPUExecutionProvider" in after.detail


async def test_in_process_reports_a_broken_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.onnx").write_bytes(b"garbage")
    reranker = InProcessReranker.from_model_dir(broken)
    with pytest.raises(RerankerUnavailable, match="cannot load ONNX model"):
        await reranker.rerank("cat", ["a cat"])
    health = await reranker.health()
    assert health.state == "down" and "cannot load ONNX model" in health.detail
    with pytest.raises(RerankerModelError):
        reranker.warm_up()


async def test_factory_prefers_the_service_then_a_local_model(tiny_model_dir: Path) -> None:
    remote = create_reranker(url="http://reranker:8081/", model_dir=tiny_model_dir)
    assert isinstance(remote, HttpReranker) and remote.base_url == "http://reranker:8081"
    local = create_reranker(model_dir=tiny_model_dir, batch_size=4)
    assert isinstance(local, InProcessReranker) and local.encoder.batch_size == 4
    off = create_reranker()
    assert isinstance(off, DisabledReranker)
    assert (await off.health()).state == "off"
