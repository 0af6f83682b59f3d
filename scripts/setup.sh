#!/usr/bin/env bash
# Installs what salient needs on Debian 12, only when missing (safe to run any number of times).
#   bash scripts/setup.sh            core: compiler, CMake, Eigen, xtensor, doctest, Google Benchmark, xmllint
#   bash scripts/setup.sh --torch    + libtorch-dev and OpenBLAS (side-by-side benchmarks only)
#   bash scripts/setup.sh --mpi      + Open MPI (distributed training)
#   bash scripts/setup.sh --fuzz     + clang and its sanitizer/fuzzer runtime
#   bash scripts/setup.sh --report   + chromium (screenshot of the HTML report) and xmllint
set -euo pipefail

packages=(cmake g++ make libeigen3-dev xtensor-dev xtl-dev doctest-dev libbenchmark-dev libxml2-utils)
for arg in "$@"; do
  case "$arg" in
    --torch) packages+=(libtorch-dev libopenblas-dev) ;;
    --mpi) packages+=(libopenmpi-dev openmpi-bin) ;;
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    --report) packages+=(chromium libxml2-utils) ;;
    --all) packages+=(libtorch-dev libopenblas-dev libopenmpi-dev openmpi-bin clang libclang-rt-14-dev libxml2-utils) ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all required packages are installed (${packages[*]})"
  exit 0
fi

echo "setup.sh: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup.sh: done"
