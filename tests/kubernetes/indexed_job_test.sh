#!/bin/bash
# Runs the commands of docs/kubernetes (the Indexed Job's pod command for every
# completion index, then the merge Job's) as the pods would, with loupe and the volume
# mapped to this machine: the merged audit must cover the images and equal an unsharded
# run. No cluster is needed; what it checks is that the manifests' commands are right.
# Usage: indexed_job_test.sh LOUPE_BINARY SOURCE_DIR
set -euo pipefail
loupe="$1"
docs="$2/docs/kubernetes"
work="$(mktemp -d /tmp/loupe-k8s.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The text after "# loupe-command" in a manifest's args block, with /audit and loupe mapped.
pod_command() {
  awk '/# loupe-command/ {on = 1; next} on && /^ *[a-zA-Z]+:/ {exit} on {print}' "$1" |
    sed -e "s#/audit#$work#g" -e "s#exec loupe #exec \"$loupe\" #"
}

"$loupe" train --data fashion-mnist --model small_cnn --train-images 256 --epochs 1 --out "$work/model.pt" >/dev/null
{ printf '\x00\x00\x08\x03\x00\x00\x00\x0b\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c $((11 * 28 * 28)) /dev/urandom; } \
  > "$work/val-images-idx3-ubyte"
completions="$(awk '/completions:/ {print $2; exit}' "$docs/explain-indexed-job.yaml")"
shards="$(awk '/name: SHARDS/ {getline; gsub(/"/, "", $2); print $2; exit}' "$docs/explain-indexed-job.yaml")"
[ "$completions" = "$shards" ] || { echo "SHARDS ($shards) differs from completions ($completions)"; exit 1; }
explain="$(pod_command "$docs/explain-indexed-job.yaml")"
for ((k = 0; k < completions; k++)); do
  JOB_COMPLETION_INDEX=$k SHARDS=$shards bash -c "$explain" > "$work/pod-$k.log"
  grep -q "shard $k/$completions:" "$work/pod-$k.log"
done
bash -c "$(pod_command "$docs/merge-job.yaml")" | tee "$work/merge.log"
grep -q "merged $completions shard(s): 11 images" "$work/merge.log"
whole="$(pod_command "$docs/explain-indexed-job.yaml" | sed -e 's/--shards "$SHARDS"/--shards 1/' -e 's#shard-$JOB_COMPLETION_INDEX#whole#')"
JOB_COMPLETION_INDEX=0 bash -c "$whole" >/dev/null
round() { grep -v seconds "$1" | sed -E 's/(-?[0-9]+\.[0-9]{5})[0-9]*/\1/g'; }
diff <(round "$work/merged/metrics.json") <(round "$work/whole/metrics.json")
echo "kubernetes: $completions indexed pods and the merge job's commands ran; merged = unsharded"
