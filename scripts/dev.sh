#!/usr/bin/env bash
# One entry point for both README commands:
#   ./scripts/dev.sh serve   install Morgan into .venv, then start it (embedded default)
#   ./scripts/dev.sh test    install Morgan + test dependencies into .venv, run the whole suite
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${MORGAN_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
  fi
  # torch first and pinned: the CPU build lies on these machines' disk; anything else
  # would pull a multi-GB CUDA build.
  "$VENV/bin/pip" install --quiet "torch==2.13.0"
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
    "$VENV/bin/pip" install --quiet -e .
    mkdir -p "$HOME/.local/bin"
    ln -sf "$VENV/bin/morgan" "$HOME/.local/bin/morgan"
    echo "morgan installed in $VENV (linked from ~/.local/bin/morgan); starting the server..." >&2
    exec "$VENV/bin/morgan" serve "$@"
    ;;
  test)
    shift
    ensure_venv
    "$VENV/bin/pip" install --quiet -e ".[test]"
    ensure_services
    bash scripts/fetch_helm.sh "$ROOT/.tools" >/dev/null
    export PATH="$ROOT/.tools:$PATH"
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    echo "usage: $0 serve [--host H --port P] | test [pytest args]" >&2
    exit 2
    ;;
esac
