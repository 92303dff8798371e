"""Build a tiny, randomly initialised BERT cross-encoder and export it to ONNX, offline.

The tests and the reranker benchmark use it so they never download weights. The folder it
writes looks like any Hugging Face cross-encoder exported to ONNX: config.json, the
tokenizer files (vocab.txt, tokenizer.json, tokenizer_config.json), the PyTorch weights and
model.onnx (or onnx/model.onnx). Its scores are meaningless but deterministic per seed.

    python scripts/build_tiny_cross_encoder.py OUT_DIR [--num-labels 2] [--onnx-subdir]
"""

from __future__ import annotations

import argparse
import string
import warnings
from pathlib import Path

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "if",
    "of",
    "to",
    "in",
    "on",
    "at",
    "by",
    "for",
    "with",
    "from",
    "about",
    "into",
    "over",
    "after",
    "before",
    "under",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "do",
    "does",
    "did",
    "will",
    "would",
    "can",
    "could",
    "should",
    "may",
    "might",
    "i",
    "you",
    "he",
    "she",
    "it",
    "we",
    "they",
    "me",
    "him",
    "her",
    "us",
    "them",
    "my",
    "your",
    "his",
    "its",
    "our",
    "their",
    "this",
    "that",
    "these",
    "those",
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "just",
    "now",
    "then",
    "here",
    "there",
    "up",
    "down",
    "out",
    "off",
    "again",
    "cat",
    "dog",
    "bird",
    "fish",
    "horse",
    "cow",
    "house",
    "car",
    "road",
    "tree",
    "river",
    "sea",
    "sky",
    "sun",
    "moon",
    "star",
    "rain",
    "snow",
    "wind",
    "book",
    "paper",
    "page",
    "word",
    "letter",
    "story",
    "poem",
    "song",
    "music",
    "film",
    "art",
    "game",
    "ball",
    "team",
    "city",
    "town",
    "country",
    "water",
    "fire",
    "earth",
    "air",
    "food",
    "bread",
    "milk",
    "tea",
    "coffee",
    "apple",
    "fruit",
    "meat",
    "rice",
    "sugar",
    "salt",
    "man",
    "woman",
    "child",
    "boy",
    "girl",
    "friend",
    "family",
    "mother",
    "father",
    "brother",
    "sister",
    "people",
    "person",
    "name",
    "time",
    "day",
    "night",
    "week",
    "month",
    "year",
    "today",
    "morning",
    "evening",
    "hour",
    "minute",
    "second",
    "good",
    "bad",
    "new",
    "old",
    "big",
    "small",
    "long",
    "short",
    "high",
    "low",
    "hot",
    "cold",
    "fast",
    "slow",
    "happy",
    "sad",
    "angry",
    "calm",
    "run",
    "walk",
    "eat",
    "drink",
    "sleep",
    "read",
    "write",
    "speak",
    "talk",
    "listen",
    "see",
    "look",
    "hear",
    "feel",
    "think",
    "know",
    "learn",
    "work",
    "play",
    "make",
    "take",
    "give",
    "get",
    "go",
    "come",
    "find",
    "keep",
    "help",
    "ask",
    "tell",
    "call",
    "try",
    "use",
    "want",
    "need",
    "like",
    "doctor",
    "nurse",
    "teacher",
    "student",
    "school",
    "hospital",
    "office",
    "shop",
    "market",
    "bank",
    "money",
    "price",
    "cost",
    "computer",
    "phone",
    "email",
    "message",
    "data",
    "file",
    "network",
    "server",
    "model",
    "memory",
    "search",
    "query",
    "answer",
    "question",
    "document",
    "passage",
    "rerank",
    "score",
    "relevance",
    "vector",
    "index",
    "retrieval",
    "language",
]


def vocabulary() -> list[str]:
    """Specials, words, then single characters and their `##` forms so nothing is unknown."""
    characters = list(string.ascii_lowercase + string.digits + ".,;:!?'\"()-/")
    tokens = SPECIAL_TOKENS + list(dict.fromkeys(WORDS)) + characters
    tokens += ["##" + character for character in string.ascii_lowercase + string.digits]
    return list(dict.fromkeys(tokens))


def _make_tokenizer(vocab_file: Path, max_length: int):  # type: ignore[no-untyped-def]
    import transformers
    from transformers import BertTokenizerFast

    if int(transformers.__version__.split(".")[0]) >= 5:
        vocab = {token: index for index, token in enumerate(vocab_file.read_text().splitlines())}
        return BertTokenizerFast(vocab=vocab, model_max_length=max_length)
    return BertTokenizerFast(vocab_file=str(vocab_file), model_max_length=max_length)


def build_tiny_cross_encoder(
    out_dir: str | Path,
    *,
    num_labels: int = 1,
    seed: int = 0,
    max_position_embeddings: int = 128,
    onnx_subdir: bool = False,
    with_token_type_ids: bool = True,
    initializer_range: float = 0.2,
) -> Path:
    """Write the model folder and return it. `initializer_range` spreads the random scores."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(vocabulary()) + "\n")
    tokenizer = _make_tokenizer(vocab_file, max_position_embeddings)
    config = BertConfig(
        vocab_size=len(vocabulary()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_position_embeddings,
        num_labels=num_labels,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)

    input_names = ["input_ids", "attention_mask"] + (
        ["token_type_ids"] if with_token_type_ids else []
    )
    example = tokenizer(["the cat"], ["a dog on the road"], return_tensors="pt")
    onnx_file = out / ("onnx/model.onnx" if onnx_subdir else "model.onnx")
    onnx_file.parent.mkdir(parents=True, exist_ok=True)
    dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    dynamic_axes["logits"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        # The legacy exporter warns about tracing; the traced branches are constant for BERT.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(example[name] for name in input_names),
            str(onnx_file),
            input_names=input_names,
            output_names=["logits"],
            dynamic_axes=dynamic_axes,
            opset_version=17,
            dynamo=False,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--num-labels", type=int, choices=(1, 2), default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--onnx-subdir", action="store_true")
    args = parser.parse_args()
    path = build_tiny_cross_encoder(
        args.out_dir, num_labels=args.num_labels, seed=args.seed, onnx_subdir=args.onnx_subdir
    )
    print(path)


if __name__ == "__main__":
    main()
