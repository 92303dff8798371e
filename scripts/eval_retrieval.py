"""Retrieval quality of Morgan on a BEIR dataset: nDCG@10, Recall@10/100, MRR@10.

Every document goes through Morgan's real ingestion (`IngestService.ingest`, one Markdown
file per document whose front-matter title is the BEIR title) into a temp `MORGAN_HOME`
(SQLite, MiniLM, blobs on disk); every query goes through the real `Retriever.retrieve`,
and documents are ranked by `RetrievalResult.document_scores`. Three systems in one run:

* `morgan`: the full pipeline (`mode="hybrid"`: dense + BM25 over three granularities, RRF);
* `bm25`: the same retriever with `mode="sparse"`; `dense`: with `mode="dense"`.

Vector index: the shipped engine by default (`--vectors shipped`: Qdrant Edge in the temp
`MORGAN_HOME`, opened as the server opens it, so the HNSW build runs at start-up when the
corpus is large enough); `--vectors exact` swaps only the index for an exact in-memory one
with Qdrant's scoring (the reference); `--vectors-url http://...` a Qdrant server.
Embeddings are computed once by the real MiniLM embedder and cached on disk
(`--cache`), ahead of ingestion, shortest texts first.

    python scripts/eval_retrieval.py --dataset ../shared/data/scifact --split train \
        --out eval_scifact.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as common

MODES = {"morgan": "hybrid", "bm25": "sparse", "dense": "dense"}
DEFAULT_CACHE = Path.home() / ".cache" / "morgan-eval" / "embeddings.sqlite"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", type=Path, required=True, help="BEIR folder")
    p.add_argument("--split", default="test", help="qrels/SPLIT.tsv")
    p.add_argument("--out", type=Path, help="write the JSON result here")
    p.add_argument("--limit-queries", type=int, help="evaluate a seeded sample of N queries")
    p.add_argument(
        "--limit-docs", type=int, help="judged docs of the kept queries + others up to N"
    )
    p.add_argument("--vectors", choices=("shipped", "exact"), default="shipped")
    p.add_argument("--vectors-url", default="", help="Qdrant server URL (overrides --vectors)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="embedding cache (sqlite)")
    p.add_argument("--no-cache", action="store_true", help="embed during ingestion, no cache")
    p.add_argument(
        "--no-dense",
        action="store_true",
        help="sparse-only run: a constant embedder replaces MiniLM (systems=bm25)",
    )
    p.add_argument("--systems", default="morgan,bm25,dense", help="comma-separated subset")
    p.add_argument("--candidates", type=int, help="override Retriever.candidates_per_list")
    p.add_argument(
        "--dense-variants",
        action="store_true",
        help="also run morgan with the Edge index's graph at ef 128/256/512 and exact search",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--prime-only",
        action="store_true",
        help="only fill the embedding cache (judged documents first), then stop",
    )
    return p.parse_args(argv)


def _progress(quiet: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=quiet,
        transient=False,
    )


async def prime_embeddings(
    services: Any, embedder: common.EmbeddingCache, files: list[tuple[str, bytes]], progress: Any
) -> dict[str, Any]:
    """Embed what ingestion will embed, 100 documents at a time (so an interrupted run
    still leaves a usable cache for the documents it reached), shortest texts first."""
    t0 = time.perf_counter()
    task = progress.add_task("embedding (prime)", total=len(files))
    counter = services.ingest.token_counter
    embedded = unique = 0
    for start in range(0, len(files), 100):
        part = files[start : start + 100]
        texts = await asyncio.to_thread(common.embedding_texts_for, part, counter)
        unique += len(set(texts))
        embedded += await embedder.prime(texts)
        progress.update(task, completed=start + len(part))
    return {
        "prime_seconds": round(time.perf_counter() - t0, 1),
        "prime_embedded": embedded,
        "prime_cached": unique - embedded,
    }


async def ingest_corpus(
    services: Any,
    user_id: Any,
    data: common.BeirData,
    dataset_name: str,
    progress: Any,
    embedder: common.EmbeddingCache | None,
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Ingest every document; returns Morgan document id -> BEIR ids (duplicates share one)."""
    files = [
        (f"{doc_id}.md", common.beir_markdown(*data.corpus[doc_id]), doc_id)
        for doc_id in data.corpus
    ]
    stats: dict[str, Any] = {}
    if embedder is not None:
        stats.update(
            await prime_embeddings(services, embedder, [(f, b) for f, b, _ in files], progress)
        )
    doc_map: dict[str, list[str]] = {}
    failures: list[dict[str, str]] = []
    chunks = 0
    task = progress.add_task("ingesting", total=len(files))
    t0 = time.perf_counter()
    for filename, blob, doc_id in files:
        result = await services.ingest.ingest(
            user_id, source=f"beir://{dataset_name}/{doc_id}", filename=filename, data=blob
        )
        if result.document_id is None:
            failures.append({"doc": doc_id, "error": result.error or result.status})
        else:
            doc_map.setdefault(result.document_id, []).append(doc_id)
            if result.status != "skipped":
                chunks += result.chunks
        progress.advance(task)
    seconds = time.perf_counter() - t0
    stats.update(
        ingest_seconds=round(seconds, 1),
        docs_per_s=round(len(files) / seconds, 1) if seconds else None,
        chunks=chunks,
        duplicates=sum(len(v) - 1 for v in doc_map.values()),
        failures=len(failures),
        failure_examples=failures[:5],
    )
    return doc_map, stats


async def run_queries(
    services: Any,
    user_id: Any,
    data: common.BeirData,
    doc_map: dict[str, list[str]],
    mode: str,
    progress: Any,
    label: str,
) -> tuple[dict[str, float], list[float]]:
    """Every query through `Retriever.retrieve`: the scores of the run and its latencies."""
    run: dict[str, list[str]] = {}
    times: list[float] = []
    task = progress.add_task(f"queries [{label}]", total=len(data.queries))
    for qid, text in data.queries.items():
        t0 = time.perf_counter()
        retrieved = await services.retriever.retrieve(user_id, text, top_k=10, mode=mode)
        times.append((time.perf_counter() - t0) * 1000)
        ranked = [b for doc, _ in retrieved.document_scores for b in doc_map.get(str(doc), [])]
        run[qid] = ranked[:100]
        progress.advance(task)
    return common.score_run(run, data.qrels), times


DENSE_VARIANTS = {
    "graph_ef128": {"exact_up_to": 0, "search_ef": 128},
    "graph_ef256": {"exact_up_to": 0, "search_ef": 256},
    "graph_ef512": {"exact_up_to": 0, "search_ef": 512},
    "exact": {"exact_up_to": 1 << 62},
}


async def dense_variants(
    services: Any, user_id: Any, data: common.BeirData, doc_map: dict[str, list[str]], progress: Any
) -> dict[str, Any]:
    """The hybrid run again under other dense search settings of the same shipped Edge index
    (HNSW + ACORN at several ef, and exact search), after the same single ingest."""
    index = services.vectors
    if not hasattr(index, "exact_up_to"):
        return {}
    keep = {name: getattr(index, name) for name in ("exact_up_to", "search_ef")}
    out: dict[str, Any] = {}
    try:
        for name, settings in DENSE_VARIANTS.items():
            for attr, value in settings.items():
                setattr(index, attr, value)
            score, times = await run_queries(
                services, user_id, data, doc_map, "hybrid", progress, f"morgan, {name}"
            )
            out[name] = {
                **score,
                "p50_ms": round(common.percentile(times, 0.5), 1),
                "p95_ms": round(common.percentile(times, 0.95), 1),
            }
    finally:
        for attr, value in keep.items():
            setattr(index, attr, value)
    return out


async def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    common.quiet_logs()
    data = common.load_beir(
        args.dataset, args.split, limit_queries=args.limit_queries, limit_docs=args.limit_docs
    )
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    started = time.perf_counter()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="morgan-eval-") as home:
        services = await common.morgan_services(Path(home), vectors_url=args.vectors_url)
        try:
            embedder = None
            if args.no_dense:
                common.use_components(services, embedder=common.ConstantEmbedder())
                systems = ["bm25"]
            elif not args.no_cache:
                embedder = common.EmbeddingCache(services.embedder, args.cache)
                common.use_components(services, embedder=embedder)
            if args.vectors == "exact" and not args.vectors_url:
                common.use_components(
                    services, vectors=common.ExactVectorIndex(dimension=services.embedder.dimension)
                )
            if args.candidates:
                services.retriever.candidates_per_list = args.candidates
            if args.prime_only and embedder is not None:
                judged = {d for rel in data.qrels.values() for d in rel}
                order = sorted(data.corpus, key=lambda d: d not in judged)
                files = [(f"{d}.md", common.beir_markdown(*data.corpus[d])) for d in order]
                with _progress(args.quiet) as progress:
                    stats = await prime_embeddings(services, embedder, files, progress)
                await embedder.prime(list(data.queries.values()))
                return {"prime": stats, "docs": len(files), "queries": len(data.queries)}
            user, _ = await services.auth.create_user("eval")
            with _progress(args.quiet) as progress:
                doc_map, ingest_stats = await ingest_corpus(
                    services, user.id, data, args.dataset.name, progress, embedder
                )
                if args.vectors == "shipped" or args.vectors_url:
                    # Measured as a server serves it after a restart (HNSW built when due).
                    index, ingest_stats["startup_seconds"] = await common.reopen_vectors(
                        services, services.vectors, dimension=services.embedder.dimension
                    )
                    common.use_components(services, vectors=index)
                if embedder is not None:
                    await embedder.prime(list(data.queries.values()))
                latencies: dict[str, list[float]] = {}
                for system in systems:
                    result[system], latencies[system] = await run_queries(
                        services, user.id, data, doc_map, MODES[system], progress, system
                    )
                if args.dense_variants:
                    result["dense_variants"] = await dense_variants(
                        services, user.id, data, doc_map, progress
                    )
        finally:
            await services.close()
    result.update(
        queries=len(data.queries),
        docs=len(data.corpus),
        seconds=round(time.perf_counter() - started, 1),
        dataset=str(args.dataset),
        split=args.split,
        vectors=args.vectors_url or args.vectors,
        candidates_per_list=args.candidates or services.retriever.candidates_per_list,
        ingest=ingest_stats,
        latency_ms={
            s: {
                "p50": round(common.percentile(v, 0.5), 1),
                "p95": round(common.percentile(v, 0.95), 1),
            }
            for s, v in latencies.items()
        },
    )
    return result


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{result['dataset']} [{result['split']}]: {result['queries']} queries, "
        f"{result['docs']} docs, {result['seconds']} s"
    )
    for col in ("system", "nDCG@10", "Recall@10", "Recall@100", "MRR@10", "p50 ms"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for system in MODES:
        if system in result:
            m = result[system]
            table.add_row(
                system,
                *(f"{m[k]:.4f}" for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10")),
                f"{result['latency_ms'][system]['p50']:.1f}",
            )
    for name, m in result.get("dense_variants", {}).items():
        table.add_row(
            f"morgan, dense {name}",
            *(f"{m[k]:.4f}" for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10")),
            f"{m['p50_ms']:.1f}",
        )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(evaluate(args))
    if args.prime_only:
        print(json.dumps(result))
        return 0
    print_table(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
