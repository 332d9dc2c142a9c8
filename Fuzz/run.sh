#!/usr/bin/env bash
# Builds the libFuzzer targets with AddressSanitizer and runs each for SECONDS
# (default 60), starting from the seed corpus in Fuzz/corpus/<target>/.
# usage: Fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzSMTPCommand FuzzDataDecoder FuzzSASL FuzzConfiguration)
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "findings/$target"
    echo "== $target ($seconds s)"
    ".build/release/$target" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="findings/$target/" \
        "corpus/$target"
done
