"""OnnxCrossEncoder against the real exported tiny models and their PyTorch originals."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertForSequenceClassification

from morgan.reranker import OnnxCrossEncoder, RerankerModelError, rank_order
from morgan.reranker.onnx_cross_encoder import relevance_from_logits

QUERY = "where does the cat sleep"
PASSAGES = [
    "the cat sleeps in the house on a small bed",
    "a doctor works at the hospital in the city",
    "rain and snow fall from the sky in winter",
    "my friend reads a book about music and film",
    "the dog and the cat play with a ball after school",
    "",
    "coffee tea milk bread",
]


def torch_logits(model_dir: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    model = BertForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.no_grad():
        inputs = {name: torch.from_numpy(values.astype(np.int64)) for name, values in feed.items()}
        return model(**inputs).logits.numpy()


def test_scores_match_the_pytorch_model(tiny_model_dir: Path) -> None:
    encoder = OnnxCrossEncoder(tiny_model_dir)
    scores = encoder.score(QUERY, PASSAGES)

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    reference = tokenizer(
        [QUERY] * len(PASSAGES),
        PASSAGES,
        padding=True,
        truncation="only_second",
        max_length=128,
        return_tensors="np",
    )
    logits = torch_logits(tiny_model_dir, dict(reference))[:, 0]
    expected = 1 / (1 + np.exp(-logits))

    assert len(scores) == len(PASSAGES)
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert rank_order(scores) == list(np.argsort(-expected, kind="stable"))
    assert len(set(np.round(scores, 4))) == len(PASSAGES), "scores too close to test ordering"


def test_raw_logits_when_not_normalized(tiny_model_dir: Path) -> None:
    encoder = OnnxCrossEncoder(tiny_model_dir, normalize=False)
    encoder.warm_up()
    feed = encoder.encode_pairs(QUERY, PASSAGES)
    np.testing.assert_allclose(
        encoder.score(QUERY, PASSAGES), torch_logits(tiny_model_dir, feed)[:, 0], atol=1e-5
    )


def test_two_class_head_uses_the_positive_class(tiny_models: dict[str, Path]) -> None:
    model_dir = tiny_models["two_class"]
    assert (model_dir / "onnx" / "model.onnx").is_file()
    assert not (model_dir / "model.onnx").exists()
    encoder = OnnxCrossEncoder(model_dir)
    scores = encoder.score(QUERY, PASSAGES)
    logits = torch_logits(model_dir, encoder.encode_pairs(QUERY, PASSAGES))
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scores, softmax[:, 1], atol=1e-5)

    raw = OnnxCrossEncoder(model_dir, normalize=False).score(QUERY, PASSAGES)
    np.testing.assert_allclose(raw, logits[:, 1] - logits[:, 0], atol=1e-5)


def test_graph_without_token_type_ids_is_fed_only_its_inputs(
    tiny_models: dict[str, Path],
) -> None:
    model_dir = tiny_models["no_token_types"]
    encoder = OnnxCrossEncoder(model_dir, normalize=False)
    encoder.warm_up()
    feed = encoder.encode_pairs(QUERY, PASSAGES)
    assert set(feed) == {"input_ids", "attention_mask"}
    np.testing.assert_allclose(
        encoder.score(QUERY, PASSAGES), torch_logits(model_dir, feed)[:, 0], atol=1e-5
    )


def test_batch_size_does_not_change_scores(tiny_model_dir: Path) -> None:
    words = [
        "the",
        "cat",
        "dog",
        "house",
        "river",
        "music",
        "doctor",
        "book",
        "rain",
        "coffee",
        "city",
        "friend",
    ]
    rng = np.random.default_rng(7)
    passages = [" ".join(rng.choice(words, size=rng.integers(1, 60))) for _ in range(70)]
    small_batches = OnnxCrossEncoder(tiny_model_dir, batch_size=16).score(QUERY, passages)
    one_batch = OnnxCrossEncoder(tiny_model_dir, batch_size=70).score(QUERY, passages)
    one_by_one = [
        OnnxCrossEncoder(tiny_model_dir, batch_size=1).score(QUERY, [p])[0] for p in passages[:5]
    ]
    assert len(small_batches) == 70
    np.testing.assert_allclose(small_batches, one_batch, atol=1e-5)
    np.testing.assert_allclose(small_batches[:5], one_by_one, atol=1e-5)


def test_long_passage_is_truncated_and_the_query_survives(tiny_model_dir: Path) -> None:
    encoder = OnnxCrossEncoder(tiny_model_dir, max_length=64)
    encoder.warm_up()
    long_passage = "the cat sleeps in the house " * 200
    feed = encoder.encode_pairs(QUERY, [long_passage])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    query_ids = tokenizer(QUERY, add_special_tokens=False)["input_ids"]

    row = feed["input_ids"][0].tolist()
    assert len(row) == 64
    assert row[: len(query_ids) + 2] == [tokenizer.cls_token_id, *query_ids, tokenizer.sep_token_id]
    assert row[-1] == tokenizer.sep_token_id

    different_tail = long_passage + " doctor hospital bank money " * 50
    assert encoder.score(QUERY, [long_passage]) == pytest.approx(
        encoder.score(QUERY, [different_tail]), abs=1e-6
    )
    assert encoder.score("music film art", [long_passage]) != pytest.approx(
        encoder.score(QUERY, [long_passage]), abs=1e-4
    )


def test_overlong_query_is_cut_to_half_the_window(tiny_model_dir: Path) -> None:
    encoder = OnnxCrossEncoder(tiny_model_dir, max_length=32)
    long_query = "where does the cat sleep " * 40
    scores = encoder.score(long_query, PASSAGES)
    assert len(scores) == len(PASSAGES)

    feed = encoder.encode_pairs(long_query, ["the cat sleeps in the house " * 20])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    first_query_ids = tokenizer(long_query, add_special_tokens=False)["input_ids"][:16]
    row = feed["input_ids"][0].tolist()
    assert len(row) == 32
    assert row[:18] == [tokenizer.cls_token_id, *first_query_ids, tokenizer.sep_token_id]


def test_window_is_capped_by_the_tokenizer(tiny_model_dir: Path) -> None:
    encoder = OnnxCrossEncoder(tiny_model_dir, max_length=512)
    encoder.warm_up()
    assert encoder.max_length == 128
    assert encoder.active_providers == ["CPUExecutionProvider"]


def test_no_passages_gives_no_scores_and_loads_nothing(tmp_path: Path) -> None:
    encoder = OnnxCrossEncoder(tmp_path / "missing")
    assert encoder.score(QUERY, []) == []
    assert not encoder.is_loaded


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RerankerModelError, match="does not exist"):
        OnnxCrossEncoder(tmp_path / "nowhere").warm_up()


def test_directory_without_onnx_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RerankerModelError, match=r"no ONNX model .*model\.onnx"):
        OnnxCrossEncoder(tmp_path).warm_up()


def test_corrupt_onnx_file_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.onnx").write_bytes(b"not an onnx graph")
    encoder = OnnxCrossEncoder(broken)
    with pytest.raises(RerankerModelError, match="cannot load ONNX model"):
        encoder.warm_up()
    assert not encoder.is_loaded


def test_missing_tokenizer_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(tiny_model_dir / "model.onnx", bare / "model.onnx")
    with pytest.raises(RerankerModelError, match="cannot load the tokenizer"):
        OnnxCrossEncoder(bare).warm_up()


def test_unsupported_logits_shape_is_rejected() -> None:
    with pytest.raises(RerankerModelError, match="unsupported logits shape"):
        relevance_from_logits(np.zeros((2, 3)), normalize=True)


def test_invalid_settings_are_rejected(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        OnnxCrossEncoder(tiny_model_dir, batch_size=0)
    with pytest.raises(ValueError, match="max_length"):
        OnnxCrossEncoder(tiny_model_dir, max_length=2)
