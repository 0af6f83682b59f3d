#!/usr/bin/env bash
# Build the libFuzzer targets (clang++, ASan + UBSan) and run each for a bounded time.
#
#   scripts/fuzz.sh                 # 30 s per target
#   FUZZ_SECONDS=60 scripts/fuzz.sh
#
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_WORK (build + corpus + crash
# artifacts, default /tmp/salient-fuzz), SALIENT_DATA_DIR (seed .ts files, default
# ../shared/data next to the repository), CXX (default clang++).
# Exits non-zero if a target fails to build or finds a crash; crashing inputs are left in
# $FUZZ_WORK/artifacts — add each one as a regression case in tests/test_data_*.cpp.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${FUZZ_SECONDS:-30}"
work="${FUZZ_WORK:-/tmp/salient-fuzz}"
data="${SALIENT_DATA_DIR:-$here/../shared/data}"
cxx="${CXX:-clang++}"
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz.sh: $cxx not found (libFuzzer needs clang)" >&2
  exit 2
fi
mkdir -p "$work/bin" "$work/artifacts" "$work/corpus/ts" "$work/corpus/npy"

flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I "$here/include" -I /usr/include/eigen3)
for target in fuzz_ts_reader fuzz_npy_reader; do
  echo "== building $target"
  "$cxx" "${flags[@]}" "$here/fuzz/$target.cpp" -o "$work/bin/$target"
done

# ---- seed corpora (made fresh each run; the fuzzer adds what it finds) -------------------
if [ -d "$data" ]; then
  # Small archive files whole; the first 4 KiB of bigger ones (header + a few series).
  while IFS= read -r -d '' f; do
    if [ "$(stat -c %s "$f")" -le 100000 ]; then
      cp "$f" "$work/corpus/ts/"
    else
      head -c 4096 "$f" > "$work/corpus/ts/head_$(basename "$f")"
    fi
  done < <(find "$data" -name '*.ts' -print0)
else
  echo "fuzz.sh: no data folder at $data; using built-in .ts seeds only" >&2
fi
printf '@problemName T\n@missing true\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true a b\n@data\n1,?,3e-2:4,5,6:a\n7:8:b\n' \
  > "$work/corpus/ts/seed_missing.ts"
printf '@problemName U\n@univariate true\n@classLabel false\n@data\n1,2,3\n4,5\n' > "$work/corpus/ts/seed_unlabelled.ts"

# .npy seeds: header dict padded to 64 bytes, then raw little-endian data.
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

# ---- run ---------------------------------------------------------------------------------
status=0
run() {  # run <target> <corpus>
  echo "== running $1 for ${seconds}s"
  if ! "$work/bin/$1" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$1-" "$work/corpus/$2" \
        >"$work/$1.log" 2>&1; then
    echo "!! $1 found a problem; see $work/$1.log and $work/artifacts/" >&2
    tail -n 40 "$work/$1.log" >&2
    status=1
  fi
  grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$work/$1.log" || true
}
run fuzz_ts_reader ts
run fuzz_npy_reader npy
exit $status
