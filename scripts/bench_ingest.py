"""Ingestion throughput through Morgan's real `IngestService`, with per-stage timings.

Two corpora in one run: the sample documents (PDF, DOCX, HTML, Markdown; failures are
counted, not fatal) and SciFact abstracts (`--scifact-limit` of them, as Markdown files).
Default settings: SQLite, blobs on disk, qdrant local mode, MiniLM on the CPU, embedding
during ingestion (no cache). Stage times come from the ingest progress callback (extract,
chunk, blob, saving) and from timing proxies around the embedder and the vector index
(embed, index); `sparse+other` is the rest of the embedding stage (BM25 encoding, batching).

    python scripts/bench_ingest.py --documents ../shared/data/documents \
        --scifact ../shared/data/scifact --scifact-limit 300 --out bench_ingest.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_common as common

FORMATS = {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt"}
STAGE_OF_EVENT = {
    "extracting": "extract",
    "chunking": "chunk",
    "storing": "blob",
    "embedding": "embed+index",
    "saving": "db",
    "done": None,
}


class _Timed:
    """Adds the wall time of one async method of `inner` to `totals[label]`."""

    def __init__(self, inner: Any, method: str, label: str, totals: dict[str, float]) -> None:
        self._inner, self._method, self._label, self._totals = inner, method, label, totals

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                self._totals[self._label] += time.perf_counter() - t0

        return timed


async def ingest_files(
    services: Any, user_id: Any, files: list[tuple[str, str, bytes]], progress: Any, label: str
) -> dict[str, Any]:
    totals: dict[str, float] = defaultdict(float)
    services.ingest.embedder = _Timed(services.embedder, "embed", "embed", totals)
    services.ingest.vectors = _Timed(services.vectors, "upsert", "index", totals)
    docs = chunks = pages = failed = 0
    size = 0
    errors: list[str] = []
    task = progress.add_task(label, total=len(files))
    t_start = time.perf_counter()
    for source, filename, data in files:
        marks: list[tuple[str, float]] = []

        async def on_progress(stage: str, done: int, total: int, marks: list = marks) -> None:
            if not marks or marks[-1][0] != stage:
                marks.append((stage, time.perf_counter()))

        result = await services.ingest.ingest(
            user_id, source=source, filename=filename, data=data, progress=on_progress
        )
        end = time.perf_counter()
        for (stage, t0), (_, t1) in zip(marks, [*marks[1:], ("end", end)], strict=True):
            name = STAGE_OF_EVENT.get(stage)
            if name:
                totals[name] += t1 - t0
        size += len(data)
        if result.status == "failed":
            failed += 1
            errors.append(f"{filename}: {result.code}")
        else:
            docs += 1
            chunks += result.chunks
            pages += result.pages or 0
        progress.advance(task)
    seconds = time.perf_counter() - t_start
    stages = {k: round(v, 2) for k, v in sorted(totals.items())}
    if "embed+index" in totals:
        stages["sparse+other"] = round(totals["embed+index"] - totals["embed"] - totals["index"], 2)
    return {
        "files": len(files),
        "ingested": docs,
        "failed": failed,
        "errors": errors,
        "chunks": chunks,
        "pages": pages,
        "megabytes": round(size / 1e6, 2),
        "seconds": round(seconds, 2),
        "documents_per_s": round(len(files) / seconds, 2),
        "chunks_per_s": round(chunks / seconds, 1),
        "pages_per_s": round(pages / seconds, 2),
        "mb_per_s": round(size / 1e6 / seconds, 3),
        "stage_seconds": stages,
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from eval_retrieval import _progress

    common.quiet_logs()
    result: dict[str, Any] = {"vectors": args.vectors_url or args.vectors}
    corpora: list[tuple[str, list[tuple[str, str, bytes]]]] = []
    if args.documents:
        files = sorted(
            p
            for p in args.documents.rglob("*")
            if p.is_file() and p.suffix.lower() in FORMATS and p.name.lower() != "readme.md"
        )
        corpora.append(("documents", [(str(p), p.name, p.read_bytes()) for p in files]))
    if args.scifact:
        data = common.load_beir(args.scifact, args.split, limit_docs=None)
        ids = list(data.corpus)[: args.scifact_limit]
        corpora.append(
            (
                "scifact",
                [
                    (f"beir://scifact/{d}", f"{d}.md", common.beir_markdown(*data.corpus[d]))
                    for d in ids
                ],
            )
        )
    with _progress(args.quiet) as progress:
        for name, files in corpora:
            with tempfile.TemporaryDirectory(prefix="morgan-bench-") as home:
                services = await common.morgan_services(Path(home), vectors_url=args.vectors_url)
                if args.vectors == "exact" and not args.vectors_url:
                    common.use_components(services, vectors=common.ExactVectorIndex())
                    services.vectors = services.ingest.vectors
                try:
                    user, _ = await services.auth.create_user("bench")
                    result[name] = await ingest_files(
                        services, user.id, files, progress, f"ingest [{name}]"
                    )
                finally:
                    await services.close()
    return result


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ingestion throughput (vectors: {result['vectors']})")
    cols = (
        "corpus",
        "files",
        "failed",
        "chunks",
        "pages",
        "MB",
        "s",
        "docs/s",
        "chunks/s",
        "pages/s",
        "MB/s",
    )
    for col in cols:
        table.add_column(col, justify="left" if col == "corpus" else "right")
    stages = Table(title="stage seconds (summed over files)")
    stage_names = ("extract", "chunk", "blob", "embed", "index", "sparse+other", "db")
    for col in ("corpus", *stage_names):
        stages.add_column(col, justify="left" if col == "corpus" else "right")
    for name in ("documents", "scifact"):
        r = result.get(name)
        if not r:
            continue
        table.add_row(
            name,
            *(
                str(r[k])
                for k in (
                    "files",
                    "failed",
                    "chunks",
                    "pages",
                    "megabytes",
                    "seconds",
                    "documents_per_s",
                    "chunks_per_s",
                    "pages_per_s",
                    "mb_per_s",
                )
            ),
        )
        stages.add_row(name, *(str(r["stage_seconds"].get(s, 0.0)) for s in stage_names))
    Console().print(table)
    Console().print(stages)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--documents", type=Path, help="folder of sample files (all formats)")
    p.add_argument("--scifact", type=Path, help="BEIR SciFact folder")
    p.add_argument("--split", default="train")
    p.add_argument("--scifact-limit", type=int, default=300, help="first N SciFact documents")
    p.add_argument("--vectors", choices=("qdrant", "exact"), default="qdrant")
    p.add_argument("--vectors-url", default="", help="Qdrant server URL")
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
