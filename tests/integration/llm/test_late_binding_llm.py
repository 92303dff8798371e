"""A backend whose dependency appears while the server runs (llama-cpp-python compiling in
the background): the chain answers extractively and status says "building", then the same
chain object answers with the backend once its module is importable."""

from __future__ import annotations

from pathlib import Path

import pytest

from morgan.llm.base import GenerationRequest, SourcePassage
from morgan.llm.extractive import ExtractiveLLM
from morgan.llm.fallback import FallbackLLM, FallbackReport
from morgan.llm.late_binding import LateBindingLLM, module_probe
from morgan.llm.ollama import OllamaLLM
from tests.contract_fakes.ollama import FakeOllama

REQUEST = GenerationRequest(
    question="When does the pool open?",
    sources=(SourcePassage(1, "Pool rules", "The pool opens at 6 am. Swim caps are required."),),
)


async def test_answers_extractively_while_building_then_switches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    log = tmp_path / "install.log"
    log.write_text("Collecting late-llm-backend-for-tests\n  Building wheel ...\n")
    with FakeOllama(reply="From the late backend [1].") as server:
        late = LateBindingLLM(
            "embedded:test",
            lambda: OllamaLLM(server.base_url, "llama3.2", num_ctx=4096, backoff_s=0),
            module_probe("late_llm_backend_for_tests", install_log=log),
            recheck_s=0,
        )
        chain = FallbackLLM([late, ExtractiveLLM()])

        report = FallbackReport()
        first = await chain.generate(REQUEST, report=report)
        assert report.answered_by == "extractive" and "6 am" in first.text
        health = await chain.health()
        assert health.state == "degraded"
        assert "building" in health.detail and str(log) in health.detail

        log.write_text(log.read_text() + "failed\n")
        assert "failed" in (await late.health()).detail

        log.write_text(log.read_text() + "Installing collected packages\n")
        (site / "late_llm_backend_for_tests.py").write_text("")  # pip is writing files
        assert "building" in (await late.health()).detail  # not bound before pip's "done"
        log.write_text(log.read_text() + "done\n")
        report = FallbackReport()
        second = await chain.generate(REQUEST, report=report)
        assert report.answered_by == "embedded:test"
        assert second.text == "From the late backend [1]."
        assert late.bound is not None
        streamed = "".join([d async for d in chain.stream(REQUEST)])
        assert streamed == "From the late backend [1]."
        assert (await chain.health()).state == "up"


async def test_without_an_install_log_it_says_not_installed() -> None:
    late = LateBindingLLM("embedded:test", ExtractiveLLM, module_probe("no_such_module_xyz"))
    health = await late.health()
    assert health.state == "degraded" and "not installed" in health.detail
    assert late.context_window == 8192 and late.count_tokens("four words here ok") > 0
