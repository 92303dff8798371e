"""`scripts/eval_answers.py`: its scoring, the shipped QA file, and one real run (extractive)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "eval_answers.py"
SAMPLE_QA = REPO / "data" / "qa" / "sample_qa.jsonl"
METRICS = ("token_f1", "exact_match", "citation_accuracy", "latency_ms_p50", "latency_ms_p95")

QA = [
    {
        "question": "Who are Hermitian matrices named after?",
        "answers": ["Charles Hermite"],
        "title": "Hermitian matrix",
        "context": "Hermitian matrices are named after Charles Hermite, who demonstrated in 1855 that "
        "matrices of this form share a property with real symmetric matrices of always "
        "having real eigenvalues.",
    },
    {
        "question": "Which Wasm runtimes can run standalone Wasm files?",
        "answers": ["wasmer, wasmtime, or WAVM"],
        "title": "Standalone WebAssembly",
        "context": "Another nice thing about standalone Wasm files is that you can run them in Wasm "
        "runtimes like wasmer, wasmtime, or WAVM.",
    },
    {
        "question": "What is the trading symbol of the Galaxy Gaming common stock?",
        "answers": ["GLXZ"],
        "title": "Galaxy Gaming 10-K",
        "context": "Galaxy Gaming, Inc. registered its common stock under the trading symbol GLXZ on "
        "the OTCQB marketplace.",
    },
]


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_answers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_squad_scoring(script: ModuleType) -> None:
    assert script.normalize_answer("The  Charles Hermite!") == "charles hermite"
    assert script.exact_match("the Charles Hermite.", "Charles Hermite") == 1.0
    assert script.token_f1("named after Charles Hermite.", "Charles Hermite") == pytest.approx(
        2 / 3
    )
    assert script.token_f1(script.strip_markers("Charles Hermite [1]."), "Charles Hermite") == 1.0
    assert script.token_f1("Paris", "Charles Hermite") == 0.0


def test_citation_is_right_only_when_a_cited_source_is_the_gold_document(
    script: ModuleType,
) -> None:
    sources = [
        {"n": 1, "document_id": "gold", "title": "A"},
        {"n": 2, "document_id": "other", "title": "A"},
    ]
    assert script.cites_gold("It is so [1].", sources, "gold", "A")
    assert script.cites_gold("It is so [2, 1].", sources, "gold", "A")
    assert not script.cites_gold("It is so [2].", sources, "gold", "A")
    assert not script.cites_gold("It is so.", sources, "gold", "A")  # nothing cited counts as wrong
    assert not script.cites_gold("It is so [3].", sources, "gold", "A")


def test_the_shipped_qa_file_has_answers_verbatim_in_their_context() -> None:
    rows = [
        json.loads(line)
        for line in SAMPLE_QA.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert 25 <= len(rows) <= 40
    for row in rows:
        assert set(row) == {"question", "answers", "context", "title"}
        assert row["answers"] and all(answer in row["context"] for answer in row["answers"]), row[
            "question"
        ]


@pytest.mark.slow
def test_a_run_on_three_questions_with_the_extractive_backend(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(row) + "\n" for row in QA))
    out, predictions = tmp_path / "out.json", tmp_path / "predictions.jsonl"
    completed = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--qa",
            str(qa),
            "--out",
            str(out),
            "--backend",
            "extractive",
            "--predictions",
            str(predictions),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["questions"] == 3
    assert set(results) == {"questions", "extractive"}
    metrics = results["extractive"]
    assert all(isinstance(metrics[key], float) for key in METRICS)
    assert metrics["token_f1"] > 0
    assert 0 <= metrics["exact_match"] <= 1
    assert (
        metrics["citation_accuracy"] == 1.0
    )  # the extractive backend quotes and cites the gold passage
    assert 0 < metrics["latency_ms_p50"] <= metrics["latency_ms_p95"]
    assert metrics["answered_by"] == {"extractive": 3}
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert [r["question"] for r in rows] == [q["question"] for q in QA]
    assert "GLXZ" in rows[2]["prediction"]
    assert "extractive" in completed.stdout and "F1" in completed.stdout
