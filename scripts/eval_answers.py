"""Evaluate answer quality end to end: token F1, exact match, citation accuracy, latency.

For each LLM backend it runs the real app in-process (Litestar test client: full HTTP
stack, real SQLite, qdrant local mode, MiniLM) on a temp MORGAN_HOME, ingests every
distinct QA context as its own document (titled by the QA `title`), and asks every question
through `POST /api/chat`, each in a new conversation.

    python scripts/eval_answers.py --qa data/qa/sample_qa.jsonl --out answers.json \
        --backend embedded --backend extractive [--ollama-url URL --ollama-model M]

QA file: one JSON object a line, `{"question", "answers": [...], "context", "title"}`.

Metrics (per backend):
* `token_f1`, `exact_match`: SQuAD normalisation (lower case, no punctuation, no articles),
  best over the gold answers, with the `[n]` markers removed from the answer first.
* `citation_accuracy`: share of answers citing (with `[n]` in the text) at least one
  source that is the gold context's document; an answer citing nothing counts as wrong.
  `citation_accuracy_ungrounded` is the same on the text before `attach_citations`,
  recorded in the same run; only pipelines that still have that step report it (the
  streaming `Grounder` replaced it, so current runs leave it out).
* `latency_ms_p50`, `latency_ms_p95`: wall time of each `/api/chat` call (after a warm-up).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import string
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _bench_common import percentile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BACKEND_URLS = {"embedded": "embedded://gemma3-270m", "extractive": "extractive://"}
_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


# -- scoring (SQuAD v1.1 evaluation script) ---------------------------------------------------
def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def token_f1(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def cited_numbers(text: str) -> set[int]:
    return {int(n) for body in _MARKER.findall(text) for n in re.split(r"[,;]", body)}


def cites_gold(
    text: str, sources: list[dict[str, Any]], gold_document_id: str, gold_title: str
) -> bool:
    by_n = {s["n"]: s for s in sources}
    for n in cited_numbers(text):
        source = by_n.get(n)
        if source is None:
            continue
        if source.get("document_id"):
            if str(source["document_id"]) == gold_document_id:
                return True
        elif source.get("title") == gold_title:
            return True
    return False


# -- data -------------------------------------------------------------------------------------
@dataclass
class QAItem:
    question: str
    answers: list[str]
    context: str
    title: str


def load_qa(path: Path, limit: int | None) -> list[QAItem]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items.append(
                QAItem(row["question"], list(row["answers"]), row["context"], row["title"])
            )
    return items[:limit] if limit else items


def context_markdown(title: str, context: str) -> bytes:
    """A Markdown document whose front matter sets the title Morgan stores."""
    safe_title = title.replace("\n", " ").replace('"', "'")
    return f'---\ntitle: "{safe_title}"\n---\n\n{context}\n'.encode()


# -- grounding probe --------------------------------------------------------------------------
@dataclass
class GroundingProbe:
    """Records the answer text before the pipeline's `attach_citations` step, so one run
    measures citation accuracy with and without grounding on the same generations."""

    seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    installed: bool = False

    def wrap(self, attach: Callable[..., tuple[str, int]]) -> Callable[..., tuple[str, int]]:
        def recording(text: str, *args: Any, **kwargs: Any) -> tuple[str, int]:
            with self.lock:
                self.seen.append(text)
            return attach(text, *args, **kwargs)

        return recording

    def take(self) -> str | None:
        with self.lock:
            last = self.seen[-1] if self.seen else None
            self.seen.clear()
        return last


@contextmanager
def grounding_probe() -> Iterator[GroundingProbe]:
    from morgan.chat import pipeline

    probe = GroundingProbe()
    original = getattr(pipeline, "attach_citations", None)
    if original is None:  # the pipeline does not ground citations
        yield probe
        return
    pipeline.attach_citations = probe.wrap(original)  # type: ignore[attr-defined]
    probe.installed = True
    try:
        yield probe
    finally:
        pipeline.attach_citations = original  # type: ignore[attr-defined]


# -- running ----------------------------------------------------------------------------------
def evaluate_backend(
    items: list[QAItem], llm_url: str, llm_model: str | None, top_k: int | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from litestar.testing import TestClient

    from morgan.app import create_app
    from morgan.settings import load_settings

    env = {"MORGAN_LLM_URL": llm_url, "MORGAN_LOG_LEVEL": "warning", "MORGAN_LOG_FORMAT": "console"}
    if llm_model:
        env["MORGAN_LLM_MODEL"] = llm_model
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="morgan-eval-") as home, grounding_probe() as probe:
        settings = load_settings({"MORGAN_HOME": home, **env})
        with TestClient(create_app(settings, migrate=True), timeout=600) as client:
            headers = {"Authorization": f"Bearer {(Path(home) / 'token').read_text().strip()}"}
            gold_ids = _ingest_contexts(client, headers, items)
            client.post("/api/chat", json={"message": "warm up", "rag": False}, headers=headers)
            probe.take()
            for item in items:
                body: dict[str, Any] = {"message": item.question}
                if top_k:
                    body["top_k"] = top_k
                started = time.perf_counter()
                response = client.post("/api/chat", json=body, headers=headers)
                latency_ms = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                answer = response.json()
                before = probe.take() if probe.installed else None
                gold_id = gold_ids[(item.title, item.context)]
                records.append(_score(item, answer, before, gold_id, latency_ms))
    return _summarise(records, probe.installed), records


def _ingest_contexts(
    client: Any, headers: dict[str, str], items: list[QAItem]
) -> dict[tuple[str, str], str]:
    ids: dict[tuple[str, str], str] = {}
    for item in items:
        key = (item.title, item.context)
        if key in ids:
            continue
        filename = f"qa-context-{len(ids) + 1:03d}.md"
        reply = client.post(
            "/api/ingest", files={"file": (filename, context_markdown(*key))}, headers=headers
        )
        reply.raise_for_status()
        document = reply.json()["documents"][0]
        if document["status"] == "failed" or not document.get("document_id"):
            raise SystemExit(f"ingesting the context of {item.question!r} failed: {document}")
        ids[key] = str(document["document_id"])
    return ids


def _score(
    item: QAItem, answer: dict[str, Any], before: str | None, gold_id: str, latency_ms: float
) -> dict[str, Any]:
    text = answer["text"]
    plain = strip_markers(text)
    record = {
        "question": item.question,
        "answers": item.answers,
        "prediction": text,
        "f1": max(token_f1(plain, gold) for gold in item.answers),
        "em": max(exact_match(plain, gold) for gold in item.answers),
        "cited": bool(cited_numbers(text)),
        "citation_correct": cites_gold(text, answer["sources"], gold_id, item.title),
        "gold_retrieved": any(str(s.get("document_id")) == gold_id for s in answer["sources"]),
        "latency_ms": round(latency_ms, 1),
        "model": answer.get("model"),
        "degraded": answer.get("degraded", []),
    }
    if before is not None:
        record["prediction_ungrounded"] = before
        record["citation_correct_ungrounded"] = cites_gold(
            before, answer["sources"], gold_id, item.title
        )
    return record


def _summarise(records: list[dict[str, Any]], grounded: bool) -> dict[str, Any]:
    n = len(records)

    def share(key: str) -> float:
        return round(sum(1 for r in records if r[key]) / n, 4) if n else float("nan")

    latencies = [r["latency_ms"] for r in records]
    summary: dict[str, Any] = {
        "token_f1": round(statistics.fmean(r["f1"] for r in records), 4) if n else float("nan"),
        "exact_match": round(statistics.fmean(r["em"] for r in records), 4) if n else float("nan"),
        "citation_accuracy": share("citation_correct"),
        "latency_ms_p50": round(percentile(latencies, 0.5), 1),
        "latency_ms_p95": round(percentile(latencies, 0.95), 1),
        "cited_share": share("cited"),
        "retrieval_recall": share("gold_retrieved"),
        "answered_by": dict(Counter(str(r["model"]) for r in records)),
    }
    if grounded:
        summary["citation_accuracy_ungrounded"] = share("citation_correct_ungrounded")
    return summary


def print_table(results: dict[str, Any]) -> None:
    columns = (
        "token_f1",
        "exact_match",
        "citation_accuracy",
        "citation_accuracy_ungrounded",
        "latency_ms_p50",
        "latency_ms_p95",
    )
    headers = ("backend", "F1", "EM", "cite acc", "cite acc (no grounding)", "p50 ms", "p95 ms")
    rows = [
        [name] + [str(metrics.get(c, "-")) for c in columns]
        for name, metrics in results.items()
        if isinstance(metrics, dict)
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"questions: {results['questions']}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--qa", type=Path, required=True, help="QA JSONL file")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON results")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument(
        "--backend",
        action="append",
        choices=sorted(BACKEND_URLS),
        default=None,
        help="backend(s) to evaluate (default: embedded and extractive)",
    )
    parser.add_argument("--ollama-url", default=None, help="also evaluate Ollama at this URL")
    parser.add_argument("--ollama-model", default="llama3.1:8b", help="Ollama model name")
    parser.add_argument("--top-k", type=int, default=None, help="sources retrieved per question")
    parser.add_argument(
        "--predictions",
        type=Path,
        default=None,
        help="also write every answer with its scores to this JSONL file",
    )
    args = parser.parse_args(argv)

    items = load_qa(args.qa, args.limit)
    if not items:
        parser.error(f"{args.qa} holds no questions")
    backends: list[tuple[str, str, str | None]] = [
        (name, BACKEND_URLS[name], None)
        for name in dict.fromkeys(args.backend or ["embedded", "extractive"])
    ]
    if args.ollama_url:
        backends.append(("ollama", args.ollama_url, args.ollama_model))

    results: dict[str, Any] = {"questions": len(items)}
    predictions: list[dict[str, Any]] = []
    for name, url, model in backends:
        summary, records = evaluate_backend(items, url, model, args.top_k)
        results[name] = summary
        predictions.extend({"backend": name, **r} for r in records)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.predictions:
        args.predictions.write_text(
            "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions)
        )
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
