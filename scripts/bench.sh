#!/usr/bin/env bash
# The benchmark (docs/PERFORMANCE.md): starts its own redis-server, the test upstream and a
# release build of Confab on free ports, runs confab-bench at each concurrency level against
# Confab and straight against the upstream (the floor), prints the table, writes JSON, and
# stops everything it started.
#   BENCH_SECONDS   seconds per level and target (default 10; CI uses 2)
#   BENCH_LEVELS    concurrency levels (default 1,32,256,2000)
#   BENCH_TOKENS, BENCH_FIRST_MS, BENCH_DELAY_MS   the upstream's reply (default 40, 50, 5)
#   BENCH_JSON      where the JSON goes (default bench/results.json)
#   BENCH_TOOL_LEVELS  levels of the tool workload (default 32; empty for none)
#   BENCH_AUTH_LEVELS  levels where each virtual user is a registered user with its own API key
#                      (default 256; empty for none)
#   BENCH_OPENAI_LEVELS  levels of OpenAI's door: kept /v1/chat/completions streams (default 256; empty for none)
#   BENCH_WS_LEVELS      levels of the WebSocket door: one socket per user on /chat/ws (default 256,512; empty for none)
#   BENCH_AISDK_LEVELS   levels of the page's stream in the AI SDK's format (default 256; empty for none)
#   BENCH_LONG_LEVELS    levels with 500-token replies and long messages, so histories fill the window
#                        (default 32; empty for none)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

seconds=${BENCH_SECONDS:-10}
levels=${BENCH_LEVELS:-1,32,256,2000}
tokens=${BENCH_TOKENS:-40}; first_ms=${BENCH_FIRST_MS:-50}; delay_ms=${BENCH_DELAY_MS:-5}
json=${BENCH_JSON:-bench/results.json}

echo "bench: release build (the first one takes several minutes)"
swift build -c release --product confab
swift build -c release --product confab-test-upstream
swift build -c release --product confab-bench
bin=.build/release

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 2,000 streams need ~8,000 descriptors in all
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p .run/bench
. scripts/processes.sh
wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "bench: $name did not start; see .run/bench/$name.log" >&2; exit 1
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --maxclients 20000 > .run/bench/redis.log 2>&1 &
pids+=($!)
wait_for redis redis-cli -p "$redis_port" ping

upstream_port=$(free_port)
$bin/confab-test-upstream --port "$upstream_port" --tokens "$tokens" \
  --first-token-delay-ms "$first_ms" --token-delay-ms "$delay_ms" > .run/bench/upstream.log 2>&1 &
upstream_pid=$!
pids+=($upstream_pid)
wait_for upstream curl -sf "http://127.0.0.1:$upstream_port/v1/models"

confab_port=$(free_port)
# The authenticated level registers hundreds of users from one address in seconds: a low bcrypt
# cost and a high per-address limit keep that set-up out of the figures (turns never hash).
REDIS_URL="redis://127.0.0.1:$redis_port" OPENAI_BASE_URL="http://127.0.0.1:$upstream_port/v1" \
  CONFAB_BCRYPT_COST=4 CONFAB_LOGIN_ATTEMPTS_PER_ADDRESS=1000000 \
  $bin/confab serve --host 127.0.0.1 --port "$confab_port" > .run/bench/confab.log 2>&1 &
confab_pid=$!
pids+=($confab_pid)
wait_for confab curl -sf "http://127.0.0.1:$confab_port/ready"

$bin/confab-bench --confab "http://127.0.0.1:$confab_port" --upstream "http://127.0.0.1:$upstream_port" \
  --redis "redis://127.0.0.1:$redis_port" --confab-pid "$confab_pid" --upstream-pid "$upstream_pid" --levels "$levels" --tool-levels "${BENCH_TOOL_LEVELS-32}" --auth-levels "${BENCH_AUTH_LEVELS-256}" --openai-levels "${BENCH_OPENAI_LEVELS-256}" --ws-levels "${BENCH_WS_LEVELS-256,512}" --aisdk-levels "${BENCH_AISDK_LEVELS-256}" --long-levels "${BENCH_LONG_LEVELS-32}" --seconds "$seconds" \
  --workload "$tokens tokens, $first_ms ms to the first, $delay_ms ms each" --json "$json"
