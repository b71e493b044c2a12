#!/bin/bash
# Scale-out measurements for issue 15, on this machine, one run:
#  1. throughput of a sharded `loupe explain --results h5` with N processes (each with
#     nproc/N threads) vs one process, same images and methods;
#  2. peak RSS of a streamed 100,000-image audit and a streamed 100,000-image eval,
#     against the same on 10,000 images (bounded memory: the two should be close).
# Usage: bench/bench_sharded_audit.sh [LOUPE_BINARY]   (default build/loupe)
set -euo pipefail
loupe="${1:-build/loupe}"
loupe="$(cd "$(dirname "$loupe")" && pwd)/$(basename "$loupe")"
work="$(mktemp -d /tmp/loupe-bench-shard.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cores=$(nproc)

idx() {  # idx FILE N: N random 28x28 images and labels 0-9
  local n=$2
  { printf '\x00\x00\x08\x03'; printf '%08x' "$n" | xxd -r -p; printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'
    head -c $((n * 784)) /dev/urandom; } > "$1-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01'; printf '%08x' "$n" | xxd -r -p; head -c "$n" /dev/zero; } > "$1-labels-idx1-ubyte"
}
"$loupe" train --data fashion-mnist --model small_cnn --train-images 5000 --epochs 1 --out "$work/m.pt" >/dev/null
idx "$work/s4k" 4000
idx "$work/s10k" 10000
idx "$work/s100k" 100000

echo "== sharded explain: occlusion (window 4, stride 4) + gradcam on 4000 28x28 images, $cores cores"
run_shards() {  # run_shards N
  local n=$1 threads=$(( cores / $1 > 0 ? cores / $1 : 1 ))
  local start end
  start=$(date +%s.%N)
  for ((k = 0; k < n; k++)); do
    OMP_NUM_THREADS=$threads "$loupe" explain --methods gradcam,occlusion --window 4 --stride 4 \
      --checkpoint "$work/m.pt" --images "$work/s4k-images-idx3-ubyte" --results h5 --batch 64 \
      --shard "$k/$n" --out "$work/shard$n-$k" >/dev/null &
  done
  wait
  end=$(date +%s.%N)
  echo "$n process(es) x $threads thread(s): $(echo "$end - $start" | bc) s, $(echo "4000 / ($end - $start)" | bc) images/s"
}
for n in 1 2 4; do run_shards "$n"; done
start=$(date +%s.%N)
"$loupe" merge "$work"/shard4-* --out "$work/merged4" >/dev/null
echo "merge of 4 shards: $(echo "$(date +%s.%N) - $start" | bc) s"

echo "== streamed audits: peak RSS (gradcam, batch 256)"
for n in 10k 100k; do
  /usr/bin/time -f "explain $n images: %e s, peak RSS %M KiB" "$loupe" explain --methods gradcam \
    --checkpoint "$work/m.pt" --images "$work/s$n-images-idx3-ubyte" --results h5 --batch 256 \
    --out "$work/stream$n" >/dev/null
  ls -l "$work/stream$n/results.h5" | awk -v n="$n" '{printf "results.h5 of %s images: %.1f MB\n", n, $5 / 1e6}'
  /usr/bin/time -f "eval $n images: %e s, peak RSS %M KiB" "$loupe" eval --checkpoint "$work/m.pt" \
    --images "$work/s$n-images-idx3-ubyte" --batch 256 >/dev/null
done
