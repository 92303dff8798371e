"""Does the installed llama.cpp build decode on this CPU? Asked in a child process.

A bad native build does not raise: it kills the process. ggml's AMX kernels segfault on
the first decode of a Q4_K model on some Xeons (llama.cpp#20824; seen here on a
Sapphire-Rapids-class VM), and a build made with `-march=native` elsewhere can hit an
illegal instruction. Loaded in the server, either would take every conversation down with
it; asked in a child first, it becomes `LLMUnavailable` with the fix, and answers fall back
to the extractive backend. The verdict is cached per build (the native library's size and
mtime), so the child runs once per installed build, not once per start.

`python -m morgan.llm.engine_check [MODEL.gguf]` is the child; `scripts/dev.sh` runs it
after installing llama-cpp-python and rebuilds without AMX when it fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

PORTABLE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
)
"""An x86-64 build without AMX or AVX-512 (what scripts/dev.sh builds by default there)."""
CHECK_TIMEOUT_S = 180.0


def rebuild_hint() -> str:
    return (
        f'rebuild it without AMX: CMAKE_ARGS="{PORTABLE_CMAKE_ARGS}" pip install '
        "--force-reinstall --no-cache-dir --no-deps llama-cpp-python (scripts/dev.sh does "
        "this by itself)"
    )


def build_key() -> str | None:
    """Identifies the installed native build: its libraries' names, sizes and mtimes."""
    try:
        import llama_cpp
    except ImportError:
        return None
    lib = Path(llama_cpp.__file__).parent / "lib"
    parts = sorted(
        f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in (lib.glob("*.so*") if lib.is_dir() else [])
    )
    return "|".join(parts) or str(Path(llama_cpp.__file__).stat().st_mtime_ns)


def check_decodes(
    model_path: Path, *, command: list[str] | None = None, timeout_s: float = CHECK_TIMEOUT_S
) -> str | None:
    """None when a child process loads `model_path` and decodes; else what went wrong."""
    argv = command or [sys.executable, "-m", "morgan.llm.engine_check", str(model_path)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)  # noqa: S603 - our own interpreter and module
    except subprocess.TimeoutExpired:
        return f"llama.cpp did not finish a two-token decode in {timeout_s:.0f} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return (
            f"llama.cpp crashed ({name}) on its first decode on this CPU; the build does not "
            f"work here (a known ggml AMX bug, llama.cpp#20824): {rebuild_hint()}"
        )
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return f"llama.cpp could not decode (exit {done.returncode}): {' / '.join(tail)[:300]}"


def cached_check(model_path: Path, cache_file: Path) -> str | None:
    """`check_decodes`, once per installed build: the verdict is kept in `cache_file`."""
    key = build_key()
    if key is None:
        return "llama-cpp-python is not installed"
    try:
        cached = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cached = {}
    if cached.get("build") == key:
        return cached.get("problem")  # type: ignore[no-any-return]
    problem = check_decodes(model_path)
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps({"build": key, "problem": problem}))
    except OSError as exc:  # a read-only cache: check again next time
        log.warning("llm.engine_check.not_cached", error=str(exc))
    if problem:
        log.error("llm.engine_check.failed", problem=problem)
    return problem


def _decode(model_path: str) -> None:
    from llama_cpp import Llama

    llama = Llama(model_path, n_ctx=256, n_threads=1, verbose=False)
    llama("Hello", max_tokens=2)


def main(argv: list[str]) -> int:
    if argv:
        path = argv[0]
    else:
        from morgan.llm.embedded import bundled_model_path

        path = str(bundled_model_path())
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _decode(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
