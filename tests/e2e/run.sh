#!/usr/bin/env bash
# End-to-end tests against a built tsubame: tests/e2e/run.sh [PATH-TO-TSUBAME [SCENARIO ...]]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 tests/e2e/run.py "${1:-.build/debug/tsubame}" "${@:2}"
