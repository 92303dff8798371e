"""Retrieval latency (p50/p95) and dense recall@10 of the shipped vector engine vs exact.

SciFact abstracts are ingested through the real `IngestService` (embeddings from the
on-disk cache that `eval_retrieval.py` fills, computed by the same MiniLM), giving the first
level (about 5k chunks from 600 abstracts). The index is then filled up to each next level
by *direct* upserts of perturbed copies of those points: new chunk, document and section
ids, alternately owned by the benchmark user and a second user (so the user filter matters,
as on a shared server), the dense vector plus 5 % Gaussian noise (renormalised), the sparse
weights scaled by a random 0.8-1.2. Copies have no database rows, so `Retriever` drops them
when it fetches passage text, as it drops any vector without rows; they still cost the
searches and the fusion.

Both engines hold the very same points: every write goes to the shipped engine (Qdrant
Edge in the temp `MORGAN_HOME`, or `--vectors-url` a server) and to the exact in-memory
index. Per level:

* `shipped_before_restart`: hybrid latency right after the fill, as a running server sees
  it (new points are searched by filtered brute force; nothing is built while serving);
* the shipped engine is then closed and opened again exactly as start-up opens it (which
  builds HNSW when enough points arrived: `startup_seconds`), and measured: `shipped`;
* `exact`: the same retriever with the exact index swapped in;
* `recall_at_10`: for every query and granularity, the shipped engine's filtered dense top
  10 against the exact one (`--sweep` adds search-time variants: hnsw_ef, ACORN).

Queries go through `Retriever.retrieve` with the real (uncached) embedder, so the latency
includes embedding the query; `search_ms` is the batched vector search alone.

    python scripts/bench_retrieval.py --scifact ../shared/data/scifact \
        --levels 5000,50000,200000 --engines shipped,exact --out bench_retrieval.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
GRANULARITIES = ("coarse", "medium", "fine")


class _Tee:
    """Every write goes to the shipped index and to the exact one; the points are kept."""

    def __init__(self, shipped: Any, exact: Any) -> None:
        self.shipped = shipped
        self.exact = exact
        self.points: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shipped, name)

    async def upsert(self, points: Any) -> None:
        self.points.extend(points)
        await self.shipped.upsert(points)
        await self.exact.upsert(points)

    async def delete_document(self, user_id: Any, document_id: Any) -> None:
        await self.shipped.delete_document(user_id, document_id)
        await self.exact.delete_document(user_id, document_id)

    async def delete_chunks(self, chunk_ids: Any) -> None:
        await self.shipped.delete_chunks(chunk_ids)
        await self.exact.delete_chunks(chunk_ids)


async def fill_to(
    tee: _Tee,
    seed_points: list[Any],
    target: int,
    have: int,
    users: list[Any],
    progress: Any,
    rng: random.Random,
) -> int:
    from morgan.storage.vectors import VectorPoint

    task = progress.add_task(f"fill to {target}", total=max(target - have, 0))
    nrng = np.random.default_rng(rng.randrange(2**31))
    batch: list[Any] = []
    copy = 0
    while have < target:
        copy += 1
        owner = users[copy % len(users)]
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
                    user_id=owner,
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
                await tee.shipped.upsert(batch)
                await tee.exact.upsert(batch)
                progress.advance(task, len(batch))
                batch = []
    if batch:
        await tee.shipped.upsert(batch)
        await tee.exact.upsert(batch)
        progress.advance(task, len(batch))
    return have


async def latency(
    services: Any,
    user_id: Any,
    queries: list[str],
    progress: Any,
    label: str,
    modes: tuple[str, ...] = MODES,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in modes:
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
    return out


async def dense_recall(
    shipped: Any, exact: Any, user_id: Any, vectors: list[list[float]], k: int = 10
) -> float:
    from morgan.storage.vectors import VectorQuery

    scores: list[float] = []
    for v in vectors:
        queries = [VectorQuery.dense_query(v, granularity=g, limit=k) for g in GRANULARITIES]
        got = await shipped.search(user_id, queries)
        want = await exact.search(user_id, queries)
        for g, w in zip(got, want, strict=True):
            if len(w) >= k:
                scores.append(len({h.chunk_id for h in g} & {h.chunk_id for h in w}) / k)
    return round(float(np.mean(scores)), 4) if scores else float("nan")


async def sweep(shipped: Any, exact: Any, user_id: Any, vectors: list[list[float]]) -> Any:
    """Search-time variants on the same built index (Edge only): recall and search time."""
    from morgan.storage.vectors import VectorQuery

    if not hasattr(shipped, "search_ef"):
        return {}
    keep = (shipped.search_ef, shipped.acorn, shipped.exact_up_to)
    shipped.exact_up_to = 0  # the graph at every level, also where the engine scans exactly
    out: dict[str, Any] = {}
    for ef in (64, 128, 256):
        for acorn in (False, True):
            shipped.search_ef, shipped.acorn = ef, acorn
            times = []
            for v in vectors:
                queries = [
                    VectorQuery.dense_query(v, granularity=g, limit=40) for g in GRANULARITIES
                ]
                t0 = time.perf_counter()
                await shipped.search(user_id, queries)
                times.append((time.perf_counter() - t0) * 1000)
            out[f"ef{ef}{'_acorn' if acorn else ''}"] = {
                "recall_at_10": await dense_recall(shipped, exact, user_id, vectors),
                "dense3_p50_ms": round(common.percentile(times, 0.5), 1),
                "dense3_p95_ms": round(common.percentile(times, 0.95), 1),
            }
    shipped.search_ef, shipped.acorn, shipped.exact_up_to = keep
    return out


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    common.quiet_logs()
    data = common.load_beir(args.scifact, args.split)
    rng = random.Random(5)
    judged = {d for rel in data.qrels.values() for d in rel}
    # Judged documents first: the order in which `eval_retrieval.py --prime-only` caches them.
    doc_ids = sorted(data.corpus, key=lambda d: d not in judged)[: args.docs]
    queries = rng.sample(list(data.queries.values()), min(args.queries, len(data.queries)))
    result: dict[str, Any] = {
        "docs": args.docs,
        "queries": len(queries),
        "engines": args.engines,
        "load_before": os.getloadavg(),
        "levels": {},
    }
    with (
        tempfile.TemporaryDirectory(prefix="morgan-bench-") as home,
        _progress(args.quiet) as progress,
    ):
        services = await common.morgan_services(Path(home), vectors_url=args.vectors_url)
        exact = common.ExactVectorIndex(dimension=services.embedder.dimension)
        tee: _Tee | None = None
        try:
            shipped = services.vectors
            if hasattr(shipped, "connect"):  # the server's lazy wrapper: unwrap once connected
                await shipped.connect()
                shipped = shipped._index  # the benchmark swaps the real index
            result["shipped_backend"] = shipped.backend
            tee = _Tee(shipped, exact)
            services.ingest.vectors = tee
            services.ingest.embedder = common.EmbeddingCache(services.embedder, args.cache)
            user, _ = await services.auth.create_user("bench")
            users = [user.id, uuid.uuid4()]
            task = progress.add_task(f"ingest {len(doc_ids)} docs", total=len(doc_ids))
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
            qvecs = await services.embedder.embed(queries)
            have = len(tee.points)
            for level in args.levels:
                t0 = time.perf_counter()
                have = await fill_to(tee, tee.points, level, have, users, progress, rng)
                row: dict[str, Any] = {
                    "chunks": await exact.count(),
                    "user_chunks": await exact.count(user.id),
                    "fill_seconds": round(time.perf_counter() - t0, 1),
                }
                if "shipped" in args.engines:
                    common.use_components(services, vectors=tee.shipped)
                    row["shipped_before_restart"] = await latency(
                        services, user.id, queries, progress, f"[live] {level}", ("hybrid",)
                    )
                    tee.shipped, row["startup_seconds"] = await common.reopen_vectors(
                        services, tee.shipped, dimension=exact.dimension
                    )
                    common.use_components(services, vectors=tee.shipped)
                    row["shipped"] = await latency(
                        services, user.id, queries, progress, f"[shipped] {level}"
                    )
                    row["shipped"]["recall_at_10"] = await dense_recall(
                        tee.shipped, exact, user.id, qvecs
                    )
                    if args.sweep:
                        row["sweep"] = await sweep(tee.shipped, exact, user.id, qvecs)
                    row["stats"] = _plain(await tee.shipped.stats())
                if "exact" in args.engines:
                    common.use_components(services, vectors=exact)
                    row["exact"] = await latency(
                        services, user.id, queries, progress, f"[exact] {level}"
                    )
                    row["exact"]["recall_at_10"] = 1.0
                common.use_components(services, vectors=tee)
                services.ingest.vectors = tee
                row["load"] = os.getloadavg()
                result["levels"][str(level)] = row
                if args.out:  # a long run leaves its finished levels behind
                    args.out.write_text(json.dumps(result, indent=2) + "\n")
        finally:
            if tee is not None:
                services.vectors = tee.shipped
            await services.close()
    return result


def _plain(stats: Any) -> dict[str, Any]:
    return {k: getattr(stats, k) for k in ("points", "segments", "indexed_points")}


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"retrieval, {result['queries']} queries, top_k=5 (ms)")
    for col in ("engine", "chunks", *(f"{m} p50/p95" for m in MODES), "search p50", "recall@10"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for row in result["levels"].values():
        live = row.get("shipped_before_restart")
        if live:
            h = live["hybrid"]
            table.add_row(
                "shipped, before restart",
                str(row["chunks"]),
                f"{h['p50_ms']:.0f}/{h['p95_ms']:.0f}",
                "",
                "",
                f"{h['search_p50_ms']:.0f}",
                "",
            )
        for engine in ("shipped", "exact"):
            r = row.get(engine)
            if not r:
                continue
            table.add_row(
                engine,
                str(row["chunks"]),
                *(f"{r[m]['p50_ms']:.0f}/{r[m]['p95_ms']:.0f}" for m in MODES),
                f"{r['hybrid']['search_p50_ms']:.0f}",
                f"{r['recall_at_10']:.3f}",
            )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scifact", type=Path, required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--docs", type=int, default=600, help="SciFact abstracts ingested for real")
    p.add_argument(
        "--levels", type=lambda s: [int(x) for x in s.split(",")], default=[5000, 50000, 200000]
    )
    p.add_argument("--queries", type=int, default=40)
    p.add_argument(
        "--engines",
        type=lambda s: s.split(","),
        default=["shipped", "exact"],
        help="comma list of shipped (Qdrant Edge, or --vectors-url), exact",
    )
    p.add_argument("--vectors-url", default="", help="a Qdrant server as the shipped engine")
    p.add_argument("--sweep", action="store_true", help="also sweep hnsw_ef x ACORN per level")
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
