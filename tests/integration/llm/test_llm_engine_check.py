"""A llama.cpp build that crashes on this CPU is found in a child process, before the server
loads it: the embedded LLM is then unavailable with the fix, and the server lives on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from morgan.llm import engine_check
from morgan.llm.base import LLMUnavailable
from morgan.llm.embedded import EmbeddedGGUFLLM, bundled_model_path

CRASHES = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]


@pytest.mark.slow
def test_the_installed_build_decodes_here() -> None:
    """The build the suite runs on works on this CPU (scripts/dev.sh rebuilt it if not)."""
    assert engine_check.check_decodes(bundled_model_path()) is None


def test_a_crashing_build_is_named_with_its_signal_and_the_fix(tmp_path: Path) -> None:
    problem = engine_check.check_decodes(tmp_path / "m.gguf", command=CRASHES)
    assert problem is not None
    assert "SIGSEGV" in problem and "llama.cpp#20824" in problem
    assert "GGML_NATIVE=OFF" in problem and "--force-reinstall" in problem


def test_a_failing_or_hanging_child_is_reported(tmp_path: Path) -> None:
    fails = [
        sys.executable,
        "-c",
        "import sys; print('no model file', file=sys.stderr); sys.exit(3)",
    ]
    problem = engine_check.check_decodes(tmp_path / "m.gguf", command=fails)
    assert problem is not None and "exit 3" in problem and "no model file" in problem
    hangs = [sys.executable, "-c", "import time; time.sleep(60)"]
    problem = engine_check.check_decodes(tmp_path / "m.gguf", command=hangs, timeout_s=0.5)
    assert problem is not None and "did not finish" in problem


def test_the_verdict_is_kept_per_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def check(path: Path, **_: object) -> str | None:
        calls.append(path)
        return "crashed"

    monkeypatch.setattr(engine_check, "check_decodes", check)
    monkeypatch.setattr(engine_check, "build_key", lambda: "build-1")
    cache = tmp_path / "check.json"
    assert engine_check.cached_check(tmp_path / "m.gguf", cache) == "crashed"
    assert engine_check.cached_check(tmp_path / "m.gguf", cache) == "crashed"
    assert len(calls) == 1  # once per build
    monkeypatch.setattr(engine_check, "build_key", lambda: "build-2")  # rebuilt
    engine_check.cached_check(tmp_path / "m.gguf", cache)
    assert len(calls) == 2


async def test_a_build_that_crashes_makes_the_embedded_llm_unavailable_not_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        engine_check, "cached_check", lambda *_: "llama.cpp crashed (SIGSEGV) on its first decode"
    )
    llm = EmbeddedGGUFLLM()
    with pytest.raises(LLMUnavailable, match="SIGSEGV"):
        await llm.warm_up()
    assert not llm.loaded
    assert (await llm.health()).state == "down"
