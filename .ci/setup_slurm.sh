#!/usr/bin/env bash
# Installs and starts a one-node Slurm "cluster" on this machine (no systemd needed), then checks
# that `srun -n2` starts two tasks. Idempotent: running daemons are detected and left alone.
# Needs root. The node is `hostname -s`, with `nproc` CPUs, in the (default) partition `debug`.
#
# Usage: bash .ci/setup_slurm.sh [--check-torch PYTHON]
#   --check-torch PYTHON  also run .ci/check_launchers.py under `srun -n2` with that interpreter
#                         (2-process torch.distributed gloo all_reduce).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # slurmd, slurmctld and munged live in sbin, which a minimal PATH may lack

here=$(cd "$(dirname "$0")" && pwd)
check_python=""
while [ $# -gt 0 ]; do
    case "$1" in
        --check-torch) check_python=${2:?--check-torch needs a python path}; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "setup_slurm: unknown argument: $1" >&2; exit 2 ;;
    esac
done

log() { echo "[setup_slurm] $*"; }
# pids of live processes named exactly $1 (zombies excluded: a daemon's exited parent can linger as one)
alive() { { ps -C "$1" -o pid=,stat= 2>/dev/null || true; } | awk '$2 !~ /^Z/ {printf "%s ", $1}'; }
t0=$(date +%s)

# Serialise concurrent runs (e.g. parallel test workers). apt-get (whose postinst scripts may start
# daemons) and daemons are run with 9>&- so that nothing long-lived inherits and keeps the lock.
exec 9>"/tmp/ding-setup-slurm.lock"
flock -w 600 9 || { echo "[setup_slurm] could not get the lock" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
    log "must run as root"; exit 1
fi

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" 9>&-; then
        log "apt-get install failed; running apt-get update and retrying"
        apt-get update 9>&-
        apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" 9>&-
    fi
}

# ---------------------------------------------------------------- install
if command -v srun >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null; then
    log "slurm already installed: $(slurmd -V)"
else
    log "installing slurmd slurmctld slurm-client munge"
    apt_install slurmd slurmctld slurm-client munge
    log "installed: $(slurmd -V)"
fi

# ---------------------------------------------------------------- config
host=$(hostname -s)
cpus=$(nproc --all)  # --all: plain nproc obeys OMP_NUM_THREADS, which CI sets to 1
conf_dir=/etc/slurm
conf=$conf_dir/slurm.conf
state_dir=/var/lib/slurm/slurmctld
spool_dir=/var/lib/slurm/slurmd
log_dir=/var/log/slurm
mkdir -p "$conf_dir" "$state_dir" "$spool_dir" "$log_dir"

# The node's name must resolve (slurmd finds itself by it; torch uses the first node as MASTER_ADDR).
if ! getent hosts "$host" >/dev/null; then
    log "$host does not resolve; adding '127.0.0.1 $host' to /etc/hosts"
    echo "127.0.0.1 $host" >>/etc/hosts
fi

# Daemons run as root (SlurmUser=root): this is a throwaway CI node in a container.
# No cgroups anywhere: proctrack/linuxproc, task/none, no jobacct_gather, no cgroup.conf needed.
new_conf=$(cat <<EOF
# Written by .ci/setup_slurm.sh: a one-node Slurm for CI (no systemd, no cgroups).
ClusterName=ci
SlurmctldHost=$host
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
StateSaveLocation=$state_dir
SlurmdSpoolDir=$spool_dir
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=60
KillWait=5
Waittime=0
NodeName=$host CPUs=$cpus RealMemory=1024 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
)
conf_changed=0
if [ -f "$conf" ] && [ "$(cat "$conf")" = "$new_conf" ]; then
    log "$conf up to date"
else
    log "writing $conf (node $host, CPUs=$cpus, partition debug)"
    printf '%s\n' "$new_conf" >"$conf"
    conf_changed=1
fi

# ---------------------------------------------------------------- munge
if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge

if [ -n "$(alive munged)" ]; then
    log "munged already running (pid $(alive munged))"
else
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged 9>&-
fi
for _ in $(seq 1 20); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.5
done
munge -n | unmunge >/dev/null || { log "munge does not work"; exit 1; }
log "munge OK"

# ---------------------------------------------------------------- slurm daemons
dump_logs() {
    for f in "$log_dir/slurmctld.log" "$log_dir/slurmd.log" /var/log/munge/munged.log; do
        echo "===== $f (last 40 lines)"; tail -n 40 "$f" 2>/dev/null || true
    done
    sinfo -N -l 2>&1 || true
    scontrol show node "$host" 2>&1 || true
}

if [ "$conf_changed" = 1 ] && [ -n "$(alive slurmctld)$(alive slurmd)" ]; then
    # A daemon running with another config (e.g. hostname changed): restart them.
    log "config changed while daemons run: stopping slurmd and slurmctld"
    for d in slurmd slurmctld; do
        for pid in $(alive "$d"); do kill "$pid" || true; done
    done
    for _ in $(seq 1 20); do
        [ -n "$(alive slurmctld)$(alive slurmd)" ] || break
        sleep 0.5
    done
fi

if [ -n "$(alive slurmctld)" ]; then
    log "slurmctld already running (pid $(alive slurmctld))"
else
    log "starting slurmctld"
    /usr/sbin/slurmctld 9>&- || { dump_logs; exit 1; }
fi
if [ -n "$(alive slurmd)" ]; then
    log "slurmd already running (pid $(alive slurmd))"
else
    log "starting slurmd"
    /usr/sbin/slurmd 9>&- || { dump_logs; exit 1; }
fi

log "waiting (at most 60 s) for node $host to be idle"
state=""
resumed=0
for i in $(seq 1 120); do
    state=$(sinfo -h -n "$host" -o '%T' 2>/dev/null | head -n 1 || true)
    case "$state" in
        idle|mixed|allocated) break ;;
        drained|draining|down|fail*)
            # Stale state from an earlier run (ReturnToService=2 only revives DOWN nodes).
            if [ "$resumed" = 0 ]; then
                log "node state '$state': resuming it"
                scontrol update NodeName="$host" State=RESUME || true
                resumed=1
            fi ;;
    esac
    sleep 0.5
done
case "$state" in
    idle|mixed|allocated) log "node $host is $state after $(( $(date +%s) - t0 )) s" ;;
    *) log "FAILED: node $host state '$state' after 60 s"; dump_logs; exit 1 ;;
esac
sinfo

# ---------------------------------------------------------------- check
log "checking: srun -n2 --ntasks-per-node=2 env"
out=$(OMP_NUM_THREADS=1 timeout 120 srun -n2 --ntasks-per-node=2 env 2>&1) || {
    echo "$out" >&2; log "FAILED: srun exited non-zero"; dump_logs; exit 1; }
vars=$(echo "$out" | grep -E '^SLURM_(PROCID|LOCALID|NTASKS|JOB_NODELIST|STEP_NODELIST)=' | sort)
echo "$vars"
for want in SLURM_PROCID=0 SLURM_PROCID=1 SLURM_LOCALID=0 SLURM_LOCALID=1 SLURM_NTASKS=2; do
    echo "$vars" | grep -qx "$want" || { echo "$out" >&2; log "FAILED: no $want"; exit 1; }
done
echo "$vars" | grep -q '^SLURM_JOB_NODELIST=.' || { echo "$out" >&2; log "FAILED: no SLURM_JOB_NODELIST"; exit 1; }

if [ -n "$check_python" ]; then
    log "checking torch.distributed (gloo) under srun -n2 with $check_python"
    OMP_NUM_THREADS=1 MASTER_PORT="$("$check_python" "$here/check_launchers.py" --free-port)" \
        timeout 300 srun -n2 --ntasks-per-node=2 "$check_python" "$here/check_launchers.py"
fi

log "OK ($(( $(date +%s) - t0 )) s)"
