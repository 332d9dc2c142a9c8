#!/usr/bin/env bash
# Every test: unit and integration tests (swift test), then the end-to-end suite that
# drives the built `tsubame` binary with real clients. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --build-tests
swift test --skip-build
./tests/e2e/run.sh .build/debug/tsubame
