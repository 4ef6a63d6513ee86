# Sourced by run.sh, bench.sh and profile.sh: what they start goes into `pids`, and is stopped when the
# script ends, however it ends.
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
