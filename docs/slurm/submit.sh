#!/bin/bash
# Submits the array (4 shards by default: SHARDS=N for others) and the merge job that
# waits for it. Usage:
#   CHECKPOINT=model.pt IMAGES=val-images-idx3-ubyte AUDIT=/shared/audit bash submit.sh
# Prints the two job ids.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shards="${SHARDS:-4}"
array=$(sbatch --parsable --export=ALL --array="0-$((shards - 1))" "$here/explain-array.sbatch")
array="${array%%;*}"
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" "$here/merge.sbatch")
echo "array job $array, merge job ${merge%%;*}"
