"""Retrieval latency (p50/p95) at two index sizes, hybrid vs dense-only vs sparse-only.

SciFact abstracts are ingested through the real `IngestService` (embeddings from the
on-disk cache that `eval_retrieval.py` fills, computed by the same MiniLM), giving the first
level (about 5k chunks from 600 abstracts). The index is then filled up to the next level
by *direct* upserts of perturbed copies of those points: new chunk, document and section
ids, the dense vector plus 5 % Gaussian noise (renormalised), the sparse weights scaled by
a random 0.8-1.2. Copies have no database rows, so `Retriever` drops them when it fetches
passage text, as it drops any vector without rows; they still cost the searches and the
fusion. Queries go through `Retriever.retrieve` with the real (uncached) embedder, so the
latency includes embedding the query; `search_ms` is the vector search part alone.

    python scripts/bench_retrieval.py --scifact ../shared/data/scifact --docs 600 \
        --levels 5000,50000 --queries 20 --vectors qdrant,exact --out bench_retrieval.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as common
from eval_retrieval import DEFAULT_CACHE, _progress

MODES = ("hybrid", "dense", "sparse")


class _Recorder:
    """Keeps a copy of every point ingestion writes, to clone them later."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.points: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def upsert(self, points: Any) -> None:
        self.points.extend(points)
        await self.inner.upsert(points)


async def fill_to(
    index: Any, seed_points: list[Any], target: int, have: int, progress: Any, rng: random.Random
) -> int:
    from morgan.storage.vectors import VectorPoint

    task = progress.add_task(f"fill to {target}", total=max(target - have, 0))
    nrng = np.random.default_rng(rng.randrange(2**31))
    batch: list[Any] = []
    copy = 0
    while have < target:
        copy += 1
        docs: dict[uuid.UUID, uuid.UUID] = {}
        sections: dict[uuid.UUID, uuid.UUID] = {}
        for p in seed_points:
            if have >= target:
                break
            dense = np.asarray(p.dense, dtype=np.float32)
            dense = dense + nrng.normal(0, 0.05 / np.sqrt(len(dense)), len(dense)).astype(
                np.float32
            )
            dense /= np.linalg.norm(dense)
            batch.append(
                VectorPoint(
                    chunk_id=uuid.uuid4(),
                    user_id=p.user_id,
                    document_id=docs.setdefault(p.document_id, uuid.uuid4()),
                    section_id=sections.setdefault(p.section_id, uuid.uuid4()),
                    granularity=p.granularity,
                    dense=dense.tolist(),
                    sparse_indices=list(p.sparse_indices),
                    sparse_values=[v * rng.uniform(0.8, 1.2) for v in p.sparse_values],
                )
            )
            have += 1
            if len(batch) >= 256:
                await index.upsert(batch)
                progress.advance(task, len(batch))
                batch = []
    if batch:
        await index.upsert(batch)
        progress.advance(task, len(batch))
    return have


async def measure(
    services: Any, user_id: Any, queries: list[str], progress: Any, label: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in MODES:
        await services.retriever.retrieve(user_id, queries[0], top_k=5, mode=mode)  # warm
        total, search = [], []
        task = progress.add_task(f"{label} {mode}", total=len(queries))
        for q in queries:
            t0 = time.perf_counter()
            r = await services.retriever.retrieve(user_id, q, top_k=5, mode=mode)
            total.append((time.perf_counter() - t0) * 1000)
            search.append(r.timings.get("search_ms", 0.0))
            progress.advance(task)
        out[mode] = {
            "p50_ms": round(common.percentile(total, 0.5), 1),
            "p95_ms": round(common.percentile(total, 0.95), 1),
            "search_p50_ms": round(common.percentile(search, 0.5), 1),
            "search_p95_ms": round(common.percentile(search, 0.95), 1),
        }
    base = out["dense"]["p50_ms"] or 1.0
    for mode in MODES:
        out[mode]["vs_dense"] = round(out[mode]["p50_ms"] / base, 2)
    return out


async def bench_backend(
    args: argparse.Namespace, backend: str, data: common.BeirData, progress: Any
) -> dict[str, Any]:
    rng = random.Random(5)
    doc_ids = list(data.corpus)[: args.docs]
    queries = list(data.queries.values())
    queries = rng.sample(queries, min(args.queries, len(queries)))
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="morgan-bench-") as home:
        services = await common.morgan_services(
            Path(home), vectors_url=args.vectors_url if backend == "server" else ""
        )
        try:
            if backend == "exact":
                common.use_components(services, vectors=common.ExactVectorIndex())
            recorder = _Recorder(services.ingest.vectors)
            services.ingest.vectors = recorder
            services.ingest.embedder = common.EmbeddingCache(services.embedder, args.cache)
            user, _ = await services.auth.create_user("bench")
            task = progress.add_task(f"[{backend}] ingest {len(doc_ids)} docs", total=len(doc_ids))
            t0 = time.perf_counter()
            for d in doc_ids:
                await services.ingest.ingest(
                    user.id,
                    source=f"beir://scifact/{d}",
                    filename=f"{d}.md",
                    data=common.beir_markdown(*data.corpus[d]),
                )
                progress.advance(task)
            result["ingest_seconds"] = round(time.perf_counter() - t0, 1)
            have = len(recorder.points)
            index = recorder.inner
            for level in args.levels:
                t0 = time.perf_counter()
                have = await fill_to(index, recorder.points, level, have, progress, rng)
                fill_s = round(time.perf_counter() - t0, 1)
                chunks = await index.count(user.id)
                result[str(level)] = {
                    "chunks": chunks,
                    "fill_seconds": fill_s,
                    **await measure(services, user.id, queries, progress, f"[{backend}] {chunks}"),
                }
        finally:
            await services.close()
    return result


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    common.quiet_logs()
    data = common.load_beir(args.scifact, args.split)
    result: dict[str, Any] = {"docs": args.docs, "queries": args.queries, "levels": args.levels}
    with _progress(args.quiet) as progress:
        for backend in args.vectors:
            result[backend] = await bench_backend(args, backend, data, progress)
    return result


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"retrieval latency, {result['queries']} queries, top_k=5 (ms)")
    for col in (
        "index",
        "chunks",
        *(f"{m} p50/p95" for m in MODES),
        "hybrid/dense",
        "sparse/dense",
    ):
        table.add_column(col, justify="left" if col == "index" else "right")
    for backend in ("qdrant", "exact", "server"):
        for level in result.get("levels", []):
            r = result.get(backend, {}).get(str(level))
            if not r:
                continue
            table.add_row(
                backend,
                str(r["chunks"]),
                *(f"{r[m]['p50_ms']:.0f}/{r[m]['p95_ms']:.0f}" for m in MODES),
                f"{r['hybrid']['vs_dense']:.2f}",
                f"{r['sparse']['vs_dense']:.2f}",
            )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scifact", type=Path, required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--docs", type=int, default=600, help="SciFact abstracts ingested for real")
    p.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[5000, 50000])
    p.add_argument("--queries", type=int, default=20)
    p.add_argument(
        "--vectors",
        type=lambda s: s.split(","),
        default=["qdrant", "exact"],
        help="comma list of qdrant (local mode), exact, server (needs --vectors-url)",
    )
    p.add_argument("--vectors-url", default="")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--out", type=Path)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    result = asyncio.run(bench(args))
    print_table(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
