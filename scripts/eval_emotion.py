#!/usr/bin/env python
"""Evaluate an emotion detector on any GoEmotions-format TSV.

    python scripts/eval_emotion.py --data dev.tsv --out dev_eval.json [--model DIR]

DIR is a head artifact (meta.json) or an ONNX model directory (config.json + *.onnx);
default: the shipped artifact. Every message goes through `detector.detect()` one at a time
on one thread, so `latency_ms_*` is the end-to-end cost per message *including* the MiniLM
embedding; `head_latency_ms_*` is what remains when the chat path passes its embedding in.
`--baseline-engine torch` also times the MiniLM embedding alone per message with both engines,
alternating message by message on the first `--baseline-n` texts (same run, same load);
`cpu_ms_*` is the process CPU time per message, steadier than wall time on a busy machine.
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
from morgan.emotion.labels import GOEMOTIONS_LABELS
from morgan.emotion.metrics import report
from morgan.emotion.onnx_detector import OnnxEmotionDetector
from morgan.llm.minilm import MiniLMEmbedder


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
        detector = EmbeddingHeadDetector(
            model_dir, embedder=MiniLMEmbedder(threads=args.threads, engine=args.engine)
        )
    detector.warm_up()
    for text in texts[:20]:  # let caches and allocators settle before timing
        await detector.detect(text)

    predicted = np.zeros_like(gold)
    latencies = []
    cpu = []
    for i, text in enumerate(texts):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = await detector.detect(text)
        latencies.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        predicted[i, [GOEMOTIONS_LABELS.index(l) for l in result.labels]] = 1
    metrics = report(predicted, gold)
    p50, p95 = percentiles(latencies)
    c50, c95 = percentiles(cpu)
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
        "cpu_ms_p50": round(c50, 3),
        "cpu_ms_p95": round(c95, 3),
        "engine": getattr(getattr(detector, "_embedder", None), "engine", ""),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "latency_includes": "embedding + emoji features + head + result (one message, one thread)"
        if isinstance(detector, EmbeddingHeadDetector)
        else "tokenizer + ONNX model + result (one message)",
    }
    if isinstance(detector, EmbeddingHeadDetector):
        embeddings = np.concatenate(
            [await detector.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)]
        )
        head_latencies = []
        for text, embedding in zip(texts, embeddings, strict=False):
            began = time.perf_counter()
            detector.result_from_embedding(text, embedding)
            head_latencies.append((time.perf_counter() - began) * 1000)
        h50, h95 = percentiles(head_latencies)
        out["head_latency_ms_p50"] = round(h50, 3)
        out["head_latency_ms_p95"] = round(h95, 3)
        out["head_latency_includes"] = "emoji features + head + result, embedding given"
    if args.baseline_engine and isinstance(detector, EmbeddingHeadDetector):
        out["embedding_only"] = compare_engines(
            detector._embedder,
            MiniLMEmbedder(threads=args.threads, engine=args.baseline_engine),
            texts[: args.baseline_n],
        )
    out["per_label_f1"] = metrics["per_label_f1"]
    out["per_ekman_f1"] = metrics["per_ekman_f1"]
    return out


def compare_engines(main: Any, baseline: Any, texts: list[str]) -> dict[str, Any]:
    """Per-message embedding latency of two engines, alternating on the same texts."""
    baseline.warm_up()
    for text in texts[:10]:
        baseline.embed_array([text])
    times: dict[str, list[float]] = {main.engine: [], baseline.engine: []}
    for text in texts:
        for embedder in (main, baseline):
            began = time.perf_counter()
            embedder.embed_array([text])
            times[embedder.engine].append((time.perf_counter() - began) * 1000)
    out: dict[str, Any] = {"n": len(texts)}
    for engine, values in times.items():
        p50, p95 = percentiles(values)
        out[engine] = {"p50_ms": round(p50, 3), "p95_ms": round(p95, 3)}
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
        "cpu_ms_p50",
        "cpu_ms_p95",
        "engine",
        "embedding_only",
        "load_average",
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
    parser.add_argument(
        "--engine",
        choices=("auto", "onnx", "torch"),
        default="auto",
        help="MiniLM engine (auto: ONNX Runtime, torch if it cannot load)",
    )
    parser.add_argument(
        "--baseline-engine",
        choices=("", "onnx", "torch"),
        default="torch",
        help="also time the embedding alone with this engine ('' to skip)",
    )
    parser.add_argument("--baseline-n", type=int, default=500)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    result = asyncio.run(evaluate(args))
    print_summary(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
