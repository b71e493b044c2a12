#!/usr/bin/env bash
# Runs one harness for a fixed number of inputs, under ASan/UBSan, at low priority.
# Usage: fuzz/run.sh HARNESS [RUNS] [more libFuzzer flags...]
#   HARNESS: npy safetensors idx image checkpoint shapes3d_h5
# Needs the fuzz build in build-fuzz/ (see fuzz/README.md; LOUPE_FUZZ_BUILD overrides).
# New inputs go to build-fuzz/fuzz/corpus/HARNESS, crashes to build-fuzz/fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
harness=${1:?usage: fuzz/run.sh HARNESS [RUNS] [libFuzzer flags...]}
runs=${2:-1000000}
shift $(($# < 2 ? $# : 2))
build=${LOUPE_FUZZ_BUILD:-build-fuzz}
binary=$build/fuzz/fuzz_$harness
[[ -x $binary ]] || { echo "no $binary: ninja -C $build loupe_fuzz" >&2; exit 2; }

# The longest input tried: room for every seed (a small_cnn checkpoint is ~390 KB, a Shapes3D
# file ~14 KB) and for headers that claim more than the file holds.
# malloc_limit_mb: one allocation over 1 GiB is a finding (a size field trusted
# before it was checked against the file's length).
asan=allocator_may_return_null=0
harness_flags=()
case $harness in
  npy | idx) max_len=4096 ;;
  safetensors) max_len=8192 ;;
  image) max_len=16384 ;;
  checkpoint) max_len=400000 ;;
  shapes3d_h5)
    max_len=65536
    # libhdf5 mallocs sizes read from corrupt headers and copes with a null result, as
    # it gets from glibc for absurd sizes; ASan would abort instead. Leak checks cut the
    # speed eightfold here: run them on the corpus afterwards (README.md).
    asan=allocator_may_return_null=1
    harness_flags=(-detect_leaks=0)
    ;;
  *) echo "unknown harness $harness" >&2; exit 2 ;;
esac
corpus=$build/fuzz/corpus/$harness
findings=$build/fuzz/findings/$harness
mkdir -p "$corpus" "$findings"
dict=()
[[ -f fuzz/dicts/$harness.dict ]] && dict=(-dict="fuzz/dicts/$harness.dict")

export ASAN_OPTIONS=${ASAN_OPTIONS:-$asan:detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec nice -n 10 "$binary" -runs="$runs" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix="$findings/" "${dict[@]}" "${harness_flags[@]}" "$@" "$corpus" "$build/fuzz/seeds/$harness"
