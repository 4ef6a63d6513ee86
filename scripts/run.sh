#!/usr/bin/env bash
# Runs Confab on http://localhost:8080 with everything it needs. Starts a local redis-server
# and the local SmolLM2 model unless REDIS_URL / OPENAI_BASE_URL (environment or .env) point
# elsewhere. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ -f .env ]; then set -a; . ./.env; set +a; fi
mkdir -p .run
. scripts/processes.sh

wait_for() {  # wait_for NAME URL-or-port
  for _ in $(seq 1 100); do
    if [[ "$2" == http* ]]; then curl -sf "$2" >/dev/null 2>&1 && return 0
    else redis-cli -p "$2" ping >/dev/null 2>&1 && return 0; fi
    sleep 0.1
  done
  echo "run: $1 did not start; see .run/$1.log" >&2; exit 1
}

if [ -z "${REDIS_URL:-}" ]; then
  port=6379
  if ! redis-cli -p $port ping >/dev/null 2>&1; then
    mkdir -p .run/redis
    echo "run: starting redis-server on :$port (AOF in .run/redis)"
    redis-server --port $port --bind 127.0.0.1 --dir "$PWD/.run/redis" --appendonly yes --appendfsync everysec > .run/redis.log 2>&1 &
    pids+=($!)
    wait_for redis $port
  fi
  export REDIS_URL="redis://127.0.0.1:$port"
fi

if [ -z "${OPENAI_BASE_URL:-}" ]; then
  echo "run: starting the local model (SmolLM2-135M-Instruct) on :8081"
  .venv/bin/python scripts/local_model.py --port 8081 > .run/model.log 2>&1 &
  pids+=($!)
  wait_for model http://127.0.0.1:8081/health
  export OPENAI_BASE_URL="http://127.0.0.1:8081/v1"
  export OPENAI_MODEL="${OPENAI_MODEL:-SmolLM2-135M-Instruct}"
fi

echo "run: building Confab (release; the first build takes a few minutes)"
swift build -c release --product confab
echo "run: open http://localhost:${CONFAB_PORT:-8080}"
.build/release/confab serve &
pids+=($!)
wait "${pids[-1]}"
