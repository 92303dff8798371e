"""The BEIR evaluation script end to end on a tiny BEIR folder written here.

Runs `scripts/eval_retrieval.py` in-process (real ingestion, SQLite, MiniLM) once per vector
backend: the shipped engine (Qdrant Edge) and the exact in-memory reference, which must
agree with it. Each query is a document's own text, so a correct
pipeline ranks that document first in every system.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

from morgan.rag import ingest as ingest_module

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"
WORDS = (  # noqa: SIM905 - a word list reads best as prose
    "river mountain glacier volcano harbor desert canyon meadow forest island reef tundra "
    "protein enzyme neuron membrane genome vaccine antibody hormone insulin plasma "
    "compiler kernel database protocol encryption bandwidth latency router firmware cache "
    "violin sonata orchestra ballet opera poetry novel sculpture fresco tapestry "
    "inflation tariff mortgage dividend pension auction ledger budget subsidy treasury"
).split()


def _load_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("eval_retrieval", SCRIPTS / "eval_retrieval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(SCRIPTS))
    spec.loader.exec_module(module)
    return module


def _write_beir(folder: Path, *, docs: int = 30, queries: int = 5) -> None:
    rng = random.Random(7)
    corpus, texts = [], {}
    for i in range(docs):
        words = rng.sample(WORDS, 8)
        text = (
            f"The {words[0]} and the {words[1]} shape {words[2]}, {words[3]} and {words[4]}. "
            f"Studies of {words[5]} relate it to {words[6]} and {words[7]}."
        )
        texts[f"d{i}"] = text
        corpus.append({"_id": f"d{i}", "title": f"{words[0].title()} report {i}", "text": text})
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(row) + "\n" for row in corpus))
    picked = [f"d{i}" for i in range(0, docs, docs // queries)][:queries]
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{n}", "text": texts[d]}) + "\n" for n, d in enumerate(picked))
    )
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{n}\t{d}\t1\n" for n, d in enumerate(picked))
    )


@pytest.mark.parametrize("vectors", ["shipped", "exact"])
def test_eval_script_scores_exact_matches_perfectly(tmp_path: Path, vectors: str) -> None:
    assert ingest_module.IngestService  # the real ingestion path is importable
    dataset = tmp_path / "tiny"
    _write_beir(dataset)
    out = tmp_path / "result.json"
    script = _load_script()

    code = script.main(
        [
            "--dataset",
            str(dataset),
            "--split",
            "test",
            "--out",
            str(out),
            "--quiet",
            "--vectors",
            vectors,
            "--cache",
            str(tmp_path / "emb.sqlite"),
        ]
    )

    assert code == 0
    result = json.loads(out.read_text())
    assert result["queries"] == 5
    assert result["docs"] == 30
    assert result["seconds"] > 0
    assert result["ingest"]["failures"] == 0
    assert result["ingest"]["chunks"] >= 30
    for system in ("morgan", "bm25", "dense"):
        assert set(result[system]) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
        assert all(0.0 <= v <= 1.0 for v in result[system].values())
    assert result["morgan"]["ndcg@10"] == 1.0
    assert result["bm25"]["ndcg@10"] == 1.0
    assert result["morgan"]["mrr@10"] == 1.0
    assert result["dense"]["recall@10"] == 1.0


def test_metrics_follow_beir_definitions() -> None:
    sys.path.insert(0, str(SCRIPTS))
    import _bench_common as common

    relevant = {"a": 2, "b": 1}
    assert common.ndcg_at_k(["a", "b", "x"], relevant, 10) == pytest.approx(1.0)
    # b then a: DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3)
    assert common.ndcg_at_k(["b", "a"], relevant, 10) == pytest.approx(
        (1 + 2 / 1.5849625) / (2 + 1 / 1.5849625)
    )
    assert common.recall_at_k(["x", "a"], relevant, 10) == 0.5
    assert common.recall_at_k(["x", "a"], relevant, 1) == 0.0
    assert common.mrr_at_k(["x", "y", "b"], relevant, 10) == pytest.approx(1 / 3)
    assert common.mrr_at_k(["x"] * 10 + ["a"], relevant, 10) == 0.0
    assert common.score_run({}, {"q": relevant})["ndcg@10"] == 0.0
