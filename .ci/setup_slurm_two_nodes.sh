#!/usr/bin/env bash
# Starts a second Slurm "cluster" on this machine with two nodes, dingnode1 and dingnode2: one slurmctld and two
# slurmd (`slurmd -N <node>`, each on its own port and spool directory) on this one host, so that `srun -N2` runs a
# real two-node job step (SLURM_NODEID 0 and 1, a compressed node list, per-node local ranks). Debian's Slurm
# packages do this without being built with --enable-multiple-slurmd. It runs beside the one-node cluster of
# setup_slurm.sh (other ports, config, state and pid files) and never touches it.
# Idempotent: running daemons are detected by their pid files and left alone. Needs root.
#
# Usage: bash .ci/setup_slurm_two_nodes.sh      then: SLURM_CONF=/etc/slurm-two-nodes/slurm.conf srun -N2 ...
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

here=$(cd "$(dirname "$0")" && pwd)
log() { echo "[setup_slurm_two_nodes] $*"; }
t0=$(date +%s)

# Packages and munge: the one-node setup installs and starts them (and checks that srun works at all).
bash "$here/setup_slurm.sh" >/dev/null || { log "setup_slurm.sh failed: run it for its output"; exit 1; }

exec 9>"/tmp/ding-setup-slurm-two-nodes.lock"
flock -w 600 9 || { log "could not get the lock"; exit 1; }

host=$(hostname -s)
cpus=$(nproc --all)
conf_dir=/etc/slurm-two-nodes
conf=$conf_dir/slurm.conf
base=/var/lib/slurm-two-nodes
log_dir=/var/log/slurm-two-nodes
nodes=(dingnode1 dingnode2)
mkdir -p "$conf_dir" "$base/state" "$log_dir"
for n in "${nodes[@]}"; do mkdir -p "$base/spool/$n"; done

# The node names must resolve: torch's rendezvous address is the first host of the step's node list.
for n in "${nodes[@]}"; do
    if ! getent hosts "$n" >/dev/null; then
        log "$n does not resolve; adding '127.0.0.1 $n' to /etc/hosts"
        echo "127.0.0.1 $n" >>/etc/hosts
    fi
done

new_conf=$(cat <<EOF
# Written by .ci/setup_slurm_two_nodes.sh: two Slurm nodes on one host for CI (no systemd, no cgroups).
ClusterName=ci2
SlurmctldHost=$host
SlurmctldPort=6917
SlurmdPort=6918
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool/%n
SlurmctldPidFile=/run/slurmctld-two-nodes.pid
SlurmdPidFile=/run/slurmd-two-nodes.%n.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.%n.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=60
KillWait=5
Waittime=0
NodeName=dingnode1 NodeHostname=$host NodeAddr=127.0.0.1 Port=6921 CPUs=$cpus RealMemory=1024 State=UNKNOWN
NodeName=dingnode2 NodeHostname=$host NodeAddr=127.0.0.1 Port=6922 CPUs=$cpus RealMemory=1024 State=UNKNOWN
PartitionName=two Nodes=dingnode1,dingnode2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
)

# a daemon is running when its pid file names a live, non-zombie process
running() { [ -s "$1" ] && ps -o stat= -p "$(cat "$1")" 2>/dev/null | grep -qv '^Z'; }
pidfiles=(/run/slurmctld-two-nodes.pid /run/slurmd-two-nodes.dingnode1.pid /run/slurmd-two-nodes.dingnode2.pid)

if [ -f "$conf" ] && [ "$(cat "$conf")" = "$new_conf" ]; then
    log "$conf up to date"
else
    log "writing $conf (nodes ${nodes[*]} on $host, CPUs=$cpus each, partition two)"
    for f in "${pidfiles[@]}"; do  # daemons started with another config: restart them
        if running "$f"; then kill "$(cat "$f")" || true; fi
    done
    sleep 1
    printf '%s\n' "$new_conf" >"$conf"
fi

export SLURM_CONF=$conf
dump_logs() {
    for f in "$log_dir"/*.log; do echo "===== $f (last 40 lines)"; tail -n 40 "$f" 2>/dev/null || true; done
    sinfo -N -l 2>&1 || true
}
if running /run/slurmctld-two-nodes.pid; then
    log "slurmctld already running"
else
    log "starting slurmctld"
    /usr/sbin/slurmctld -f "$conf" 9>&- || { dump_logs; exit 1; }
fi
for n in "${nodes[@]}"; do
    if running "/run/slurmd-two-nodes.$n.pid"; then
        log "slurmd $n already running"
    else
        log "starting slurmd $n"
        /usr/sbin/slurmd -f "$conf" -N "$n" 9>&- || { dump_logs; exit 1; }
    fi
done

log "waiting (at most 60 s) for both nodes to be idle"
idle=0
resumed=0
for _ in $(seq 1 120); do
    states=$(sinfo -h -N -o '%N %T' 2>/dev/null || true)
    idle=$(echo "$states" | grep -cE ' (idle|mixed|allocated)$' || true)
    [ "$idle" = 2 ] && break
    if [ "$resumed" = 0 ] && echo "$states" | grep -qE ' (drained|draining|down|fail)'; then
        scontrol update NodeName=dingnode1,dingnode2 State=RESUME 2>/dev/null || true
        resumed=1
    fi
    sleep 0.5
done
[ "$idle" = 2 ] || { log "FAILED: nodes not idle after 60 s"; dump_logs; exit 1; }

log "checking: srun -N2 -n2 --ntasks-per-node=1"
out=$(OMP_NUM_THREADS=1 timeout 120 srun -N2 -n2 --ntasks-per-node=1 \
    bash -c 'echo "$SLURMD_NODENAME $SLURM_PROCID $SLURM_LOCALID $SLURM_NODEID $SLURM_STEP_NODELIST"' 2>&1) || {
    echo "$out" >&2; log "FAILED: srun exited non-zero"; dump_logs; exit 1; }
echo "$out" | sort
for want in "dingnode1 0 0 0 dingnode[1-2]" "dingnode2 1 0 1 dingnode[1-2]"; do
    echo "$out" | grep -qxF "$want" || { log "FAILED: no task '$want'"; exit 1; }
done
log "OK ($(( $(date +%s) - t0 )) s): SLURM_CONF=$conf srun -N2 ..."
