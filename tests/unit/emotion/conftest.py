"""Fixtures for the emotion tests: a tiny ONNX emotion model built on the spot (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from morgan.emotion.labels import GOEMOTIONS_LABELS

TINY_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "i",
    "am",
    "so",
    "happy",
    "sad",
    "angry",
    "this",
    "is",
    "great",
    "terrible",
    "thank",
    "you",
    "love",
    "it",
    "hate",
    "the",
    "bug",
    "!",
    ".",
    "?",
    "what",
    "scared",
    "wow",
]


def build_tiny_onnx_model(target: Path, labels: list[str], problem_type: str | None) -> Path:
    """A random 2-layer BERT classifier, its tokenizer and config, exported to ONNX."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    target.mkdir(parents=True, exist_ok=True)
    vocab_file = target / "vocab.txt"
    vocab_file.write_text("\n".join(TINY_VOCAB) + "\n")
    tokenizer = BertTokenizer(str(vocab_file), do_lower_case=True)
    tokenizer.save_pretrained(target)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(TINY_VOCAB),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={l: i for i, l in enumerate(labels)},
        problem_type=problem_type,
    )
    model = BertForSequenceClassification(config).eval()
    config.save_pretrained(target)
    sample = tokenizer(["i am so happy"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(
        model,
        (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
        str(target / "model.onnx"),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    # Reference logits from torch, for the test to compare against ONNX Runtime.
    with torch.no_grad():
        reference = model(**tokenizer(["i am so happy !"], return_tensors="pt")).logits
    (target / "reference_logits.json").write_text(json.dumps(reference[0].tolist()))
    return target


@pytest.fixture(scope="session")
def tiny_onnx_multilabel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_onnx_model(
        tmp_path_factory.mktemp("onnx-multi"), list(GOEMOTIONS_LABELS), "multi_label_classification"
    )


@pytest.fixture(scope="session")
def tiny_onnx_softmax(tmp_path_factory: pytest.TempPathFactory) -> Path:
    labels = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise", "LABEL_7"]
    return build_tiny_onnx_model(
        tmp_path_factory.mktemp("onnx-softmax"), labels, "single_label_classification"
    )
