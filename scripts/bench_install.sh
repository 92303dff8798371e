#!/usr/bin/env bash
# Command 1 from a cold start: a fresh clone, a fresh venv, an empty pip cache and an empty
# MORGAN_HOME, then `./scripts/dev.sh serve` until /health/ready answers 200 (the server is
# usable: extractive answers) and until the embedded LLM is bound (llama-cpp-python built in
# the background). Prints both times; writes JSON to $1 (default bench_install.json).
#
#   bash scripts/bench_install.sh /tmp/bench_install.json
set -euo pipefail
OUT=${1:-bench_install.json}
PORT=${PORT:-18765}
WORK=$(mktemp -d /tmp/morgan-install-XXXXXX)
git clone --quiet "$(cd "$(dirname "$0")/.." && pwd)" "$WORK/morgan"
export PIP_CACHE_DIR="$WORK/pip-cache" MORGAN_HOME="$WORK/home" HOME="$WORK/user"
export MORGAN_VENV="$WORK/venv"
mkdir -p "$HOME" "$MORGAN_HOME"
cd "$WORK/morgan"
start=$(date +%s)
setsid ./scripts/dev.sh serve --port "$PORT" >"$WORK/serve.log" 2>&1 &
pid=$!
ready="" llm=""
for _ in $(seq 1 3600); do
  body=$(curl -s -m 5 "http://127.0.0.1:$PORT/health/ready" || true)
  now=$(($(date +%s) - start))
  if [ -z "$ready" ] && echo "$body" | grep -q '"ready":true'; then
    ready=$now; echo "ready after ${ready}s" >&2
  fi
  if [ -n "$ready" ] && grep -q '"event": "llm.late_binding.bound"' "$WORK/serve.log"; then
    llm=$now; echo "embedded LLM bound after ${llm}s" >&2; break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "server exited; see $WORK/serve.log" >&2; break; fi
  if grep -q '^failed$' "$MORGAN_HOME/install.log" 2>/dev/null; then
    echo "llama-cpp-python build failed; see $MORGAN_HOME/install.log" >&2; break
  fi
  sleep 2
done
kill -- -"$pid" 2>/dev/null || true
printf '{"ready_s": %s, "llm_bound_s": %s, "load_average": "%s", "work": "%s"}\n' \
  "${ready:-null}" "${llm:-null}" "$(cut -d' ' -f1-3 /proc/loadavg)" "$WORK" | tee "$OUT"
