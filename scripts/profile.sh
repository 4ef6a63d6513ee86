#!/usr/bin/env bash
# Instructions per turn (docs/PERFORMANCE.md): runs a release build of Confab under valgrind's
# callgrind with its own redis-server and test upstream, drives a fixed number of turns through
# it, and prints the instructions Confab executed per turn with the functions that cost most.
# Unlike CPU seconds, the count barely moves from run to run, so an A/B comparison is honest on
# a noisy machine.
#   PROFILE_TURNS   turns per virtual user (default 25: histories reach the window of 20)
#   PROFILE_USERS   virtual users, each in its own session, talking at once (default 4)
#   PROFILE_TOKENS  tokens per reply (default 40), PROFILE_DELAY_MS between them (default 25: slow
#                   enough that Confab, ~50 times slower under callgrind, reads each token on its
#                   own, as it does at full speed, rather than several per read)
#   PROFILE_FORMAT  confab (default) or ai-sdk: the stream format asked for
#   PROFILE_BIN     where the binaries are (default .build/release; set it to skip the build)
#   PROFILE_OUT     the callgrind output file (default .run/profile/callgrind.out)
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind callgrind_control cc strip; do
  command -v "$tool" >/dev/null || { echo "profile: needs $tool (apt-get install valgrind gcc binutils)" >&2; exit 2; }
done
turns=${PROFILE_TURNS:-25}; users=${PROFILE_USERS:-4}; tokens=${PROFILE_TOKENS:-40}; delay=${PROFILE_DELAY_MS:-25}
format=${PROFILE_FORMAT:-confab}
bin=${PROFILE_BIN:-}
if [[ -z "$bin" ]]; then
  bash scripts/setup.sh  # redis-server, hiredis, the Python venv
  swift build -c release --product confab
  swift build -c release --product confab-test-upstream
  bin=.build/release
fi
out=${PROFILE_OUT:-.run/profile/callgrind.out}
mkdir -p "$(dirname "$out")" .run/profile
rm -f "$out" "$out".*

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
. scripts/processes.sh
wait_for() {  # wait_for NAME SECONDS COMMAND...; gives up early when the last process started has died
  local name=$1 tries=$(( $2 * 10 )); shift 2
  for _ in $(seq 1 "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "profile: $name did not start; see .run/profile/$name.log" >&2; exit 1
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no > .run/profile/redis.log 2>&1 &
pids+=($!)
wait_for redis 10 redis-cli -p "$redis_port" ping
upstream_port=$(free_port)
$bin/confab-test-upstream --port "$upstream_port" --tokens "$tokens" --first-token-delay-ms 50 --token-delay-ms "$delay" > .run/profile/upstream.log 2>&1 &
pids+=($!)
wait_for upstream 10 curl -sf "http://127.0.0.1:$upstream_port/v1/models"
confab_port=$(free_port)
# valgrind 3.19 cannot read the DWARF 5 of Swift 6 binaries (a copy without it keeps the symbols),
# and crashes when Swift's runtime calls sigsuspend with a mask in read-only memory (a shim copies it).
strip -g -o .run/profile/confab "$bin/confab"
cc -O2 -shared -fPIC -o .run/profile/libsigsuspend.so scripts/valgrind-sigsuspend.c
# Generous deadlines: under callgrind everything runs ~50 times slower.
REDIS_URL="redis://127.0.0.1:$redis_port" OPENAI_BASE_URL="http://127.0.0.1:$upstream_port/v1" \
  REDIS_COMMAND_TIMEOUT=60 CONFAB_FIRST_TOKEN_TIMEOUT=300 CONFAB_IDLE_TIMEOUT=300 CONFAB_REQUEST_IDLE_TIMEOUT=300 \
  LD_PRELOAD=$PWD/.run/profile/libsigsuspend.so valgrind --tool=callgrind --callgrind-out-file="$out" \
  .run/profile/confab serve --host 127.0.0.1 --port "$confab_port" > .run/profile/confab.log 2>&1 &
confab_pid=$!
pids+=($confab_pid)
wait_for confab 300 curl -sf "http://127.0.0.1:$confab_port/ready"
base="http://127.0.0.1:$confab_port"

converse() {  # converse USER TURNS: one user's turns in order, in its own session, on one kept
              # connection, as a browser or an SDK keeps it; a line in failed per turn that did not complete
  python3 - "$confab_port" "$1" "$2" "$format" >> .run/profile/failed <<'PY'
import http.client, json, sys
port, user, count, fmt = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
def ask(method, path):
    for attempt in (1, 2):
        try:
            connection.request(method, path)
            response = connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            connection.close()  # the server closed the kept connection: ask on a new one, as clients do
            continue
        try:
            return response.status, response.read().decode()
        except (http.client.HTTPException, OSError):
            connection.close()  # the reply had begun: the turn failed, it is not asked again
            return 0, ""
    return 0, ""
status, body = ask("POST", f"/chat/start?user_id={user}")
if status != 200:
    print("\n".join(f"{user} {n} (no session)" for n in range(1, count + 1)))
    sys.exit(0)
session = json.loads(body)["session_id"]
for n in range(1, count + 1):
    status, body = ask("GET", f"/chat/stream?user_id={user}&session_id={session}&format={fmt}&message=hello%20{n}")
    if status != 200 or '"status":"complete"' not in body:
        print(f"{user} {n}")
PY
}
rm -f .run/profile/failed
converse warm 3                      # first-use costs (connections, script loads) stay out
callgrind_control -z "$confab_pid" > /dev/null
started=$(date +%s)
talkers=()
for u in $(seq 1 "$users"); do converse "u$u" "$turns" & talkers+=($!); done
for talker in "${talkers[@]}"; do wait "$talker" || echo "talker $talker failed" >> .run/profile/failed; done
callgrind_control -d "$confab_pid" > /dev/null
elapsed=$(( $(date +%s) - started ))
dump=$(ls -t "$out".* | head -1)
all=$(( users * turns ))
echo "profile: $all turns ($users users × $turns, $tokens tokens each, format $format) in ${elapsed}s under callgrind"
# Instructions are divided by the turns asked for: a turn that did not complete makes the figure wrong.
if [[ -s .run/profile/failed ]]; then echo "profile: $(wc -l < .run/profile/failed) turns did not complete; no figure" >&2; exit 1; fi
echo "profile: the costliest functions by their own instructions, from $dump:"
python3 scripts/callgrind_top.py "$dump" 30 "$all" | { command -v swift >/dev/null && swift demangle --simplified || cat; } | cut -c1-160
