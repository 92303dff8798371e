#!/usr/bin/env bash
# One entry point for both README commands:
#   ./scripts/dev.sh serve   install Morgan into .venv, then start it (embedded default)
#   ./scripts/dev.sh test    install Morgan + test dependencies into .venv, run the whole suite
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${MORGAN_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

say() { echo "morgan: $*" >&2; }

# pip's per-package lines on stderr (progress), without the build tools' warnings.
# --no-compile: byte-compiling torch & co. costs minutes of CPU; Python compiles on import.
pip_install() {
  "$VENV/bin/pip" install --no-compile --progress-bar off "$@" 2>&1 \
    | awk '/^(Collecting|Building|Installing collected|Successfully|ERROR|error)/ {
             print "  " $0; fflush() }' >&2
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
    pip_install --upgrade pip
  fi
  # torch first and pinned: the CPU build lies on these machines' disk; anything else
  # would pull a multi-GB CUDA build.
  say "installing torch 2.13.0 (CPU build)"
  pip_install "torch==2.13.0"
}

# pyproject's dependencies minus llama-cpp-python (which compiles for 8-13 minutes).
core_requirements() {
  "$VENV/bin/python" - <<'PY'
import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if not d.replace("_", "-").lower().startswith("llama-cpp-python")))
PY
}

llama_requirement() {
  "$VENV/bin/python" - <<'PY'
import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print(next(d for d in deps if d.replace("_", "-").lower().startswith("llama-cpp-python")))
PY
}

# llama.cpp's native (-march=native) x86 build enables AMX, whose kernels segfault on the first
# decode on some Xeons (llama.cpp#20824): build for AVX2 there unless CMAKE_ARGS says otherwise.
if [ "$(uname -m)" = x86_64 ] && [ -z "${CMAKE_ARGS:-}" ]; then
  export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
fi

# A llama-cpp-python that crashes here (a wheel pip cached from a native build, say) is built
# again from source with CMAKE_ARGS; `morgan.llm.engine_check` decodes in a child process.
verify_llm() {
  "$VENV/bin/python" -c "import llama_cpp" >/dev/null 2>&1 || return 0
  if "$VENV/bin/python" -m morgan.llm.engine_check >/dev/null 2>&1; then
    return 0
  fi
  say "llama-cpp-python crashes on this CPU; building it again from source ($CMAKE_ARGS)"
  pip_install --force-reinstall --no-cache-dir --no-deps "$(llama_requirement)"
  "$VENV/bin/python" -m morgan.llm.engine_check >/dev/null 2>&1 \
    || say "llama-cpp-python still does not decode here; the embedded LLM stays off"
}

# Compile llama-cpp-python in the background, detached from the server, logging to
# MORGAN_HOME/install.log (last line `done` or `failed`); the running server picks the
# embedded LLM up when it becomes importable and answers extractively until then.
build_llm_in_background() {
  if "$VENV/bin/python" -c "import llama_cpp" >/dev/null 2>&1; then
    return 0
  fi
  local home log pidfile req
  home=$("$VENV/bin/python" -c "from morgan.settings import load_settings; print(load_settings().home)")
  mkdir -p "$home"
  log="$home/install.log"
  pidfile="$home/install.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    say "llama-cpp-python is still building (log: $log)"
    return 0
  fi
  req=$(llama_requirement)
  say "building $req in the background (8-13 min on 2 cores; needs a C/C++ compiler and" \
    "cmake; log: $log); answers are extractive until the embedded LLM is ready"
  setsid bash -c '"$1/bin/pip" install "$2" >"$3" 2>&1 \
      && { "$1/bin/python" -m morgan.llm.engine_check >>"$3" 2>&1 \
           || "$1/bin/pip" install --force-reinstall --no-cache-dir --no-deps "$2" >>"$3" 2>&1; } \
      && echo done >>"$3" || echo failed >>"$3"' \
    _ "$VENV" "$req" "$log" </dev/null >/dev/null 2>&1 &
  echo $! >"$pidfile"
}

ensure_services() {
  # The suite talks to the local PostgreSQL and Redis; start them if they are down.
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi
    for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/morgan-ci-redis.log || true
    for _ in $(seq 1 60); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
}

case "${1:-}" in
  serve)
    shift
    ensure_venv
    say "installing Morgan's dependencies (all but llama-cpp-python)"
    pip_install -r <(core_requirements)
    pip_install --no-deps -e .
    llm_url=$("$VENV/bin/python" -c "from morgan.settings import load_settings; print(load_settings().models.llm_url)")
    case "$llm_url" in
      embedded:*) build_llm_in_background ;;
      *) say "answers are evidence-first (the documents' own sentences); for prose from the" \
           "bundled Gemma 3 270M: MORGAN_LLM_URL=embedded://gemma3-270m $0 serve" \
           "(compiles llama-cpp-python in the background)" ;;
    esac
    mkdir -p "$HOME/.local/bin"
    ln -sf "$VENV/bin/morgan" "$HOME/.local/bin/morgan"
    say "installed in $VENV (linked from ~/.local/bin/morgan); starting the server..."
    exec "$VENV/bin/morgan" serve "$@"
    ;;
  test)
    shift
    ensure_venv
    "$VENV/bin/pip" install --quiet -e ".[test]"
    verify_llm
    ensure_services
    bash scripts/fetch_helm.sh "$ROOT/.tools" >/dev/null
    export PATH="$ROOT/.tools:$PATH"
    # The habits CI enforces (CONTRIBUTING.md): lint, format, types, layering, then the suite.
    "$VENV/bin/ruff" check src tui tests scripts
    "$VENV/bin/ruff" format --check src tui tests scripts
    "$VENV/bin/mypy"
    "$VENV/bin/lint-imports"
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: $0 serve [--host H --port P] | test [pytest args]" >&2
    exit 2
    ;;
esac
