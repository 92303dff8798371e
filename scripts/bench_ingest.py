"""Ingestion throughput through Morgan's real `IngestService`, with per-stage timings, against
the raw embedding throughput of the same model in the same run, and chat latency during a
large ingest.

Two corpora in one run: the sample documents (PDF, DOCX, HTML, Markdown; failures are
counted, not fatal) and SciFact abstracts (`--scifact-limit` of them, as Markdown files).
Default settings: SQLite, blobs on disk, the shipped vector index, MiniLM on the CPU
(`--engine`), embedding during ingestion (no cache). Stage times come from the ingest
progress callback (extract, chunk, blob, saving) and from timing proxies around the embedder
and the vector index (embed, index); `sparse+other` is the rest of the embedding stage.

Raw embedding: the same embedder embeds the distinct texts ingestion embedded (the same
extract, chunk and title prefix), all in one call, before and after ingesting; `raw_texts_per_s`
is their mean. `ingest_vs_raw` = ingestion chunks/s ÷ raw texts/s (the goal is >= 0.8);
`same_texts_ratio` = raw seconds for those texts ÷ ingestion seconds.

Chat during ingest (`--chat-questions N`, 0 to skip): the real app over HTTP in-process
(AsyncTestClient, one event loop, as `morgan serve`), extractive LLM; N `/api/chat` calls on
a quiet server, then chats in a loop while another task uploads the SciFact files one by
one; p50/p95 of both and their ratio (goal: p95 during ingest <= 2x idle).

    python scripts/bench_ingest.py --documents ../shared/data/documents \
        --scifact ../shared/data/scifact --scifact-limit 300 --out bench_ingest.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


async def raw_embedding(services: Any, files: list[tuple[str, str, bytes]]) -> dict[str, Any]:
    """Seconds for the embedder alone on the distinct texts ingestion embeds for `files`."""
    from morgan.rag.chunking import load_minilm_tokenizer

    texts = await asyncio.to_thread(
        common.embedding_texts_for, [(f, d) for _, f, d in files], load_minilm_tokenizer()
    )
    distinct = list(dict.fromkeys(texts))
    t0 = time.perf_counter()
    await services.embedder.embed(distinct)
    return {
        "texts": len(texts),
        "distinct_texts": len(distinct),
        "seconds": time.perf_counter() - t0,
    }


def _engine_embedder(engine: str, home: Path) -> Any:
    from morgan.llm.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder(engine=engine, cache_dir=home / "models")  # type: ignore[arg-type]
    embedder.warm_up()
    return embedder


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from eval_retrieval import _progress

    common.quiet_logs()
    result: dict[str, Any] = {"vectors": args.vectors_url or args.vectors, "engine": args.engine}
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
                if args.engine != "auto":
                    embedder = _engine_embedder(args.engine, Path(home))
                    common.use_components(services, embedder=embedder)
                    services.embedder = embedder
                result["engine_loaded"] = getattr(services.embedder, "engine", "?")
                try:
                    before = await raw_embedding(services, files)
                    user, _ = await services.auth.create_user("bench")
                    r = await ingest_files(services, user.id, files, progress, f"ingest [{name}]")
                    after = await raw_embedding(services, files)
                finally:
                    await services.close()
                raw_s = (before["seconds"] + after["seconds"]) / 2
                r["raw_embedding"] = {
                    "texts": before["texts"],
                    "distinct_texts": before["distinct_texts"],
                    "seconds_before": round(before["seconds"], 2),
                    "seconds_after": round(after["seconds"], 2),
                    "raw_texts_per_s": round(before["distinct_texts"] / raw_s, 1),
                }
                r["ingest_vs_raw"] = round(
                    r["chunks_per_s"] / r["raw_embedding"]["raw_texts_per_s"], 3
                )
                r["same_texts_ratio"] = round(raw_s / r["seconds"], 3)
                result[name] = r
    if args.chat_questions and args.scifact:
        result["chat_during_ingest"] = await chat_during_ingest(
            corpora[-1][1], args.chat_questions, args.engine
        )
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return result


QUESTIONS = [
    "What reduces the risk of cardiovascular disease?",
    "Which genes are associated with breast cancer?",
    "How does insulin resistance develop?",
    "What is the role of T cells in autoimmunity?",
    "Does vitamin D supplementation prevent fractures?",
]


async def chat_during_ingest(
    files: list[tuple[str, str, bytes]], questions: int, engine: str
) -> dict[str, Any]:
    """/api/chat p50/p95 on a quiet server, then while the other files are being ingested."""
    from litestar.testing import AsyncTestClient

    from morgan.app import create_app
    from morgan.settings import load_settings

    seed, rest = files[: max(1, len(files) // 5)], files[max(1, len(files) // 5) :]
    with tempfile.TemporaryDirectory(prefix="morgan-bench-chat-") as home:
        settings = load_settings(
            {
                "MORGAN_HOME": home,
                "MORGAN_LLM_URL": "extractive://",
                "MORGAN_LOG_LEVEL": "warning",
                "MORGAN_LOG_FORMAT": "console",
                "MORGAN_RATE_LIMIT_PER_MINUTE": "0",  # one client asking back to back
            }
        )
        async with AsyncTestClient(create_app(settings, migrate=True), timeout=600) as client:
            headers = {"Authorization": f"Bearer {(Path(home) / 'token').read_text().strip()}"}

            errors: list[str] = []

            async def upload(batch: list[tuple[str, str, bytes]]) -> float:
                t0 = time.perf_counter()
                for _, filename, data in batch:
                    r = await client.post(
                        "/api/ingest", files={"file": (filename, data)}, headers=headers
                    )
                    if r.status_code != 200:
                        errors.append(f"ingest {filename}: {r.status_code} {r.text[:160]}")
                return time.perf_counter() - t0

            async def ask(i: int) -> float:
                t0 = time.perf_counter()
                r = await client.post(
                    "/api/chat", json={"message": QUESTIONS[i % len(QUESTIONS)]}, headers=headers
                )
                if r.status_code != 200:
                    errors.append(f"chat: {r.status_code} {r.text[:160]}")
                return (time.perf_counter() - t0) * 1000

            await upload(seed)
            await ask(0)  # warm-up
            idle = [await ask(i) for i in range(questions)]
            # The test client runs each request to completion on the caller's thread, so the
            # ingest must run in the server: background jobs (`wait=false`), as `morgan
            # ingest` sends them; chats go back to back until every job has ended.
            t0 = time.perf_counter()
            jobs: list[str] = []
            for _, filename, data in rest:
                r = await client.post(
                    "/api/ingest?wait=false", files={"file": (filename, data)}, headers=headers
                )
                if r.status_code != 202:
                    errors.append(f"ingest {filename}: {r.status_code} {r.text[:160]}")
                else:
                    jobs.extend(j["id"] for j in r.json()["jobs"])
            busy: list[float] = []
            while jobs:
                busy.append(await ask(len(busy)))
                still = []
                for job_id in jobs:
                    state = (await client.get(f"/api/ingest/jobs/{job_id}", headers=headers)).json()
                    if state["status"] in ("queued", "running"):
                        still.append(job_id)
                    elif state["status"] not in ("succeeded", "skipped"):
                        errors.append(f"job {job_id}: {state['status']} {state.get('error')}")
                jobs = still
            ingest_s = time.perf_counter() - t0

    def stats(values: list[float]) -> dict[str, float]:
        return {
            "n": len(values),
            "p50_ms": round(common.percentile(values, 0.5), 1),
            "p95_ms": round(common.percentile(values, 0.95), 1),
        }

    out = {
        "idle": stats(idle),
        "during_ingest": stats(busy),
        "errors": errors,
        "ingested_files": len(rest),
        "ingest_seconds": round(ingest_s, 1),
    }
    out["p95_ratio"] = round(out["during_ingest"]["p95_ms"] / out["idle"]["p95_ms"], 2)
    return out


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
    raw = Table(
        title=f"ingestion vs raw embedding, same run (engine: {result.get('engine_loaded')})"
    )
    for col in (
        "corpus",
        "chunks/s",
        "distinct texts",
        "raw texts/s",
        "ingest ÷ raw",
        "same texts: raw s ÷ ingest s",
    ):
        raw.add_column(col, justify="left" if col == "corpus" else "right")
    for name in ("documents", "scifact"):
        r = result.get(name)
        if r:
            e = r["raw_embedding"]
            raw.add_row(
                name,
                str(r["chunks_per_s"]),
                str(e["distinct_texts"]),
                str(e["raw_texts_per_s"]),
                str(r["ingest_vs_raw"]),
                str(r["same_texts_ratio"]),
            )
    Console().print(raw)
    chat = result.get("chat_during_ingest")
    if chat:
        Console().print(
            f"/api/chat idle p50/p95 {chat['idle']['p50_ms']}/{chat['idle']['p95_ms']} ms; "
            f"during ingest {chat['during_ingest']['p50_ms']}/{chat['during_ingest']['p95_ms']} ms "
            f"(n={chat['during_ingest']['n']}); p95 ratio {chat['p95_ratio']}; "
            f"{len(chat['errors'])} failed requests"
        )
        for error in chat["errors"][:10]:
            Console().print(f"  {error}")
    Console().print(f"load average {result.get('load_average')}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--documents", type=Path, help="folder of sample files (all formats)")
    p.add_argument("--scifact", type=Path, help="BEIR SciFact folder")
    p.add_argument("--split", default="train")
    p.add_argument("--scifact-limit", type=int, default=300, help="first N SciFact documents")
    p.add_argument("--vectors", choices=("qdrant", "exact"), default="qdrant")
    p.add_argument("--vectors-url", default="", help="Qdrant server URL")
    p.add_argument(
        "--engine",
        choices=("auto", "onnx", "torch"),
        default="auto",
        help="MiniLM engine (auto: ONNX Runtime, torch if it cannot load)",
    )
    p.add_argument(
        "--chat-questions",
        type=int,
        default=20,
        help="idle /api/chat calls before the chat-during-ingest phase (0: skip)",
    )
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
