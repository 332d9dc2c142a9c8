#!/usr/bin/env bash
# Builds the libFuzzer targets with AddressSanitizer and runs each for SECONDS
# (default 60), starting from the seed corpus in Fuzz/corpus/<target>/.
# usage: Fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzSMTPCommand FuzzDataDecoder FuzzSASL FuzzPOP3 FuzzIMAPCommand FuzzMIMEStructure FuzzDNSMessage FuzzSMTPReply FuzzConfiguration)
ln -sfn .. tsubame-root
for target in "${targets[@]}"; do
    # Debug builds: sanitizer builds of every dependency in release take far longer on
    # two cores, and coverage guidance matters more than speed here.
    swift build --product "$target" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
done
for target in "${targets[@]}"; do
    # New inputs go to findings/<target>/corpus (not committed); corpus/<target> holds the seeds.
    mkdir -p "corpus/$target" "findings/$target/corpus"
    echo "== $target ($seconds s)"
    options=()
    # TOMLKit leaks a few C++ allocations per parse (upstream; the configuration is
    # parsed once per start), which would stop every run at its first input.
    [ "$target" = FuzzConfiguration ] && options+=(-detect_leaks=0)
    ".build/debug/$target" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="findings/$target/" \
        "${options[@]}" "findings/$target/corpus" "corpus/$target"
done
