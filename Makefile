# Shortcuts; each target is one script under scripts/.
.PHONY: run test bench bench-short profile

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

# The benchmark of docs/PERFORMANCE.md (about 2 minutes of load plus a release build).
bench:
	bash scripts/bench.sh

# A few seconds per level, as CI runs it so the benchmark cannot rot.
bench-short:
	BENCH_SECONDS=2 bash scripts/bench.sh

# Instructions per turn under valgrind's callgrind (docs/PERFORMANCE.md).
profile:
	bash scripts/profile.sh
