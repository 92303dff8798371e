#!/usr/bin/env python
"""Evaluate an emotion detector on any GoEmotions-format TSV.

    python scripts/eval_emotion.py --data dev.tsv --out dev_eval.json [--model DIR]

DIR is a head artifact (meta.json) or an ONNX model directory (config.json + *.onnx);
default: the shipped artifact. Every message goes through `detector.detect()` one at a time
on one thread, so `latency_ms_*` is the end-to-end cost per message *including* the MiniLM
embedding; `head_latency_ms_*` is what remains when the chat path passes its embedding in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from morgan.emotion.data import label_matrix, read_goemotions_tsv
from morgan.emotion.detector import EmbeddingHeadDetector
from morgan.llm.minilm import MiniLMEmbedder
from morgan.emotion.labels import GOEMOTIONS_LABELS
from morgan.emotion.metrics import report
from morgan.emotion.onnx_detector import OnnxEmotionDetector


def percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


async def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    examples = read_goemotions_tsv(args.data)
    if args.limit:
        examples = examples[: args.limit]
    texts = [e.text for e in examples]
    gold = label_matrix(examples)
    model_dir: Path | None = args.model
    if (
        model_dir is not None
        and (model_dir / "config.json").exists()
        and not (model_dir / "meta.json").exists()
    ):
        detector: Any = OnnxEmotionDetector(model_dir, threads=args.threads)
    else:
        detector = EmbeddingHeadDetector(model_dir, embedder=MiniLMEmbedder(threads=args.threads))
    detector.warm_up()
    for text in texts[:20]:  # let caches and allocators settle before timing
        await detector.detect(text)

    predicted = np.zeros_like(gold)
    latencies = []
    for i, text in enumerate(texts):
        began = time.perf_counter()
        result = await detector.detect(text)
        latencies.append((time.perf_counter() - began) * 1000)
        predicted[i, [GOEMOTIONS_LABELS.index(l) for l in result.labels]] = 1
    metrics = report(predicted, gold)
    p50, p95 = percentiles(latencies)
    out: dict[str, Any] = {
        "data": str(args.data),
        "n": len(texts),
        "model": detector.name,
        "threads": args.threads,
        "macro_f1": round(metrics["macro_f1"], 4),
        "ekman_macro_f1": round(metrics["ekman_macro_f1"], 4),
        "micro_f1": round(metrics["micro_f1"], 4),
        "latency_ms_p50": round(p50, 3),
        "latency_ms_p95": round(p95, 3),
        "latency_includes": "embedding + emoji features + head + result (one message, one thread)"
        if isinstance(detector, EmbeddingHeadDetector)
        else "tokenizer + ONNX model + result (one message)",
    }
    if isinstance(detector, EmbeddingHeadDetector):
        embeddings = np.concatenate(
            [await detector.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)]
        )
        head_latencies = []
        for text, embedding in zip(texts, embeddings):
            began = time.perf_counter()
            detector.result_from_embedding(text, embedding)
            head_latencies.append((time.perf_counter() - began) * 1000)
        h50, h95 = percentiles(head_latencies)
        out["head_latency_ms_p50"] = round(h50, 3)
        out["head_latency_ms_p95"] = round(h95, 3)
        out["head_latency_includes"] = "emoji features + head + result, embedding given"
    out["per_label_f1"] = metrics["per_label_f1"]
    out["per_ekman_f1"] = metrics["per_ekman_f1"]
    return out


def print_summary(result: dict[str, Any]) -> None:
    keys = [
        "n",
        "model",
        "macro_f1",
        "ekman_macro_f1",
        "micro_f1",
        "latency_ms_p50",
        "latency_ms_p95",
        "head_latency_ms_p50",
        "head_latency_ms_p95",
    ]
    for key in keys:
        if key in result:
            print(f"{key:20} {result[key]}")
    print(f"\n{'label':16} F1")
    for label, f1 in result["per_label_f1"].items():
        print(f"{label:16} {f1:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the model")
    parser.add_argument("--limit", type=int, default=0, help="only the first N rows")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    result = asyncio.run(evaluate(args))
    print_summary(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
