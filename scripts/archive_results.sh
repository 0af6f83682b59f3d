#!/usr/bin/env bash
# Run salient-classify's default architecture on five UEA/UCR data sets and print a table of
# test accuracy, balanced accuracy, epochs and training time (see docs/results_archive.md).
#
#   scripts/archive_results.sh [--exe PATH] [--data DIR] [--out DIR] [--threads N] [--seed S]
#                              [--arch NAME] [-- extra train options]
#
# Defaults: the executable from build/examples (or $SALIENT_CLASSIFY), data from ../shared/data
# next to the repository, results (models, JSON, table) in ./archive-results, 2 threads, seed 0.
# Data sets whose files are missing are skipped with a note.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exe=${SALIENT_CLASSIFY:-}
data="$here/../shared/data"
out="$PWD/archive-results"
threads=2
seed=0
arch=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --exe) exe=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "archive_results.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if [[ -z "$exe" ]]; then
  for c in "$here/build/examples/salient-classify" /tmp/build-cli/examples/salient-classify; do
    [[ -x "$c" ]] && { exe=$c; break; }
  done
fi
[[ -x "$exe" ]] || { echo "archive_results.sh: salient-classify not found (build it or pass --exe)" >&2; exit 1; }
mkdir -p "$out"

json_num() {  # json_num FILE KEY -> the number (or null)
  sed -n "s/^ *\"$2\": *\([^,]*\),\{0,1\}$/\1/p" "$1" | head -n1
}
pct() { awk -v x="$1" 'BEGIN { if (x == "" || x == "null") print "-"; else printf "%.2f", 100 * x }'; }

table="$out/table.md"
{
  echo "| data set | test accuracy (%) | balanced accuracy (%) | train accuracy (%) | epochs | train time (s) |"
  echo "|---|---:|---:|---:|---:|---:|"
} > "$table"

for name in BasicMotions JapaneseVowels Epilepsy GunPoint ECG200; do
  tr="$data/$name/${name}_TRAIN.ts"
  te="$data/$name/${name}_TEST.ts"
  if [[ ! -f "$tr" || ! -f "$te" ]]; then
    echo "skip $name: files not found under $data/$name" >&2
    continue
  fi
  cmd=("$exe" train --train "$tr" --test "$te" --threads "$threads" --seed "$seed"
       --model-out "$out/$name.bin" --json "$out/$name.json" --quiet)
  [[ -n "$arch" ]] && cmd+=(--arch "$arch")
  cmd+=("${extra[@]}")
  echo "+ ${cmd[*]}" >&2
  start=$(date +%s.%N)
  "${cmd[@]}" > "$out/$name.log" 2>&1 || { echo "$name failed, see $out/$name.log" >&2; cat "$out/$name.log" >&2; continue; }
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  j="$out/$name.json"
  printf '| %s | %s | %s | %s | %s | %.0f (wall %s) |\n' "$name" \
    "$(pct "$(json_num "$j" test_accuracy)")" "$(pct "$(json_num "$j" balanced_accuracy)")" \
    "$(pct "$(json_num "$j" train_accuracy)")" "$(json_num "$j" epochs_run)" \
    "$(json_num "$j" train_seconds)" "$wall" >> "$table"
done
cat "$table"
