"""Rerank latency, in-process versus through the reranker service over HTTP.

By default it builds the tiny random cross-encoder from build_tiny_cross_encoder.py (2 layers,
hidden size 32, window 128 tokens), so the numbers show the overhead of each path, not the
cost of a real model; pass --model-dir to measure a real exported cross-encoder. The service
runs on uvicorn in a thread of this process, on 127.0.0.1.

    python scripts/bench_reranker.py [--model-dir DIR] [--iterations 50] [--out bench.json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import platform
import random
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import uvicorn

from morgan.reranker import HttpReranker, InProcessReranker
from morgan.reranker.service import create_reranker_app

SCRIPTS = Path(__file__).resolve().parent
QUERY = "where does the cat sleep when it rains"
TINY_MODEL_LABEL = (
    "tiny random BERT cross-encoder (2 layers, hidden 32, 128-token window; "
    "measures overhead, not a real model)"
)


def build_tiny_model(out_dir: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "build_tiny_cross_encoder", SCRIPTS / "build_tiny_cross_encoder.py"
    )
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder.build_tiny_cross_encoder(out_dir)


def make_passages(count: int, seed: int) -> list[str]:
    """Chunk-sized passages (40-120 words) from a small word list."""
    rng = random.Random(seed)
    words = [
        "the",
        "cat",
        "dog",
        "house",
        "river",
        "rain",
        "music",
        "doctor",
        "book",
        "coffee",
        "city",
        "friend",
        "sleeps",
    ]
    return [" ".join(rng.choices(words, k=rng.randint(40, 120))) for _ in range(count)]


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(
    call: Callable[[], Awaitable[object]], iterations: int, warmup: int
) -> dict[str, float]:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(percentile(samples, 0.95), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


class ThreadedService:
    """The reranker service on uvicorn, on a socket bound before start-up."""

    def __init__(self, model_dir: Path, batch_size: int) -> None:
        self.app = create_reranker_app(model_dir, batch_size=batch_size)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ThreadedService:
        self.thread.start()
        state = self.app.state.reranker
        if not state.ready.wait(timeout=120) or state.error:
            raise SystemExit(f"reranker service did not load its model: {state.error}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


async def run(args: argparse.Namespace, model_dir: Path) -> dict[str, object]:
    in_process = InProcessReranker.from_model_dir(model_dir, batch_size=args.batch_size)
    in_process.warm_up()
    results: list[dict[str, object]] = []
    with ThreadedService(model_dir, args.batch_size) as service:
        http = HttpReranker(service.url, timeout_s=60)
        for size in args.sizes:
            passages = make_passages(size, seed=size)
            for path, reranker in (("in_process", in_process), ("http", http)):
                stats = await measure(
                    lambda r=reranker, p=passages: r.rerank(QUERY, p),
                    args.iterations,
                    args.warmup,
                )
                results.append({"passages": size, "path": path, **stats})
        await http.aclose()
    return {
        "model": str(model_dir) if args.model_dir else TINY_MODEL_LABEL,
        "providers": in_process.encoder.active_providers,
        "max_length": in_process.encoder.max_length,
        "batch_size": args.batch_size,
        "iterations": args.iterations,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "results": results,
    }


def render_table(report: dict[str, object]) -> str:
    lines = [
        f"model: {report['model']}",
        f"providers: {report['providers']}, window {report['max_length']} tokens, "
        f"batch {report['batch_size']}, {report['iterations']} iterations",
        f"{'passages':>8}  {'path':<10}  {'p50 ms':>9}  {'p95 ms':>9}  {'mean ms':>9}",
    ]
    for row in report["results"]:  # type: ignore[attr-defined]
        lines.append(
            f"{row['passages']:>8}  {row['path']:<10}  {row['p50_ms']:>9.2f}  "
            f"{row['p95_ms']:>9.2f}  {row['mean_ms']:>9.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a real exported cross-encoder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or build_tiny_model(Path(scratch) / "tiny-cross-encoder")
        report = asyncio.run(run(args, model_dir))
    print(render_table(report))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
