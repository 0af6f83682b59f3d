#!/usr/bin/env bash
# Build the threaded tests with ThreadSanitizer in their own build folder and run them.
#
#   scripts/tsan.sh                   # build-tsan/ next to the sources
#   TSAN_BUILD=/tmp/b scripts/tsan.sh
#
# Tests: test_fit (data-parallel training: thread pool, replicas, gradient reduction) and
# test_reliability_threads (concurrent inference on model copies, concurrent attribution on one
# const model, two trainers at once, reproducibility across processes). Environment:
# TSAN_BUILD (build folder, default build-tsan), TSAN_TESTS (space-separated test names),
# CXX (default g++). Exits non-zero on a data race or a failing test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TSAN_BUILD:-$here/build-tsan}"
read -r -a tests <<< "${TSAN_TESTS:-test_fit test_reliability_threads}"
start=$(date +%s)

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSALIENT_BUILD_EXAMPLES=OFF \
      -DSALIENT_BUILD_BENCHMARKS=OFF -DCMAKE_CXX_COMPILER="${CXX:-g++}" \
      -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$build" -j2 --target "${tests[@]}"

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 ${TSAN_OPTIONS:-}"
status=0
for t in "${tests[@]}"; do
  echo "== $t under ThreadSanitizer"
  log="$build/$t.tsan.log"
  if ! "$build/tests/$t" >"$log" 2>&1; then
    # Some kernels randomise mmap more than GCC 12's TSan runtime expects; retry without ASLR.
    if grep -q "unexpected memory mapping" "$log" && command -v setarch >/dev/null; then
      echo "   (TSan runtime vs. kernel ASLR: rerunning with setarch -R)"
      setarch "$(uname -m)" -R "$build/tests/$t" >"$log" 2>&1 || status=1
    else
      status=1
    fi
  fi
  tail -n 3 "$log"
  if grep -q "WARNING: ThreadSanitizer" "$log"; then
    echo "!! $t: data race reported (full report in $log)" >&2
    grep -A 30 -m1 "WARNING: ThreadSanitizer" "$log" >&2
    status=1
  fi
done
echo "== tsan.sh finished in $(( $(date +%s) - start )) s (status $status)"
exit $status
