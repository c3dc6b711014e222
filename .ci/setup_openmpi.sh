#!/usr/bin/env bash
# Installs Debian's OpenMPI (mpirun) if missing and checks that a 2-rank launch works on this machine.
# Idempotent: a second run only re-checks. Needs root (apt-get) the first time.
#
# Usage: bash .ci/setup_openmpi.sh [--check-torch PYTHON]
#   --check-torch PYTHON  also run .ci/check_launchers.py under `mpirun -np 2` with that interpreter
#                         (2-process torch.distributed gloo all_reduce).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

here=$(cd "$(dirname "$0")" && pwd)
check_python=""
while [ $# -gt 0 ]; do
    case "$1" in
        --check-torch) check_python=${2:?--check-torch needs a python path}; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "setup_openmpi: unknown argument: $1" >&2; exit 2 ;;
    esac
done

log() { echo "[setup_openmpi] $*"; }
t0=$(date +%s)

# Serialise concurrent runs (e.g. parallel test workers). apt-get (whose postinst scripts may start
# daemons) and daemons are run with 9>&- so that nothing long-lived inherits and keeps the lock.
exec 9>"/tmp/ding-setup-openmpi.lock"
flock -w 600 9 || { echo "[setup_openmpi] could not get the lock" >&2; exit 1; }

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" 9>&-; then
        log "apt-get install failed; running apt-get update and retrying"
        apt-get update 9>&-
        apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" 9>&-
    fi
}

if command -v mpirun >/dev/null 2>&1; then
    log "mpirun already installed: $(command -v mpirun)"
else
    log "installing openmpi-bin"
    apt_install openmpi-bin
fi

log "mpirun --version:"
mpirun --version 2>&1 | head -n 1

# Flags for a clean run here:
#  --allow-run-as-root : mpirun refuses to start as root otherwise (or export
#                        OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1).
#  --oversubscribe     : allow more ranks than cores (the CI machine has 2 cores).
# No ssh is needed for a single-host run (ranks are forked locally) and no hwloc or
# vader warnings were seen on this machine, so no extra --mca flags are used.
mpi_flags=(--allow-run-as-root --oversubscribe)

# Make sure a surrounding Slurm job (SLURM_* variables) does not make mpirun launch through srun.
unset_slurm=()
for v in $(compgen -e | grep -E '^SLURM_' || true); do unset_slurm+=(-u "$v"); done

log "checking: mpirun ${mpi_flags[*]} -np 2 env | grep OMPI_COMM_WORLD_RANK"
out=$(env "${unset_slurm[@]}" OMP_NUM_THREADS=1 mpirun "${mpi_flags[@]}" -np 2 env 2>&1) || {
    echo "$out" >&2; log "FAILED: mpirun -np 2 env exited non-zero"; exit 1; }
ranks=$(echo "$out" | grep '^OMPI_COMM_WORLD_RANK=' | sort)
echo "$ranks"
if [ "$ranks" != $'OMPI_COMM_WORLD_RANK=0\nOMPI_COMM_WORLD_RANK=1' ]; then
    echo "$out" >&2
    log "FAILED: expected ranks 0 and 1"
    exit 1
fi
echo "$out" | grep -E '^OMPI_COMM_WORLD_(LOCAL_RANK|LOCAL_SIZE|SIZE)=' | sort | uniq -c

if [ -n "$check_python" ]; then
    log "checking torch.distributed (gloo) under mpirun -np 2 with $check_python"
    env "${unset_slurm[@]}" OMP_NUM_THREADS=1 MASTER_ADDR=127.0.0.1 \
        MASTER_PORT="$("$check_python" "$here/check_launchers.py" --free-port)" \
        mpirun "${mpi_flags[@]}" -np 2 -x OMP_NUM_THREADS -x MASTER_ADDR -x MASTER_PORT \
        "$check_python" "$here/check_launchers.py"
fi

log "OK ($(( $(date +%s) - t0 )) s)"
