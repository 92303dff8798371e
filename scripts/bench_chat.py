"""Benchmark the first slice end to end over HTTP: ingestion throughput and /api/chat latency.

Runs the real app in-process (Litestar test client: full HTTP stack, real SQLite, qdrant
local mode, MiniLM) on a temp MORGAN_HOME, ingests the sample documents, then asks questions.
Baselines in the same run: `/api/chat` with `rag=false` (no retrieval) isolates the cost of
retrieval; each LLM backend given with --llm is measured on the same questions.

    python scripts/bench_chat.py --docs ../shared/data/documents --out bench_chat.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tempfile
import time
from pathlib import Path

from _bench_common import percentile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    "How do I extract text from a PDF with pypdf?",
    "What does the layout mode of extract_text do?",
    "What is a Hermitian matrix?",
    "What options does Readability accept?",
    "How do you build standalone WebAssembly with Emscripten?",
    "What are the eigenvalues of a Hermitian matrix?",
    "What is the US Trustee Handbook about?",
    "Which tables are in the steel datasheet?",
    "What happened at the siege of Vicksburg?",
    "How are fonts handled when extracting text?",
]


def run(docs: Path, llm_urls: list[str], repeats: int) -> dict[str, object]:
    from litestar.testing import TestClient

    from morgan.app import create_app
    from morgan.settings import load_settings

    files = sorted(
        p
        for p in docs.rglob("*")
        if p.is_file() and p.suffix.lower() in {".pdf", ".docx", ".html", ".md", ".txt"}
    )
    results: dict[str, object] = {"files": len(files)}
    for i, llm_url in enumerate(llm_urls):
        with tempfile.TemporaryDirectory() as home:
            settings = load_settings(
                {
                    "MORGAN_HOME": home,
                    "MORGAN_LLM_URL": llm_url,
                    "MORGAN_LOG_LEVEL": "warning",
                    "MORGAN_LOG_FORMAT": "console",
                }
            )
            with TestClient(create_app(settings, migrate=True), timeout=600) as client:
                token = (Path(home) / "token").read_text().strip()
                headers = {"Authorization": f"Bearer {token}"}
                if i == 0:
                    results["ingest"] = _ingest(client, headers, files)
                else:
                    _ingest(client, headers, files)
                client.post("/api/chat", json={"message": "warm up"}, headers=headers)
                for rag in (True, False):
                    latencies, first_token = [], []
                    for _ in range(repeats):
                        for q in QUESTIONS:
                            t0 = time.perf_counter()
                            r = client.post(
                                "/api/chat", json={"message": q, "rag": rag}, headers=headers
                            )
                            latencies.append((time.perf_counter() - t0) * 1000)
                            r.raise_for_status()
                            first_token.append(r.json()["timings"].get("first_token_ms", 0.0))
                    key = f"chat[{llm_url}{'' if rag else ', rag=false'}]"
                    results[key] = {
                        "requests": len(latencies),
                        "latency_ms_p50": round(percentile(latencies, 0.5), 1),
                        "latency_ms_p95": round(percentile(latencies, 0.95), 1),
                        "latency_ms_mean": round(statistics.fmean(latencies), 1),
                    }
    return results


def _ingest(client, headers, files):  # type: ignore[no-untyped-def]
    chunks = pages = size = ok = failed = 0
    t0 = time.perf_counter()
    for f in files:
        data = f.read_bytes()
        size += len(data)
        body = client.post("/api/ingest", files={"file": (f.name, data)}, headers=headers).json()
        doc = body["documents"][0]
        if doc["status"] == "failed":
            failed += 1
            continue
        ok += 1
        chunks += doc["chunks"]
        pages += doc.get("pages") or 0
    seconds = time.perf_counter() - t0
    return {
        "documents_ok": ok,
        "documents_failed": failed,
        "chunks": chunks,
        "pdf_pages": pages,
        "megabytes": round(size / 1e6, 2),
        "seconds": round(seconds, 2),
        "chunks_per_s": round(chunks / seconds, 1),
        "pages_per_s": round(pages / seconds, 1),
        "documents_per_s": round(ok / seconds, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--docs", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/documents"
    )
    parser.add_argument(
        "--llm",
        action="append",
        default=None,
        help="LLM URL(s) to measure (default: extractive:// and embedded://gemma3-270m)",
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench_chat.json"))
    args = parser.parse_args()
    llms = args.llm or ["extractive://", "embedded://gemma3-270m"]
    results = run(args.docs, llms, args.repeats)
    ing = results["ingest"]
    print(
        f"ingest: {ing['documents_ok']} ok / {ing['documents_failed']} failed, {ing['chunks']} chunks, "
        f"{ing['seconds']} s -> {ing['chunks_per_s']} chunks/s, {ing['pages_per_s']} PDF pages/s"
    )
    print(f"{'backend':<52} {'n':>4} {'p50 ms':>9} {'p95 ms':>9}")
    for key, value in results.items():
        if key.startswith("chat["):
            print(
                f"{key:<52} {value['requests']:>4} {value['latency_ms_p50']:>9} {value['latency_ms_p95']:>9}"
            )
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
