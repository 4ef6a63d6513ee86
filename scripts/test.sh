#!/usr/bin/env bash
# The whole test suite: Swift unit and integration tests against real redis-servers, then the
# browser test in headless Chromium, the docker-compose check, and an end-to-end turn against
# the real local model. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

started=$(date +%s)
echo "test: building"
swift build --build-tests
echo "test: swift tests"
swift test --skip-build --skip FaultsUnderLoadTests
# The fault suite loads both cores with hundreds of streams: it runs on its own so its
# 1-second promises are measured on a machine it does not share with the other suites.
echo "test: fault suite under load"
swift test --skip-build --filter FaultsUnderLoadTests
echo "test: browser, compose and end-to-end tests"
.venv/bin/python -m pytest -q -rs system-tests "$@"
echo "test: all passed in $(( $(date +%s) - started ))s"
