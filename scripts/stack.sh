#!/usr/bin/env bash
# A whole Confab stack on this machine, for the integration runner (`confab integration`):
# redis-server, a model and Confab, each on a free port, in the background, with their pids,
# ports and logs in $STACK_DIR.
#
#   scripts/stack.sh start          starts what is not running yet; writes $STACK_DIR/env
#   scripts/stack.sh status         each process: pid, port, health (exit 1 if one is down)
#   scripts/stack.sh test [ARGS]    runs `confab integration` against the stack (3 users × 2 agents
#                                   × 5 messages unless ARGS or STACK_USERS/_AGENTS/_MESSAGES say
#                                   otherwise, e.g. `test --users 50 --agents 4 --messages 10`);
#                                   reports go to reports/
#   scripts/stack.sh stop           stops what `start` started (by its pids), nothing else
#
# Settings (environment):
#   STACK_DIR      state: pids, ports, logs, Redis data, env (default .run/stack)
#   STACK_MODEL    test: the test upstream (confab-test-upstream; default) · local: SmolLM2 via
#                  scripts/local_model.py (needs .venv: scripts/setup.sh)
#   STACK_BUILD    debug (default: the build the tests use, quick to make) or release (for figures)
#   STACK_REDIS_PORT, STACK_MODEL_PORT, STACK_CONFAB_PORT   fixed ports instead of free ones
#   STACK_UPSTREAM_ARGS   the test upstream's reply (default: 30 pieces, 50 ms to the first, 20 ms each)
# The admin token is generated into $STACK_DIR/env (mode 600) and never printed in full.
set -euo pipefail
cd "$(dirname "$0")/.."

STACK_DIR=${STACK_DIR:-.run/stack}
STACK_MODEL=${STACK_MODEL:-test}
STACK_BUILD=${STACK_BUILD:-debug}
bin=.build/$STACK_BUILD
mkdir -p "$STACK_DIR"
STACK_DIR=$(cd "$STACK_DIR" && pwd)

say() { echo "stack: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The pid of NAME if it is running and is what start started (a reused pid is someone else's).
running_pid() {
  local name=$1 pid
  [ -f "$STACK_DIR/$name.pid" ] || return 1
  pid=$(cat "$STACK_DIR/$name.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$(cat "$STACK_DIR/$name.cmd")" || return 1
  echo "$pid"
}

port_of() { cat "$STACK_DIR/$1.port"; }

healthy() {  # healthy NAME: the process answers
  local port
  port=$(port_of "$1") || return 1
  case $1 in
    redis) [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] ;;
    model) if [ "$(cat "$STACK_DIR/model.kind")" = local ]; then curl -sf "http://127.0.0.1:$port/health" >/dev/null
           else curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null; fi ;;
    confab) curl -sf "http://127.0.0.1:$port/ready" >/dev/null ;;
  esac
}

wait_healthy() {  # wait_healthy NAME SECONDS
  local tries=$(( $2 * 10 ))
  for _ in $(seq 1 "$tries"); do
    healthy "$1" && return 0
    running_pid "$1" >/dev/null || break
    sleep 0.1
  done
  say "$1 did not become healthy; the end of $STACK_DIR/$1.log:"
  tail -20 "$STACK_DIR/$1.log" >&2 || true
  exit 1
}

# launch NAME PORT MATCH COMMAND...: in the background, detached from this script (so it outlives
# it, and a caller reading this script's output is not held by the child's), pid and port recorded.
launch() {
  local name=$1 port=$2 match=$3; shift 3
  echo "$port" > "$STACK_DIR/$name.port"
  echo "$match" > "$STACK_DIR/$name.cmd"
  # The child writes its own pid, then becomes the command (exec keeps the pid).
  nohup setsid bash -c 'echo $$ > "$0"; exec "$@"' "$STACK_DIR/$name.pid" "$@" \
    > "$STACK_DIR/$name.log" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do [ -s "$STACK_DIR/$name.pid" ] && break; sleep 0.05; done
}

build() {
  local missing=()
  [ -x "$bin/confab" ] || missing+=(confab)
  [ "$STACK_MODEL" = test ] && { [ -x "$bin/confab-test-upstream" ] || missing+=(confab-test-upstream); }
  for product in "${missing[@]}"; do
    say "building $product ($STACK_BUILD; the first build takes several minutes)"
    swift build -c "$STACK_BUILD" --product "$product" >&2
  done
}

start() {
  command -v redis-server >/dev/null || { say "redis-server is missing: apt-get install -y redis-server (scripts/setup.sh does)"; exit 1; }
  build

  if running_pid redis >/dev/null; then say "redis already running"; else
    local port=${STACK_REDIS_PORT:-$(free_port)}
    mkdir -p "$STACK_DIR/redis"
    launch redis "$port" "redis-server" redis-server --port "$port" --bind 127.0.0.1 --dir "$STACK_DIR/redis" \
      --save "" --appendonly no --maxclients 10000
    wait_healthy redis 10
    say "redis on :$port"
  fi

  if running_pid model >/dev/null; then say "model already running"; else
    local port=${STACK_MODEL_PORT:-$(free_port)}
    echo "$STACK_MODEL" > "$STACK_DIR/model.kind"
    case $STACK_MODEL in
      test)
        # shellcheck disable=SC2086  # the arguments are a list
        launch model "$port" "confab-test-upstream" "$bin/confab-test-upstream" --port "$port" \
          ${STACK_UPSTREAM_ARGS:---tokens 30 --first-token-delay-ms 50 --token-delay-ms 20}
        wait_healthy model 30 ;;
      local)
        [ -x .venv/bin/python ] && [ -f scripts/local_model.py ] || { say "the local model needs .venv: run scripts/setup.sh"; exit 1; }
        launch model "$port" "local_model.py" .venv/bin/python scripts/local_model.py --port "$port"
        wait_healthy model 120 ;;
      *) say "STACK_MODEL must be test or local"; exit 2 ;;
    esac
    say "model ($STACK_MODEL) on :$port"
  fi

  if running_pid confab >/dev/null; then say "confab already running"; else
    local port=${STACK_CONFAB_PORT:-$(free_port)} token model_name=test-model
    token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
    [ "$(cat "$STACK_DIR/model.kind")" = local ] && model_name=SmolLM2-135M-Instruct
    (umask 077; cat > "$STACK_DIR/env" <<EOF
CONFAB_URL=http://127.0.0.1:$port
CONFAB_ADMIN_TOKEN=$token
REDIS_URL=redis://127.0.0.1:$(port_of redis)
OPENAI_BASE_URL=http://127.0.0.1:$(port_of model)/v1
EOF
    )
    # A run registers many users from this one address in a minute: the per-address meter is
    # raised so that its 429s do not stand in for the service's own behaviour.
    launch confab "$port" "confab serve" env CONFAB_ADMIN_TOKEN="$token" CONFAB_HOST=127.0.0.1 CONFAB_PORT="$port" \
      REDIS_URL="redis://127.0.0.1:$(port_of redis)" OPENAI_BASE_URL="http://127.0.0.1:$(port_of model)/v1" \
      OPENAI_MODEL="$model_name" CONFAB_STATIC_DIR="$PWD/static" CONFAB_LOGIN_ATTEMPTS_PER_ADDRESS="${CONFAB_LOGIN_ATTEMPTS_PER_ADDRESS:-100000}" \
      "$bin/confab" serve --env-file /nonexistent
    wait_healthy confab 60
    say "confab on http://127.0.0.1:$port (admin token in $STACK_DIR/env)"
  fi
  status
}

status() {
  local down=0 name pid health
  for name in redis model confab; do
    if pid=$(running_pid "$name"); then
      if healthy "$name"; then health=healthy; else health=UNHEALTHY; down=1; fi
      printf '%-7s pid %-8s port %-6s %s\n' "$name" "$pid" "$(port_of "$name")" "$health"
    else
      printf '%-7s not running\n' "$name"; down=1
    fi
  done
  if [ -f "$STACK_DIR/env" ]; then
    local token
    token=$(sed -n 's/^CONFAB_ADMIN_TOKEN=//p' "$STACK_DIR/env")
    echo "url:    $(sed -n 's/^CONFAB_URL=//p' "$STACK_DIR/env")"
    echo "admin:  ${token:0:4}… (the whole token is in $STACK_DIR/env)"
  fi
  return $down
}

run_test() {
  [ -f "$STACK_DIR/env" ] && status >/dev/null || { say "the stack is not up: scripts/stack.sh start"; exit 1; }
  build
  set -a; . "$STACK_DIR/env"; set +a
  # Defaults only for what the arguments do not say (`--users 50` or `--users=50`).
  local args=("$@")
  says() { [[ " ${args[*]} " =~ \ $1[=\ ] ]]; }
  says --users || args+=(--users "${STACK_USERS:-3}")
  says --agents || args+=(--agents "${STACK_AGENTS:-2}")
  says --messages || args+=(--messages "${STACK_MESSAGES:-5}")
  says --report || { mkdir -p reports; args+=(--report reports); }
  "$bin/confab" integration --url "$CONFAB_URL" "${args[@]}"
}

stop() {
  local name pid
  for name in confab model redis; do
    if pid=$(running_pid "$name"); then
      kill "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      say "stopped $name (pid $pid)"
    fi
    rm -f "$STACK_DIR/$name.pid"
  done
  rm -f "$STACK_DIR/env"
}

case ${1:-} in
  start) start ;;
  status) status ;;
  test) shift; run_test "$@" ;;
  stop) stop ;;
  *) echo "usage: scripts/stack.sh start | status | test [confab integration options] | stop" >&2; exit 2 ;;
esac
