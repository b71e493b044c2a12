#!/usr/bin/env bash
# Installs, builds and runs the test suite (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-browser --with-slurm loupe_tests loupe_app
cd build
ctest --output-on-failure -j 2 --timeout 900
