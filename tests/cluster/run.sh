#!/usr/bin/env bash
# A real cluster run on one host: munged, slurmctld and slurmd as plain processes in a temporary folder
# (no systemd), an array job of 4 `extract --shard auto --resume` tasks over a folder of images, one
# task killed with SIGKILL midway and requeued, the shards merged, and the result compared with an
# unsharded run of the same command: every array equal. Then the same for `atlas` (atlas-merge, the
# rankings and pooled vectors equal, the statistics to 1e-9). `make test-cluster` runs it (as root:
# slurmd runs jobs as their users).
#
#   tests/cluster/run.sh BUILD_DIR
set -euo pipefail

build=$(realpath "${1:-build}")
cli="$build/app/layerscope-cli"
model="$build/tests/fixtures/seed_cnn_scripted/model.pt"
here=$(mktemp -d /tmp/layerscope-cluster.XXXXXX)
chmod 755 "$here"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$here"
}
trap cleanup EXIT
say() { echo "test-cluster: $*"; }
fail() { echo "test-cluster: FAILED: $*" >&2; for f in "$here"/log/*; do echo "--- $f"; tail -20 "$f"; done >&2; exit 1; }
# Waits for a condition, checking every 0.1 s, for at most $1 seconds.
wait_for() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@"; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.1
    done
}

mkdir -p "$here"/{log,state,spool,munge,images,out}
# The data set: the fixture images (with two unreadable files) linked under 48 prefixes. One image
# a batch: a batch's composition changes the last bits of a matrix product, and shards batch
# other images together than one run does.
for copy in $(seq -w 0 47); do
    for f in "$build"/tests/fixtures/dataset/*; do ln -s "$f" "$here/images/${copy}_$(basename "$f")"; done
done

# munge: a key of our own and a socket in the folder.
dd if=/dev/urandom of="$here/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$here/munge"; chmod 400 "$here/munge/munge.key"
socket="$here/munge/munge.socket"
munged --foreground --force --socket="$socket" --key-file="$here/munge/munge.key" \
    --log-file="$here/log/munged.log" --pid-file="$here/munge/munged.pid" --seed-file="$here/munge/munged.seed" &
pids+=($!)
wait_for 30 test -S "$socket" || fail "munged did not start"

host=$(hostname -s)
port=$(( 20000 + RANDOM % 20000 ))
cat > "$here/slurm.conf" <<CONF
ClusterName=layerscope
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$here/state
SlurmdSpoolDir=$here/spool
SlurmctldPidFile=$here/slurmctld.pid
SlurmdPidFile=$here/slurmd.pid
SlurmctldLogFile=$here/log/slurmctld.log
SlurmdLogFile=$here/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=all Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$here/slurm.conf"
slurmctld -D -i > "$here/log/slurmctld.out" 2>&1 & pids+=($!)
slurmd -D > "$here/log/slurmd.out" 2>&1 & pids+=($!)
node_idle() { sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^idle'; }
wait_for 60 node_idle || fail "the node did not come up"
say "slurmctld and slurmd up on $host (port $port)"

# An array job of 4 tasks, each "COMMAND --shard auto --resume --out out/NAME-<task>SUFFIX"; task 1 is
# killed once its first checkpoint is on disk, then requeued, and all 4 outputs must be there.
#   array_job NAME SUFFIX COMMAND...
array_job() {
    local name=$1 suffix=$2 job; shift 2
    printf '#!/bin/bash\nexec %s --shard auto --resume --out %q-"$SLURM_ARRAY_TASK_ID"%q\n' \
        "$(printf '%q ' "$@")" "$here/out/$name" "$suffix" > "$here/$name.sh"
    chmod +x "$here/$name.sh"
    job=$(sbatch --parsable --array=0-3 --cpus-per-task=1 --requeue --chdir="$here" \
          --output="$here/log/$name-%a.log" "$here/$name.sh")
    say "submitted array job $job ($name)"
    local state="$here/out/.$name-1$suffix.resume"
    wait_for 120 test -f "$state/checkpoint.json" || fail "task 1 made no checkpoint"
    scancel --signal=KILL "${job}_1"
    task_done() { ! squeue -h -j "${job}_1" -o '%T' 2>/dev/null | grep -qE 'RUNNING|COMPLETING|PENDING'; }
    wait_for 60 task_done || fail "task 1 did not stop"
    [ ! -e "$here/out/$name-1$suffix" ] || fail "the killed task left its output"
    [ -d "$state" ] || fail "the killed task left no resume state"
    say "task 1 killed at $(grep -o '"positions":[0-9]*' "$state/checkpoint.json")"
    scontrol requeue "${job}_1"
    scontrol update JobId="${job}_1" StartTime=now # Slurm holds a requeued job back for a while
    all_done() { [ -z "$(squeue -h -j "$job" 2>/dev/null)" ]; }
    wait_for 300 all_done || fail "the array job did not finish"
    for i in 0 1 2 3; do [ -e "$here/out/$name-$i$suffix" ] || fail "$name $i is missing"; done
    [ ! -e "$state" ] || fail "the resume state outlived task 1"
    say "4 outputs written; task 1 after its requeue: $(tail -1 "$here/log/$name-1.log")"
}

extract=("$cli" extract "$model" --input "$here/images" --preset gray --resize 101 --layer cnn.1 --layer linear
         --batch-size 1 --threads 1 -q)
array_job shard .npz "${extract[@]}"

"$cli" merge "$here"/out/shard-{0,1,2,3}.npz --out "$here/merged.npz"
"${extract[@]}" --out "$here/whole.npz"
/usr/bin/python3 - "$here/merged.npz" "$here/whole.npz" <<'PY'
import sys
import numpy as np
merged, whole = np.load(sys.argv[1]), np.load(sys.argv[2])
assert sorted(merged.files) == sorted(whole.files), (merged.files, whole.files)
for key in whole.files:
    assert merged[key].shape == whole[key].shape and np.array_equal(merged[key], whole[key]), key
print("test-cluster: merged shards equal the unsharded run:", {k: whole[k].shape for k in whole.files})
PY

atlas=("$cli" atlas "$model" --input "$here/images" --preset gray --resize 101 --layer cnn.1 --layer linear
       --top 5 --batch-size 1 --threads 1 -q)
array_job atlas "" "${atlas[@]}"
"$cli" atlas-merge "$here"/out/atlas-{0,1,2,3} --out "$here/atlas-merged"
"${atlas[@]}" --out "$here/atlas-whole"
/usr/bin/python3 - "$here/atlas-merged" "$here/atlas-whole" <<'PY'
import pathlib
import sys
import numpy as np
merged, whole = map(pathlib.Path, sys.argv[1:3])
arrays = sorted(p.relative_to(whole) for p in whole.rglob("*.npy"))
# rows, predicted_class, predicted_score; per capture: {top,bottom}_{rows,scores,positions}, statistics, pooled
assert arrays == sorted(p.relative_to(merged) for p in merged.rglob("*.npy")) and len(arrays) == 3 + 2 * 8, arrays
for name in arrays:
    a, b = np.load(merged / name), np.load(whole / name)
    # Shards' statistics combine as Chan et al.'s: the same values but for the last bits.
    same = np.allclose(a, b, rtol=1e-9, atol=1e-12) if name.name == "statistics.npy" else np.array_equal(a, b, equal_nan=True)
    assert a.shape == b.shape and same, name
assert (merged / "images.jsonl").read_bytes() == (whole / "images.jsonl").read_bytes()
print(f"test-cluster: merged atlas shards equal the unsharded atlas: {len(arrays)} arrays,",
      f"{np.load(whole / 'rows.npy').shape[0]} images")
PY
say "passed"
