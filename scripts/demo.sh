#!/usr/bin/env bash
# Installs, builds and runs `loupe demo` (every study's quick preset on built-in data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh loupe_app
bash scripts/fetch_photos.sh || echo "loupe: could not fetch scikit-image photos; the compare study will be skipped"
exec ./build/loupe demo --out "${LOUPE_DEMO_OUT:-loupe-demo}" "$@"
