"""`scripts/eval_qa.py`: its scoring and threshold search, and the shipped real-document set."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
QA_SET = REPO / "data" / "eval" / "qa_usr_share_doc.jsonl"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_qa", REPO / "scripts" / "eval_qa.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_shipped_set_is_big_enough_and_well_formed(script: ModuleType) -> None:
    rows = script.load_set(QA_SET)
    answerable = [r for r in rows if r["answerable"]]
    assert len(answerable) >= 30 and len(rows) - len(answerable) >= 10
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(not Path(r["file"]).is_absolute() for r in answerable)  # relative to --docs-root


def test_gold_hits_and_not_found(script: ModuleType) -> None:
    assert script.gold_hit(["13 July 2019"], ["Version 1.0.8 of 13  July\n2019 [1]."])
    assert not script.gold_hit(["65535"], ["The limit is 65536."])
    assert script.is_not_found("I could not find this in your documents. The closest ...")


def test_threshold_search_separates_the_two_groups(script: ModuleType) -> None:
    scores = [{"answerable": True, "gold_retrieved": True, "relevance": v} for v in (0.5, 0.7, 0.9)]
    scores += [
        {"answerable": False, "gold_retrieved": False, "relevance": v} for v in (0.1, 0.3, 0.45)
    ]
    best = script.best_threshold(scores)
    assert best["threshold"] == 0.5 and best["balanced_accuracy"] == 1.0
    assert json.dumps(best)
