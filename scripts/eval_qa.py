"""Real-document QA: does the answer (or its evidence) hold the verified answer, and does Morgan
say "not in your documents" when the documents do not answer?

The documents are the ones a Debian machine ships under /usr/share/doc (PDF and HTML manuals);
the questions in data/eval/qa_usr_share_doc.jsonl were written by reading them, each with the
exact answer string. The script ingests every file the set names through the shipped ingest
path (`POST /api/ingest` of the real app, in-process: SQLite, the vector index, MiniLM) on a
temporary MORGAN_HOME, then for each backend starts the app again on that home with
`MORGAN_LLM_URL` set and asks every question through `POST /api/chat` (the shipped
ChatPipeline), each in a new conversation.

    python scripts/eval_qa.py --set data/eval/qa_usr_share_doc.jsonl --docs-root /usr/share/doc \
        --backends extractive,embedded --out qa.json

Per backend: `hit_rate` (gold string, case-insensitive, in the answer text or one of its
evidence sentences), `answer_hit_rate` (in the text alone), `not_found_rate` on unanswerable
questions, `false_not_found_rate` on answerable ones, p50/p95 latency (after one warm-up),
and the machine's load average. `calibration` lists the evidence relevance score of every
question (answerable with the gold document retrieved vs unanswerable) and the threshold
that separates them best, for `morgan.rag.evidence.DEFAULT_MIN_RELEVANCE`; `--held-out
data/qa/sample_qa.jsonl` checks that threshold on other documents (the sample contexts).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench_common import percentile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BACKEND_URLS = {"embedded": "embedded://gemma3-270m", "extractive": "extractive://"}


def load_set(path: Path) -> list[dict[str, Any]]:
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    for row in rows:
        if row["answerable"] and not (row.get("answers") and row.get("file")):
            raise SystemExit(f"{row['id']}: an answerable question needs answers and a file")
    return rows


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def gold_hit(answers: list[str], texts: list[str]) -> bool:
    haystack = [_norm(t) for t in texts]
    return any(_norm(a) in h for a in answers for h in haystack)


def is_not_found(text: str) -> bool:
    from morgan.llm.extractive import NOT_FOUND

    return NOT_FOUND.lower() in text.lower()


def _settings(home: str, llm_url: str) -> Any:
    from morgan.settings import load_settings

    return load_settings(
        {
            "MORGAN_HOME": home,
            "MORGAN_LLM_URL": llm_url,
            "MORGAN_LOG_LEVEL": "warning",
            "MORGAN_LOG_FORMAT": "console",
            "MORGAN_MAX_UPLOAD_MB": "50",
        }
    )


def _headers(home: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {(Path(home) / 'token').read_text().strip()}"}


def ingest(home: str, docs_root: Path, files: list[str]) -> dict[str, str]:
    from litestar.testing import TestClient

    from morgan.app import create_app

    ids: dict[str, str] = {}
    with TestClient(
        create_app(_settings(home, "extractive://"), migrate=True), timeout=900
    ) as client:
        for rel in files:
            data = (docs_root / rel).read_bytes()
            name = rel.replace("/", "__")
            started = time.perf_counter()
            reply = client.post("/api/ingest", files={"file": (name, data)}, headers=_headers(home))
            reply.raise_for_status()
            document = reply.json()["documents"][0]
            if document.get("status") == "failed" or not document.get("document_id"):
                raise SystemExit(f"ingesting {rel} failed: {document}")
            ids[rel] = str(document["document_id"])
            print(f"ingested {rel} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return ids


def ask_all(
    home: str, backend: str, rows: list[dict[str, Any]], gold_ids: dict[str, str], calibrate: bool
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    from litestar.testing import TestClient

    from morgan.app import create_app

    records: list[dict[str, Any]] = []
    relevance: list[dict[str, Any]] = []
    app = create_app(_settings(home, BACKEND_URLS[backend]), migrate=True)
    with TestClient(app, timeout=900) as client:
        headers = _headers(home)
        client.post("/api/chat", json={"message": "What does bzip2 compress?"}, headers=headers)
        for row in rows:
            started = time.perf_counter()
            reply = client.post("/api/chat", json={"message": row["question"]}, headers=headers)
            latency_ms = (time.perf_counter() - started) * 1000
            reply.raise_for_status()
            answer = reply.json()
            evidence = [e["text"] for e in answer.get("evidence", [])]
            gold_id = gold_ids.get(row["file"] or "")
            records.append(
                {
                    "id": row["id"],
                    "question": row["question"],
                    "answers": row["answers"],
                    "answerable": row["answerable"],
                    "text": answer["text"],
                    "evidence": evidence,
                    "hit": row["answerable"]
                    and gold_hit(row["answers"], [answer["text"], *evidence]),
                    "answer_hit": row["answerable"] and gold_hit(row["answers"], [answer["text"]]),
                    "not_found": is_not_found(answer["text"]),
                    "gold_retrieved": any(s["document_id"] == gold_id for s in answer["sources"]),
                    "degraded": answer["degraded"],
                    "model": answer.get("model"),
                    "dropped_sentences": answer.get("dropped_sentences", 0),
                    "latency_ms": round(latency_ms, 1),
                }
            )
        if calibrate:
            relevance = client.blocking_portal.call(_relevance, app.state.services, rows, gold_ids)
    return summarise(records), records, relevance


async def _relevance(
    services: Any, rows: list[dict[str, Any]], gold_ids: dict[str, str]
) -> list[dict[str, Any]]:
    """The evidence relevance of each question, computed as the pipeline does."""
    from morgan.rag.evidence import select_evidence

    user = await services.auth.authenticate(
        (Path(services.settings.home) / "token").read_text().strip()
    )
    out = []
    for row in rows:
        vector = (await services.embedder.embed([row["question"]]))[0]
        result = await services.retriever.retrieve(
            user.id, row["question"], top_k=5, query_vector=vector
        )
        selection = select_evidence(
            row["question"], result.passages, dense=result.dense_scores, min_relevance=0.0
        )
        gold_id = gold_ids.get(row["file"] or "")
        out.append(
            {
                "id": row["id"],
                "answerable": row["answerable"],
                "gold_retrieved": any(str(p.document_id) == gold_id for p in result.passages),
                "relevance": selection.relevance,
            }
        )
    return out


def held_out(sample_qa: Path, unanswerable: list[dict[str, Any]]) -> dict[str, Any]:
    """The threshold checked on other documents: the SQuAD-style contexts of
    data/qa/sample_qa.jsonl (answerable) against this set's unanswerable questions."""
    from litestar.testing import TestClient

    from morgan.app import create_app
    from morgan.rag.evidence import DEFAULT_MIN_RELEVANCE

    items = [
        json.loads(line)
        for line in sample_qa.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    contexts = {
        key: n for n, key in enumerate(dict.fromkeys((i["title"], i["context"]) for i in items))
    }
    rows = [
        {
            "id": f"s{n:02d}",
            "question": i["question"],
            "answerable": True,
            "file": f"ctx-{contexts[(i['title'], i['context'])]:03d}.md",
        }
        for n, i in enumerate(items)
    ]
    rows += [{**r, "file": None} for r in unanswerable]
    with tempfile.TemporaryDirectory(prefix="morgan-eval-qa-heldout-") as home:
        app = create_app(_settings(home, "extractive://"), migrate=True)
        with TestClient(app, timeout=900) as client:
            ids = {}
            for (title, context), n in contexts.items():
                body = f'---\ntitle: "{title}"\n---\n\n{context}\n'.encode()
                reply = client.post(
                    "/api/ingest", files={"file": (f"ctx-{n:03d}.md", body)}, headers=_headers(home)
                )
                reply.raise_for_status()
                ids[f"ctx-{n:03d}.md"] = str(reply.json()["documents"][0]["document_id"])
            scores = client.blocking_portal.call(_relevance, app.state.services, rows, ids)
    pos = [r["relevance"] for r in scores if r["answerable"] and r["gold_retrieved"]]
    neg = [r["relevance"] for r in scores if not r["answerable"]]
    t = DEFAULT_MIN_RELEVANCE
    return {
        "set": str(sample_qa),
        "threshold": t,
        "answerable": len(pos),
        "answerable_pass": round(sum(v >= t for v in pos) / len(pos), 4) if pos else None,
        "unanswerable_reject": round(sum(v < t for v in neg) / len(neg), 4) if neg else None,
        "best": best_threshold(scores),
        "scores": scores,
    }


def best_threshold(relevance: list[dict[str, Any]]) -> dict[str, Any]:
    """The threshold with the best balanced accuracy between answerable questions whose gold
    document was retrieved (should pass) and unanswerable ones (should not)."""
    pos = [r["relevance"] for r in relevance if r["answerable"] and r["gold_retrieved"]]
    neg = [r["relevance"] for r in relevance if not r["answerable"]]
    if not pos or not neg:
        return {}
    best: tuple[float, float] = (-1.0, 0.0)
    for t in sorted({*pos, *neg}):
        tpr = sum(v >= t for v in pos) / len(pos)
        tnr = sum(v < t for v in neg) / len(neg)
        if (tpr + tnr) / 2 > best[0]:
            best = ((tpr + tnr) / 2, t)
    t = best[1]
    return {
        "threshold": t,
        "balanced_accuracy": round(best[0], 4),
        "answerable_pass": round(sum(v >= t for v in pos) / len(pos), 4),
        "unanswerable_reject": round(sum(v < t for v in neg) / len(neg), 4),
        "answerable_min": min(pos),
        "answerable_p10": round(percentile(pos, 0.1), 4),
        "unanswerable_max": max(neg),
        "unanswerable_p90": round(percentile(neg, 0.9), 4),
    }


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    latencies = [r["latency_ms"] for r in records]

    def rate(rows: list[dict[str, Any]], key: str) -> float:
        return round(sum(bool(r[key]) for r in rows) / len(rows), 4) if rows else float("nan")

    return {
        "questions": len(records),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit_rate": rate(answerable, "hit"),
        "answer_hit_rate": rate(answerable, "answer_hit"),
        "gold_retrieved_rate": rate(answerable, "gold_retrieved"),
        "false_not_found_rate": rate(answerable, "not_found"),
        "not_found_rate": rate(unanswerable, "not_found"),
        "degraded_rate": round(sum(bool(r["degraded"]) for r in records) / len(records), 4),
        "latency_ms_p50": round(percentile(latencies, 0.5), 1),
        "latency_ms_p95": round(percentile(latencies, 0.95), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", type=Path, required=True, dest="qa_set")
    parser.add_argument("--docs-root", type=Path, default=Path("/usr/share/doc"))
    parser.add_argument("--backends", default="extractive,embedded")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--no-calibrate", action="store_true")
    parser.add_argument(
        "--held-out",
        type=Path,
        default=None,
        metavar="SAMPLE_QA",
        help="also check the threshold on these contexts (data/qa/sample_qa.jsonl)",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="keep the ingested MORGAN_HOME here and reuse it on the next run",
    )
    args = parser.parse_args(argv)

    rows = load_set(args.qa_set)[: args.limit] if args.limit else load_set(args.qa_set)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKEND_URLS]
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; choose from {sorted(BACKEND_URLS)}")
    files = sorted({r["file"] for r in rows if r["file"]})
    missing = [f for f in files if not (args.docs_root / f).is_file()]
    if missing:
        parser.error(f"not under {args.docs_root}: {missing}")
    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "set": str(args.qa_set),
        "docs_root": str(args.docs_root),
        "documents": files,
        "cpus": os.cpu_count(),
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="morgan-eval-qa-") as temp_home:
        home = str(args.home or temp_home)
        ids_file = Path(home) / "qa-ids.json"
        if ids_file.is_file():
            gold_ids = json.loads(ids_file.read_text())
        else:
            Path(home).mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            gold_ids = ingest(home, args.docs_root, files)
            result["ingest_s"] = round(time.perf_counter() - started, 1)
            ids_file.write_text(json.dumps(gold_ids))
        for i, backend in enumerate(backends):
            summary, records, relevance = ask_all(
                home, backend, rows, gold_ids, calibrate=not args.no_calibrate and i == 0
            )
            summary["loadavg"] = [round(v, 2) for v in os.getloadavg()]
            result["backends"][backend] = {"summary": summary, "records": records}
            if relevance:
                result["calibration"] = {**best_threshold(relevance), "scores": relevance}
            print(f"{backend}: {json.dumps(summary)}", file=sys.stderr)
    if args.held_out:
        result["held_out"] = held_out(args.held_out, [r for r in rows if not r["answerable"]])
        h = {k: v for k, v in result["held_out"].items() if k not in ("scores", "best")}
        print(f"held out: {json.dumps(h)}", file=sys.stderr)
    result["loadavg_before"] = [round(v, 2) for v in load_before]
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(
        f"{'backend':<11} {'hit':>6} {'in text':>8} {'not found':>10} {'false nf':>9} "
        f"{'p50 ms':>8} {'p95 ms':>8}"
    )
    for backend, data in result["backends"].items():
        s = data["summary"]
        print(
            f"{backend:<11} {s['hit_rate']:>6.2f} {s['answer_hit_rate']:>8.2f} {s['not_found_rate']:>10.2f} "
            f"{s['false_not_found_rate']:>9.2f} {s['latency_ms_p50']:>8.0f} {s['latency_ms_p95']:>8.0f}"
        )
    if "calibration" in result:
        c = {k: v for k, v in result["calibration"].items() if k != "scores"}
        print(f"calibration: {json.dumps(c)}")
    if "held_out" in result:
        h = {k: v for k, v in result["held_out"].items() if k != "scores"}
        print(f"held out: {json.dumps(h)}")
    print(f"load average before {result['loadavg_before']}, after {list(os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
