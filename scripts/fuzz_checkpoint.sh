#!/usr/bin/env bash
# Build and run the libFuzzer target for the checkpoint loader.
#   scripts/fuzz_checkpoint.sh [seconds=60] [build-dir=build-fuzz]
# Needs clang++ with libFuzzer (Debian: clang). Crashing inputs land in $BUILD/fuzz_checkpoint/
# as crash-*; keep each one as a regression test (tests/test_checkpoint.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
BUILD="${2:-build-fuzz}"
CXX="${FUZZ_CXX:-clang++}"
EIGEN_INC="${EIGEN_INC:-/usr/include/eigen3}"
mkdir -p "$BUILD/fuzz_checkpoint/corpus"

"$CXX" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I include -I "$EIGEN_INC" fuzz/fuzz_checkpoint.cpp -o "$BUILD/fuzz_checkpoint/fuzz_checkpoint"
"$CXX" -std=c++20 -O1 -DSALIENT_FUZZ_MAKE_SEEDS -fsanitize=fuzzer-no-link \
  -I include -I "$EIGEN_INC" fuzz/fuzz_checkpoint.cpp -o "$BUILD/fuzz_checkpoint/make_seeds"
"$BUILD/fuzz_checkpoint/make_seeds" "$BUILD/fuzz_checkpoint/corpus"

cd "$BUILD/fuzz_checkpoint"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ./fuzz_checkpoint corpus \
  -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 \
  -print_final_stats=1 2>&1 | tail -n 25
