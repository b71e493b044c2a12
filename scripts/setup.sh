#!/usr/bin/env bash
# Installs what loupe needs from Debian 12's archive (only what is missing), then
# configures and builds the given targets in ./build with Ninja (and ccache).
# Usage: scripts/setup.sh [--with-browser] [--with-slurm] TARGET...
set -euo pipefail
cd "$(dirname "$0")/.."

with_browser=0
with_slurm=0
while [ $# -gt 0 ]; do
  case "$1" in
    --with-browser) with_browser=1; shift ;;
    --with-slurm) with_slurm=1; shift ;;  # the test suite's single-node Slurm cluster
    *) break ;;
  esac
done
targets=("$@")

packages=(build-essential cmake ninja-build ccache pkg-config libtorch-dev libopenblas0-pthread libpng-dev
  libjpeg-dev zlib1g-dev nlohmann-json3-dev libcli11-dev libgtest-dev libbenchmark-dev libhdf5-dev
  libgloo-dev dataset-fashion-mnist)
[ "$with_browser" = 1 ] && packages+=(chromium)
[ "$with_slurm" = 1 ] && packages+=(slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "loupe setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
# Two parallel compile jobs at most: each LibTorch translation unit takes ~1 GiB.
jobs=$(nproc)
[ "$jobs" -gt 4 ] && jobs=4
cmake --build build -j "$jobs" --target "${targets[@]}"
