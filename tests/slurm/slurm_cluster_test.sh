#!/bin/bash
# A real single-node Slurm cluster on localhost runs the documented sharded audit
# (docs/slurm: an array of 4 explain tasks, then the merge job that depends on them),
# and the merged audit must equal an unsharded run. The daemons (munged, slurmctld,
# slurmd) run from a temporary folder with their own key, ports and state, and are
# stopped on every exit path; the test fails if one is left behind.
# Usage: slurm_cluster_test.sh LOUPE_BINARY SOURCE_DIR. Exit 77 (skipped) when Slurm
# or MUNGE is not installed (scripts/test.sh installs slurm-wlm and munge).
set -euo pipefail
loupe="$1"
source_dir="$2"
for tool in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
  command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool is not installed (apt-get install slurm-wlm munge)"; exit 77; }
done
if [ "$(id -u)" -ne 0 ]; then echo "skipped: the test cluster runs its daemons as root"; exit 77; fi

work="$(mktemp -d /tmp/loupe-slurm.XXXXXX)"
chmod 700 "$work"
pids=()
stop_all() {
  set +e
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet -u root >/dev/null 2>&1
  for f in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munged.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  for i in $(seq 50); do
    alive=0
    for f in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munged.pid; do
      [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for f in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munged.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
  done
  # Job steps the daemons started (slurmstepd) end with them.
  pkill -9 -f "slurmstepd.*$work" 2>/dev/null
  rm -rf "$work"
}
trap stop_all EXIT

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
}

# MUNGE: a fresh key and socket of this test's own.
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge.key"
mkdir -p "$work/munge"
chmod 700 "$work/munge"
munged --force --key-file="$work/munge.key" --socket="$work/munge/socket" --pid-file="$work/munged.pid" \
  --log-file="$work/munged.log" --seed-file="$work/munge.seed"

host="$(hostname -s)"
cpus="$(nproc)"
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
mkdir -p "$work/state" "$work/spool"
cat > "$work/slurm.conf" <<CONF
ClusterName=loupetest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -i -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for i in $(seq 100); do
  state="$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)"
  [ "$state" = "idle" ] && break
  sleep 0.2
done
[ "$state" = "idle" ] || { echo "the node did not come up (state '$state')"; tail -5 "$work"/*.log; exit 1; }

# The audit: a small CNN trained briefly on FashionMNIST, and 16 random 28x28 images
# in an IDX file.
data="$work/data"
mkdir -p "$data"
"$loupe" train --data fashion-mnist --model small_cnn --train-images 256 --epochs 1 --out "$data/model.pt" >/dev/null
{ printf '\x00\x00\x08\x03\x00\x00\x00\x10\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c $((16 * 28 * 28)) /dev/urandom; } \
  > "$data/audit-images-idx3-ubyte"
export LOUPE="$loupe" CHECKPOINT="$data/model.pt" IMAGES="$data/audit-images-idx3-ubyte" AUDIT="$work/audit"
export METHODS="gradcam,occlusion" EXPLAIN_FLAGS="--window 7 --stride 7 --batch 3"
mkdir -p "$AUDIT"
cd "$work"
submitted="$(bash "$source_dir/docs/slurm/submit.sh")"
echo "$submitted"
merge_job="${submitted##* }"
for i in $(seq 600); do
  [ -z "$(squeue -h -o %i)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -o %i)" ] || { echo "jobs still queued after 5 minutes:"; squeue; exit 1; }
cat "$work"/loupe-merge-*.log
grep -q "merged 4 shard(s): 16 images" "$work"/loupe-merge-"$merge_job".log || {
  echo "the merge job did not merge 4 shards"; tail -n 3 "$work"/*.log; exit 1; }
for k in 0 1 2 3; do grep -q "shard $k/4: 4 of 16 images" "$work"/loupe-explain-*_"$k".log; done

# The same audit unsharded: the aggregates agree to 6 significant digits.
"$loupe" explain --methods "$METHODS" --checkpoint "$CHECKPOINT" --images "$IMAGES" --results h5 $EXPLAIN_FLAGS \
  --out "$work/whole" >/dev/null
round() { grep -v seconds "$1" | sed -E 's/(-?[0-9]+\.[0-9]{5})[0-9]*/\1/g'; }
diff <(round "$AUDIT/merged/metrics.json") <(round "$work/whole/metrics.json")
echo "slurm: 4 array tasks and the merge job ran; merged = unsharded"

trap - EXIT
stop_all
for d in munged slurmctld slurmd; do
  if pgrep -f "$d.*$work" >/dev/null; then echo "$d left running"; exit 1; fi
done
