"""2-process torch.distributed (gloo) smoke check under srun or mpirun.

Run once per rank by a launcher, e.g.
    srun -n2 --ntasks-per-node=2 python .ci/check_launchers.py
    mpirun --allow-run-as-root -np 2 python .ci/check_launchers.py
Rank, world size and the rendezvous address come from ding's own launcher detection
(`ding.utils.dist.detect_launcher`, what DistContext uses), so this checks that ding reads the launcher right, too:
OpenMPI's OMPI_COMM_WORLD_* win over SLURM_*, MASTER_ADDR defaults to 127.0.0.1 (one-node mpirun) or the first
host of the step's Slurm nodelist, MASTER_PORT (`python .ci/check_launchers.py --free-port` prints a free one)
defaults to a port derived from the job's id. The ding imported is this checkout's.

Also: `--free-port` prints a free TCP port; `--first-host NODELIST` prints the first host of a
Slurm nodelist such as `node[01-03,7],gpu1`.
"""

import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

from ding.utils.dist import DistConfigError, LaunchInfo, detect_launcher, expand_nodelist, free_port  # noqa: E402


def launcher_info() -> LaunchInfo:
    try:
        info = detect_launcher()
    except DistConfigError as err:
        raise SystemExit(f"check_launchers: {err}") from None
    if info.launcher == "none":
        raise SystemExit("check_launchers: no OMPI_COMM_WORLD_RANK or SLURM_PROCID; run me under mpirun or srun")
    return info


def main() -> int:
    if sys.argv[1:] == ["--free-port"]:
        print(free_port())
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--first-host":
        print(expand_nodelist(sys.argv[2])[0])
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    info = launcher_info()
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://{info.master_addr}:{info.master_port}",
        rank=info.rank,
        world_size=info.world_size,
        timeout=datetime.timedelta(seconds=60),
    )
    t = torch.tensor([float(info.rank + 1)])
    dist.all_reduce(t)
    expected = info.world_size * (info.world_size + 1) / 2
    dist.destroy_process_group()
    ok = t.item() == expected
    # one write per line, so that ranks' lines relayed by the launcher do not interleave
    sys.stdout.write(
        f"[check_launchers] {info.launcher} rank={info.rank} local_rank={info.local_rank} "
        f"world_size={info.world_size} master={info.master_addr}:{info.master_port} "
        f"all_reduce={t.item():g} expected={expected:g} {'OK' if ok else 'MISMATCH'}\n"
    )
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
