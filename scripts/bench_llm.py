"""Benchmark the CPU LLM backends: load time, time to first token, tokens per second.

    python scripts/bench_llm.py --out bench_llm.json
    python scripts/bench_llm.py --backends embedded --runs 5 --threads 2

Runs grounded questions (the shape the chat pipeline sends) through `EmbeddedGGUFLLM`
(the bundled Gemma 3 270M GGUF via llama.cpp) and `ExtractiveLLM` as a no-model baseline,
streaming each answer. Decode rate excludes the time to the first token (prompt reading).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from morgan.llm.base import LLM, GenerationRequest, SourcePassage
from morgan.llm.extractive import ExtractiveLLM

QUESTIONS: list[GenerationRequest] = [
    GenerationRequest(
        question="Where is the spare key to the garden shed?",
        sources=(
            SourcePassage(
                1,
                "House notes",
                "The spare key to the garden shed is hidden "
                "under the blue flower pot by the back door.",
            ),
            SourcePassage(2, "Recipes", "Pancakes need two eggs and a cup of milk."),
        ),
        temperature=0.0,
        max_tokens=64,
    ),
    GenerationRequest(
        question="When does the community pool open on weekends?",
        sources=(
            SourcePassage(
                1,
                "Pool rules",
                "On weekdays the pool opens at 6 am. On "
                "weekends it opens at 8 am and closes at 6 pm.",
            ),
            SourcePassage(2, "Newsletter", "Swim caps are required in the lap lanes."),
        ),
        temperature=0.0,
        max_tokens=64,
    ),
    GenerationRequest(
        question="How much did the flights to Lisbon cost?",
        sources=(
            SourcePassage(
                1,
                "Trip budget",
                "Flights to Lisbon cost 420 euros for two. "
                "The hotel near the river costs 90 euros per night.",
            ),
            SourcePassage(2, "Trip plan", "We land in Lisbon on May 3 and take the tram."),
        ),
        temperature=0.0,
        max_tokens=64,
    ),
]


async def bench_backend(llm: LLM, runs: int) -> dict[str, Any]:
    ttfts: list[float] = []
    decode_rates: list[float] = []
    totals: list[float] = []
    tokens: list[int] = []
    answers: list[str] = []
    for index in range(runs):
        request = QUESTIONS[index % len(QUESTIONS)]
        started = time.perf_counter()
        first: float | None = None
        pieces: list[str] = []
        async for delta in llm.stream(request):
            if first is None:
                first = time.perf_counter() - started
            pieces.append(delta)
        total = time.perf_counter() - started
        text = "".join(pieces)
        count = llm.count_tokens(text)
        ttfts.append(first or total)
        totals.append(total)
        tokens.append(count)
        if count > 1 and first is not None and total > first:
            decode_rates.append((count - 1) / (total - first))
        if index < len(QUESTIONS):
            answers.append(text)
    return {
        "runs": runs,
        "ttft_s_median": statistics.median(ttfts),
        "ttft_s_max": max(ttfts),
        "decode_tokens_per_s_median": statistics.median(decode_rates) if decode_rates else None,
        "overall_tokens_per_s": sum(tokens) / sum(totals) if sum(totals) else None,
        "answer_tokens_median": statistics.median(tokens),
        "answers": answers,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_1m": os.getloadavg()[0],
        },
        "backends": {},
    }
    if "embedded" in args.backends:
        from morgan.llm.embedded import EmbeddedGGUFLLM, bundled_model_path

        with tempfile.TemporaryDirectory() as cache:
            started = time.perf_counter()
            path = bundled_model_path(cache)
            assemble_s = time.perf_counter() - started
            llm = EmbeddedGGUFLLM(model_path=path, n_threads=args.threads)
            started = time.perf_counter()
            await llm.warm_up()
            load_s = time.perf_counter() - started
            row = await bench_backend(llm, args.runs)
            row.update(
                assemble_s=assemble_s,
                load_s=load_s,
                threads=args.threads or "auto",
                context_window=llm.context_window,
                trained_context=llm.trained_context_length,
            )
            results["backends"]["embedded"] = row
    if "extractive" in args.backends:
        llm = ExtractiveLLM()
        row = await bench_backend(llm, args.runs)
        row.update(assemble_s=0.0, load_s=0.0)
        results["backends"]["extractive"] = row
    return results


def print_table(results: dict[str, Any]) -> None:
    header = (
        f"{'backend':<11} {'load s':>7} {'TTFT s':>7} {'decode tok/s':>13} "
        f"{'overall tok/s':>14} {'tokens':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, row in results["backends"].items():
        decode = row["decode_tokens_per_s_median"]
        overall = row["overall_tokens_per_s"]
        print(
            f"{name:<11} {row['load_s']:>7.2f} {row['ttft_s_median']:>7.3f} "
            f"{(f'{decode:.1f}' if decode else '-'):>13} "
            f"{(f'{overall:.1f}' if overall else '-'):>14} {row['answer_tokens_median']:>7}"
        )
    for name, row in results["backends"].items():
        for answer in row["answers"]:
            print(f"  {name}: {answer!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends", default="embedded,extractive", type=lambda value: value.split(",")
    )
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument(
        "--threads", type=int, default=None, help="llama.cpp threads (default: half the CPUs)"
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print_table(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
