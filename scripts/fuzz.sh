#!/usr/bin/env bash
# Build every libFuzzer target (clang++, -fsanitize=fuzzer,address,undefined) and run each for a
# bounded time. One script for all of them:
#
#   target            what it feeds                                   seed corpus
#   fuzz_ts_reader    io::read_ts (+ validate, write_ts)              ../shared/data/**/*.ts
#   fuzz_npy_reader   io::read_npy_bytes, dataset_from_arrays         .npy made from the .ts data
#   fuzz_csv_reader   io::read_csv, read_csv_labels (+ write_csv)     .csv made from the .ts data
#   fuzz_checkpoint   io::parse_checkpoint, apply_checkpoint, forward checkpoints of a model this
#                                                                     script trains and saves
#
#   scripts/fuzz.sh                                   # every target, 30 s each, one at a time
#   FUZZ_SECONDS=600 FUZZ_JOBS=2 scripts/fuzz.sh      # 10 min each, two targets at once
#   FUZZ_TARGETS="fuzz_csv_reader" scripts/fuzz.sh    # a subset
#
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_JOBS (targets run at once, default 1),
# FUZZ_TARGETS (space-separated subset), FUZZ_WORK (binaries, corpora, logs and crash artifacts;
# default /tmp/salient-fuzz; the corpora grow across runs), SALIENT_DATA_DIR (default
# ../shared/data next to the repository), CXX (default clang++).
#
# Exits non-zero if a target fails to build or reports a finding (crash, sanitizer report, leak,
# an input slower than 10 s, more than 2 GB of memory). Crashing inputs are left in
# $FUZZ_WORK/artifacts/<target>-crash-*: copy each into tests/regressions/<reader>/ (see
# tests/regressions/README.md) so that tests/test_reliability_regressions.cpp keeps replaying it.
# A one-line summary per target (executions, corpus size, result) goes to $FUZZ_WORK/summary.txt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-1}"
work="${FUZZ_WORK:-/tmp/salient-fuzz}"
data="${SALIENT_DATA_DIR:-$here/../shared/data}"
cxx="${CXX:-clang++}"
all_targets=(fuzz_ts_reader fuzz_npy_reader fuzz_csv_reader fuzz_checkpoint)
read -r -a targets <<< "${FUZZ_TARGETS:-${all_targets[*]}}"
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz.sh: $cxx not found (libFuzzer needs clang: bash scripts/setup.sh --fuzz)" >&2
  exit 2
fi
mkdir -p "$work/bin" "$work/artifacts" "$work/corpus"/{ts,npy,csv,checkpoint}
work="$(cd "$work" && pwd)"

eigen_inc=/usr/include/eigen3
[ -d "$eigen_inc" ] || eigen_inc="$(pkg-config --variable=includedir eigen3 2>/dev/null)/eigen3"
common=(-std=c++20 -g -I "$here/include" -I "$eigen_inc")
flags=("${common[@]}" -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

# ---- build (in parallel up to FUZZ_JOBS) -------------------------------------------------
build_one() {  # build_one <target>
  "$cxx" "${flags[@]}" "$here/fuzz/$1.cpp" -o "$work/bin/$1" 2>"$work/$1.build.log" ||
    { echo "!! building $1 failed:" >&2; cat "$work/$1.build.log" >&2; return 1; }
}
build_start=$(date +%s)
pids=()
for t in "${targets[@]}"; do
  [ -f "$here/fuzz/$t.cpp" ] || { echo "fuzz.sh: unknown target $t" >&2; exit 2; }
  echo "== building $t"
  build_one "$t" & pids+=($!)
  if (( ${#pids[@]} >= jobs )); then wait "${pids[0]}" || exit 1; pids=("${pids[@]:1}"); fi
done
echo "== building make_seeds"
"$cxx" "${common[@]}" -O1 "$here/fuzz/make_seeds.cpp" -o "$work/bin/make_seeds" -pthread
for p in "${pids[@]}"; do wait "$p" || exit 1; done
echo "== built in $(( $(date +%s) - build_start )) s"

# ---- seed corpora (rewritten each run; the fuzzer adds what it finds) ---------------------
if [ -d "$data" ]; then
  # .ts: small archive files whole, the first 4 KiB of bigger ones (header + a few series).
  while IFS= read -r -d '' f; do
    if [ "$(stat -c %s "$f")" -le 100000 ]; then
      cp "$f" "$work/corpus/ts/"
    else
      head -c 4096 "$f" > "$work/corpus/ts/head_$(basename "$f")"
    fi
  done < <(find "$data" -name '*.ts' -print0)
else
  echo "fuzz.sh: no data folder at $data; using built-in seeds only" >&2
fi
# .npy / .csv from the real data, checkpoints of a model trained and saved here.
"$work/bin/make_seeds" "$data" "$work/corpus"
printf '@problemName T\n@missing true\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true a b\n@data\n1,?,3e-2:4,5,6:a\n7:8:b\n' \
  > "$work/corpus/ts/seed_missing.ts"
printf '@problemName U\n@univariate true\n@classLabel false\n@data\n1,2,3\n4,5\n' > "$work/corpus/ts/seed_unlabelled.ts"
printf '\x05\x00label,a,b\n# comment\n1,2,3,4,x\n?,5,,,y\n' > "$work/corpus/csv/seed_header_first.csv"
printf '\x11\x05 1;2;3;4\n5;6;7;8\n\x001\na\n' > "$work/corpus/csv/seed_split_timemajor.csv"

# Hand-made .npy seeds: header dict padded to 64 bytes, then raw little-endian data.
npy() {  # npy <file> <dict> <printf-escaped data>
  local dict="$2" len
  len=$(( ${#dict} + 1 ))
  while (( (10 + len) % 64 != 0 )); do len=$((len + 1)); done
  {
    printf '\x93NUMPY\x01\x00'
    printf "\\x$(printf %02x $((len & 255)))\\x$(printf %02x $((len >> 8)))"
    printf '%s' "$dict"
    printf "%$((len - ${#dict} - 1))s\n" ''
    printf "$3"
  } > "$1"
}
one_f8='\x00\x00\x00\x00\x00\x00\xf0\x3f'
nan_f8='\x00\x00\x00\x00\x00\x00\xf8\x7f'
one_f4='\x00\x00\x80\x3f'
npy "$work/corpus/npy/f8_2x3.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }" \
  "$one_f8$one_f8$one_f8$one_f8$one_f8$one_f8"
npy "$work/corpus/npy/f8_2x2x1_nan.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 1), }" \
  "$one_f8$nan_f8$one_f8$one_f8"
npy "$work/corpus/npy/f4_fortran.npy" "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }" \
  "$one_f4$one_f4$one_f4$one_f4"
npy "$work/corpus/npy/i8_labels.npy" "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }" \
  '\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff'
npy "$work/corpus/npy/u1_multihot.npy" "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }" \
  '\x01\x00\x01\x01'
npy "$work/corpus/npy/b1.npy" "{'shape': (2,), 'fortran_order': False, 'descr': '|b1'}" '\x01\x00'

corpus_of() {
  case "$1" in
    fuzz_ts_reader) echo ts ;; fuzz_npy_reader) echo npy ;;
    fuzz_csv_reader) echo csv ;; fuzz_checkpoint) echo checkpoint ;;
  esac
}

# ---- run (up to FUZZ_JOBS at once) -------------------------------------------------------
run_one() {  # run_one <target>; writes $work/<target>.result
  local t="$1" dir rc=0 t0
  dir="$work/corpus/$(corpus_of "$t")"
  local before
  before=$(find "$dir" -type f | wc -l)
  t0=$(date +%s)
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$work/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" "$dir" \
      >"$work/$t.log" 2>&1 || rc=$?
  local execs
  execs=$(grep -E '^stat::number_of_executed_units' "$work/$t.log" | awk '{print $2}' || true)
  local verdict="no finding"
  if [ "$rc" -ne 0 ]; then
    verdict="FINDING (exit $rc): $(grep -m1 -E 'ERROR: |runtime error|deadly signal|timeout|out-of-memory' "$work/$t.log" || echo see log)"
  fi
  echo "$t: $(( $(date +%s) - t0 )) s of ${seconds}, ${execs:-?} executions, corpus $before -> $(find "$dir" -type f | wc -l) files, $verdict" \
    > "$work/$t.result"
  cat "$work/$t.result"
  [ "$rc" -eq 0 ]
}
status=0
running=0
for t in "${targets[@]}"; do
  if (( running >= jobs )); then wait -n || status=1; running=$((running - 1)); fi
  echo "== running $t for ${seconds}s"
  run_one "$t" &
  running=$((running + 1))
done
while (( running > 0 )); do wait -n || status=1; running=$((running - 1)); done

{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) FUZZ_SECONDS=$seconds"
  for t in "${targets[@]}"; do cat "$work/$t.result"; done
} | tee -a "$work/summary.txt"
if [ "$status" -ne 0 ]; then
  echo "!! a target found a problem: logs in $work/*.log, inputs in $work/artifacts/" >&2
  for t in "${targets[@]}"; do
    grep -q FINDING "$work/$t.result" && tail -n 40 "$work/$t.log" >&2
  done
fi
exit $status
